"""The model catalog: bundled data, money, sorting, and refresh against a real local server."""

from __future__ import annotations

import http.server
import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import orjson
import pytest
from pydantic import ValidationError

from agentic_flow.core import paths
from agentic_flow.core.errors import ModelNotFound, ProviderConnectError, ServerError, UnknownModel
from agentic_flow.core.models.catalog import (
    CACHE_FILENAME,
    ModelCatalog,
    ModelInfo,
    catalog_columns,
    catalog_rows,
    cost,
    format_cost,
    format_price,
    load_bundled,
    local_model_entries,
    sort_models,
)
from agentic_flow.core.models.refresh import fetch_published_latency, per_million, refresh_from_openrouter

PROVIDERS = {"openrouter", "anthropic", "openai", "google", "deepseek", "mistral", "ollama"}


def make(model_id: str, **overrides) -> ModelInfo:
    provider = model_id.partition(":")[0]
    values = dict(
        id=model_id,
        name=model_id,
        provider=provider,
        price_in=1.0,
        price_out=2.0,
        context=8192,
        max_output=1024,
        tools=True,
        tier="medium",
        price_date=date(2025, 1, 1),
        price_source="test",
    )
    values.update(overrides)
    return ModelInfo(**values)


# ---------------------------------------------------------------------------- bundled data


def test_bundled_catalog_is_complete_and_dated():
    models = load_bundled()
    assert len(models) >= 28
    assert {m.provider for m in models} >= PROVIDERS
    assert len({m.id for m in models}) == len(models)
    for m in models:
        assert m.id.startswith(m.provider + ":")
        assert m.price_source.strip()
        assert date(2024, 1, 1) <= m.price_date <= date.today(), m.id
        # 0 only for models that run on the user's machine; unknown is None, never 0.
        if m.price_in == 0 or m.price_out == 0:
            assert m.provider in {"ollama", "local"}, m.id
        if m.provider in {"ollama", "local"}:
            assert (m.price_in, m.price_out) == (0, 0), m.id


def test_bundled_catalog_has_the_models_the_product_names():
    catalog = ModelCatalog.load()
    for model_id in (
        "openrouter:meta-llama/llama-3.1-8b-instruct",
        "openrouter:meta-llama/llama-3.3-70b-instruct",
        "openrouter:deepseek/deepseek-chat",
        "openrouter:qwen/qwen-2.5-coder-32b-instruct",
        "openrouter:mistralai/mistral-small",
        "openrouter:google/gemini-2.0-flash-001",
        "openrouter:anthropic/claude-sonnet-4.5",
        "openrouter:openai/gpt-4o-mini",
        "anthropic:claude-sonnet-4-5",
        "anthropic:claude-haiku-4-5",
        "anthropic:claude-opus-4-1",
        "openai:gpt-4o",
        "openai:o4-mini",
        "google:gemini-2.5-pro",
        "deepseek:deepseek-reasoner",
        "ollama:qwen2.5-coder:7b",
    ):
        assert catalog.get(model_id) is not None, model_id
    tiny = catalog.get("local:smollm2-135m-instruct")
    assert tiny is not None
    assert (tiny.price_in, tiny.price_out, tiny.context, tiny.tools, tiny.tier) == (0, 0, 8192, False, "tiny")
    assert tiny.name == "SmolLM2 135M Instruct (tiny local model: short answers offline, no tools)"
    assert tiny.origin == "local"
    assert catalog.get("ollama:qwen2.5-coder:7b").api_model == "qwen2.5-coder:7b"
    assert catalog.warnings == [] and catalog.cache_fetched_at is None


def test_model_info_rejects_typos_and_inconsistencies():
    with pytest.raises(ValidationError):
        make("openai:x", pricein=1.0)  # extra="forbid"
    with pytest.raises(ValidationError):
        make("openai:x", provider="anthropic")
    with pytest.raises(ValidationError):
        make("openai:x", price_in=-1.0)
    with pytest.raises(ValidationError):
        make("openai:x", tier="huge")
    with pytest.raises(ValidationError):
        make("no-provider", provider="no-provider")


# ---------------------------------------------------------------------------- money


def test_unknown_price_formats_as_question_mark_never_zero():
    mystery = make("openrouter:x/mystery", price_in=None, price_out=None)
    assert format_price(None) == "?"
    assert format_cost(None) == "?"
    assert cost(mystery, 1000, 100) is None
    row = catalog_rows([mystery], input_tokens=1000, output_tokens=100)[0]
    assert (row["In $/M"], row["Out $/M"], row["Est. cost"]) == ("?", "?", "?")
    assert format_price(0.0) == "$0.00"


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.15, "$0.15"), (3.0, "$3.00"), (15, "$15.00"), (0.02, "$0.02"), (0.038, "$0.038"), (1250.5, "$1,250.50")],
)
def test_format_price(value, text):
    assert format_price(value) == text


def test_cost_computed_by_hand():
    catalog = ModelCatalog.load()
    # Sonnet 4.5 at $3 / $15 per million: 12,000 in + 800 out = 0.036 + 0.012.
    assert catalog.cost("anthropic:claude-sonnet-4-5", 12_000, 800) == pytest.approx(0.048)
    # gpt-4o-mini at $0.15 / $0.60: a million each way.
    assert cost("openai:gpt-4o-mini", 1_000_000, 1_000_000, catalog=catalog) == pytest.approx(0.75)
    assert catalog.cost("local:smollm2-135m-instruct", 50_000, 5_000) == 0.0
    assert catalog.cost("nobody:nothing", 10, 10) is None
    assert format_cost(0.00015) == "$0.00015"
    # An unknown output price does not matter when no output is priced.
    half = make("openrouter:x/half", price_in=2.0, price_out=None)
    assert cost(half, 500_000, 0) == pytest.approx(1.0)
    assert cost(half, 500_000, 1) is None
    with pytest.raises(ValueError):
        cost(half, -1, 0)


# ---------------------------------------------------------------------------- search & sort


def test_sorting_puts_unknown_last_in_both_directions():
    cheap = make("openai:cheap", price_in=0.1, price_out=0.4, context=1000, name="Zeta")
    dear = make("openai:dear", price_in=10, price_out=30, context=500_000, name="alpha")
    # Cheap input but dear output: the 3:1 blend (1.5 + ... ) ranks it between the two.
    skewed = make("openai:skewed", price_in=0.05, price_out=20, context=4000, name="Mid")
    unknown = make("openrouter:x/unknown", price_in=None, price_out=None, context=2000, name="beta")
    models = [dear, unknown, skewed, cheap]

    assert [m.id for m in sort_models(models, "price")] == [
        "openai:cheap", "openai:skewed", "openai:dear", "openrouter:x/unknown"
    ]
    assert [m.id for m in sort_models(models, "price", reverse=True)] == [
        "openai:dear", "openai:skewed", "openai:cheap", "openrouter:x/unknown"
    ]
    assert [m.id for m in sort_models(models, "context")][0] == "openai:dear"
    assert [m.name for m in sort_models(models, "name")] == ["alpha", "beta", "Mid", "Zeta"]

    latency = {"openai:dear": 0.3, "openai:cheap": 1.2}
    by_latency = sort_models(models, "latency", latency_of=lambda m: latency.get(m.id))
    assert [m.id for m in by_latency] == ["openai:dear", "openai:cheap", "openai:skewed", "openrouter:x/unknown"]
    with pytest.raises(ValueError, match="latency_of"):
        sort_models(models, "latency")
    with pytest.raises(ValueError):
        sort_models(models, "speed")  # type: ignore[arg-type]


def test_catalog_sorted_by_price_starts_free_and_search_narrows():
    catalog = ModelCatalog.load()
    ranked = catalog.sorted_by("price")
    assert ranked[0].price_in == 0
    blends = [m.blended_price for m in ranked]
    assert blends == sorted(blends)  # every bundled price is known
    assert [m.id for m in catalog.search("LLAMA 70b")] == ["openrouter:meta-llama/llama-3.3-70b-instruct"]
    assert {m.provider for m in catalog.search("anthropic")} == {"anthropic", "openrouter"}
    assert len(catalog.search("  ")) == len(catalog)
    ordered = catalog.sorted_by("context", models=catalog.search("claude"))
    assert ordered[0].id == "openrouter:anthropic/claude-sonnet-4.5"  # 1M beats 200K


def test_catalog_rows_match_columns():
    catalog = ModelCatalog.load()
    rows = catalog_rows(catalog.all()[:3], input_tokens=1000, output_tokens=10, latency_of=lambda m: 0.42)
    assert list(rows[0]) == catalog_columns(with_cost=True, with_latency=True)
    assert rows[0]["Latency"] == "420 ms"
    plain = catalog_rows(catalog.all()[:1])
    assert list(plain[0]) == catalog_columns()
    assert plain[0]["Context"] == "128K"


# ---------------------------------------------------------------------------- local server


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeOpenRouter:
    """A real HTTP server on 127.0.0.1 answering with recorded OpenRouter shapes."""

    base_url: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)


@pytest.fixture
def openrouter() -> Iterator[FakeOpenRouter]:
    state = FakeOpenRouter()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            state.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            route = state.routes.get(self.path, Route(404, b'{"error":{"code":404,"message":"Not Found"}}'))
            self.send_response(route.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(route.body)))
            for name, value in route.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(route.body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/api/v1"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _model(slug, name, prompt, completion, context, max_completion, params, created=1727740800):
    """One entry with every field the real /api/v1/models list carries."""
    return {
        "id": slug,
        "canonical_slug": slug,
        "hugging_face_id": "",
        "name": name,
        "created": created,
        "description": f"{name} description.",
        "context_length": context,
        "architecture": {
            "modality": "text->text",
            "input_modalities": ["text"],
            "output_modalities": ["text"],
            "tokenizer": "Other",
            "instruct_type": None,
        },
        "pricing": {
            "prompt": prompt,
            "completion": completion,
            "request": "0",
            "image": "0",
            "web_search": "0",
            "internal_reasoning": "0",
        },
        "top_provider": {"context_length": context, "max_completion_tokens": max_completion, "is_moderated": False},
        "per_request_limits": None,
        "supported_parameters": params,
        "default_parameters": {},
    }


MODELS_BODY = orjson.dumps(
    {
        "data": [
            _model(
                "qwen/qwen3-coder", "Qwen: Qwen3 Coder 480B A35B", "0.00000022", "0.00000095",
                262144, 262144, ["tools", "tool_choice", "max_tokens", "temperature"],
            ),
            _model(
                "meta-llama/llama-3.1-8b-instruct", "Meta: Llama 3.1 8B Instruct", "0.000000015", "0.00000002",
                131072, None, ["tools", "max_tokens"],
            ),
            _model("openrouter/auto", "Auto Router", "-1", "-1", 2000000, None, ["max_tokens"]),
            _model(
                "meta-llama/llama-3.3-70b-instruct:free", "Meta: Llama 3.3 70B Instruct (free)", "0", "0",
                65536, 4096, ["max_tokens", "temperature"],
            ),
            {**_model("broken/no-context", "Broken", "0.000001", "0.000002", 0, None, []), "context_length": None,
             "top_provider": {}},
        ]
    }
)


async def test_refresh_writes_cache_and_catalog_uses_it(openrouter):
    openrouter.routes["/api/v1/models"] = Route(body=MODELS_BODY)
    result = await refresh_from_openrouter(openrouter.base_url)

    assert openrouter.requests[0][0] == "/api/v1/models"
    assert result.path == paths.cache_dir() / CACHE_FILENAME and result.path.is_file()
    assert len(result.models) == 4
    assert len(result.skipped) == 1 and "broken/no-context" in result.skipped[0]
    assert [p.name for p in result.path.parent.iterdir()] == [CACHE_FILENAME]  # no temp file left
    cached = json.loads(result.path.read_text())
    assert datetime.fromisoformat(cached["fetched_at"]) == result.fetched_at

    catalog = ModelCatalog.load()
    assert catalog.cache_fetched_at == result.fetched_at
    new = catalog.get("openrouter:qwen/qwen3-coder")
    assert new is not None
    assert (new.price_in, new.price_out) == (0.22, 0.95)  # per token -> per million, exactly
    assert (new.context, new.max_output, new.tools, new.tier) == (262144, 262144, True, "small")
    assert new.price_date == result.fetched_at.date()
    assert new.price_source == f"{openrouter.base_url}/models"

    updated = catalog.get("openrouter:meta-llama/llama-3.1-8b-instruct")
    assert (updated.price_in, updated.price_out) == (0.015, 0.02)
    assert updated.max_output == 16384  # not listed by OpenRouter: bundled value kept
    assert updated.tier == "small"  # the bundled, hand-picked tier wins over the guess

    auto = catalog.get("openrouter:openrouter/auto")
    assert (auto.price_in, auto.price_out) == (None, None)  # "-1" is variable, never $0
    assert format_price(auto.price_in) == "?"
    assert catalog.get("openrouter:meta-llama/llama-3.3-70b-instruct:free").price_in == 0.0
    # Other providers come from the bundled file untouched.
    assert catalog.get("anthropic:claude-sonnet-4-5") == next(
        m for m in load_bundled() if m.id == "anthropic:claude-sonnet-4-5"
    )
    assert len(catalog) == len(load_bundled()) + len(local_model_entries()) + 3


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_offline_refresh_says_which_list_is_used(openrouter):
    dead = f"http://127.0.0.1:{_closed_port()}/api/v1"
    with pytest.raises(ProviderConnectError) as first:
        await refresh_from_openrouter(dead, timeout=5)
    assert first.value.retryable
    assert "no cached model list yet" in str(first.value) and "bundled catalog" in str(first.value)

    openrouter.routes["/api/v1/models"] = Route(body=MODELS_BODY)
    good = await refresh_from_openrouter(openrouter.base_url)
    before = good.path.read_bytes()

    with pytest.raises(ProviderConnectError) as second:
        await refresh_from_openrouter(dead, timeout=5)
    message = str(second.value)
    assert "could not reach" in message
    assert f"cached model list from {good.fetched_at:%Y-%m-%d %H:%M} UTC" in message
    assert good.path.read_bytes() == before
    assert ModelCatalog.load().get("openrouter:qwen/qwen3-coder") is not None


async def test_server_error_keeps_previous_cache(openrouter, tmp_path):
    openrouter.routes["/api/v1/models"] = Route(body=MODELS_BODY)
    good = await refresh_from_openrouter(openrouter.base_url, cache_dir=tmp_path)
    openrouter.routes["/api/v1/models"] = Route(status=503, body=b'{"error":{"message":"upstream down"}}')
    with pytest.raises(ServerError) as err:
        await refresh_from_openrouter(openrouter.base_url, cache_dir=tmp_path)
    assert err.value.status == 503 and "upstream down" in str(err.value)
    assert len(ModelCatalog.load(tmp_path).all()) == len(load_bundled()) + len(local_model_entries()) + len(good.models) - 1


@pytest.mark.parametrize(
    "content",
    [
        b"{ this is not json",
        b'["a list"]',
        b'{"format": 99, "models": []}',
        b"",
    ],
)
def test_malformed_cache_falls_back_to_bundled_with_warning(content, caplog):
    path = paths.cache_dir() / CACHE_FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="agentic_flow.core.models.catalog"):
        catalog = ModelCatalog.load()
    assert [m.id for m in catalog.all()] == [m.id for m in load_bundled()] + [m.id for m in local_model_entries()]
    assert len(catalog.warnings) == 1 and "bundled catalog is used" in catalog.warnings[0]
    assert any(CACHE_FILENAME in r.getMessage() for r in caplog.records)
    assert catalog.cache_fetched_at is None


def test_bad_cache_entries_are_skipped_not_fatal(tmp_path):
    good = make("openrouter:vendor/good", price_date=date(2026, 1, 2)).model_dump(mode="json")
    doc = {
        "format": 1,
        "fetched_at": datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc).isoformat(),
        "models": [good, {"id": "openrouter:vendor/bad", "context": "lots"}, make("openai:sneaky").model_dump(mode="json")],
    }
    (tmp_path / CACHE_FILENAME).write_bytes(orjson.dumps(doc))
    catalog = ModelCatalog.load(tmp_path)
    assert catalog.get("openrouter:vendor/good") is not None
    assert catalog.get("openai:sneaky") is None  # only openrouter models may come from the cache
    assert len(catalog.warnings) == 1 and "skipped 2 invalid entries" in catalog.warnings[0]
    assert catalog.cache_fetched_at == datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0.000003", 3.0), ("0.00000015", 0.15), ("0", 0.0), ("-1", None), (None, None), ("n/a", None), ("", None)],
)
def test_per_token_prices_convert_to_per_million(raw, expected):
    assert per_million(raw) == expected


# ---------------------------------------------------------------------------- published latency

ENDPOINTS_BODY = orjson.dumps(
    {
        "data": {
            "id": "meta-llama/llama-3.1-8b-instruct",
            "name": "Meta: Llama 3.1 8B Instruct",
            "created": 1721692800,
            "description": "Meta's latest class of model.",
            "architecture": {"tokenizer": "Llama3", "instruct_type": "llama3", "modality": "text->text"},
            "endpoints": [
                {
                    "name": "DeepInfra | meta-llama/llama-3.1-8b-instruct",
                    "model_name": "Meta: Llama 3.1 8B Instruct",
                    "context_length": 131072,
                    "pricing": {"prompt": "0.00000002", "completion": "0.00000003"},
                    "provider_name": "DeepInfra",
                    "tag": "deepinfra/bf16",
                    "quantization": "bf16",
                    "max_completion_tokens": 16384,
                    "max_prompt_tokens": None,
                    "supported_parameters": ["tools", "max_tokens"],
                    "status": 0,
                    "uptime_last_30m": 99.5,
                    "uptime_last_5m": 100,
                    "uptime_last_1d": 99.8,
                    "supports_implicit_caching": False,
                    "latency_last_30m": {"p50": 400.0, "p75": 520.5, "p90": 700.0, "p99": 1500.0},
                    "throughput_last_30m": {"p50": 80.0, "p75": 70.0, "p90": 55.0, "p99": 20.0},
                },
                {
                    "name": "Lambda | meta-llama/llama-3.1-8b-instruct",
                    "provider_name": "Lambda",
                    "tag": "lambda/bf16",
                    "quantization": "bf16",
                    "uptime_last_30m": 97.0,
                    "latency_last_30m": 800,  # older responses: a bare number
                    "throughput_last_30m": None,
                },
                {
                    "name": "Quiet",
                    "provider_name": "Quiet",
                    "uptime_last_30m": None,
                    "latency_last_30m": None,
                    "throughput_last_30m": None,
                },
            ],
        }
    }
)


async def test_fetch_published_latency_reads_endpoints(openrouter):
    path = "/api/v1/models/meta-llama/llama-3.1-8b-instruct/endpoints"
    openrouter.routes[path] = Route(body=ENDPOINTS_BODY)
    published = await fetch_published_latency(
        "openrouter:meta-llama/llama-3.1-8b-instruct:free", openrouter.base_url, api_key="sk-or-test"
    )
    assert openrouter.requests[-1][0] == path
    assert openrouter.requests[-1][1]["authorization"] == "Bearer sk-or-test"
    assert published.model == "meta-llama/llama-3.1-8b-instruct" and published.source == "published"
    first, second, quiet = published.endpoints
    assert (first.provider, first.tag, first.quantization) == ("DeepInfra", "deepinfra/bf16", "bf16")
    assert first.latency_ms.p75 == 520.5 and first.throughput_tps.p50 == 80.0
    assert (first.uptime_5m, first.uptime_30m, first.uptime_1d) == (100.0, 99.5, 99.8)
    assert second.latency_ms.p50 == 800.0 and second.latency_ms.p99 is None and second.throughput_tps is None
    assert quiet.latency_ms is None and quiet.uptime_30m is None
    assert published.typical_ttft_s() == pytest.approx(0.6)  # median of 400 ms and 800 ms
    assert published.typical_tokens_per_s() == 80.0
    assert published.best_uptime_30m() == 99.5


async def test_fetch_published_latency_without_key_sends_none(openrouter, monkeypatch):
    path = "/api/v1/models/meta-llama/llama-3.1-8b-instruct/endpoints"
    openrouter.routes[path] = Route(body=b'{"data": {"id": "x", "endpoints": []}}')
    published = await fetch_published_latency("meta-llama/llama-3.1-8b-instruct", openrouter.base_url)
    assert "authorization" not in openrouter.requests[-1][1]
    assert published.endpoints == () and published.typical_ttft_s() is None

    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-env")
    await fetch_published_latency("meta-llama/llama-3.1-8b-instruct", openrouter.base_url)
    assert openrouter.requests[-1][1]["authorization"] == "Bearer sk-or-env"


async def test_fetch_published_latency_errors(openrouter):
    with pytest.raises(ModelNotFound) as err:
        await fetch_published_latency("nobody/nothing", openrouter.base_url)
    assert err.value.status == 404
    for bad in ("anthropic:claude-sonnet-4-5", "no-slash", "a/b/c", "/x"):
        with pytest.raises(UnknownModel):
            await fetch_published_latency(bad, openrouter.base_url)
    with pytest.raises(ProviderConnectError):
        await fetch_published_latency("a/b", f"http://127.0.0.1:{_closed_port()}/api/v1", timeout=5)

"""``models refresh`` stores OpenRouter's published per-endpoint latency; ``models`` shows it
beside the user's measured p50/p95, labelled. Against a scripted server with the real shape."""

from __future__ import annotations

import io
import json

import pytest

from agentic_flow.core.cli import main
from agentic_flow.core.models.published_latency import PublishedStore, latency_ms
from agentic_flow.core.models.refresh import Percentiles
from agentic_flow.core.store.database import Store
from tests.llm_server import Reply, llm_server  # noqa: F401

LLAMA = "meta-llama/llama-3.1-8b-instruct"
QUICK = "acme/quick-1"


def endpoint(provider: str, latency, throughput, uptime: float | None) -> dict:
    return {
        "name": f"{provider} | x", "model_name": "x", "context_length": 131072,
        "pricing": {"prompt": "0.00000002", "completion": "0.00000003"}, "provider_name": provider,
        "tag": f"{provider.lower()}/bf16", "quantization": "bf16", "max_completion_tokens": 16384,
        "max_prompt_tokens": None, "supported_parameters": ["tools"], "status": 0, "uptime_last_30m": uptime,
        "uptime_last_5m": 100, "uptime_last_1d": 99.8, "supports_implicit_caching": False,
        "latency_last_30m": latency, "throughput_last_30m": throughput,
    }


def listing(slug: str) -> dict:
    return {"id": slug, "name": slug, "context_length": 131072, "pricing": {"prompt": "0.0000001", "completion": "0.0000002"},
            "top_provider": {"context_length": 131072}, "supported_parameters": ["tools"]}


@pytest.fixture
def openrouter(llm_server):
    llm_server.set_route("GET", "/api/v1/models", Reply.json({"data": [listing(LLAMA), listing(QUICK)]}))
    llm_server.set_route("GET", f"/api/v1/models/{LLAMA}/endpoints", Reply.json({"data": {"id": LLAMA, "endpoints": [
        endpoint("DeepInfra", {"p50": 400.0, "p75": 520.5, "p90": 700.0, "p99": 1500.0},
                 {"p50": 80.0, "p75": 70.0, "p90": 55.0, "p99": 20.0}, 99.5),
        endpoint("Lambda", {"p50": 800.0, "p75": 900.0, "p90": 1000.0, "p99": 2000.0},
                 {"p50": 40.0, "p75": 30.0, "p90": 20.0, "p99": 10.0}, 97.0),
    ]}}))
    # the shape of the SDK examples: latency in seconds (0.25 = 250 ms)
    llm_server.set_route("GET", f"/api/v1/models/{QUICK}/endpoints", Reply.json({"data": {"id": QUICK, "endpoints": [
        endpoint("Fast", {"p50": 0.25, "p75": 0.35, "p90": 0.48, "p99": 0.85},
                 {"p50": 45.2, "p75": 38.5, "p90": 28.3, "p99": 15.1}, 99.9),
    ]}}))
    return llm_server


def run(capsys, monkeypatch, *argv):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_latency_units_are_read_as_milliseconds_or_converted_from_seconds():
    assert latency_ms(Percentiles(p50=400, p99=1500)) == Percentiles(p50=400, p99=1500)
    assert latency_ms(Percentiles(p50=0.25, p75=0.35, p99=0.85)) == Percentiles(p50=250, p75=350, p99=850)
    assert latency_ms(None) is None


def test_refresh_stores_published_latency_shown_beside_measured(openrouter, capsys, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-test")
    base = f"{openrouter.base_url}/api/v1"
    code, out, err = run(capsys, monkeypatch, "models", "refresh", "--base-url", base, "--latency-for", f"{LLAMA},{QUICK}")
    assert code == 0, err
    assert "stored published latency" in out
    asked = [r for r in openrouter.requests if r.path.endswith("/endpoints")]
    assert {r.path for r in asked} >= {f"/api/v1/models/{LLAMA}/endpoints", f"/api/v1/models/{QUICK}/endpoints"}
    assert all(r.headers.get("authorization") == "Bearer sk-or-test" for r in asked)
    # bundled OpenRouter models this server does not know are warnings, not failures
    assert "no published latency for openrouter:" in err

    with Store() as store:
        summaries = PublishedStore(store).summaries()
        store.record_latency(f"openrouter:{LLAMA}", ttft_ms=1234.0, tokens_per_s=12.0, source="session")
    llama, quick = summaries[f"openrouter:{LLAMA}"], summaries[f"openrouter:{QUICK}"]
    assert (llama.endpoints, llama.ttft_ms_p50, llama.tps_p50, llama.uptime_30m) == (2, 600.0, 60.0, 99.5)
    assert quick.ttft_ms_p50 == pytest.approx(250.0)

    code, out, _ = run(capsys, monkeypatch, "models", "--json", "--search", "llama-3.1-8b")
    item = next(i for i in json.loads(out) if i["id"] == f"openrouter:{LLAMA}")
    assert item["measured"]["ttft_ms_p50"] == 1234.0  # the user's own run, kept apart
    published = item["published"]
    assert published["ttft_ms_p50"] == 600.0 and published["tokens_per_s_p50"] == 60.0
    assert published["source"].startswith("openrouter") and published["fetched_at"][:4].isdigit()

    code, out, _ = run(capsys, monkeypatch, "models", "--search", "llama-3.1-8b")
    header = out.splitlines()[0]
    assert "TTFT p50/p95" in header and "PUBLISHED TTFT/TOK/S" in header and "AS OF" in header
    row = next(line for line in out.splitlines() if line.startswith(f"openrouter:{LLAMA}"))
    assert "1.23s/1.23s" in row and "600ms/60" in row and llama.date in row
    assert "measured from your own runs" in out and "OpenRouter's figures" in out


def test_a_refetch_replaces_a_models_endpoints_and_no_latency_skips(openrouter, capsys, monkeypatch):
    base = f"{openrouter.base_url}/api/v1"
    assert run(capsys, monkeypatch, "models", "refresh", "--base-url", base, "--latency-for", LLAMA)[0] == 0
    openrouter.set_route("GET", f"/api/v1/models/{LLAMA}/endpoints", Reply.json({"data": {"id": LLAMA, "endpoints": [
        endpoint("Solo", {"p50": 300.0}, None, None)]}}))
    assert run(capsys, monkeypatch, "models", "refresh", "--base-url", base, "--latency-for", LLAMA)[0] == 0
    with Store() as store:
        assert [e.provider for e in PublishedStore(store).endpoints(f"openrouter:{LLAMA}")] == ["Solo"]
    openrouter.clear()
    code, out, _ = run(capsys, monkeypatch, "models", "refresh", "--base-url", base, "--no-latency")
    assert code == 0 and "published" not in out
    assert not any(r.path.endswith("/endpoints") for r in openrouter.requests)

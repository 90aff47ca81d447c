"""Models of your own: ``providers.NAME.models`` in settings, servers' ``GET /models``,
``models refresh`` exit codes and base URL, ``agents list`` problems.

Servers are the scripted server (``tests/llm_server.py``), which answers ``GET …/models``
with an OpenAI-shaped listing of its ``models``.
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import orjson
import pytest
import yaml

from agentic_flow.core import paths
from agentic_flow.core.cli import main
from agentic_flow.core.config import load_settings, load_settings_file
from agentic_flow.core.errors import ConfigError
from agentic_flow.core.models.catalog import DISCOVERED_FILENAME, ModelCatalog
from agentic_flow.core.models.discover import discover_models, discoverable_providers, models_from_listing
from tests.llm_server import Reply, ScriptedLLMServer, llm_server  # noqa: F401

LAB_MODELS = [
    {"id": "lab-coder", "name": "Lab Coder 32B", "context": 32768, "price_in": 0.2, "price_out": 0.6, "tools": True},
]


def write_settings(providers: dict) -> Path:
    path = paths.user_config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"providers": providers}))
    return path


def lab(server: ScriptedLLMServer, models: list | None = None) -> dict:
    entry: dict = {"kind": "openai", "base_url": server.openai_url}
    if models is not None:
        entry["models"] = models
    return {"lab": entry}


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))


# ---------------------------------------------------------------------------- settings


def test_models_under_a_provider_are_settings_with_checked_fields(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"providers": {"lab": {"base_url": "http://x/v1", "models": LAB_MODELS}}}))
    (model,) = load_settings_file(path).providers["lab"].models
    assert (model.id, model.context, model.price_in, model.price_out, model.tools) == ("lab-coder", 32768, 0.2, 0.6, True)
    path.write_text("providers:\n  lab:\n    models:\n      - id: lab-coder\n        pricein: 1\n")
    with pytest.raises(ConfigError) as info:
        load_settings_file(path)
    assert ":5" in str(info.value) and "providers.lab.models.0.pricein" in str(info.value)
    assert "price_in" in str(info.value)  # the hint lists the keys allowed there
    path.write_text("providers:\n  lab:\n    models: [{id: a, price_out: -1}]\n")
    with pytest.raises(ConfigError, match="greater than or equal to 0"):
        load_settings_file(path)
    path.write_text("providers:\n  lab:\n    models: [{id: a}, {id: a}]\n")
    with pytest.raises(ConfigError, match="listed twice"):
        load_settings_file(path)


def test_settings_models_join_the_catalog_with_their_prices(llm_server):
    write_settings(lab(llm_server, LAB_MODELS + [{"id": "lab-mystery"}]))
    catalog = ModelCatalog.load(settings=load_settings().merged)
    coder = catalog.get("lab:lab-coder")
    assert coder is not None and coder.origin == "settings" and coder.name == "Lab Coder 32B"
    assert catalog.cost("lab:lab-coder", 1_000_000, 1_000_000) == pytest.approx(0.8)
    mystery = catalog.get("lab:lab-mystery")
    assert mystery is not None and mystery.price_in is None and catalog.cost(mystery, 10, 10) is None  # ?, never $0
    assert ModelCatalog.load().get("lab:lab-coder") is None  # only with settings


def test_a_price_in_settings_wins_over_the_bundled_one():
    write_settings({"openai": {"models": [{"id": "gpt-4o-mini", "price_in": 0.01, "price_out": 0.02}]}})
    info = ModelCatalog.load(settings=load_settings().merged).get("openai:gpt-4o-mini")
    assert info is not None and (info.price_in, info.price_out, info.origin) == (0.01, 0.02, "settings")


def test_models_json_shows_the_lab_provider_and_its_prices(llm_server, capsys):
    write_settings(lab(llm_server, LAB_MODELS))
    code, out, _ = run_cli(capsys, "models", "--json", "--search", "lab")
    rows = {row["id"]: row for row in json.loads(out)}
    assert code == 0
    coder = rows["lab:lab-coder"]
    assert (coder["price_in"], coder["price_out"], coder["context"], coder["origin"]) == (0.2, 0.6, 32768, "settings")
    assert coder["key"] == "ok" and coder["discovered"] is False


def test_cost_prices_a_mix_with_your_own_model(llm_server, capsys):
    write_settings(lab(llm_server, LAB_MODELS))
    code, out, err = run_cli(capsys, "cost", "--tokens", "10M", "--input-share", "0.5", "--mix", "lab:lab-coder=1", "--json")
    assert code == 0, err
    doc = json.loads(out)
    # 5M in at $0.20 + 5M out at $0.60.
    assert doc["mix_monthly_usd"] == pytest.approx(4.0)
    assert doc["mix"][0]["price_source"] == "your settings (providers.lab.models)"


def test_a_run_on_your_own_model_is_priced_and_not_warned_about(llm_server, capsys):
    write_settings(lab(llm_server, LAB_MODELS))
    llm_server.enqueue(Reply.text("ok", input_tokens=1_000_000, output_tokens=1_000_000))
    code, out, err = run_cli(capsys, "run", "--task", "x", "--model", "lab:lab-coder", "--no-tools")
    assert code == 0 and out == "ok\n"
    assert "not in the model catalog" not in err
    assert "cost $0.8000" in err.splitlines()[-1]
    assert llm_server.requests[0].model == "lab-coder"


def test_an_unknown_model_warning_says_where_to_price_it(llm_server, capsys):
    write_settings(lab(llm_server))
    llm_server.enqueue(Reply.text("ok"))
    code, _, err = run_cli(capsys, "run", "--task", "x", "--model", "lab:other", "--no-tools")
    assert code == 0 and "lab:other is not in the model catalog" in err and "providers.lab.models" in err


# ---------------------------------------------------------------------------- discovery


def test_listing_shapes_vllm_llamacpp_ollama():
    doc = {
        "object": "list",
        "data": [
            {"id": "Qwen/Qwen2.5-7B", "max_model_len": 32768},
            {"id": "llama", "context_length": 8192},
            {"id": "qwen2.5-coder:7b", "owned_by": "library"},
            {"id": "has space"},
            "not an object",
        ],
    }
    models = {m.id: m for m in models_from_listing("vllm", doc, source="http://localhost:8000/v1/models")}
    assert list(models) == ["vllm:Qwen/Qwen2.5-7B", "vllm:llama", "vllm:qwen2.5-coder:7b"]
    assert [m.context for m in models.values()] == [32768, 8192, None]
    assert all(m.origin == "discovered" and m.tools is None for m in models.values())
    # A listing gives no price: unknown, never free, even for a server on this machine
    # (it may be a gateway to a paid API).
    assert all(m.price_in is None and m.price_out is None and not m.price_known for m in models.values())
    with pytest.raises(ValueError, match="no 'data' list"):
        models_from_listing("lab", {"models": []}, source="x")


def test_which_providers_are_asked(llm_server):
    write_settings({**lab(llm_server), "openrouter": {"base_url": "http://mirror/v1"}, "anth": {"kind": "anthropic",
                                                                                                 "base_url": "http://a"}})
    asked = discoverable_providers(load_settings().merged)
    assert {"ollama", "llamacpp", "vllm", "lmstudio", "lab"} <= set(asked)
    assert "openrouter" not in asked and "anth" not in asked and "local" not in asked


def test_discovered_models_appear_marked_cached_and_with_an_unknown_price(llm_server, capsys):
    llm_server.models = ["lab-coder", {"id": "lab-big", "max_model_len": 65536}]
    write_settings(lab(llm_server, LAB_MODELS))
    code, out, _ = run_cli(capsys, "models", "--json", "--search", "lab")
    rows = {row["id"]: row for row in json.loads(out)}
    assert code == 0 and set(rows) == {"lab:lab-coder", "lab:lab-big"}
    big = rows["lab:lab-big"]
    assert (big["origin"], big["discovered"], big["context"]) == ("discovered", True, 65536)
    assert big["price_in"] is None and big["price_out"] is None  # unknown, not $0
    assert rows["lab:lab-coder"]["price_in"] == 0.2  # the user's price beats the listing
    code, out, _ = run_cli(capsys, "models", "--search", "lab", "--sort", "price")
    lines = [line for line in out.splitlines() if line.startswith("lab:")]
    assert [line.split()[0] for line in lines] == ["lab:lab-coder", "lab:lab-big"]  # unknown price sorts last
    assert "$0.00" not in lines[1] and " ? " in lines[1]
    # A turn on it costs "?" too, never $0.
    llm_server.enqueue(Reply.text("ok", input_tokens=1000, output_tokens=100))
    code, out, err = run_cli(capsys, "run", "--task", "x", "--model", "lab:lab-big", "--no-tools")
    assert code == 0 and out == "ok\n", err
    assert "cost ?" in err.splitlines()[-1] and "$0" not in err.splitlines()[-1]
    asked = [r for r in llm_server.requests if r.method == "GET"]
    assert asked and asked[0].path == "/v1/models"
    cached = orjson.loads((paths.cache_dir() / DISCOVERED_FILENAME).read_bytes())
    assert [m["id"] for m in cached["providers"]["lab"]["models"]] == ["lab:lab-coder", "lab:lab-big"]

    llm_server.stop()  # offline: the listing is remembered, and the table says why it is old
    code, out, err = run_cli(capsys, "models", "--json", "--search", "lab")
    assert code == 0 and "lab:lab-big" in {row["id"] for row in json.loads(out)}
    assert "lab: " in err and "not reachable" in err
    capsys.readouterr()
    code, out, err = run_cli(capsys, "models", "--offline", "--json", "--search", "lab")
    assert "lab:lab-big" in {row["id"] for row in json.loads(out)} and err == ""


def test_a_listing_cached_as_free_before_is_read_with_an_unknown_price(llm_server):
    """Caches written when a server on this machine was taken for free still say 0: not any more."""
    write_settings(lab(llm_server))
    old = {"id": "lab:lab-big", "name": "lab-big", "provider": "lab", "price_in": 0.0, "price_out": 0.0,
           "context": 65536, "max_output": None, "tools": None, "tier": "small", "price_date": "2026-11-30",
           "price_source": "runs on your own server: no per-token charge", "origin": "discovered"}
    cache = paths.cache_dir() / DISCOVERED_FILENAME
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(orjson.dumps({"format": 1, "providers": {"lab": {"base_url": llm_server.openai_url,
                                                                       "models": [old]}}}))
    catalog = ModelCatalog.load(settings=load_settings().merged)
    big = catalog.get("lab:lab-big")
    assert big is not None and big.context == 65536 and big.origin == "discovered"
    assert big.price_in is None and big.price_out is None and "no per-token charge" not in big.price_source
    assert catalog.cost("lab:lab-big", 1000, 100) is None


def test_a_listing_is_dropped_when_its_provider_is_gone(llm_server):
    llm_server.models = ["lab-big"]
    write_settings(lab(llm_server))
    asyncio.run(discover_models(load_settings().merged))
    assert ModelCatalog.load(settings=load_settings().merged).get("lab:lab-big") is not None
    write_settings({})
    assert ModelCatalog.load(settings=load_settings().merged).get("lab:lab-big") is None


def test_discovery_sends_the_key_and_reports_a_refusal(llm_server, monkeypatch):
    monkeypatch.setenv("LAB_KEY", "lab-secret-0123456789")
    write_settings({"lab": {"kind": "openai", "base_url": llm_server.openai_url, "api_key_env": "LAB_KEY"}})
    llm_server.set_route("GET", "/v1/models", Reply.error(401, "bad key"))
    (found,) = [d for d in asyncio.run(discover_models(load_settings().merged)) if d.provider == "lab"]
    assert found.error is not None and "HTTP 401" in found.error and "check its key" in found.error
    assert found.configured and found.models == []
    assert llm_server.requests[-1].headers["authorization"] == "Bearer lab-secret-0123456789"


# ---------------------------------------------------------------------------- models refresh

OPENROUTER_LISTING = {
    "data": [
        {
            "id": "acme/coder-1",
            "name": "Acme: Coder 1",
            "context_length": 65536,
            "pricing": {"prompt": "0.0000002", "completion": "0.0000008"},
            "top_provider": {"context_length": 65536, "max_completion_tokens": 8192},
            "supported_parameters": ["tools"],
        }
    ]
}


def test_models_refresh_honours_the_base_url_in_settings(llm_server, capsys):
    llm_server.set_route("GET", "/mirror/api/v1/models", Reply.json(OPENROUTER_LISTING))
    write_settings({"openrouter": {"base_url": f"{llm_server.base_url}/mirror/api/v1"}})
    code, out, err = run_cli(capsys, "models", "refresh")
    assert code == 0, err
    assert "updated 1 OpenRouter models" in out and f"{llm_server.base_url}/mirror/api/v1" in err
    paths_asked = [r.path for r in llm_server.requests]
    assert paths_asked[0] == "/mirror/api/v1/models"
    # published per-endpoint latency (core/models/published_latency.py) is asked of the same server
    assert all(p.startswith("/mirror/api/v1/models") for p in paths_asked)
    assert ModelCatalog.load().get("openrouter:acme/coder-1") is not None


def test_models_refresh_with_the_server_down_exits_4(capsys):
    dead = ScriptedLLMServer().start()
    url = dead.openai_url
    dead.stop()
    code, _, err = run_cli(capsys, "models", "refresh", "--base-url", url, "--timeout", "5")
    assert code == 4  # "provider error (... server down)", as --help and the README say
    assert "could not reach" in err and "bundled catalog" in err


def test_models_refresh_that_cannot_write_its_cache_exits_1(llm_server, capsys):
    llm_server.set_route("GET", "/api/v1/models", Reply.json(OPENROUTER_LISTING))
    paths.cache_dir().parent.mkdir(parents=True, exist_ok=True)
    paths.cache_dir().write_text("a file where the cache folder should be")
    code, _, err = run_cli(capsys, "models", "refresh", "--base-url", f"{llm_server.base_url}/api/v1")
    assert code == 1 and "could not write the model cache" in err


# ---------------------------------------------------------------------------- agents list


def test_agents_list_reports_unknown_tools_and_invalid_names_with_file_and_line(tmp_path, capsys):
    folder = tmp_path / "my-agents"
    folder.mkdir()
    (folder / "broken.md").write_text("---\nname: [broken\ndescription: x\ntools: read\n---\nHello\n")
    (folder / "tooly.md").write_text(
        "---\nname: tooly\ndescription: y\ntools: Read, nonexistent_tool, mcp:github/*\n---\nHi\n"
    )
    code, out, _ = run_cli(capsys, "agents", "list", "--agents-dir", str(folder))
    assert code == 0
    assert f"{folder / 'broken.md'}:2: warning: agent name '[broken' is not a valid name" in out
    assert f"{folder / 'tooly.md'}:4: warning: Unknown tool 'nonexistent_tool' ignored" in out
    assert "mcp:github" not in out.split("problem(s)")[1]  # MCP servers are only known when they start
    code, out, _ = run_cli(capsys, "agents", "list", "--agents-dir", str(folder), "--json")
    problems = json.loads(out)["problems"]
    assert {"path": str(folder / "tooly.md"), "line": 4, "severity": "warning"}.items() <= next(
        p for p in problems if "nonexistent_tool" in p["message"]
    ).items()
    code, out, _ = run_cli(capsys, "agents", "show", "tooly", "--agents-dir", str(folder))
    assert "problem:     " in out and "nonexistent_tool" in out

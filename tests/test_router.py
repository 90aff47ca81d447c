"""Routing table tests on a small catalog of known tiers, prices and capabilities."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from agentic_flow.core.agents.catalog import Agent
from agentic_flow.core.compare.result import CompareResult, ModelRun, ModelSummary
from agentic_flow.core.compare.results import CompareStore
from agentic_flow.core.config import LoadedSettings, ProviderSettings, RouterPolicy, Settings
from agentic_flow.core.models.catalog import ModelCatalog, ModelInfo
from agentic_flow.core.routing.router import (
    DEFAULT_WEIGHTS,
    CalibrationError,
    NoModelAvailable,
    calibrate,
    choose_auto,
    load_calibration,
    provider_access,
    route,
    task_features,
)
from agentic_flow.core.store.database import Store

TRIVIAL = "What is the capital of France?"
HARD = (
    "Design the architecture of a distributed job scheduler: compare the trade-offs of sharding and "
    "replication, then implement the core scheduling loop in Python with unit tests."
)
CODE = "Write a python function that reverses a string."


def model(model_id, tier, price_in, price_out, *, context=128_000, tools=True):
    return ModelInfo(
        id=model_id, name=model_id, provider=model_id.split(":")[0], price_in=price_in, price_out=price_out,
        context=context, max_output=None, tools=tools, tier=tier, price_date=date(2025, 9, 1), price_source="test",
    )


CATALOG = ModelCatalog([
    model("cheap:small", "small", 0.05, 0.10),
    model("cheap:tiny", "tiny", 0.01, 0.01, tools=False),
    model("mid:medium", "medium", 0.50, 1.50),
    model("big:large", "large", 2.00, 8.00),
    model("big:frontier", "frontier", 3.00, 15.00),
    model("big:frontier-notools", "frontier", 1.00, 5.00, tools=False),
    model("mid:narrow", "large", 0.30, 0.90, context=4_000),
    model("nokey:frontier", "frontier", 0.10, 0.10),
])


def remote(name: str) -> ProviderSettings:
    return ProviderSettings(kind="openai", base_url=f"https://{name}.example/v1", api_key="test-key")


def settings(**router) -> Settings:
    providers = {name: remote(name) for name in ("cheap", "mid", "big")}
    # "nokey" exists but its key variable is unset: never a candidate
    providers["nokey"] = ProviderSettings(kind="openai", base_url="https://nokey.example/v1", api_key_env="NOKEY_KEY")
    providers["lab"] = ProviderSettings(kind="openai", base_url="http://127.0.0.1:9/v1", needs_key=False)
    return Settings(providers=providers, router=RouterPolicy(**router))


def agent(tools=None) -> Agent:
    return Agent(name="coder", description="writes code", prompt="You write code.", path=Path("coder.md"),
                 source="test", tools=tools)


def decide(task, *, router=None, tools=None, agent_=None, catalog=CATALOG, **kw):
    return route(task, agent=agent_, settings=settings(**(router or {})), catalog=catalog, tools=tools,
                 use_calibration=kw.pop("use_calibration", False), probe=None, **kw)


def test_trivial_task_picks_a_cheap_model():
    d = decide(TRIVIAL, tools=False)
    assert d.model_id == "cheap:small"
    assert d.features.need_tier == "small" and d.features.complexity == 0
    # the tiny base model is cheaper still, but never enough on its own
    assert d.ranked[0].score > next(c.score for c in d.ranked if c.id == "cheap:tiny")


def test_hard_design_task_with_tools_picks_a_capable_tool_calling_model():
    d = decide(HARD, agent_=agent(tools=None))
    f = d.features
    assert f.tools and f.design and f.code and f.need_tier == "frontier"
    assert d.chosen is not None and d.chosen.model.tier == "frontier" and d.chosen.model.tools
    assert d.model_id == "big:frontier"
    excluded = {e.model_id: e for e in d.excluded}
    assert excluded["big:frontier-notools"].kind == "tools"
    assert excluded["cheap:tiny"].kind == "tools"
    assert excluded["nokey:frontier"].kind == "access" and "NOKEY_KEY" in excluded["nokey:frontier"].reason


def test_explanation_names_the_deciding_features_and_alternatives():
    d = decide(HARD, agent_=agent(tools=None))
    text = d.explain(top=2)
    assert text.startswith("choice: big:frontier")
    assert "needs tier frontier" in text
    assert "design: design, architecture, distributed, trade-offs, sharding, replication (+3)" in text
    assert "tools requested (+1)" in text
    assert "without tool support excluded" in text
    assert "2. big:large" in text and "lost on tier fit" in text
    assert "not calibrated" in text
    deciding = d.deciding()
    assert any("beat big:large mainly on tier fit" in line for line in deciding)
    assert "--model auto" in d.reason and "big:frontier" in d.reason


def test_code_task_needs_more_than_a_chat_question():
    assert task_features(CODE).need_tier == "small"
    assert task_features(CODE, agent()).need_tier == "medium"  # + tools
    assert task_features(CODE + " It crashes with a traceback.", agent()).need_tier == "large"
    assert task_features(TRIVIAL).code == () and task_features(TRIVIAL).design == ()


def test_budget_policy_is_respected():
    budget = 0.02
    d = decide(HARD, agent_=agent(tools=None), router={"budget_per_task": budget})
    assert d.chosen is not None and d.chosen.est_cost is not None
    assert all(c.est_cost is not None and c.est_cost <= budget for c in d.ranked)
    budget_out = {e.model_id for e in d.excluded if e.kind == "budget"}
    assert {"big:frontier", "big:large"} <= budget_out
    assert d.model_id != "big:frontier"
    assert any("policy budget_per_task" in line for line in d.deciding())


def test_budget_excludes_models_whose_price_is_unknown():
    catalog = ModelCatalog([model("cheap:small", "small", 0.05, 0.1), model("mid:unpriced", "small", None, None)])
    d = decide(TRIVIAL, tools=False, catalog=catalog, router={"budget_per_task": 1.0})
    (gone,) = d.excluded
    assert gone.model_id == "mid:unpriced" and "price unknown" in gone.reason
    without_budget = decide(TRIVIAL, tools=False, catalog=catalog)
    unpriced = next(c for c in without_budget.ranked if c.id == "mid:unpriced")
    assert "price unknown" in " ".join(unpriced.reasons) and without_budget.model_id == "cheap:small"


def test_tiny_budget_leaves_nothing_and_says_so():
    d = decide(HARD, agent_=agent(), router={"budget_per_task": 0.000001})
    assert d.chosen is None
    assert "over router.budget_per_task" in d.message() and "relax router" in d.message()
    with pytest.raises(NoModelAvailable, match="no model can be chosen"):
        choose_auto(HARD, agent(), settings(budget_per_task=0.000001), CATALOG)


def test_min_tier_policy():
    d = decide(TRIVIAL, tools=False, router={"min_tier": "large"})
    assert d.chosen is not None and d.chosen.model.tier in ("large", "frontier")
    assert {e.model_id for e in d.excluded if e.kind == "min_tier"} >= {"cheap:small", "mid:medium"}


def test_preferred_provider_breaks_a_near_tie():
    catalog = ModelCatalog([model("cheap:small", "small", 0.05, 0.1), model("mid:small2", "small", 0.06, 0.12)])
    assert decide(TRIVIAL, tools=False, catalog=catalog).model_id == "cheap:small"
    d = decide(TRIVIAL, tools=False, catalog=catalog, router={"preferred_providers": ["mid"]})
    assert d.model_id == "mid:small2"
    assert "preferred provider mid" in " ".join(d.chosen.reasons)


def test_local_only_keeps_local_servers():
    catalog = ModelCatalog([*CATALOG, model("lab:coder", "medium", 0.0, 0.0)])
    d = decide(CODE, tools=False, catalog=catalog, router={"local_only": True})
    assert d.model_id == "lab:coder"
    assert all(e.kind in ("local_only", "access", "tools", "context") for e in d.excluded)
    assert "runs locally" in " ".join(d.chosen.reasons)
    nothing = decide(CODE, tools=False, router={"local_only": True})
    assert nothing.chosen is None and "not local (router.local_only)" in nothing.message()


def test_context_window_too_small_is_excluded():
    long_task = "Refactor this module:\n" + ("x = compute(value) + other\n" * 1200)
    d = decide(long_task, tools=False)
    assert d.features.context_needed > 4_000
    assert any(e.model_id == "mid:narrow" and e.kind == "context" for e in d.excluded)


def test_measured_latency_counts(tmp_path):
    catalog = ModelCatalog([model("cheap:a", "small", 0.05, 0.1), model("mid:b", "small", 0.05, 0.1)])
    with Store(tmp_path / "db") as store:
        for _ in range(3):
            store.record_latency("cheap:a", ttft_ms=4000, tokens_per_s=10, source="compare")
            store.record_latency("mid:b", ttft_ms=200, tokens_per_s=80, source="compare")
        d = decide(TRIVIAL, tools=False, catalog=catalog, store=store)
    assert d.model_id == "mid:b"
    assert "measured TTFT p50 200 ms, 80 tok/s (n=3)" in " ".join(d.chosen.reasons)
    assert d.margin() is not None and d.margin()[0] == "latency"


def test_keyless_local_preset_needs_a_server():
    bare = Settings()
    assert not provider_access("ollama", bare, probe=lambda host, port: False).usable
    assert provider_access("ollama", bare, probe=lambda host, port: (host, port) == ("localhost", 11434)).usable
    assert provider_access("ollama", bare, probe=lambda h, p: False).local
    assert provider_access("openrouter", bare).note == "set OPENROUTER_API_KEY"


def test_settings_may_be_loaded_settings(tmp_path):
    loaded = LoadedSettings(merged=settings(), user=settings(), project=Settings(), user_file=tmp_path / "u",
                            project_file=tmp_path / "p")
    d = route(TRIVIAL, settings=loaded, catalog=CATALOG, tools=False, use_calibration=False, probe=None)
    assert d.model_id == "cheap:small"


# ------------------------------------------------------------------------- calibration


def _store_comparison(store: Store, outcomes: dict[str, list[bool]]) -> None:
    """One stored comparison: per model, runs that succeeded (True) or failed."""
    summaries = []
    n = max(len(v) for v in outcomes.values())
    for model_id, results in outcomes.items():
        runs = [
            ModelRun(model_id=model_id, run_index=i, status="ok" if good else "failed", stop_reason="end_turn",
                     ttft_s=0.3, total_s=1.0, answer="```python\nx = 1\n```" if good else "")
            for i, good in enumerate(results)
        ]
        summaries.append(ModelSummary.of(model_id, runs))
    CompareStore(store).save(CompareResult(
        id=f"c{len(CompareStore(store).recent()) + 1}", created_at=datetime.now(timezone.utc), task="t",
        models=list(outcomes), runs=n, wall_s=1.0, summaries=summaries,
    ))


def test_calibration_needs_stored_comparisons(tmp_path):
    with Store(tmp_path / "db") as store, pytest.raises(CalibrationError, match="agentic-flow compare"):
        calibrate(store, CATALOG, path=tmp_path / "w.json")


def test_calibration_changes_weights_and_the_choice(tmp_path):
    task = CODE  # needs medium with tools
    path = tmp_path / "weights.json"
    before = route(task, agent=agent(), settings=settings(), catalog=CATALOG, calibration_path=path, probe=None)
    assert before.model_id == "mid:medium" and not before.calibrated

    with Store(tmp_path / "db") as store:
        # the small model did as well as everything else; the medium one often failed
        _store_comparison(store, {"cheap:small": [True] * 5, "mid:medium": [True, False, False, True, False],
                                  "big:frontier": [True] * 5})
        _store_comparison(store, {"cheap:small": [True] * 3, "big:large": [True] * 3})
        cal = calibrate(store, CATALOG, path=path)
    assert cal.samples == 21 and cal.comparisons == 2
    assert cal.models["cheap:small"] == (8, 8) and cal.models["mid:medium"] == (2, 5)
    assert cal.weights.quality < DEFAULT_WEIGHTS.quality and cal.weights.reliability > 0
    assert json.loads(path.read_text())["weights"]["quality"] == cal.weights.quality

    after = route(task, agent=agent(), settings=settings(), catalog=CATALOG, calibration_path=path, probe=None)
    assert after.calibrated and after.weights == cal.weights
    assert after.model_id == "cheap:small"
    text = after.explain()
    assert "weights: calibrated" in text and "from 21 runs in 2 comparison(s)" in text
    assert "succeeded 8/8 in comparisons" in text


def test_calibration_raises_quality_weight_when_tiers_matter(tmp_path):
    with Store(tmp_path / "db") as store:
        _store_comparison(store, {"cheap:small": [False, False, False, True], "big:frontier": [True] * 4})
        cal = calibrate(store, CATALOG, path=tmp_path / "w.json")
    assert cal.tier_slope is not None and cal.tier_slope > 0.15
    assert cal.weights.quality > DEFAULT_WEIGHTS.quality
    loaded, warning = load_calibration(tmp_path / "w.json")
    assert warning is None and loaded is not None and loaded.weights == cal.weights


def test_broken_weights_file_falls_back_to_defaults(tmp_path):
    path = tmp_path / "w.json"
    path.write_text("{not json")
    d = route(TRIVIAL, settings=settings(), catalog=CATALOG, tools=False, calibration_path=path, probe=None)
    assert not d.calibrated and d.weights == DEFAULT_WEIGHTS
    assert d.warnings and "default weights are used" in d.warnings[0]


def test_budget_that_forces_a_weaker_model_says_so():
    d = decide(HARD, agent_=agent(tools=None), router={"budget_per_task": 0.02})
    assert d.model_id == "cheap:small"
    assert any("no usable model within the limits reaches tier frontier" in line for line in d.deciding())

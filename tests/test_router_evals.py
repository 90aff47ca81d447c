"""``route calibrate`` learns from eval results: per task type, the cheapest proven model wins,
and ``route --explain`` names the evidence."""

from __future__ import annotations

import io
from datetime import datetime, timezone

from agentic_flow.core.cli import main
from agentic_flow.core.compare.result import ModelRun
from agentic_flow.core.evals.cache import EvalStore
from agentic_flow.core.evals.records import CellResult
from agentic_flow.core.routing.router import calibrate, load_calibration, route, task_type_of
from agentic_flow.core.store.database import Store
from tests.test_router import CATALOG, CODE, agent, settings

DEBUG = "Fix the failing test in parser.py: it raises a KeyError."


def store_cells(store: Store, eval_id: str, task_type: str, results: dict[str, list[bool]], cost: float = 0.01) -> None:
    now = datetime.now(timezone.utc)
    for model_id, outcomes in results.items():
        for i, passed in enumerate(outcomes):
            EvalStore(store).save_cell(CellResult(
                key=f"{eval_id}-{task_type}-{model_id}-{i}", task_id=f"{task_type}-{i}", task_type=task_type,
                model_id=model_id, run_index=0, fixture_hash="empty", params_hash="p", eval_id=eval_id,
                status="passed" if passed else "failed",
                run=ModelRun(model_id=model_id, status="ok", stop_reason="end_turn", input_tokens=1000,
                             output_tokens=100, cost=cost),
                started_at=now, finished_at=now,
            ))


def test_task_types():
    assert task_type_of(CODE) == "code" and task_type_of(DEBUG) == "debug"
    assert task_type_of("Design a distributed cache") == "design" and task_type_of("Say hello") == "general"


def test_the_cheapest_model_proven_on_similar_tasks_is_chosen(tmp_path):
    path = tmp_path / "weights.json"
    before = route(CODE, agent=agent(), settings=settings(), catalog=CATALOG, calibration_path=path, probe=None)
    assert before.model_id == "mid:medium"  # the tier guess: code with tools needs medium

    with Store(tmp_path / "db") as store:
        store_cells(store, "ev1", "code", {"cheap:small": [True, True, True], "mid:medium": [True, True, True],
                                           "big:large": [True, False, False]})
        store_cells(store, "ev2", "debug", {"cheap:small": [False, False, True]})
        cal = calibrate(store, CATALOG, path=path)
    assert cal.eval_cells == 12 and cal.samples == 12
    code = cal.evals["code"]
    assert (code["cheap:small"].passed, code["cheap:small"].cells, code["cheap:small"].proven) == (3, 3, True)
    assert not code["big:large"].proven and code["cheap:small"].cost_per_solved == 0.01
    reloaded, warning = load_calibration(path)
    assert warning is None and reloaded is not None and reloaded.evals["code"]["big:large"].passed == 1

    after = route(CODE, agent=agent(), settings=settings(), catalog=CATALOG, calibration_path=path, probe=None)
    assert after.task_type == "code" and after.model_id == "cheap:small"
    chosen = after.chosen
    assert chosen is not None and chosen.parts["quality"] == 0.0 and chosen.parts["evals"] > 0
    text = after.explain()
    assert "eval evidence: passed 3/3 'code' tasks (eval run(s) ev1)" in text
    assert "tier gap is waived" in text
    assert "eval evidence for 'code' tasks (eval run(s) ev1): 3 model(s) tried, 2 proven" in text
    assert after.to_dict()["eval_evidence"]["cheap:small"]["proven"] is True

    # a debugging task has its own evidence: the small model mostly failed those, so no waiver
    debug = route(DEBUG, agent=agent(), settings=settings(), catalog=CATALOG, calibration_path=path, probe=None)
    assert debug.task_type == "debug" and set(debug.evidence) == {"cheap:small"}
    small = next(c for c in debug.ranked if c.id == "cheap:small")
    assert small.parts["quality"] < 0 and small.parts["evals"] < 0 and debug.model_id != "cheap:small"


def test_route_calibrate_prints_the_eval_evidence(monkeypatch, capsys):
    with Store() as store:
        store_cells(store, "ev9", "code", {"llamacpp:m1": [True, True], "vllm:m2": [False, True]})
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["route", "calibrate"]) == 0
    out = capsys.readouterr().out
    assert "and 4 eval cell(s)" in out
    assert "eval evidence per task type" in out
    line = next(x for x in out.splitlines() if x.startswith("code") and "llamacpp:m1" in x)
    assert "2/2" in line and "yes" in line and "ev9" in line

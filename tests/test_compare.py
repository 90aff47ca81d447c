"""N models at once against real local servers: concurrency, isolation, measured figures, storage."""

from __future__ import annotations

import csv
import io
import statistics
import sys
import time
from datetime import date

import pytest

from agentic_flow.core.compare.export import to_csv, to_json, to_markdown, to_text
from agentic_flow.core.compare.options import CallOptions, CheckOptions
from agentic_flow.core.compare.result import CompareResult, Spread
from agentic_flow.core.compare.results import CompareStore
from agentic_flow.core.compare.runner import Comparison, RunFinished, RunStarted, compare, parse_models
from agentic_flow.core.config import ProviderSettings, Settings
from agentic_flow.core.errors import ConfigError
from agentic_flow.core.events import TextDelta
from agentic_flow.core.models.catalog import ModelCatalog, ModelInfo
from agentic_flow.core.permissions import PermissionEngine, PolicyApprover
from agentic_flow.core.store.database import Store
from tests.llm_server import Reply, llm_server_factory  # noqa: F401

CODE_ANSWER = "Here you go:\n\n```python\ndef reverse(s):\n    return s[::-1\n```\n\nDone, it works."


def settings_for(**servers) -> Settings:
    """One keyless OpenAI-compatible provider per server, named as given."""
    return Settings(
        providers={
            name: ProviderSettings(kind="openai", base_url=server.openai_url, needs_key=False)
            for name, server in servers.items()
        }
    )


def priced(model_id: str, price_in: float | None, price_out: float | None) -> ModelInfo:
    provider = model_id.split(":")[0]
    return ModelInfo(
        id=model_id, name=model_id, provider=provider, price_in=price_in, price_out=price_out, context=100_000,
        max_output=None, tools=True, tier="medium", price_date=date(2025, 9, 1), price_source="test",
    )


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "af.db") as s:
        yield s


async def test_three_slow_models_run_concurrently_and_failures_stay_isolated(llm_server_factory, store):
    delay = 1.0
    coder = llm_server_factory(default=Reply.text(
        CODE_ANSWER, input_tokens=30, output_tokens=40, split="events", delay_first=delay, delay_per_chunk=0.02,
    ))
    talker = llm_server_factory(default=Reply.text(
        "A plain answer without any code in it at all.", usage=False, split="events", delay_first=delay,
    ))
    cutter = llm_server_factory(default=Reply.text(
        "one two three four five six seven", delay_first=delay, cut_after=4,
    ))
    broken = llm_server_factory(default=Reply.error(500, "upstream exploded", retry_after=0))
    settings = settings_for(coder=coder, talker=talker, cutter=cutter, broken=broken)
    models = ["coder:m-code", "talker:m-talk", "cutter:m-cut", "broken:m-err"]

    began = time.perf_counter()
    result = await compare("reverse a string in python", models, settings=settings, store=store)
    wall = time.perf_counter() - began

    # Three models each wait >= 1 s for their first byte; run one after another that is >= 3 s.
    assert wall < 2.0, f"models did not run concurrently (wall {wall:.2f} s)"
    ok, talk, cut, err = (result.summary(m).runs[0] for m in models)
    assert (ok.status, talk.status, cut.status, err.status) == ("ok", "ok", "failed", "failed")

    # figures come from the stream timing
    for run in (ok, talk):
        assert run.ttft_s is not None and run.ttft_s >= delay
        assert run.total_s is not None and run.total_s >= run.ttft_s
    assert ok.input_tokens == 30 and ok.output_tokens == 40 and not ok.estimated
    assert ok.tokens_per_s == pytest.approx(40 / (ok.total_s - ok.ttft_s))
    assert ok.total_s - ok.ttft_s >= 0.02 * 3  # several chunks paced 20 ms apart after the first
    assert talk.estimated and talk.output_tokens and talk.output_tokens > 5  # no usage sent: counted, marked
    assert ok.reported_model == "m-code" and ok.stop_reason == "end_turn"

    # the cut-off model keeps its partial text and says why it failed
    assert cut.stop_reason == "cut_off" and cut.error_kind == "cut_off"
    assert cut.answer and "one" in cut.answer and "seven" not in cut.answer
    # the erroring one was retried, then recorded with the server's own message
    assert err.error_kind == "server_error" and "upstream exploded" in (err.error or "")
    assert err.retries == 3 and err.ttft_s is None and err.answer == ""

    # code checks found the syntax error with its line
    (block,) = ok.checks.blocks
    assert block.status == "error" and block.line == 2
    assert ok.checks.ok is False and talk.checks.ok is None

    # each server was asked for exactly the model chosen
    assert [r.model for r in coder.requests] == ["m-code"]
    assert [r.model for r in cutter.requests] == ["m-cut"]
    assert {r.model for r in broken.requests} == {"m-err"} and len(broken.requests) == 4
    assert not coder.requests[0].tools  # no tools are offered in a comparison


async def test_live_stream_interleaves_models_as_events_arrive(llm_server_factory):
    fast = llm_server_factory(default=Reply.text("quick answer"))
    slow = llm_server_factory(default=Reply.text("slow answer", delay_first=0.8))
    comparison = Comparison("hi", ["fast:a", "slow:b"], settings=settings_for(fast=fast, slow=slow))
    seen: list[tuple[str, object]] = []
    async for model_id, event in comparison.stream():
        seen.append((model_id, event))
        if model_id == "slow:b" and isinstance(event, RunStarted):
            assert comparison.live["slow:b"].ttft_s is None
    kinds = [(m, type(e).__name__) for m, e in seen]
    for model in ("fast:a", "slow:b"):
        mine = [k for m, k in kinds if m == model]
        assert mine[0] == "RunStarted" and mine[-1] == "RunFinished" and "TextDelta" in mine
    fast_done = kinds.index(("fast:a", "RunFinished"))
    slow_first_text = next(i for i, (m, e) in enumerate(seen) if m == "slow:b" and isinstance(e, TextDelta))
    assert fast_done < slow_first_text  # the fast column finished while the slow one still waited
    assert comparison.result is not None and comparison.result.complete
    assert comparison.live["slow:b"].ttft_s >= 0.8
    finished = [e.run for _, e in seen if isinstance(e, RunFinished)]
    assert {r.model_id for r in finished} == {"fast:a", "slow:b"}


def test_spread_is_median_and_range_not_mean():
    spread = Spread.of([10.0, None, 1.0, 2.0])
    assert spread is not None
    assert (spread.median, spread.min, spread.max, spread.n) == (2.0, 1.0, 10.0, 3)
    assert spread.q1 <= spread.median <= spread.q3
    assert Spread.of([None]) is None and Spread.of([]) is None


async def test_runs_report_median_and_spread(llm_server_factory):
    # Skewed on purpose: median (0.10) and mean (0.35) differ, whatever the overhead per run.
    delays = iter([0.05, 0.90, 0.10])
    server = llm_server_factory()
    server.set_handler(lambda req: Reply.text("same answer", input_tokens=5, output_tokens=3, delay_first=next(delays)))
    result = await compare("x", ["s:m"], settings=settings_for(s=server), runs=3)
    summary = result.summary("s:m")
    assert [r.run_index for r in summary.runs] == [0, 1, 2] and summary.ok_runs == 3
    ttft = summary.ttft_s
    assert ttft is not None and ttft.n == 3
    assert ttft.min >= 0.05 and ttft.max >= 0.90 and ttft.min < ttft.median < ttft.max
    measured = sorted(r.ttft_s for r in summary.runs if r.ttft_s is not None)
    assert ttft.median == measured[1] and ttft.median < statistics.mean(measured)
    assert ttft.q1 <= ttft.median <= ttft.q3
    assert summary.output_tokens is not None and summary.output_tokens.median == 3
    row = to_markdown(result).splitlines()
    line = next(r for r in row if r.startswith("| `s:m`"))
    assert "–" in line.split("|")[3]  # median (min–max)
    assert "ok 3/3" in line


async def test_timeout_stops_one_model_and_keeps_its_text(llm_server_factory):
    stuck = llm_server_factory(
        default=Reply.text("first second third", split="events", stall_after=2, stall_seconds=10)
    )
    fine = llm_server_factory(default=Reply.text("fine"))
    began = time.perf_counter()
    result = await compare("x", ["stuck:m", "fine:m"], settings=settings_for(stuck=stuck, fine=fine), call=CallOptions(timeout=0.6))
    assert time.perf_counter() - began < 5
    stuck_run = result.summary("stuck:m").runs[0]
    assert stuck_run.status == "failed" and stuck_run.error_kind == "timeout" and stuck_run.stop_reason == "timeout"
    assert "first" in stuck_run.answer and "0.6 s" in (stuck_run.error or "")
    assert stuck_run.output_tokens and stuck_run.estimated  # what arrived is counted
    assert result.summary("fine:m").runs[0].status == "ok"


async def test_missing_key_and_unknown_provider_fail_alone(llm_server_factory):
    fine = llm_server_factory(default=Reply.text("ok"))
    result = await compare(
        "x", ["openrouter:meta-llama/llama-3.1-8b-instruct", "nosuch:model", "fine:m"], settings=settings_for(fine=fine)
    )
    keyless, unknown, good = (s.runs[0] for s in result.summaries)
    assert keyless.status == "failed" and "OPENROUTER_API_KEY" in (keyless.error or "")
    assert unknown.status == "failed" and "unknown provider" in (unknown.error or "")
    assert good.status == "ok" and good.answer == "ok"


async def test_costs_come_from_the_catalog_and_unknown_is_none(llm_server_factory):
    a = llm_server_factory(default=Reply.text("a", input_tokens=1000, output_tokens=500))
    b = llm_server_factory(default=Reply.text("b", input_tokens=1000, output_tokens=500))
    catalog = ModelCatalog([priced("a:m", 1.0, 2.0), priced("b:m", 1.0, None)])
    result = await compare("x", ["a:m", "b:m"], settings=settings_for(a=a, b=b), catalog=catalog)
    # 1000 * $1/M + 500 * $2/M
    assert result.summary("a:m").runs[0].cost == pytest.approx(0.002)
    assert result.summary("b:m").runs[0].cost is None and result.summary("b:m").cost is None
    assert result.ranking()["cost"] == ["a:m"]  # an unknown price is never "cheapest"
    md = to_markdown(result)
    assert "| `b:m` | ok |" in md and "| ? |" in md and "$0.002" in md


async def test_store_gets_latency_usage_and_the_result(llm_server_factory, store):
    a = llm_server_factory(default=Reply.text("a", input_tokens=11, output_tokens=7, delay_first=0.05))
    bad = llm_server_factory(default=Reply.error(401, "bad key"))
    result = await compare("x", ["a:m", "bad:m"], settings=settings_for(a=a, bad=bad), store=store)
    with store.read() as conn:
        rows = conn.execute("SELECT model_id, source, ttft_ms FROM runs_latency").fetchall()
    assert len(rows) == 1 and rows[0][0] == "a:m" and rows[0][1] == "compare" and rows[0][2] >= 50
    stats = store.latency_stats("a:m")
    assert stats is not None and stats.count == 1
    assert store.usage_totals() == {"a:m": (11, 7)}  # the refused request cost nothing
    saved = CompareStore(store)
    loaded = saved.load(result.id[:6])
    assert loaded == result
    outcomes = saved.outcomes()
    assert [(o.model_id, o.status, o.success) for o in outcomes] == [("a:m", "ok", True), ("bad:m", "failed", False)]
    assert saved.recent()[0].id == result.id


async def test_check_command_runs_through_the_engine(llm_server_factory, tmp_path):
    server = llm_server_factory(default=Reply.text("```python\nprint(2 + 2)\n```"))
    engine, _ = PermissionEngine.from_settings(
        tmp_path, "auto", user_settings=tmp_path / "u.yaml", project_settings=tmp_path / "p.yaml"
    )
    result = await compare(
        "x", ["s:m"], settings=settings_for(s=server),
        check=CheckOptions(f"{sys.executable} {{file}}", engine=engine, approver=PolicyApprover("deny")),
    )
    command = result.summary("s:m").runs[0].checks.command
    assert command is not None and command.allowed and command.exit_code == 0 and command.output.strip() == "4"
    denied_engine, _ = PermissionEngine.from_settings(
        tmp_path, "ask", user_settings=tmp_path / "u.yaml", project_settings=tmp_path / "p.yaml"
    )
    result = await compare(
        "x", ["s:m"], settings=settings_for(s=server),
        check=CheckOptions("touch should-not-exist", engine=denied_engine, approver=PolicyApprover("deny")),
    )
    command = result.summary("s:m").runs[0].checks.command
    assert command is not None and not command.allowed
    assert "not run" in to_text(result)


async def test_agent_prompt_is_the_system_prompt(llm_server_factory):
    server = llm_server_factory(default=Reply.text("ok"))
    result = await compare("x", ["s:m"], settings=settings_for(s=server), agent="reviewer")
    assert result.agent == "reviewer"
    first = server.requests[0].messages[0]
    assert first["role"] == "system" and "review" in first["content"].lower()
    assert not server.requests[0].tools


async def test_base_url_applies_to_every_model(llm_server_factory):
    server = llm_server_factory(default=Reply.text("ok"))
    result = await compare("x", ["llamacpp:first", "vllm:second"], call=CallOptions(base_url=server.openai_url))
    assert all(s.ok_runs == 1 for s in result.summaries)
    assert sorted(r.model for r in server.requests) == ["first", "second"]


def test_exports_csv_json_and_markdown_table(tmp_path):
    from agentic_flow.core.compare.result import ModelRun, ModelSummary

    runs = [
        ModelRun(model_id="a:x", status="ok", ttft_s=0.5, total_s=1.5, tokens_per_s=20.0, input_tokens=10,
                 output_tokens=20, cost=0.001, stop_reason="end_turn", answer="pipe | here"),
        ModelRun(model_id="b:y", status="failed", error="HTTP 500: down", error_kind="server_error",
                 stop_reason="error"),
    ]
    result = CompareResult(
        id="abc123", created_at="2026-01-02T03:04:05+00:00", task="do | it", models=["a:x", "b:y"], runs=1, wall_s=1.6,
        summaries=[ModelSummary.of(r.model_id, [r]) for r in runs],
    )
    rows = list(csv.DictReader(io.StringIO(to_csv(result))))
    assert [r["model"] for r in rows] == ["a:x", "b:y"]
    assert rows[0]["cost_usd"] == "0.00100000" and rows[1]["cost_usd"] == "" and rows[1]["status"] == "failed"
    assert CompareResult.model_validate_json(to_json(result)) == result
    md = to_markdown(result).splitlines()
    header = md.index("| Model | Status | TTFT | Tokens/s | Total | Tokens in / out | Cost | Stop | Code checks |")
    assert md[header + 1].startswith("|---|---|---:|")
    assert md[header + 2].startswith("| `a:x` | ok | 500 ms | 20.0 | 1.50 s | 10 / 20 |")
    assert md[header + 3].startswith("| `b:y` | failed (server_error) | - |")
    assert "**Task:** do \\| it" in md
    assert any("`b:y`: HTTP 500: down" in line for line in md)
    assert all(line.count("|") - line.count("\\|") == 10 for line in md[header: header + 4])


def test_bad_arguments_are_refused():
    with pytest.raises(ConfigError):
        parse_models(" , ")
    with pytest.raises(ConfigError):
        parse_models("no-provider")
    assert parse_models("a:x, b:y,a:x") == ["a:x", "b:y"]
    with pytest.raises(ConfigError):
        Comparison("x", ["a:b"], runs=0)
    with pytest.raises(ConfigError):
        Comparison("  ", ["a:b"])


async def test_a_retried_run_counts_its_usage_but_is_not_a_latency_sample(llm_server_factory, store):
    server = llm_server_factory()
    server.enqueue(Reply.error(503, "busy", retry_after=0), Reply.text("fine", input_tokens=4, output_tokens=2))
    result = await compare("x", ["s:m"], settings=settings_for(s=server), store=store)
    run = result.summary("s:m").runs[0]
    assert run.status == "ok" and run.retries == 1
    assert store.latency_stats("s:m") is None
    assert store.usage_totals() == {"s:m": (4, 2)}

"""Eval suites against the scripted server: the example suites, resume after a kill, 429
backoff, the dry-run estimate and the reports."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from agentic_flow.core import paths
from agentic_flow.core.cli import main
from agentic_flow.core.compare.isolation import copies_root
from agentic_flow.core.errors import ConfigError
from agentic_flow.core.evals.cache import EvalStore
from agentic_flow.core.evals.checks import parse_verdict
from agentic_flow.core.evals.estimate import JUDGE_INPUT_BASE, JUDGE_OUTPUT, estimate_matrix
from agentic_flow.core.evals.html import to_html
from agentic_flow.core.evals.limiter import AdaptiveLimiter
from agentic_flow.core.evals.reports import load_transcripts, summarize, to_csv, to_json, to_markdown
from agentic_flow.core.evals.runner import EvalRunner
from agentic_flow.core.evals.suite import load_suite, parse_suite
from agentic_flow.core.models.catalog import ModelCatalog, format_cost
from agentic_flow.core.models.tokens import count_tokens
from agentic_flow.core.store.database import Store
from tests.llm_server import Reply, llm_server  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
FIXES = ROOT / "examples" / "evals" / "python-fixes.yaml"
ANSWERS = ROOT / "examples" / "evals" / "answers.yaml"
MODELS = "llamacpp:m1,vllm:m2,lmstudio:m3"
SLUGIFY = 'import re\n\n\ndef slugify(text: str) -> str:\n    return "-".join(re.findall(r"[a-z0-9]+", text.lower()))\n'


@pytest.fixture(autouse=True)
def _python_on_path(monkeypatch):
    """The suites' checks run `python -m pytest`: this interpreter's."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


@pytest.fixture
def cli(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))

    def invoke(*argv):
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def coder(req) -> Reply:
    """Plays the python-fixes tasks: m2 gets add wrong and forgets the version; the others solve all."""
    task = next((m["content"] for m in req.messages if m.get("role") == "user"), "")
    good = req.model != "m2"
    if not req.tool_results():
        if "calc.py" in task:
            new = "return a + b" if good else "return a * b"
            return Reply.tool_calls([("c1", "edit", {"path": "calc.py", "old_string": "return a - b", "new_string": new})],
                                    input_tokens=300, output_tokens=30)
        if "slugify" in task:
            return Reply.tool_calls([("c1", "write", {"path": "text.py", "content": SLUGIFY})],
                                    input_tokens=300, output_tokens=60)
        if "config.json" in task:
            body = '{"name": "demo", "version": "1.0.0"}' if good else '{"name": "demo"}'
            return Reply.tool_calls([("c1", "write", {"path": "config.json", "content": body})],
                                    input_tokens=200, output_tokens=20)
    return Reply.text("Done.", input_tokens=400, output_tokens=4)


# ------------------------------------------------------------------------------ suites


def test_suite_errors_name_the_file_line_and_key(tmp_path):
    bad = tmp_path / "s.yaml"
    bad.write_text("name: x\ntasks:\n  - id: a\n    prompt: p\n    chekcs: []\n")
    with pytest.raises(ConfigError) as info:
        load_suite(bad)
    assert f"{bad}:5" in str(info.value) and "chekcs" in str(info.value)
    with pytest.raises(ConfigError, match="none of the known kinds"):
        parse_suite("name: x\ntasks:\n  - id: a\n    prompt: p\n    checks: [{files_exist: a}]\n")
    with pytest.raises(ConfigError, match="invalid regular expression"):
        parse_suite("name: x\ntasks:\n  - id: a\n    prompt: p\n    checks: [{answer_regex: '('}]\n")
    with pytest.raises(ConfigError, match="unique"):
        parse_suite("name: x\ntasks:\n  - {id: a, prompt: p}\n  - {id: a, prompt: q}\n")
    assert len(load_suite(FIXES).tasks) == 3 and len(load_suite(ANSWERS).tasks) == 3


def test_python_fixes_suite_against_the_scripted_server(cli, llm_server):
    llm_server.set_handler(coder)
    code, out, err = cli("eval", str(FIXES), "--models", "llamacpp:m1,vllm:m2", "--base-url", llm_server.openai_url)
    assert code == 0, err
    with Store() as store:
        run = EvalStore(store).resolve_run("latest")
        cells = {(c.task_id, c.model_id): c for c in EvalStore(store).run_cells(run)}
    assert run.status == "complete" and len(cells) == 6
    assert {k for k, c in cells.items() if c.passed} == {
        ("fix-add", "llamacpp:m1"), ("slugify", "llamacpp:m1"), ("config-json", "llamacpp:m1"), ("slugify", "vllm:m2"),
    }
    bad = cells[("fix-add", "vllm:m2")]
    assert [c.passed for c in bad.checks] == [False, False, True]  # pytest fails, regex fails, it parses
    assert "assert 6 == 5" in bad.checks[0].detail
    schema = cells[("config-json", "vllm:m2")].checks[1]
    assert not schema.passed and "'version' is a required property" in schema.detail
    good = cells[("fix-add", "llamacpp:m1")].run
    assert good.turns == 2 and good.tool_calls == {"edit": 1} and good.diff_summary == "1 file +1 -1"
    assert "fix-add" in out and "llamacpp:m1" in out and "100%" in out


def test_quiet_still_says_why_cells_could_not_run(cli):
    code, _, err = cli("eval", str(FIXES), "--models", "nosuchprovider:m1", "-q")
    assert code == 4
    assert "nosuchprovider" in err and "fix-add" in err  # the cell, and why it could not run
    assert "eval: " not in err  # no progress lines


def test_answers_suite_text_only_with_a_judge(cli, llm_server, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")

    def answers(req):
        if req.path.endswith("/messages"):  # the judge (anthropic kind)
            assert "Pass only if the answer says 1991" in req.last_user_text()  # the rubric
            return Reply.text('{"score": 1, "pass": true, "reason": "says 1991"}', input_tokens=500, output_tokens=20)
        task = req.last_user_text()
        assert not req.tools  # tools: false in the suite
        if "capital" in task:
            return Reply.text("Paris" if req.model == "m1" else "Lyon")
        if "reverse_words" in task:
            body = "def reverse_words(text):\n    return ' '.join(text.split()[::-1])\n"
            if req.model != "m1":
                body = "def reverse_words(text)\n    return text\n"
            return Reply.text(f"```python\n{body}```")
        return Reply.text('{"language": "Python", "first_release": 1991}')

    llm_server.set_handler(answers)
    code, _, err = cli("eval", str(ANSWERS), "--models", "llamacpp:m1,vllm:m2", "--base-url", llm_server.openai_url)
    assert code == 0, err
    with Store() as store:
        run = EvalStore(store).resolve_run("latest")
        cells = {(c.task_id, c.model_id): c for c in EvalStore(store).run_cells(run)}
    assert [k for k, c in sorted(cells.items()) if c.passed] == [
        ("capital", "llamacpp:m1"), ("release-json", "llamacpp:m1"), ("release-json", "vllm:m2"),
        ("reverse-words", "llamacpp:m1"),
    ]
    broken = cells[("reverse-words", "vllm:m2")].checks[0]
    assert broken.label == "python parses: answer" and "line 1" in broken.detail
    judge = cells[("release-json", "llamacpp:m1")].checks[1]
    assert judge.kind == "judge" and judge.passed and "score 1.00" in judge.detail
    assert judge.cost == pytest.approx(ModelCatalog.load().cost("anthropic:claude-haiku-4-5", 500, 20))


def test_a_judge_without_its_key_makes_the_cell_an_error_not_a_failed_task(cli, llm_server, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)

    def answers(req):
        task = req.last_user_text()
        if "capital" in task:
            return Reply.text("Paris")
        if "reverse_words" in task:
            return Reply.text("```python\ndef reverse_words(text):\n    return text\n```")
        return Reply.text('{"language": "Python", "first_release": 1991}')

    llm_server.set_handler(answers)
    code, _, err = cli("eval", str(ANSWERS), "--models", "llamacpp:m1", "--base-url", llm_server.openai_url)
    assert code == 4  # a provider error, as the README says: run again once the key is set
    assert "ANTHROPIC_API_KEY" in err
    with Store() as store:
        run = EvalStore(store).resolve_run("latest")
        stored = {c.task_id for c in EvalStore(store).run_cells(run)}
    assert "release-json" not in stored  # not kept as a failed task: run again next time
    assert "capital" in stored


def test_judge_verdicts():
    assert parse_verdict('Sure: {"score": 0.4, "reason": "partly"}', 0.5) == (False, "score 0.40: partly")
    assert parse_verdict('{"score": 0.4, "pass": true}', 0.9) == (True, "score 0.40")
    assert parse_verdict("no idea", 0.5)[0] is None


# ------------------------------------------------------------------------------ dry run


def test_dry_run_matches_the_hand_computed_cost(cli):
    models = ["openai:gpt-4o-mini", "anthropic:claude-sonnet-4-5"]
    catalog = ModelCatalog.load()
    code, out, _ = cli("eval", str(FIXES), "--models", ",".join(models), "--runs", "3", "--dry-run")
    assert code == 0
    # by hand: each task's estimate x each model's price x 3 runs
    tokens = {"fix-add": (9000, 600), "slugify": (9000, 900), "config-json": (5000, 300)}
    expected = 0.0
    for model in models:
        info = catalog.get(model)
        for tin, tout in tokens.values():
            expected += 3 * (tin * info.price_in + tout * info.price_out) / 1_000_000
    assert f"estimated cost of the whole matrix: {format_cost(expected)}" in out
    runner = EvalRunner(load_suite(FIXES), models, runs=3, store=Store())
    assert estimate_matrix(runner.suite, runner.cells, catalog).total == pytest.approx(expected)
    assert len(runner.cells) == 18

    # a judge check adds its model's price; an unknown price makes it "at least"
    code, out, _ = cli("eval", str(ANSWERS), "--models", "openai:gpt-4o-mini,llamacpp:local-x", "--dry-run")
    mini, haiku = catalog.get("openai:gpt-4o-mini"), catalog.get("anthropic:claude-haiku-4-5")
    suite = load_suite(ANSWERS)
    judge = suite.tasks[2].checks[1].judge
    judge_in = JUDGE_INPUT_BASE + count_tokens(judge.rubric) + count_tokens(suite.tasks[2].prompt)
    judge_cost = (judge_in * haiku.price_in + JUDGE_OUTPUT * haiku.price_out) / 1_000_000
    answers = sum((t.estimate.input_tokens * mini.price_in + t.estimate.output_tokens * mini.price_out) / 1_000_000
                  for t in suite.tasks)
    assert f"at least {format_cost(answers + judge_cost)}" in out
    assert "price unknown (not counted) for: llamacpp:local-x" in out


def test_dry_run_prices_a_model_priced_in_the_config(cli):
    """Prices set under ``providers.<name>.models`` count, as for run / compare / cost."""
    config = paths.user_config_file()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        "providers:\n  lab:\n    kind: openai\n    base_url: http://127.0.0.1:9/v1\n"
        "    models:\n      - {id: priced, context: 64000, price_in: 2.0, price_out: 8.0}\n"
    )
    code, out, _ = cli("eval", str(FIXES), "--models", "lab:priced", "--runs", "2", "--dry-run")
    assert code == 0
    tokens = {"fix-add": (9000, 600), "slugify": (9000, 900), "config-json": (5000, 300)}
    expected = sum(2 * (tin * 2.0 + tout * 8.0) / 1_000_000 for tin, tout in tokens.values())
    assert f"estimated cost of the whole matrix: {format_cost(expected)}" in out
    assert "price unknown" not in out
    runner = EvalRunner(load_suite(FIXES), ["lab:priced"], runs=2, store=Store())
    assert estimate_matrix(runner.suite, runner.cells, runner.catalog).total == pytest.approx(expected)


# ------------------------------------------------------------------------------ resume


def _held(release: threading.Event):
    """m3's requests wait for ``release``; everything else plays the coder."""

    def handler(req):
        if req.model == "m3" and not release.wait(60):
            return Reply.error(500, "never released")
        return coder(req)

    return handler


def _stored(n: int) -> int:
    with Store() as store:
        with store.read() as conn:
            return conn.execute("SELECT COUNT(*) FROM eval_cells").fetchone()[0]


def test_a_killed_eval_resumes_without_rerunning_done_cells(cli, llm_server):
    release = threading.Event()
    llm_server.set_handler(_held(release))
    argv = ["eval", str(FIXES), "--models", MODELS, "--runs", "2", "--base-url", llm_server.openai_url]
    script = Path(sys.executable).parent / "agentic-flow"
    proc = subprocess.Popen([str(script), *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while _stored(12) < 12:  # every cell of m1 and m2 (3 tasks x 2 runs x 2 models)
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the first 12 cells did not finish"
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)  # m3's cells are mid-run
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        release.set()
    assert _stored(0) == 12
    orphans = [p for p in copies_root().iterdir() if (p / "owner.json").exists()
               and json.loads((p / "owner.json").read_text())["pid"] == proc.pid]
    assert orphans  # the killed run left m3's copies behind

    llm_server.clear()
    llm_server.set_handler(coder)
    code, out, err = cli(*argv)
    assert code == 0, err
    assert "cached 12" in err
    assert {r.model for r in llm_server.requests} == {"m3"}  # nothing done is run again
    assert _stored(0) == 18
    assert not any(p.exists() for p in orphans)  # swept
    with Store() as store:
        run = EvalStore(store).resolve_run("latest")
    assert run.status == "complete" and len(run.cell_keys) == 18

    code, _, err = cli(*argv)  # a third time: everything is cached, nothing is asked
    assert code == 0 and "cached 18" in err and {r.model for r in llm_server.requests} == {"m3"}


# ------------------------------------------------------------------------------ 429


def _rate_limiting_server(server, retry_after: float):
    """Two requests at a time are answered; a third at once gets 429 (and releases the two)."""
    lock = threading.Lock()
    state = {"inflight": 0, "limited": 0}
    third = threading.Event()

    def handler(req):
        with lock:
            state["inflight"] += 1
            crowded = state["inflight"] > 2
            if crowded:
                state["inflight"] -= 1
                state["limited"] += 1
        if crowded:
            third.set()
            return Reply.error(429, "slow down", retry_after=retry_after)
        third.wait(10)
        with lock:
            state["inflight"] -= 1
        return Reply.text("ok")

    server.set_handler(handler)
    return state


def _tiny_suite(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text("name: tiny\ndefaults: {tools: false}\ntasks:\n  - {id: hello, prompt: say ok, "
                    "checks: [{answer_contains: ok}]}\n")
    return load_suite(path)


@pytest.mark.parametrize("retries", [3, 0], ids=["provider-retries", "requeued-cells"])
async def test_429_halves_the_providers_concurrency(llm_server, tmp_path, retries):
    state = _rate_limiting_server(llm_server, retry_after=0.2)
    runner = EvalRunner(_tiny_suite(tmp_path), ["llamacpp:m"], runs=8, max_concurrency=4, store=Store(),
                        base_url=llm_server.openai_url, retries=retries)
    runner.limiter.recover_after = 100  # no recovery within this run (tested below)
    header, cells = await runner.run()
    assert state["limited"] >= 1
    first = runner.limiter.history[0]
    assert (first.provider, first.old, first.new) == ("llamacpp", 4, 2) and "429" in first.reason
    assert runner.limiter.peak_after_lowering("llamacpp") <= 2
    assert header.status == "complete" and all(c.passed for c in cells) and len(cells) == 8
    if retries == 0:
        assert any(c.attempts == 2 for c in cells)  # a rate-limited cell went back in the queue


async def test_the_cap_recovers_one_step_after_clean_cells_and_a_burst_of_429s_counts_once():
    limiter = AdaptiveLimiter(max_concurrency=4, recover_after=2)
    for _ in range(3):
        await limiter.acquire("p")
    await limiter.rate_limited("p", 0)
    await limiter.rate_limited("p", 0)  # the same burst, within the cool-down
    assert limiter.cap("p") == 2 and len(limiter.history) == 1
    for _ in range(3):
        await limiter.release("p")
    assert limiter.cap("p") == 3 and [h.new for h in limiter.history] == [2, 3]
    for _ in range(3):
        await limiter.acquire("p")
    with pytest.raises(TimeoutError):  # a fourth waits: the cap is 3 now
        await asyncio.wait_for(limiter.acquire("p"), 0.05)


# ------------------------------------------------------------------------------ reports


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.external: list[str] = []
        self.text: list[str] = []
        self.data_models: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            value = value or ""
            if name == "id":
                self.ids.add(value)
            if name == "data-model":
                self.data_models.add(value)
            if name in ("href", "src", "xlink:href", "action", "srcset", "poster", "xmlns"):
                if name == "href" and value.startswith("#"):
                    self.links.append(value[1:])
                else:
                    self.external.append(f"{name}={value}")
            if name == "style" and "url(" in value:
                self.external.append(value)

    def handle_data(self, data):
        self.text.append(data)


def test_reports_in_every_format_and_the_html_page_parses(cli, llm_server):
    llm_server.set_handler(coder)
    code, _, _ = cli("eval", str(FIXES), "--models", "llamacpp:m1,vllm:m2", "--runs", "2",
                     "--base-url", llm_server.openai_url)
    assert code == 0
    with Store() as store:
        run = EvalStore(store).resolve_run("latest")
        report = summarize(run, EvalStore(store).run_cells(run))
        page = to_html(report, load_transcripts(store, report.cells))
    m1, m2 = report.stats("llamacpp:m1"), report.stats("vllm:m2")
    assert (m1.passed, m1.cells, m1.pass_rate, m1.per_run) == (6, 6, 1.0, [1.0, 1.0])
    assert (m2.passed, m2.cells, m2.per_run) == (2, 6, [1 / 3, 1 / 3])
    assert m1.cost is None and m1.cost_per_solved is None  # scripted models have no price: unknown, not $0
    assert report.matrix_cell("fix-add", "vllm:m2") == "0/2 ✗" and report.matrix_cell("slugify", "vllm:m2") == "2/2 ✓"

    parsed = _Page()
    parsed.feed(page)
    text = "".join(parsed.text)
    assert parsed.tags.count("svg") == 3 and "rect" in parsed.tags and "script" not in parsed.tags
    assert parsed.external == []  # no URL outside the page: no src, no external href, no url()
    for model in run.models:
        assert model in text and model in parsed.data_models
    for task in run.tasks:
        assert task in text
    assert len(parsed.links) == 12 and set(parsed.links) <= parsed.ids  # every matrix link reaches its cell
    assert "+    return a * b" in text and "tool result (edit)" in text  # drill-down: diff and transcript

    md = to_markdown(report)
    assert "| `llamacpp:m1` | 100%" in md and "| fix-add | 2/2 ✓ | 0/2 ✗ |" in md
    rows = to_csv(report).splitlines()
    assert len(rows) == 13 and rows[0].startswith("eval,task,type,model,run,status")
    doc = json.loads(to_json(report))
    assert [m["pass_rate"] for m in doc["models"]] == [1.0, pytest.approx(1 / 3)] and len(doc["cells"]) == 12

    target = Path(os.getcwd()) / "nowhere-in-particular"
    code, _, err = cli("eval", "report", run.id[:6], "--html", "-o", str(target.with_suffix(".html")))
    try:
        assert code == 0 and str(target.with_suffix(".html")) in err
        assert target.with_suffix(".html").read_text().startswith("<!DOCTYPE html>")
    finally:
        target.with_suffix(".html").unlink(missing_ok=True)
    code, out, _ = cli("eval", "list")
    assert code == 0 and run.id in out and "python-fixes" in out


def test_cells_start_slowest_model_first_by_measured_latency(tmp_path):
    with Store() as store:
        store.record_latency("llamacpp:slow", ttft_ms=4000, tokens_per_s=10, source="compare")
        store.record_latency("vllm:fast", ttft_ms=200, tokens_per_s=100, source="compare")
    runner = EvalRunner(_tiny_suite(tmp_path), ["vllm:fast", "lmstudio:unknown", "llamacpp:slow"], runs=2,
                        store=Store(tmp_path / "evals.db"))
    order = [c.model_id for c in runner.slowest_first(runner.cells)]
    # slow: 4 s + 500/10 = 54 s; fast: 0.2 + 5 = 5.2 s; unknown counts as their median (29.6 s)
    assert order == ["llamacpp:slow"] * 2 + ["lmstudio:unknown"] * 2 + ["vllm:fast"] * 2

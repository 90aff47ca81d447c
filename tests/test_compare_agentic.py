"""Agentic compare: three models edit a real git repository in isolated worktrees at once.

The scripted server plays three models: one fixes the bug, one breaks it differently, one
changes nothing. ``pytest -q`` is the check; the real workspace stays untouched until
``compare apply``.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from agentic_flow.core.cli import main
from agentic_flow.core.compare.agentic import AgenticComparison, AgentRunSpec, IsolatedRun, agentic_compare
from agentic_flow.core.compare.isolation import WorkspaceCopy, copies_root, sweep_stale_copies
from agentic_flow.core.compare.options import CallOptions, CheckOptions
from agentic_flow.core.compare.results import CompareStore
from agentic_flow.core.permissions.audit import AuditLog
from agentic_flow.core.store.database import Store
from tests.llm_server import Reply, llm_server  # noqa: F401

CHECK = f"{sys.executable} -m pytest -q -p no:cacheprovider"
FIXES = {"m-good": "return a + b", "m-bad": "return a * b"}
MODELS = "llamacpp:m-good,llamacpp:m-bad,llamacpp:m-none"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def make_repo(root: Path) -> Path:
    """A repo with a bug committed, its failing test untracked and a README edit uncommitted."""
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    (repo / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (repo / "README.md").write_text("calc\n")
    (repo / ".gitignore").write_text("__pycache__/\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    (repo / "test_calc.py").write_text("from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n")
    (repo / "README.md").write_text("calc: adds numbers\n")
    return repo


def snapshot(repo: Path) -> dict[str, str]:
    files = {
        str(p.relative_to(repo)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in repo.rglob("*") if p.is_file() and ".git" not in p.relative_to(repo).parts
    }
    files["<status>"] = git(repo, "status", "--porcelain")
    return files


class Barrier:
    """Hold each model's first request until all of them arrived: proof they run at once."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.seen: set[str] = set()
        self.lock = threading.Lock()
        self.all_in = threading.Event()

    def wait(self, model: str) -> bool:
        with self.lock:
            self.seen.add(model)
            if len(self.seen) >= self.n:
                self.all_in.set()
        return self.all_in.wait(20)


def script(server, barrier: Barrier | None = None) -> None:
    def handler(req):
        if not req.tool_results():
            if barrier is not None and not barrier.wait(req.model):
                return Reply.error(500, "the three models did not run at the same time")
            if req.model in FIXES:
                call = {"path": "calc.py", "old_string": "return a - b", "new_string": FIXES[req.model]}
                return Reply.tool_calls([("c1", "edit", call)], input_tokens=100, output_tokens=20)
        return Reply.text("Done.", input_tokens=120, output_tokens=3)

    server.set_handler(handler)


@pytest.fixture
def cli(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))

    def invoke(*argv):
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def test_three_models_edit_isolated_worktrees_at_once_and_apply_changes_the_workspace(cli, llm_server, tmp_path):
    repo = make_repo(tmp_path)
    before = snapshot(repo)
    barrier = Barrier(3)
    script(llm_server, barrier)

    code, out, err = cli(
        "compare", "--agent", "coder", "--models", MODELS, "--task", "make test_calc.py pass",
        "--base-url", llm_server.openai_url, "--check", CHECK, "--workspace", str(repo), "--md",
    )
    assert code == 0, err
    assert barrier.all_in.is_set()
    # the real workspace is untouched: same files, same git status, no worktree left registered
    assert snapshot(repo) == before
    assert git(repo, "worktree", "list").count("\n") == 1

    rows = {line.split("|")[1].strip(" `"): [c.strip() for c in line.split("|")[2:-1]]
            for line in out.splitlines() if line.startswith("| `llamacpp:")}
    # Model | Status | Check | Diff | Turns | Tool calls | Tokens | Cost | TTFT | Wall | Stop
    good, bad, none = rows["llamacpp:m-good"], rows["llamacpp:m-bad"], rows["llamacpp:m-none"]
    assert good[:5] == ["ok", "passed", "1 file +1 -1", "2", "edit 1"] and good[5] == "220 / 23"
    assert bad[:5] == ["ok", "failed", "1 file +1 -1", "2", "edit 1"]
    assert none[:5] == ["ok", "failed", "no changes", "1", "none"] and none[5] == "120 / 3"
    assert all(r[-1] == "end_turn" for r in (good, bad, none))
    assert "+    return a + b" in out and "+    return a * b" in out  # the diffs, folded in the Markdown

    # each model ran in its own copy, made from HEAD plus the uncommitted test file and README
    with Store() as store:
        result = CompareStore(store).recent(1)[0]
        runs = {r.model_id: r for r in result.all_runs}
        workspaces = {store.get_session(r.session_id).workspace for r in runs.values()}
    assert len(workspaces) == 3 and all(str(copies_root()) in w for w in workspaces)
    assert not any(Path(w).exists() for w in workspaces)  # removed afterwards (no --keep)
    assert "1 passed" in runs["llamacpp:m-good"].checks.command.output
    assert "assert 6 == 5" in runs["llamacpp:m-bad"].checks.command.output
    assert "assert -1 == 5" in runs["llamacpp:m-none"].checks.command.output  # the untracked test was there

    code, out, err = cli("compare", "diff", "m-good")
    assert code == 0 and "-    return a - b\n+    return a + b" in out and "1 file +1 -1" in err

    # applying needs the engine's consent for every file: headless "deny" refuses, nothing changes
    code, out, err = cli("compare", "apply", "m-bad", "--approve", "deny")
    assert code == 1 and "not applied" in err and snapshot(repo) == before
    code, out, err = cli("compare", "apply", "m-good", "--approve", "accept-edits")
    assert code == 0 and "applied the diff of llamacpp:m-good" in out
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert (repo / "README.md").read_text() == "calc: adds numbers\n"  # the uncommitted edit is kept
    assert subprocess.run(CHECK.split(), cwd=repo, capture_output=True).returncode == 0
    with Store() as store:
        rows_ = [r for r in AuditLog(store).query() if r.agent == "compare apply"]
    assert [(r.tool, r.decision, r.arguments["path"]) for r in rows_] == [
        ("write", "deny", "calc.py"), ("write", "allow", "calc.py")
    ]
    assert rows_[0].result_summary == "not applied (denied)" and rows_[1].result_summary == "applied"

    # applying again: the workspace changed since, so git refuses and nothing is touched
    code, _, err = cli("compare", "apply", "m-bad", "--approve", "auto")
    assert code == 1 and "does not apply" in err
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"


async def test_keep_leaves_the_copies_and_a_deny_rule_stops_the_check(llm_server, tmp_path):
    repo = make_repo(tmp_path)
    settings = repo / ".agentic-flow"
    settings.mkdir()
    (settings / "settings.yaml").write_text("permissions:\n  deny:\n    - bash(rm *)\n")
    script(llm_server)
    result = await agentic_compare(
        "fix it", ["llamacpp:m-good"], workspace=repo, call=CallOptions(base_url=llm_server.openai_url), keep=True,
        check=CheckOptions("rm -f calc.py"),
    )
    run = result.all_runs[0]
    kept = Path(run.copy_path)
    try:
        assert kept.is_dir() and (kept / "calc.py").read_text().endswith("return a + b\n")
        assert run.checks.command is not None and not run.checks.command.allowed
        assert "rm *" in run.checks.command.decided_by
        assert sweep_stale_copies() == []  # kept copies are not swept
    finally:
        subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(kept)], check=True)
        shutil.rmtree(kept.parent)  # the kept copy's folder (its marker file)


async def test_temp_copy_honours_gitignore_and_the_diff_leaves_ignored_files_out(tmp_path):
    source = tmp_path / "plain"
    (source / "build").mkdir(parents=True)
    (source / "main.py").write_text("print('hi')\n")
    (source / ".gitignore").write_text("build/\nsecret.txt\n")
    (source / "secret.txt").write_text("s3cret\n")
    (source / "build" / "out.bin").write_bytes(b"\0\1")
    copy = await WorkspaceCopy.create(source, label="plain")
    try:
        assert copy.kind == "copy"
        assert sorted(p.name for p in copy.workspace.iterdir()) == [".gitignore", "main.py"]
        (copy.workspace / "main.py").write_text("print('bye')\n")
        (copy.workspace / "notes.md").write_text("new\n")
        (copy.workspace / "secret.txt").write_text("made by the run\n")
        (copy.workspace / "__pycache__").mkdir()
        (copy.workspace / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"x")
        diff = await copy.diff()
        assert [(f.path, f.status, f.added, f.removed) for f in diff.files] == [
            ("main.py", "modified", 1, 1), ("notes.md", "added", 1, 0)
        ]
        assert "+print('bye')" in diff.patch and "secret" not in diff.patch
    finally:
        await copy.remove()
    assert not copy.root.exists() and (source / "main.py").read_text() == "print('hi')\n"


async def test_a_killed_runs_copy_is_swept_and_its_worktree_unregistered(tmp_path):
    repo = make_repo(tmp_path)
    copy = await WorkspaceCopy.create(repo, label="orphan")
    marker = copy.root / "owner.json"
    marker.write_text(marker.read_text().replace(f'"pid": {__import__("os").getpid()}', '"pid": 999999999'))
    assert str(copy.root / "work") in git(repo, "worktree", "list")
    assert copy.root in sweep_stale_copies()
    assert not copy.root.exists() and git(repo, "worktree", "list").count("\n") == 1


async def test_a_model_that_fails_is_recorded_and_the_others_finish(llm_server, tmp_path):
    repo = make_repo(tmp_path)

    def handler(req):
        if req.model == "m-down":
            return Reply.error(401, "bad key")
        return Reply.text("fine")

    llm_server.set_handler(handler)
    comparison = AgenticComparison(
        "hi", ["llamacpp:m-up", "llamacpp:m-down"], workspace=repo,
        call=CallOptions(base_url=llm_server.openai_url, retries=0),
    )
    names = []
    async for model_id, event in comparison.stream():
        names.append((model_id, type(event).__name__))
    up, down = (comparison.result.summary(m).runs[0] for m in ("llamacpp:m-up", "llamacpp:m-down"))
    assert up.status == "ok" and up.answer == "fine" and up.turns == 1
    assert down.status == "failed" and "bad key" in (down.error or "") and down.diff == ""
    assert ("llamacpp:m-down", "RunFinished") in names and ("llamacpp:m-up", "TextDelta") in names


async def test_isolated_run_with_a_git_ref_checks_out_that_commit(llm_server, tmp_path):
    repo = make_repo(tmp_path)
    first = git(repo, "rev-parse", "HEAD").strip()
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b  # fixed later\n")
    git(repo, "commit", "-qam", "fix")
    llm_server.set_handler(lambda req: Reply.text("ok"))
    spec = AgentRunSpec(task="look", model_id="llamacpp:m", base_url=llm_server.openai_url)
    async with IsolatedRun(spec, source=repo, ref=first) as run:
        assert (run.workspace / "calc.py").read_text() == "def add(a, b):\n    return a - b\n"
        assert not (run.workspace / "test_calc.py").exists()  # a ref carries no uncommitted files
        await run.execute()
        assert (await run.collect_diff()).changed == []
    assert not run.copy.root.exists()

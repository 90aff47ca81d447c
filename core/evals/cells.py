"""The matrix of an eval run: one cell per (task, model, run index), each with a stable key.

A cell's key is (task id, fixture hash, model, params hash, run index):

* the **fixture hash** is what the workspace the agent starts from contains — for a
  folder, a hash of the files ``.gitignore`` does not exclude (names, modes and bytes);
  for a git ref, the commit's tree; ``empty`` for no workspace;
* the **params hash** covers what decides the result besides the model: the prompt,
  the checks, the run settings (agent, policy, turn and token limits, temperature,
  tools) and the agent's own prompt text, so editing any of them runs the cell again.

Two runs of a suite that share a key share the stored result: re-running resumes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from agentic_flow.core.errors import ConfigError, IsolationError
from agentic_flow.core.evals.suite import Suite, Task, task_spec_json

__all__ = ["Cell", "FixtureRef", "fixture_ref", "build_matrix", "cell_key"]

EMPTY_FIXTURE = "empty"


@dataclass(frozen=True)
class FixtureRef:
    """How to make a task's starting workspace: copy ``source`` (a folder), check out ``ref``, or nothing."""

    source: Path | None
    ref: str | None
    hash: str
    label: str


@dataclass(frozen=True)
class Cell:
    """One run of one task on one model."""

    task: Task
    model_id: str
    run_index: int
    fixture: FixtureRef
    params_hash: str

    @property
    def key(self) -> str:
        return cell_key(self.task.id, self.fixture.hash, self.model_id, self.params_hash, self.run_index)

    @property
    def provider(self) -> str:
        return self.model_id.split(":", 1)[0]

    @property
    def label(self) -> str:
        return f"{self.task.id} × {self.model_id} #{self.run_index + 1}"


def cell_key(task_id: str, fixture_hash: str, model_id: str, params_hash: str, run_index: int) -> str:
    raw = "\0".join((task_id, fixture_hash, model_id, params_hash, str(run_index)))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def _git(args: list[str], cwd: Path | None = None) -> str:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=120)
    except FileNotFoundError as exc:
        raise IsolationError("git is not installed: eval fixtures are listed and copied with git") from exc
    if proc.returncode != 0:
        raise IsolationError(f"`git {' '.join(args[:3])}` failed: {proc.stderr.decode('utf-8', 'replace').strip()}")
    return proc.stdout.decode("utf-8", "replace")


def folder_hash(folder: Path) -> str:
    """sha256 over the files of ``folder`` that ``.gitignore`` does not exclude."""
    with tempfile.TemporaryDirectory(prefix="af-fixture-") as tmp:
        git_dir = Path(tmp) / "g.git"
        _git(["init", "--quiet", "--bare", str(git_dir)])
        listed = _git([f"--git-dir={git_dir}", f"--work-tree={folder}", "ls-files", "--others", "--exclude-standard",
                       "-z"])
    digest = hashlib.sha256()
    for rel in sorted(filter(None, listed.split("\0"))):
        path = folder / rel
        digest.update(rel.encode("utf-8") + b"\0")
        if path.is_symlink():
            digest.update(b"link:" + os.readlink(path).encode("utf-8"))
        else:
            digest.update(b"x" if os.access(path, os.X_OK) else b"-")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return "folder:" + digest.hexdigest()[:32]


def fixture_ref(suite: Suite, task: Task, repo_dir: Path | None = None) -> FixtureRef:
    """Resolve a task's workspace fixture and hash it.

    Args:
        repo_dir: where "the current repository" is (default: the current directory).

    Raises:
        ConfigError: the folder does not exist, or the ref is unknown.
    """
    fixture = task.workspace
    where = str(suite.path) if suite.path else None
    if fixture is None:
        return FixtureRef(None, None, EMPTY_FIXTURE, "empty folder")
    if fixture.folder:
        folder = suite.resolve(fixture.folder)
        if not folder.is_dir():
            raise ConfigError(f"task {task.id}: the workspace folder {folder} does not exist", path=where)
        return FixtureRef(folder, None, folder_hash(folder), str(folder))
    assert fixture.git is not None
    base = Path(repo_dir or Path.cwd()).resolve()
    try:
        top = Path(_git(["rev-parse", "--show-toplevel"], cwd=base).strip())
        tree = _git(["rev-parse", "--verify", "-q", f"{fixture.git}^{{tree}}"], cwd=top).strip()
    except IsolationError as exc:
        raise ConfigError(
            f"task {task.id}: git ref {fixture.git!r} cannot be used from {base} ({exc}); "
            "git fixtures name a ref of the repository you run eval in",
            path=where,
        ) from None
    source = (top / fixture.path).resolve() if fixture.path else top
    return FixtureRef(source, fixture.git, f"git:{tree}" + (f":{fixture.path}" if fixture.path else ""),
                      f"{fixture.git}" + (f":{fixture.path}" if fixture.path else ""))


def params_hash(suite: Suite, task: Task, agent_prompt: str | None, base: str = "") -> str:
    """Hash of everything but the model and the fixture that decides the task's result."""
    raw = task_spec_json(suite, task) + "\0" + (agent_prompt or "") + "\0" + base
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:24]


def build_matrix(
    suite: Suite,
    models: list[str],
    runs: int,
    *,
    agent_prompts: dict[str | None, str | None] | None = None,
    repo_dir: Path | None = None,
    extra: str = "",
) -> list[Cell]:
    """Every cell of ``suite`` × ``models`` × ``runs``, tasks outermost (their order kept).

    Args:
        agent_prompts: agent name -> its prompt text (part of the params hash).
        extra: anything else that changes results for every cell (``--base-url``).
    """
    if runs < 1:
        raise ConfigError("--runs must be 1 or more")
    prompts = agent_prompts or {}
    cells: list[Cell] = []
    for task in suite.tasks:
        fixture = fixture_ref(suite, task, repo_dir)
        agent = suite.effective(task)["agent"]
        phash = params_hash(suite, task, prompts.get(agent), extra)
        for run_index in range(runs):
            for model in models:
                cells.append(Cell(task, model, run_index, fixture, phash))
    return cells

"""Isolated copies of a workspace for agent runs that must not touch it (compare, eval).

Each run gets its own copy, made in a folder under the system temp dir
(``$TMPDIR/agentic-flow-copies/<label>-<random>/``, never inside the workspace and never
in agentic-flow's data dir, which the command sandbox hides):

* **git worktree** when the workspace is in a git repository: ``git worktree add
  --detach`` at ``HEAD`` (or a given ref), then the uncommitted changes of the real
  workspace on top — tracked changes as ``git diff HEAD --binary`` applied in the copy,
  untracked files that ``.gitignore`` does not exclude copied over. The agent can use
  git in it as usual. For a workspace in a subfolder of the repository, the run's
  workspace is that subfolder of the worktree.
* **temp copy** otherwise: the files ``.gitignore`` does not exclude (asked of git with a
  separate git dir, so no repository is created in the workspace), plus the caches in
  :data:`DEFAULT_EXCLUDES` left out.
* **empty** for a task with no workspace (an eval task that only asks for an answer).

Right after it is made, the copy's state is recorded as a git tree (the *baseline*):
for a worktree in its own index, otherwise in a git dir beside the copy
(``snapshot.git``), outside the agent's workspace. :meth:`WorkspaceCopy.diff` is then
``git add -A`` + ``git diff --cached --binary BASELINE``: exactly what the run changed,
as a patch ``git apply`` takes, with per-file line counts. Ignored files (build output,
``.pytest_cache``) are not part of it.

Copies are removed with :meth:`WorkspaceCopy.remove` (``git worktree remove --force``
for worktrees). A marker file (``owner.json``) names the process that made a copy, so
:func:`sweep_stale_copies` can remove what a killed run left behind.

git is run as a subprocess from a thread, with the user's diff settings that would
change the patch format overridden; adding and removing worktrees of one repository is
serialised (git's own lock files make concurrent ``worktree add`` fail).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from agentic_flow.core.errors import IsolationError

__all__ = [
    "COPIES_DIRNAME",
    "DEFAULT_EXCLUDES",
    "DiffStats",
    "FileChange",
    "WorkspaceDiff",
    "WorkspaceCopy",
    "copies_root",
    "git_toplevel",
    "parse_numstat",
    "sweep_stale_copies",
]

COPIES_DIRNAME = "agentic-flow-copies"
MARKER = "owner.json"
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
"""The id of git's empty tree (the baseline of an empty workspace)."""
WORK = "work"
SNAPSHOT = "snapshot.git"
DEFAULT_EXCLUDES = (
    "__pycache__/",
    "*.pyc",
    ".pytest_cache/",
    ".mypy_cache/",
    ".ruff_cache/",
    ".venv/",
    "node_modules/",
    ".DS_Store",
)
"""Left out of temp copies and of every diff besides what ``.gitignore`` excludes."""

# Settings of the user's git config that would change the patch text or the paths.
_GIT_OVERRIDES = (
    "-c", "core.quotePath=false",
    "-c", "diff.noprefix=false",
    "-c", "diff.mnemonicPrefix=false",
    "-c", "diff.relative=false",
    "-c", "diff.external=",
    "-c", "core.autocrlf=false",
    "-c", "core.safecrlf=false",
    "-c", "advice.detachedHead=false",
)


def _exclude_pathspecs() -> list[str]:
    """:data:`DEFAULT_EXCLUDES` as pathspecs (worktrees cannot get an ``info/exclude`` of their own)."""
    specs = []
    for pattern in DEFAULT_EXCLUDES:
        if pattern.endswith("/"):
            specs.append(f":(exclude,glob)**/{pattern}**")
        else:
            specs.append(f":(exclude,glob)**/{pattern}")
    return specs


_EXCLUDES = _exclude_pathspecs()
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()

Kind = Literal["worktree", "copy", "empty"]


def copies_root() -> Path:
    """Where copies are made: ``$TMPDIR/agentic-flow-copies``."""
    return Path(tempfile.gettempdir()) / COPIES_DIRNAME


def _repo_lock(repo: Path) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(str(repo), threading.Lock())


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"})
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY"):
        env.pop(name, None)
    return env


def _git(
    *args: str,
    cwd: Path | None = None,
    git_dir: Path | None = None,
    work_tree: Path | None = None,
    stdin: bytes | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run git synchronously (callers run this in a thread); raise IsolationError on failure."""
    argv = ["git", *_GIT_OVERRIDES]
    if git_dir is not None:
        argv += [f"--git-dir={git_dir}"]
    if work_tree is not None:
        argv += [f"--work-tree={work_tree}"]
    argv += list(args)
    try:
        proc = subprocess.run(
            argv, cwd=cwd, input=stdin, capture_output=True, env=_git_env(), timeout=300, check=False
        )
    except FileNotFoundError as exc:
        raise IsolationError(
            "git is not installed: isolated runs (compare, eval) need git to copy the workspace and "
            "compute diffs. Install git and retry."
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise IsolationError(f"`git {' '.join(args[:3])}` did not finish within 300 s in {cwd or work_tree}") from exc
    if check and proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip() or f"exit code {proc.returncode}"
        raise IsolationError(f"`git {' '.join(args[:4])}` failed in {cwd or work_tree}: {detail}")
    return proc


def git_toplevel(path: Path) -> Path | None:
    """The top folder of the git work tree holding ``path``, or None when it is in none."""
    try:
        proc = _git("rev-parse", "--show-toplevel", cwd=path, check=False)
    except IsolationError:
        return None
    if proc.returncode != 0:
        return None
    top = proc.stdout.decode().strip()
    return Path(top).resolve() if top else None


def _has_head(top: Path) -> bool:
    return _git("rev-parse", "--verify", "-q", "HEAD^{commit}", cwd=top, check=False).returncode == 0


# ------------------------------------------------------------------------------- diffs


@dataclass(frozen=True)
class FileChange:
    """One file a run changed: lines added and removed (None for a binary file)."""

    path: str
    added: int | None
    removed: int | None
    status: Literal["added", "modified", "deleted"] = "modified"

    @property
    def binary(self) -> bool:
        return self.added is None


@dataclass(frozen=True)
class DiffStats:
    """Files changed, lines added and removed (binary files count as files only)."""

    files: int = 0
    insertions: int = 0
    deletions: int = 0

    def summary(self) -> str:
        if not self.files:
            return "no changes"
        return f"{self.files} file{'s' if self.files != 1 else ''} +{self.insertions} -{self.deletions}"


@dataclass(frozen=True)
class WorkspaceDiff:
    """What a run changed in its copy: the patch (``git apply`` format) and its files."""

    patch: str
    files: tuple[FileChange, ...] = ()

    @property
    def stats(self) -> DiffStats:
        return DiffStats(
            files=len(self.files),
            insertions=sum(f.added or 0 for f in self.files),
            deletions=sum(f.removed or 0 for f in self.files),
        )


def parse_numstat(text: str) -> list[tuple[str, int | None, int | None]]:
    """``git diff --numstat -z`` output → ``(path, added, removed)``; binary files are ``None``."""
    out: list[tuple[str, int | None, int | None]] = []
    for record in text.split("\0"):
        if not record.strip():
            continue
        parts = record.split("\t", 2)
        if len(parts) != 3:
            continue
        added, removed, path = parts
        out.append((path, None if added == "-" else int(added), None if removed == "-" else int(removed)))
    return out


_STATUS = {"A": "added", "D": "deleted", "M": "modified", "T": "modified"}


# ------------------------------------------------------------------------------- copies


@dataclass
class WorkspaceCopy:
    """One isolated copy; make it with :meth:`create`, read :meth:`diff`, then :meth:`remove`.

    Attributes:
        source: the real workspace the copy was made from (never written).
        root: the copy's folder (holds ``work/``, ``owner.json`` and maybe ``snapshot.git``).
        workspace: where the agent runs (``root/work`` or a subfolder of it).
        kind: ``worktree``, ``copy`` or ``empty``.
        repo: the real repository's top folder (worktrees only).
        base_tree: the git tree of the copy as made (the diff's baseline).
    """

    source: Path | None
    root: Path
    workspace: Path
    kind: Kind
    repo: Path | None = None
    base_tree: str = ""
    relative: str = ""
    """The workspace inside the work tree (``""``: the work tree itself)."""
    ref: str | None = None
    kept: bool = False
    removed: bool = field(default=False, repr=False)

    # -------------------------------------------------------------- making

    @classmethod
    async def create(
        cls,
        source: Path | None,
        *,
        label: str = "run",
        ref: str | None = None,
        parent: Path | None = None,
        uncommitted: bool = True,
        plain: bool = False,
    ) -> WorkspaceCopy:
        """Copy ``source`` (None: an empty workspace) for one run.

        Args:
            label: part of the folder name (a model id, a task id).
            ref: a git ref to check out instead of ``HEAD`` + uncommitted changes
                (``source`` must be in a git repository).
            parent: where copies are made (default :func:`copies_root`).
            uncommitted: carry the uncommitted changes over (worktrees at HEAD only).
            plain: a temp copy of the folder even inside a git repository (eval fixtures:
                the folder is the workspace, not the repository around it).

        Raises:
            IsolationError: git failed, or ``ref`` was given outside a repository.
        """
        return await asyncio.to_thread(cls._create, source, label, ref, parent, uncommitted, plain)

    @classmethod
    def _create(
        cls, source: Path | None, label: str, ref: str | None, parent: Path | None, uncommitted: bool, plain: bool
    ) -> WorkspaceCopy:
        base = parent or copies_root()
        base.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-.")[:48] or "run"
        root = Path(tempfile.mkdtemp(prefix=f"{safe}-", dir=base)).resolve()
        source = source.resolve() if source is not None else None
        top = git_toplevel(source) if source is not None and (ref is not None or not plain) else None
        if ref is not None and top is None:
            shutil.rmtree(root, ignore_errors=True)
            raise IsolationError(f"the fixture names the git ref {ref!r}, but {source} is not in a git repository")
        _write_marker(root, source, top)
        try:
            if source is None:
                # Nothing to record: the baseline is git's empty tree, and the snapshot git
                # dir is made when the first diff is asked for (most of a cell's start-up
                # cost otherwise, with many cells starting at once).
                copy = cls(source=None, root=root, workspace=root / WORK, kind="empty", base_tree=EMPTY_TREE)
                copy.workspace.mkdir()
            elif top is not None and (ref is not None or _has_head(top)):
                copy = cls._worktree(source, top, root, ref, uncommitted)
            else:
                copy = cls._temp_copy(source, root)
        except BaseException:
            _remove_root(root, top)
            raise
        return copy

    @classmethod
    def _worktree(cls, source: Path, top: Path, root: Path, ref: str | None, uncommitted: bool) -> WorkspaceCopy:
        work = root / WORK
        with _repo_lock(top):
            _git("worktree", "add", "--detach", "--quiet", str(work), ref or "HEAD", cwd=top)
        relative = source.relative_to(top).as_posix() if source != top else ""
        copy = cls(
            source=source, root=root, workspace=work / relative if relative else work, kind="worktree", repo=top,
            relative=relative, ref=ref,
        )
        if ref is None and uncommitted:
            patch = _git("diff", "HEAD", "--binary", "--no-color", "--no-ext-diff", cwd=top).stdout
            if patch.strip():
                _git("apply", "--whitespace=nowarn", "-", cwd=work, stdin=patch)
            listed = _git("ls-files", "--others", "--exclude-standard", "-z", cwd=top).stdout.decode()
            for rel in filter(None, listed.split("\0")):
                _copy_entry(top / rel, work / rel)
        if not copy.workspace.is_dir():
            copy.workspace.mkdir(parents=True, exist_ok=True)
        _git("add", "-A", "--", ".", *_EXCLUDES, cwd=work)
        copy.base_tree = _git("write-tree", cwd=work).stdout.decode().strip()
        return copy

    @classmethod
    def _temp_copy(cls, source: Path, root: Path) -> WorkspaceCopy:
        if not source.is_dir():
            raise IsolationError(f"cannot copy the workspace {source}: it is not a folder")
        copy = cls(source=source, root=root, workspace=root / WORK, kind="copy")
        git_dir = copy._init_snapshot()
        listed = _git("ls-files", "--others", "--exclude-standard", "-z", git_dir=git_dir, work_tree=source).stdout
        copy.workspace.mkdir()
        for rel in filter(None, listed.decode().split("\0")):
            _copy_entry(source / rel, copy.workspace / rel)
        copy._record_baseline()
        return copy

    def _init_snapshot(self) -> Path:
        git_dir = self.root / SNAPSHOT
        _git("init", "--quiet", "--bare", str(git_dir))
        info = git_dir / "info"
        info.mkdir(exist_ok=True)
        (info / "exclude").write_text("\n".join(DEFAULT_EXCLUDES) + "\n", encoding="utf-8")
        return git_dir

    def _record_baseline(self) -> None:
        git_dir = self.root / SNAPSHOT
        _git("add", "-A", "--", ".", git_dir=git_dir, work_tree=self.workspace)
        self.base_tree = _git("write-tree", git_dir=git_dir, work_tree=self.workspace).stdout.decode().strip()

    # -------------------------------------------------------------- diffing

    async def diff(self) -> WorkspaceDiff:
        """What changed in the copy since it was made (ignored files left out)."""
        return await asyncio.to_thread(self._diff)

    def _git_here(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        if self.kind == "worktree":
            return _git(*args, cwd=self.root / WORK)
        if not (self.root / SNAPSHOT).exists():  # an empty copy's snapshot dir is made lazily
            self._init_snapshot()
        return _git(*args, git_dir=self.root / SNAPSHOT, work_tree=self.workspace)

    def _diff(self) -> WorkspaceDiff:
        if self.removed:
            raise IsolationError(f"the copy {self.root} was removed; its diff is gone")
        scope = self.relative or "."
        self._git_here("add", "-A", "--", scope, *_EXCLUDES)
        common = ["--cached", "--no-color", "--no-ext-diff", "--no-renames"]
        if self.relative:
            common.append(f"--relative={self.relative}")
        patch = self._git_here("diff", *common, "--binary", self.base_tree, "--", scope).stdout.decode("utf-8", "replace")
        numstat = self._git_here("diff", *common, "--numstat", "-z", self.base_tree, "--", scope).stdout.decode(
            "utf-8", "replace"
        )
        status_text = self._git_here("diff", *common, "--name-status", "-z", self.base_tree, "--", scope).stdout.decode(
            "utf-8", "replace"
        )
        statuses: dict[str, str] = {}
        items = status_text.split("\0")
        for code, path in zip(items[0::2], items[1::2]):
            if code:
                statuses[path] = _STATUS.get(code[0], "modified")
        files = tuple(
            FileChange(path, added, removed, statuses.get(path, "modified"))  # type: ignore[arg-type]
            for path, added, removed in parse_numstat(numstat)
        )
        return WorkspaceDiff(patch=patch, files=files)

    # -------------------------------------------------------------- removing

    def keep(self) -> None:
        """Leave the copy on disk (``--keep``); the sweep will not remove it either."""
        self.kept = True
        marker = self.root / MARKER
        try:
            data = json.loads(marker.read_text(encoding="utf-8"))
            data["keep"] = True
            marker.write_text(json.dumps(data), encoding="utf-8")
        except (OSError, ValueError):
            pass

    async def remove(self) -> None:
        """Delete the copy (and unregister the worktree); safe to call twice."""
        if self.removed or self.kept:
            return
        await asyncio.to_thread(_remove_root, self.root, self.repo)
        self.removed = True


def _copy_entry(src: Path, dst: Path) -> None:
    """Copy one listed file or symlink (as a link), creating its folders."""
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            if dst.is_symlink() or dst.exists():
                dst.unlink()
            os.symlink(os.readlink(src), dst)
        elif src.is_file():
            shutil.copy2(src, dst)
    except OSError as exc:
        raise IsolationError(f"cannot copy {src} into the isolated workspace: {exc.strerror or exc}") from exc


def _write_marker(root: Path, source: Path | None, repo: Path | None) -> None:
    data = {"pid": os.getpid(), "source": str(source) if source else None, "repo": str(repo) if repo else None,
            "created": time.time(), "keep": False}
    (root / MARKER).write_text(json.dumps(data), encoding="utf-8")


def _remove_root(root: Path, repo: Path | None) -> None:
    work = root / WORK
    if repo is not None and repo.exists():
        with _repo_lock(repo):
            if work.exists():
                _git("worktree", "remove", "--force", str(work), cwd=repo, check=False)
            _git("worktree", "prune", cwd=repo, check=False)
    shutil.rmtree(root, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_copies(parent: Path | None = None) -> list[Path]:
    """Remove copies whose process is gone (a killed compare or eval) and that were not kept."""
    base = parent or copies_root()
    removed: list[Path] = []
    if not base.is_dir():
        return removed
    for root in base.iterdir():
        marker = root / MARKER
        try:
            data = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if data.get("keep") or _alive(int(data.get("pid") or 0)):
            continue
        repo = Path(data["repo"]) if data.get("repo") else None
        try:
            _remove_root(root, repo)
        except IsolationError:
            shutil.rmtree(root, ignore_errors=True)
        removed.append(root)
    return removed

"""Checkpoints: what the file tools changed in each turn, so it can be put back.

A *turn* is one prompt of the user and everything the agent did for it. Before a file
tool (a tool of kind ``edit`` with a ``path`` argument: ``write``, ``edit``) changes a
file for the first time in a turn, the file's pre-image — its bytes and mode, or the
fact that it did not exist — is kept: in the store (``checkpoints`` and
``checkpoint_files``, so ``/rewind`` works after a resume too), or in memory when the
session has no store.

Restoring "code" to before turn *T* writes back, for every file changed in *T* or later,
its pre-image from the earliest of those turns (and deletes files that did not exist).
Changes made by shell commands (the ``bash`` tool) and by MCP tools are **not tracked**:
:data:`UNTRACKED_NOTE` says so wherever a restore is offered.

Turns are keyed by the store ``seq`` of their user message, which stays stable while
later messages come and go; a compaction re-appends the kept messages and moves the
keys with them (:meth:`Checkpoints.moved`).
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from agentic_flow.core.errors import AgenticFlowError, StoreError
from agentic_flow.core.store.timestamps import now_iso
from agentic_flow.core.tools.workspace import relative_display, resolve_in_workspace

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.store.database import Store

__all__ = [
    "Checkpoints",
    "TurnMark",
    "FileImage",
    "RestoreResult",
    "UNTRACKED_NOTE",
    "MAX_PRE_IMAGE_BYTES",
]

logger = logging.getLogger(__name__)

UNTRACKED_NOTE = (
    "Only changes made by the file tools (write, edit) are tracked; changes made by shell "
    "commands or MCP tools are not, and are not undone."
)
#: Files larger than this are not kept (their change cannot be undone; it is said so).
MAX_PRE_IMAGE_BYTES = 20 * 1024 * 1024


@dataclass
class TurnMark:
    """One prompt of the user in the live conversation.

    Attributes:
        number: 1 for the session's first prompt, 2 for the next, ...
        prompt: what the user wrote (as sent, mentions expanded).
        index: position of the prompt in the session's in-memory history.
        seq: its ``seq`` in the store (the key of its checkpoint).
        files: paths (relative to the workspace) whose pre-image this turn kept.
    """

    number: int
    prompt: str
    index: int
    seq: int
    files: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        flat = " ".join(self.prompt.split())
        return flat if len(flat) <= 60 else flat[:59] + "…"


@dataclass(frozen=True)
class FileImage:
    """A file as it was before a turn changed it (``content`` None: it did not exist)."""

    path: str
    existed: bool
    content: bytes | None
    mode: int | None


@dataclass
class RestoreResult:
    """What a restore did: files written back, files removed (they were new), problems."""

    restored: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def changed(self) -> list[str]:
        return sorted(self.restored + self.removed)

    def describe(self) -> str:
        if not self.restored and not self.removed:
            text = "No file was changed by the file tools in those turns."
        else:
            parts = []
            if self.restored:
                parts.append("restored " + ", ".join(sorted(self.restored)))
            if self.removed:
                parts.append("removed " + ", ".join(sorted(self.removed)) + " (they did not exist before)")
            text = "Files: " + "; ".join(parts) + "."
        if self.problems:
            text += " Problems: " + "; ".join(self.problems) + "."
        return text


class Checkpoints:
    """The turns of a session and the pre-images of the files they changed.

    Args:
        workspace: the workspace root (file paths are kept relative to it).
        store: where pre-images are kept; None keeps them in memory.
        session_id: returns the session's stored id (None while it has none).
    """

    def __init__(
        self, workspace: Path, store: "Store | None" = None, session_id: Callable[[], str | None] = lambda: None
    ) -> None:
        self.workspace = Path(workspace)
        self.store = store
        self._session_id = session_id
        self.marks: list[TurnMark] = []
        self.untracked: list[str] = []
        """Files a file tool changed that were too large to keep (cannot be undone)."""
        self._memory: dict[int, dict[str, FileImage]] = {}
        self._ids: dict[int, int] = {}  # seq -> checkpoints.id

    # -- turns ----------------------------------------------------------------------------
    def load(self, history: list[Any], history_start: int, is_prompt: Callable[[Any], bool]) -> None:
        """Rebuild the marks of a resumed conversation (prompts in ``history``)."""
        self.marks = []
        stored = self._stored_files()
        number = self._first_number()
        for index, message in enumerate(history):
            if not is_prompt(message):
                continue
            seq = history_start + index
            self.marks.append(TurnMark(number, message.content, index, seq, stored.get(seq, [])))
            number += 1

    def turn_started(self, prompt: str, index: int, seq: int) -> TurnMark:
        number = self.marks[-1].number + 1 if self.marks else self._first_number()
        mark = TurnMark(number, prompt, index, seq)
        self.marks.append(mark)
        return mark

    @property
    def current(self) -> TurnMark | None:
        return self.marks[-1] if self.marks else None

    def find(self, number: int) -> TurnMark:
        for mark in self.marks:
            if mark.number == number:
                return mark
        raise AgenticFlowError(f"There is no turn {number} in this conversation (see /rewind).")

    def last_with_files(self) -> TurnMark | None:
        return next((m for m in reversed(self.marks) if m.files), None)

    def moved(self, old_to_new: Mapping[int, tuple[int, int]]) -> None:
        """A compaction moved the kept prompts: ``{old_seq: (new_index, new_seq)}``.

        Turns that were summarised keep no mark (their files can no longer be restored
        from here: their pre-images go with their checkpoints).
        """
        kept: list[TurnMark] = []
        for mark in self.marks:
            if mark.seq not in old_to_new:
                self._drop(mark.seq)
                continue
            index, seq = old_to_new[mark.seq]
            self._rekey(mark.seq, seq)
            mark.index, mark.seq = index, seq
            kept.append(mark)
        self.marks = kept

    def forget_from(self, mark: TurnMark) -> None:
        """The conversation was rewound to before ``mark``: drop it and later turns."""
        for later in [m for m in self.marks if m.number >= mark.number]:
            self._drop(later.seq)
        self.marks = [m for m in self.marks if m.number < mark.number]

    def for_subagent(self) -> "Checkpoints":
        """What a subagent's session records into: its file changes are kept in this
        session's current turn (its own prompts start no turns here)."""
        return _SubagentCheckpoints(self)

    # -- recording ------------------------------------------------------------------------
    def before_tool(self, kind: str, arguments: Mapping[str, Any] | None) -> None:
        """Keep the pre-image of the file a file tool is about to change (first time per turn).

        Never raises: a checkpoint that cannot be kept must not stop the tool.
        """
        mark = self.current
        raw = (arguments or {}).get("path")
        if mark is None or kind != "edit" or not isinstance(raw, str):
            return
        try:
            path = resolve_in_workspace(self.workspace, raw)
        except AgenticFlowError:
            return  # the tool refuses it too; nothing will change
        rel = relative_display(self.workspace, path)
        if rel in mark.files:
            return
        try:
            image = _read_image(path, rel)
        except OSError as exc:
            logger.warning("could not keep the pre-image of %s: %s", rel, exc)
            return
        if image is None:
            self.untracked.append(rel)
            return
        try:
            self._save(mark, image)
        except StoreError as exc:
            logger.warning("could not store the pre-image of %s: %s", rel, exc)
            return
        mark.files.append(rel)

    # -- restoring ------------------------------------------------------------------------
    def restore_code(self, mark: TurnMark) -> RestoreResult:
        """Put every file changed in ``mark``'s turn or later back as it was before it."""
        result = RestoreResult()
        later = [m for m in self.marks if m.number >= mark.number]
        earliest: dict[str, FileImage] = {}
        for turn in reversed(later):  # the earliest turn's pre-image wins
            for image in self._images(turn.seq):
                earliest[image.path] = image
        for rel, image in sorted(earliest.items()):
            try:
                path = resolve_in_workspace(self.workspace, rel)
                _write_image(path, image)
            except (AgenticFlowError, OSError) as exc:
                result.problems.append(f"{rel}: {exc}")
                continue
            (result.restored if image.existed else result.removed).append(rel)
        for turn in later:
            self._drop_files(turn.seq)
            turn.files = []
        return result

    # -- storage ------------------------------------------------------------------------------
    def _first_number(self) -> int:
        return 1

    def _save(self, mark: TurnMark, image: FileImage) -> None:
        session_id = self._session_id()
        if self.store is None or session_id is None:
            self._memory.setdefault(mark.seq, {}).setdefault(image.path, image)
            return
        now = now_iso()
        with self.store.transaction() as conn:
            row = conn.execute(
                "SELECT id FROM checkpoints WHERE session_id = ? AND message_seq = ?", (session_id, mark.seq)
            ).fetchone()
            if row is None:
                cur = conn.execute(
                    "INSERT INTO checkpoints (session_id, turn, message_seq, prompt, created_at) VALUES (?, "
                    "(SELECT COALESCE(MAX(turn), 0) + 1 FROM checkpoints WHERE session_id = ?), ?, ?, ?)",
                    (session_id, session_id, mark.seq, mark.prompt[:2000], now),
                )
                checkpoint_id = int(cur.lastrowid or 0)
            else:
                checkpoint_id = int(row[0])
            conn.execute(
                "INSERT OR IGNORE INTO checkpoint_files (checkpoint_id, path, existed, content, mode, tool, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (checkpoint_id, image.path, int(image.existed), image.content, image.mode, "edit", now),
            )

    def _images(self, seq: int) -> list[FileImage]:
        session_id = self._session_id()
        if self.store is None or session_id is None:
            return list(self._memory.get(seq, {}).values())
        with self.store.read() as conn:
            rows = conn.execute(
                "SELECT f.path, f.existed, f.content, f.mode FROM checkpoint_files f "
                "JOIN checkpoints c ON c.id = f.checkpoint_id WHERE c.session_id = ? AND c.message_seq = ? "
                "ORDER BY f.id",
                (session_id, seq),
            ).fetchall()
        return [FileImage(r[0], bool(r[1]), r[2], r[3]) for r in rows]

    def _stored_files(self) -> dict[int, list[str]]:
        session_id = self._session_id()
        if self.store is None or session_id is None:
            return {seq: list(images) for seq, images in self._memory.items()}
        with self.store.read() as conn:
            rows = conn.execute(
                "SELECT c.message_seq, f.path FROM checkpoint_files f JOIN checkpoints c ON c.id = f.checkpoint_id "
                "WHERE c.session_id = ? ORDER BY f.id",
                (session_id,),
            ).fetchall()
        out: dict[int, list[str]] = {}
        for seq, path in rows:
            out.setdefault(int(seq), []).append(path)
        return out

    def _drop_files(self, seq: int) -> None:
        self._memory.pop(seq, None)
        session_id = self._session_id()
        if self.store is None or session_id is None:
            return
        with self.store.transaction() as conn:
            conn.execute(
                "DELETE FROM checkpoint_files WHERE checkpoint_id IN "
                "(SELECT id FROM checkpoints WHERE session_id = ? AND message_seq = ?)",
                (session_id, seq),
            )

    def _drop(self, seq: int) -> None:
        self._memory.pop(seq, None)
        session_id = self._session_id()
        if self.store is None or session_id is None:
            return
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM checkpoints WHERE session_id = ? AND message_seq = ?", (session_id, seq))

    def _rekey(self, old: int, new: int) -> None:
        if old == new:
            return
        if old in self._memory:
            self._memory[new] = self._memory.pop(old)
        session_id = self._session_id()
        if self.store is None or session_id is None:
            return
        with self.store.transaction() as conn:
            conn.execute(
                "UPDATE checkpoints SET message_seq = ? WHERE session_id = ? AND message_seq = ?", (new, session_id, old)
            )


class _SubagentCheckpoints(Checkpoints):
    """A subagent's view: pre-images go to the parent's current turn; no turns of its own."""

    def __init__(self, parent: Checkpoints) -> None:
        super().__init__(parent.workspace, parent.store)
        self._parent = parent

    def turn_started(self, prompt: str, index: int, seq: int) -> TurnMark:
        return TurnMark(0, prompt, index, seq)  # not a turn of the session the user sees

    def before_tool(self, kind: str, arguments: Mapping[str, Any] | None) -> None:
        self._parent.before_tool(kind, arguments)


def _read_image(path: Path, rel: str) -> FileImage | None:
    """The file as it is now; None when it is too large to keep."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return FileImage(rel, False, None, None)
    if info.st_size > MAX_PRE_IMAGE_BYTES:
        return None
    return FileImage(rel, True, path.read_bytes(), stat.S_IMODE(info.st_mode))


def _write_image(path: Path, image: FileImage) -> None:
    if not image.existed:
        if path.is_file() or path.is_symlink():
            path.unlink()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(image.content or b"")
    if image.mode is not None:
        os.chmod(path, image.mode)

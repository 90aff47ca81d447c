"""The audit chain's head, kept outside the database so truncation shows.

A hash chain proves that no row *inside* it changed, but not that the chain is whole:
delete the newest rows (and reset ``sqlite_sequence``), or rewrite the last row and
recompute its hash, or delete every row, and what is left still chains. So the head of
the chain — how many rows (the last row's id) and the last row's hash — is written to an
anchor file in the user's config dir on every append, MAC'd with a per-install key::

    <config dir>/audit.key                         32 random bytes (hex), mode 0600
    <config dir>/audit-anchors/<sha256(db)[:16]>.json
        {"db": "/…/agentic-flow.db", "count": 57, "hash": "…", "since": 0,
         "broken": null, "mac": "hmac-sha256(key, the fields above)"}

``since`` is the row count when anchoring began (0 for a log anchored from its first
row; more for a database made before anchors existed). ``broken`` is set, for good, when
an append finds the database's head not where the anchor says (rows deleted or
rewritten between two runs); only ``audit anchor --reset`` clears it, after a person
looked. Appenders hold an exclusive lock on ``<anchor>.lock`` from reading the anchor
to writing the new one, and take it before the database's write lock, so processes
appending at once keep the anchor in step with the rows; the file is replaced
atomically, so readers need no lock.

The head can also be printed (``audit anchor``: ``COUNT:HASH``) and kept anywhere else
— a ticket, a commit — since someone who controls this machine can rewrite the key too;
``audit verify --anchor COUNT:HASH`` checks that the log still holds that head.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentic_flow.core.errors import ConfigError, StoreError
from agentic_flow.core.paths import config_dir

__all__ = ["AuditHead", "AnchorState", "AuditAnchor", "KEY_FILE", "ANCHOR_DIR"]

KEY_FILE = "audit.key"
ANCHOR_DIR = "audit-anchors"
_HEAD = re.compile(r"^\s*(\d+):([0-9a-f]{64})\s*$")


@dataclass(frozen=True)
class AuditHead:
    """How many rows the chain has (the last id) and the last row's hash."""

    count: int
    hash: str

    def __str__(self) -> str:
        return f"{self.count}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> AuditHead:
        """``COUNT:HASH`` as ``audit anchor`` prints it; ConfigError otherwise."""
        match = _HEAD.match(text or "")
        if match is None:
            raise ConfigError(
                f"--anchor {text!r} is not an audit head; it looks like 57:<64 hex digits>, "
                "as `agentic-flow audit anchor` prints it"
            )
        return cls(int(match.group(1)), match.group(2))


@dataclass(frozen=True)
class AnchorState:
    """The anchor file's content; ``authentic`` is False when its MAC does not match."""

    head: AuditHead
    since: int
    broken: str | None
    authentic: bool


class AuditAnchor:
    """The anchor of one audit database (see the module docstring).

    Args:
        db_path: the database the anchor belongs to.
        directory: where keys and anchors live (default: the user config dir).
    """

    def __init__(self, db_path: Path, directory: Path | None = None) -> None:
        self.db_path = Path(db_path).resolve()
        base = Path(directory) if directory is not None else config_dir()
        self.key_path = base / KEY_FILE
        digest = hashlib.sha256(str(self.db_path).encode("utf-8")).hexdigest()[:16]
        self.path = base / ANCHOR_DIR / f"{digest}.json"
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    # ------------------------------------------------------------------ key

    def _key(self) -> bytes:
        """The per-install MAC key, created (mode 0600) on first use."""
        try:
            self.key_path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                if self.key_path.stat().st_mode & 0o077:
                    os.chmod(self.key_path, 0o600)
                text = self.key_path.read_text(encoding="ascii").strip()
            else:
                text = secrets.token_hex(32)
                with os.fdopen(fd, "w", encoding="ascii") as fh:
                    fh.write(text + "\n")
            return bytes.fromhex(text)
        except (OSError, ValueError) as exc:
            raise StoreError(
                f"Cannot use the audit anchor key {self.key_path}: {exc}. Delete it to make a new one "
                "(the current anchor then stops verifying: run `agentic-flow audit anchor --reset`)."
            ) from exc

    def _mac(self, fields: dict[str, Any]) -> str:
        blob = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hmac.new(self._key(), blob.encode("ascii"), hashlib.sha256).hexdigest()

    # ------------------------------------------------------------------ file

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive lock across processes for read-check-append-write."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(f"Cannot lock the audit anchor {self.lock_path}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def read(self) -> AnchorState | None:
        """The anchor, or None when there is none yet."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"Cannot read the audit anchor {self.path}: {exc.strerror or exc}") from exc
        try:
            data = json.loads(text)
            fields = {
                "db": str(data["db"]),
                "count": int(data["count"]),
                "hash": str(data["hash"]),
                "since": int(data.get("since", 0)),
                "broken": data.get("broken"),
            }
            mac = str(data["mac"])
        except (ValueError, KeyError, TypeError):
            return AnchorState(AuditHead(0, ""), 0, f"the anchor file {self.path} is not readable", False)
        authentic = fields["db"] == str(self.db_path) and hmac.compare_digest(mac, self._mac(fields))
        broken = fields["broken"] if isinstance(fields["broken"], str) else None
        return AnchorState(AuditHead(fields["count"], fields["hash"]), fields["since"], broken, authentic)

    def write(self, head: AuditHead, *, since: int, broken: str | None) -> None:
        """Replace the anchor atomically with a freshly MAC'd one."""
        fields: dict[str, Any] = {
            "db": str(self.db_path),
            "count": head.count,
            "hash": head.hash,
            "since": since,
            "broken": broken,
        }
        text = json.dumps({**fields, "mac": self._mac(fields)}, indent=2, sort_keys=True) + "\n"
        try:
            fd, tmp = tempfile.mkstemp(prefix=".anchor-", suffix=".json", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(text)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StoreError(f"Cannot write the audit anchor {self.path}: {exc.strerror or exc}") from exc

"""Names of MCP tools: ``mcp:server/tool`` for people and rules, a safe wire name for models.

Providers accept tool names matching ``^[a-zA-Z0-9_-]{1,64}$``; MCP tool and server names
can be anything. The wire name is ``mcp__<server>__<tool>`` with every other character
replaced by ``_``; a name longer than 64 characters is cut and given a short hash of the
exact pair. Different pairs can still meet on one wire name (``a.b`` and ``a_b``, or
``x__y/z`` and ``x/y__z``): the pair first in sorted order keeps the plain name, the
others get the hash suffix. :class:`WireNames` remembers every assignment in both
directions, so a wire name maps back to exactly one ``(server, tool)``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

__all__ = ["WireNames", "user_name", "parse_user_name", "WIRE_NAME_RE", "MAX_WIRE_LEN"]

MAX_WIRE_LEN = 64
WIRE_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")
_HASH_LEN = 8


def user_name(server: str, tool: str) -> str:
    """The name people and permission rules use: ``mcp:server/tool``."""
    return f"mcp:{server}/{tool}"


def parse_user_name(name: str) -> tuple[str, str] | None:
    """``mcp:server/tool`` -> ``(server, tool)``; None if ``name`` is not of that form."""
    if not name.startswith("mcp:"):
        return None
    server, sep, tool = name[4:].partition("/")
    if not sep or not server:
        return None
    return server, tool


def _base(server: str, tool: str) -> str:
    return f"mcp__{_UNSAFE.sub('_', server)}__{_UNSAFE.sub('_', tool)}"


def _hashed(base: str, server: str, tool: str, salt: int) -> str:
    material = f"{server}\x00{tool}" + (f"\x00{salt}" if salt else "")
    digest = hashlib.sha256(material.encode("utf-8")).hexdigest()[:_HASH_LEN]
    return f"{base[: MAX_WIRE_LEN - _HASH_LEN - 1]}_{digest}"


class WireNames:
    """A bidirectional, stable map between ``(server, tool)`` pairs and wire names.

    Assignments never change once made, so a name the model has already seen keeps
    meaning the same tool after a server restarts. A batch passed to :meth:`assign` is
    processed in sorted order, which makes the result independent of discovery order.
    """

    def __init__(self) -> None:
        self._to_wire: dict[tuple[str, str], str] = {}
        self._from_wire: dict[str, tuple[str, str]] = {}

    def assign(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Give every new pair a wire name (existing pairs keep theirs)."""
        for server, tool in sorted(set(pairs)):
            if (server, tool) in self._to_wire:
                continue
            base = _base(server, tool)
            candidate = base if len(base) <= MAX_WIRE_LEN else _hashed(base, server, tool, 0)
            salt = 0
            while candidate in self._from_wire:
                candidate = _hashed(base, server, tool, salt)
                salt += 1
            self._to_wire[(server, tool)] = candidate
            self._from_wire[candidate] = (server, tool)

    def wire(self, server: str, tool: str) -> str:
        """The wire name of a pair (assigning one if the pair is new)."""
        if (server, tool) not in self._to_wire:
            self.assign([(server, tool)])
        return self._to_wire[(server, tool)]

    def resolve(self, wire_name: str) -> tuple[str, str] | None:
        """The exact ``(server, tool)`` behind a wire name, or None if unknown."""
        return self._from_wire.get(wire_name)

    def __len__(self) -> int:
        return len(self._to_wire)

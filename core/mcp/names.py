"""Names of MCP tools: ``mcp:server/tool`` for people and rules, a safe wire name for models.

Providers accept tool names matching ``^[a-zA-Z0-9_-]{1,64}$``; MCP tool and server names
can be anything. The wire name is ``mcp__<server>__<tool>`` with every other character
replaced by ``_``; a name longer than 64 characters is cut and given a short hash of the
exact pair. Different pairs can still meet on one wire name (``a.b`` and ``a_b``, or
``x__y/z`` and ``x/y__z``): the pair first in sorted order keeps the plain name, the
others get the hash suffix. :class:`WireNames` remembers every assignment in both
directions, so a wire name maps back to exactly one ``(server, tool)``.

The user name ``mcp:server/tool`` is unambiguous whatever the tool is called: a server
name never contains ``/`` (the config refuses it), so everything after the first ``/``
is the tool (``mcp:evil/delete/all`` is tool ``delete/all``). Rules match it in two ways:

- exactly, as an ``fnmatch`` pattern per part, for every rule; :func:`escape_pattern`
  writes a name as a pattern that matches only itself (``a*b`` -> ``a[*]b``), which is
  how "always allow" answers name odd tools;
- folded (:func:`fold_name` / :func:`fold_pattern`), for deny and ask rules only: case,
  compatibility forms (fullwidth, ligatures), accents, invisible characters and common
  Cyrillic/Greek look-alikes of Latin letters are removed, and every run of other
  characters (space, ``.``, ``/``, ``-``, ``_``, punctuation) reads as one ``_`` — the
  way the wire name spells it. So ``mcp:github/delete_*`` also denies ``Delete Repo``,
  ``delete-repo``, ``ԁelete_repo`` and ``delete/repo``; an allow rule never matches a
  name it does not spell exactly.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

__all__ = [
    "WireNames",
    "user_name",
    "parse_user_name",
    "escape_pattern",
    "fold_name",
    "fold_pattern",
    "WIRE_NAME_RE",
    "MAX_WIRE_LEN",
]

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


_GLOB_SPECIAL = frozenset("*?[]()")

# Letters of other scripts that look like Latin ones (after case folding).
_LOOK_ALIKES = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
        "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d",
        "һ": "h", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ү": "y", "ѵ": "v", "ɡ": "g", "ɑ": "a", "ı": "i",
        # Greek
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
        "τ": "t", "υ": "u", "χ": "x", "ϲ": "c", "ϳ": "j", "ѡ": "w", "ω": "w",
    }
)
_SEPARATOR = "_"


def escape_pattern(name: str) -> str:
    """``name`` as an fnmatch pattern that matches only itself (``a*b`` -> ``a[*]b``).

    Wildcards, brackets, parentheses (rule syntax) and whitespace (trimmed from rules)
    are each put in a one-character class.
    """
    return "".join(f"[{ch}]" if ch in _GLOB_SPECIAL or ch.isspace() or not ch.isprintable() else ch for ch in name)


def _fold_char(ch: str) -> str:
    """One character folded; "" for invisible ones, ``_`` for separators."""
    out = []
    for part in unicodedata.normalize("NFKD", ch).casefold():
        category = unicodedata.category(part)
        if category in ("Mn", "Me", "Cf"):  # accents, enclosing marks, zero-width and bidi controls
            continue
        part = part.translate(_LOOK_ALIKES)
        out.append(part if part.isalnum() else _SEPARATOR)
    return "".join(out)


def _collapse(parts: list[str]) -> str:
    text = re.sub("_+", _SEPARATOR, "".join(parts))
    return text.strip(_SEPARATOR)


def fold_name(name: str) -> str:
    """A tool or server name as deny rules compare it (see the module docstring)."""
    return _collapse([_fold_char(ch) for ch in name])


def fold_pattern(pattern: str) -> str:
    """An fnmatch pattern folded like :func:`fold_name`, its wildcards and classes kept."""
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch in "*?":
            parts.append(ch)
        elif ch == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end < 0:
                parts.append(_fold_char(ch))
            else:
                body = pattern[i + 1 : end]
                negate = body.startswith("!")
                inner = "".join(dict.fromkeys(_fold_char(c) or "_" for c in body[1 if negate else 0 :]))
                parts.append("[" + ("!" if negate else "") + inner + "]")
                i = end
        else:
            parts.append(_fold_char(ch))
        i += 1
    text = re.sub("_+", _SEPARATOR, "".join(parts))
    return text.strip(_SEPARATOR) or text


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

"""Deterministic model output for the benchmarks: Markdown tokens and a tool-call session.

Shared by the scripted server process (``_llm_proc.py``) and the benchmarks that check
what was rendered against what was sent (``tui_stream.py``, ``tui_session.py``).
"""

from __future__ import annotations

import random
from typing import Any

_WORDS = (
    "the model streams tokens into a pane while the user reads code and prose about "
    "permissions providers latency throughput session transcript widget layout frame"
).split()


def make_tokens(n: int, seed: int = 7) -> list[str]:
    """``n`` word-sized tokens of Markdown: mostly prose, some code, lists and headings."""
    rnd = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        roll = rnd.random()
        if roll < 0.06:
            out += ["\n\n```python\n", "def", " handler", "(event", "):\n", "    return", " event", ".text", "\n", "```\n\n"]
        elif roll < 0.10:
            out += ["\n\n## ", rnd.choice(_WORDS).title(), " ", rnd.choice(_WORDS), "\n\n"]
        elif roll < 0.16:
            for _ in range(3):
                out += ["\n- ", rnd.choice(_WORDS)] + [" " + rnd.choice(_WORDS) for _ in range(5)]
            out.append("\n\n")
        else:
            out += [" " + rnd.choice(_WORDS) for _ in range(rnd.randint(8, 20))]
            out.append(rnd.choice([".", ".", ". **Note**:", ".\n\n", ", `code`,"]))
    return out[:n]


# ------------------------------------------------------------------ a tool-call session

VALUES_FILE = "src/values.py"
NOTES_FILE = "notes.md"


def session_files(calls: int) -> dict[str, str]:
    """The workspace a :func:`session_call` script works on."""
    values = "".join(f"value_{i} = {i}\n" for i in range(calls + 1))
    notes = "".join(f"line {i}: a small file the model reads, with some words on it\n" for i in range(60))
    return {VALUES_FILE: values, NOTES_FILE: notes}


def session_call(k: int) -> tuple[str, dict[str, Any]]:
    """Tool call ``k`` of the session: an edit, a command with output, or a read, in turn."""
    kind = k % 3
    if kind == 0:
        return "edit", {"path": VALUES_FILE, "old_string": f"value_{k} = {k}\n", "new_string": f"value_{k} = {k * 10}  # changed\n"}
    if kind == 1:
        return "bash", {"command": f"seq 1 {30 + k % 20} | sed 's/^/row {k} /'"}
    return "read", {"path": NOTES_FILE}


def session_text(k: int, words: int) -> list[str]:
    """What the model writes before tool call ``k`` (and, for ``k == calls``, at the end)."""
    return make_tokens(words, seed=1000 + k)

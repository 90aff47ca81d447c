"""What known commands write, read and run: the effects table, run example by example."""

from __future__ import annotations

import pytest

from agentic_flow.core.permissions.effects import EFFECTS, effects
from agentic_flow.core.permissions.shell import analyze_command, command_chain


def _effects(command: str):
    (part,) = [p for p in analyze_command(command).parts if p.depth == 0]
    return effects(command_chain(part.words)[-1])


@pytest.mark.parametrize("entry", EFFECTS, ids=lambda e: "/".join(sorted(e.names)))
def test_effects_examples(entry) -> None:
    for command, flag in entry.flagged:
        assert flag in _effects(command).flags, (command, _effects(command))
    for command in entry.clean:
        assert _effects(command).flags == [], (command, _effects(command))
    for command, path in entry.writing:
        assert path in _effects(command).writes, (command, _effects(command))


@pytest.mark.parametrize(
    ("command", "reads"),
    [
        ("cat .env", [".env"]),
        ("grep -n DB .env config.txt", [".env", "config.txt"]),
        ("grep -e DB -- .env", [".env"]),
        ("head -3 a b", ["a", "b"]),
        ("cp .env /tmp/x", [".env"]),
        ("grep .env README.md", ["README.md"]),  # the pattern is not a file
        ("ls .env", []),
    ],
)
def test_read_operands(command: str, reads: list[str]) -> None:
    assert _effects(command).reads == reads

"""``/help`` fits the transcript it is shown in and says everything at every width."""

from __future__ import annotations

import pytest

from agentic_flow.tui.slash import COMMANDS, help_text


@pytest.mark.parametrize("width", [60, 76, 156])
def test_help_fits_its_width_and_loses_no_word(width: int) -> None:
    text = help_text(width)
    assert max(len(line) for line in text.splitlines()) <= width
    words = text.split()
    for command in COMMANDS:
        assert f"/{command.name}" in words
        for word in command.help.split():
            assert word in words, (command.name, word)
    assert "ctrl+q" in words and "@path" in words


def test_usages_share_one_column_when_there_is_room() -> None:
    lines = help_text(156).splitlines()
    starts = {line.index(command.help.split()[0], len(f"  /{command.name}")) for command in COMMANDS
              for line in lines if line.startswith(f"  /{command.name} ") or line.startswith(f"  /{command.name}\t")}
    assert len(starts) == 1

"""A ``DataTable`` of rows: Home and End go to the first and the last row.

Textual's ``DataTable`` binds Home / End to the first and last *column* (and Ctrl+Home /
Ctrl+End to the rows); in a table whose cursor picks a row — models, sessions, audit
rows — that moved nothing, and the rows' ends were only reached by holding an arrow.
"""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.widgets import DataTable

__all__ = ["RowTable"]


class RowTable(DataTable[Any]):
    BINDINGS = [
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]

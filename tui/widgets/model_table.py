"""A sortable, filterable table of models: price, context, measured latency, the
estimated cost of a prompt, and whether the provider's key is set.

The table is fed data and keeps display state (filter, sort, marks); it never loads
anything itself — the screen around it reads the catalog, the store and the token counts
(in workers) and hands them over with :meth:`ModelTable.set_latency` and
:meth:`ModelTable.set_estimates`.

Measured latency (from the user's own runs) is TTFT p50 and p95, tokens/s p50 and the
number of runs behind them — ``not measured`` for a model with none. Beside them, labelled
``Pub.``, the figures OpenRouter publishes for the model's endpoints (last 30 minutes,
median p50 over endpoints, from ``agentic-flow models refresh``) — :meth:`ModelTable.set_published`.

Unknown values (no price, never measured) always sort last, in either direction, so an
unknown price never passes for the cheapest.

Models a server listed (``discovered``) or the user priced in settings say so after their
name; a ``provider:model`` typed into the filter that is in no catalog can be shown as one
more row (:meth:`ModelTable.set_typed`), last, so it can be picked like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from rich.text import Text
from textual import events, on
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable

from agentic_flow.core.models.catalog import (
    TIERS,
    ModelInfo,
    format_context,
    format_cost,
    format_price,
    format_tools,
)
from agentic_flow.tui.keys import typed_character
from agentic_flow.tui.widgets.row_table import RowTable

__all__ = [
    "ModelTable",
    "SORT_KEYS",
    "COLUMNS",
    "NARROW_COLUMNS",
    "LatencyLike",
    "PublishedLike",
    "NOT_MEASURED",
    "format_ttft",
    "format_tps",
    "format_runs",
]

MARK = "●"
NAME_WIDTH = 26
#: What follows the name of a model that is not from the bundled catalog or OpenRouter.
ORIGIN_TAGS = {"discovered": "discovered", "settings": "yours", "typed": "typed"}


class LatencyLike(Protocol):
    """What the table reads from :class:`core.store.LatencyStats` (ms and tokens/s)."""

    @property
    def count(self) -> int: ...
    @property
    def ttft_p50(self) -> float | None: ...
    @property
    def ttft_p95(self) -> float | None: ...
    @property
    def tps_p50(self) -> float | None: ...
    @property
    def tps_p95(self) -> float | None: ...


class PublishedLike(Protocol):
    """What the table reads from :class:`core.models.published_latency.PublishedSummary`."""

    @property
    def ttft_ms_p50(self) -> float | None: ...
    @property
    def tps_p50(self) -> float | None: ...


#: (column key, title) in display order.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("model", "Model"),
    ("provider", "Provider"),
    ("in", "In $/M"),
    ("out", "Out $/M"),
    ("cost", "Est."),
    ("context", "Ctx"),
    ("ttft", "TTFT p50"),
    ("ttft95", "p95"),
    ("tps", "tok/s"),
    ("runs", "Measured"),
    ("pub", "Pub. TTFT"),
    ("pubtps", "Pub. tok/s"),
    ("tools", "Tools"),
    ("tier", "Tier"),
    ("key", "Key"),
)

#: The columns at 80 columns (a table narrower than :data:`NARROW_BELOW`): price, the
#: estimate, context and latency stay, with short titles; the provider, p95, the run
#: count and the tier move to the details line under the table.
NARROW_COLUMNS: tuple[tuple[str, str], ...] = (
    ("model", "Model"),
    ("in", "In/M"),
    ("out", "Out/M"),
    ("cost", "Est."),
    ("context", "Ctx"),
    ("ttft", "TTFT"),
    ("tps", "t/s"),
    ("tools", "T"),
    ("key", "K"),
)
NARROW_BELOW = 120
NARROW_NAME_WIDTH = 16

#: Sort key -> human name; the column a key belongs to is in _COLUMN_SORT.
SORT_KEYS: dict[str, str] = {
    "price": "price (3:1 in/out)",
    "cost": "estimated cost",
    "context": "context window",
    "latency": "time to first token",
    "speed": "tokens per second",
    "name": "name",
    "provider": "provider",
    "price_in": "input price",
    "price_out": "output price",
    "tools": "tool support",
    "tier": "tier",
    "key": "key set",
}
_COLUMN_SORT = {
    "model": "name",
    "provider": "provider",
    "in": "price_in",
    "out": "price_out",
    "cost": "cost",
    "context": "context",
    "ttft": "latency",
    "tps": "speed",
    "tools": "tools",
    "tier": "tier",
    "key": "key",
}
_SORT_COLUMN = {sort: column for column, sort in _COLUMN_SORT.items()}
_SORT_COLUMN["price"] = "in"
_RIGHT = {"in", "out", "cost", "context", "ttft", "ttft95", "tps", "runs", "pub", "pubtps"}
NOT_MEASURED = "not measured"


def format_ttft(ms: float | None) -> str:
    """``420.0`` -> ``420ms``, ``2500`` -> ``2.5s``, ``None`` -> ``–`` (not measured)."""
    if ms is None:
        return "–"
    return f"{ms:.0f}ms" if ms < 1000 else f"{ms / 1000:.1f}s"


def format_tps(tps: float | None) -> str:
    """Tokens per second as a whole number; ``–`` when not measured."""
    return "–" if tps is None else f"{tps:.0f}"


def format_runs(stats: LatencyLike | None) -> str:
    """How many runs the measured figures come from: ``3 runs``, or ``not measured``."""
    count = getattr(stats, "count", 0) or 0
    if not count:
        return NOT_MEASURED
    return f"{count} run" if count == 1 else f"{count} runs"


def _truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class ModelTable(RowTable):
    """The model catalog as a table; Enter picks, Space marks.

    Sorting is by alt+letter (:class:`~tui.screens.models.ModelsScreen`), ctrl+s or a
    click on a header; a letter typed here goes to the screen's filter (see
    :class:`ModelTable.Typed`), so typing never gets lost in the table. Narrower than
    :data:`NARROW_BELOW` columns, it shows :data:`NARROW_COLUMNS`.
    """

    DEFAULT_CSS = """
    ModelTable {
        height: 1fr;
        border: round $border-blurred;
    }
    ModelTable:focus {
        border: round $border;
    }
    ModelTable {
        border-title-color: $text-muted;
        border-subtitle-color: $text-muted;
    }
    ModelTable > .datatable--header {
        color: $text-primary;
        text-style: bold;
    }
    """

    BINDINGS = [
        Binding("space", "toggle_mark", "Mark"),
    ]

    sort_key: reactive[str] = reactive("price", init=False)
    """One of :data:`SORT_KEYS`."""
    sort_reverse: reactive[bool] = reactive(False, init=False)
    """Worst first instead of best first (unknown values stay last)."""
    filter_text: reactive[str] = reactive("", init=False)
    """Words that must all appear in a model's id, name, provider or tier."""

    class Picked(Message):
        """The user picked ``model`` (Enter, or a click on the highlighted row)."""

        def __init__(self, table: ModelTable, model: ModelInfo) -> None:
            super().__init__()
            self.table = table
            self.model = model

        @property
        def control(self) -> ModelTable:
            return self.table

    class MarkToggled(Message):
        """``model_id`` was marked (``marked=True``) or unmarked for comparison."""

        def __init__(self, table: ModelTable, model_id: str, marked: bool) -> None:
            super().__init__()
            self.table = table
            self.model_id = model_id
            self.marked = marked

        @property
        def control(self) -> ModelTable:
            return self.table

    class Typed(Message):
        """A printable key was typed in the table: it belongs in the filter."""

        def __init__(self, table: ModelTable, character: str) -> None:
            super().__init__()
            self.table = table
            self.character = character

        @property
        def control(self) -> ModelTable:
            return self.table

    class Sorted(Message):
        """The table was re-sorted by ``key`` (``reverse`` = worst first)."""

        def __init__(self, table: ModelTable, key: str, reverse: bool) -> None:
            super().__init__()
            self.table = table
            self.key = key
            self.reverse = reverse

        @property
        def control(self) -> ModelTable:
            return self.table

    def __init__(
        self,
        models: Iterable[ModelInfo] = (),
        *,
        key_status: Mapping[str, str | None] | None = None,
        marked: Iterable[str] = (),
        sort_key: str = "price",
        selected: str | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """
        Args:
            models: the rows, in catalog order.
            key_status: provider -> ``None`` when usable, else what to set.
            marked: ids marked for a later comparison.
            sort_key: the initial sort.
            selected: model id to put the cursor on first.
        """
        super().__init__(cursor_type="row", zebra_stripes=True, name=name, id=id, classes=classes)
        self._models: list[ModelInfo] = list(models)
        self._key_status: dict[str, str | None] = dict(key_status or {})
        self.marked: set[str] = set(marked)
        """Ids marked with Space, for the compare view."""
        self._latency: dict[str, LatencyLike] = {}
        self._published: dict[str, PublishedLike] = {}
        self._estimates: dict[str, float | None] | None = None
        self._shown: list[ModelInfo] = []
        self._typed: ModelInfo | None = None
        self._pending_select: str | None = selected
        self._narrow: bool | None = None
        self.set_reactive(ModelTable.sort_key, self.validate_sort_key(sort_key))

    def on_mount(self) -> None:
        self._rebuild()

    @property
    def narrow(self) -> bool:
        """Showing :data:`NARROW_COLUMNS` (the table is narrower than :data:`NARROW_BELOW`)."""
        width = self.size.width or self.app.size.width
        return width < NARROW_BELOW

    def on_resize(self) -> None:
        if self.narrow != self._narrow:
            self._rebuild()

    def on_key(self, event: events.Key) -> None:
        character = typed_character(event)  # alt+n (Esc n) is a sort key, not an "n"
        if character is not None and event.key != "space":
            event.stop()
            event.prevent_default()
            self.post_message(self.Typed(self, character))

    # ------------------------------------------------------------------ data in

    def set_models(self, models: Iterable[ModelInfo]) -> None:
        self._models = list(models)
        self._rebuild()

    def set_key_status(self, key_status: Mapping[str, str | None]) -> None:
        self._key_status = dict(key_status)
        self._rebuild()

    def set_latency(self, stats: Mapping[str, LatencyLike]) -> None:
        """Measured latency per model id (``LatencyStats``: TTFT ms, tokens/s)."""
        self._latency = dict(stats)
        self._rebuild()

    def set_typed(self, model: ModelInfo | None) -> None:
        """A model id typed by the user (in no catalog), shown as the last row; None removes it."""
        if model == self._typed:
            return
        self._typed = model
        self._rebuild()

    @property
    def typed_model(self) -> ModelInfo | None:
        return self._typed

    def set_published(self, published: Mapping[str, PublishedLike]) -> None:
        """OpenRouter's published latency per model id (``PublishedSummary``: TTFT ms, tokens/s)."""
        self._published = dict(published)
        self._rebuild()

    def published_of(self, model_id: str) -> PublishedLike | None:
        return self._published.get(model_id)

    def set_estimates(self, costs: Mapping[str, float | None] | None) -> None:
        """Estimated USD per model id (``None`` = price unknown); ``None`` = still counting."""
        self._estimates = dict(costs) if costs is not None else None
        self._rebuild()

    # ------------------------------------------------------------------ state out

    @property
    def shown_models(self) -> list[ModelInfo]:
        """The rows shown now, in display order."""
        return list(self._shown)

    @property
    def highlighted_model(self) -> ModelInfo | None:
        if not self._shown or not 0 <= self.cursor_row < len(self._shown):
            return None
        return self._shown[self.cursor_row]

    def latency_of(self, model_id: str) -> LatencyLike | None:
        return self._latency.get(model_id)

    def estimate_of(self, model_id: str) -> float | None:
        return None if self._estimates is None else self._estimates.get(model_id)

    @property
    def key_statuses(self) -> dict[str, str | None]:
        """Provider -> ``None`` when usable, else what to set."""
        return dict(self._key_status)

    def key_status_of(self, model: ModelInfo) -> str | None:
        return self._key_status.get(model.provider)

    def select_model(self, model_id: str) -> bool:
        """Move the cursor to ``model_id`` if it is shown; ``True`` if it was.

        Before the table is mounted the id is kept and selected once the rows exist.
        """
        if not self.is_mounted or not self._shown:
            self._pending_select = model_id
            return any(info.id == model_id for info in self._models)
        for index, info in enumerate(self._shown):
            if info.id == model_id:
                self.move_cursor(row=index, animate=False, scroll=True)
                return True
        return False

    # ------------------------------------------------------------------ reactives

    def validate_sort_key(self, key: str) -> str:
        if key not in SORT_KEYS:
            raise ValueError(f"cannot sort models by {key!r}; use one of {', '.join(SORT_KEYS)}")
        return key

    def watch_sort_key(self) -> None:
        self._rebuild()
        self.post_message(self.Sorted(self, self.sort_key, self.sort_reverse))

    def watch_sort_reverse(self) -> None:
        self._rebuild()
        self.post_message(self.Sorted(self, self.sort_key, self.sort_reverse))

    def watch_filter_text(self) -> None:
        self._rebuild()

    def sort_by(self, key: str, reverse: bool | None = None) -> None:
        """Sort by ``key``; choosing the current key again flips the direction."""
        key = self.validate_sort_key(key)
        if reverse is None:
            reverse = (not self.sort_reverse) if key == self.sort_key else False
        # Set both without their watchers, then rebuild and report once.
        self.set_reactive(ModelTable.sort_reverse, reverse)
        self.set_reactive(ModelTable.sort_key, key)
        self._rebuild()
        self.post_message(self.Sorted(self, key, reverse))

    # ------------------------------------------------------------------ filtering and sorting

    def _matches(self, info: ModelInfo, words: list[str]) -> bool:
        haystack = f"{info.id} {info.name} {info.provider} {info.tier}".lower()
        return all(word in haystack for word in words)

    def _sort_value(self) -> Callable[[ModelInfo], Any]:
        key = self.sort_key
        latency = self._latency
        if key == "name":
            return lambda m: m.name.casefold()
        if key == "provider":
            return lambda m: (m.provider, m.name.casefold())
        if key == "price":
            return lambda m: m.blended_price
        if key == "price_in":
            return lambda m: m.price_in
        if key == "price_out":
            return lambda m: m.price_out
        if key == "context":
            return lambda m: -m.context if m.context is not None else None
        if key == "latency":
            return lambda m: getattr(latency.get(m.id), "ttft_p50", None)
        if key == "speed":
            return lambda m: -tps if (tps := getattr(latency.get(m.id), "tps_p50", None)) is not None else None
        if key == "cost":
            return lambda m: self.estimate_of(m.id)
        if key == "tools":
            return lambda m: 0 if m.tools else 1
        if key == "tier":
            return lambda m: TIERS.index(m.tier)
        return lambda m: 0 if self.key_status_of(m) is None else 1  # "key"

    def _ordered(self) -> list[ModelInfo]:
        words = self.filter_text.lower().split()
        models = [m for m in self._models if self._matches(m, words)]
        value = self._sort_value()
        known: list[tuple[Any, ModelInfo]] = []
        unknown: list[ModelInfo] = []
        for info in models:
            v = value(info)
            (unknown.append(info) if v is None else known.append((v, info)))
        known.sort(key=lambda pair: pair[1].id)
        known.sort(key=lambda pair: pair[0], reverse=self.sort_reverse)
        unknown.sort(key=lambda m: m.id)
        typed = [self._typed] if self._typed is not None and all(m.id != self._typed.id for m in models) else []
        return [info for _, info in known] + unknown + typed

    # ------------------------------------------------------------------ rendering

    def _label(self, column: str, title: str) -> Text:
        arrow = " " if self._narrow else "  "  # narrow: one cell kept for the arrow
        if _SORT_COLUMN.get(self.sort_key) == column:
            arrow = ("▼" if self.sort_reverse else "▲") if self._narrow else (" ▼" if self.sort_reverse else " ▲")
        return Text(title + arrow, justify="right" if column in _RIGHT else "left")

    def _narrow_cells(self, info: ModelInfo) -> list[Text]:
        stats = self._latency.get(info.id)
        estimate = "…" if self._estimates is None else format_cost(self._estimates.get(info.id))
        status = self.key_status_of(info)
        mark = MARK if info.id in self.marked else " "

        def right(text: str, style: str = "") -> Text:
            return Text(text, style=style, justify="right")

        tools = {True: "✓", False: "✗", None: "?"}[info.tools]
        tag = ORIGIN_TAGS.get(info.origin)
        name = Text(f"{mark} {_truncate(info.name, max(8, NARROW_NAME_WIDTH - (len(tag) + 1 if tag else 0)))}")
        if tag:
            name.append(f" {tag}", style="italic dim")
        return [
            name,
            right(format_price(info.price_in)),
            right(format_price(info.price_out)),
            right(estimate),
            right(format_context(info.context)),
            *self._narrow_latency(info.id, stats),
            Text(tools, style="" if info.tools else "dim"),
            Text("✓") if status is None else Text("✗", style="bold"),
        ]

    def _narrow_latency(self, model_id: str, stats: LatencyLike | None) -> list[Text]:
        """TTFT and tok/s p50: your runs' when measured, else OpenRouter's published ones,
        in italics with a ``*`` (the two sources are never mixed up)."""
        ttft, tps = getattr(stats, "ttft_p50", None), getattr(stats, "tps_p50", None)
        if ttft is not None or tps is not None:
            return [Text(format_ttft(ttft), justify="right"), Text(format_tps(tps), justify="right")]
        published = self._published.get(model_id)
        ttft, tps = getattr(published, "ttft_ms_p50", None), getattr(published, "tps_p50", None)
        return [
            Text(format_ttft(ttft) + ("*" if ttft is not None else ""), style="italic", justify="right"),
            Text(format_tps(tps) + ("*" if tps is not None else ""), style="italic", justify="right"),
        ]

    def _cells(self, info: ModelInfo) -> list[Text]:
        if self._narrow:
            return self._narrow_cells(info)
        stats = self._latency.get(info.id)
        published = self._published.get(info.id)
        if self._estimates is None:
            estimate = "…"
        else:
            estimate = format_cost(self._estimates.get(info.id))
        status = self.key_status_of(info)
        mark = MARK if info.id in self.marked else " "

        def right(text: str, style: str = "") -> Text:
            return Text(text, style=style, justify="right")

        tag = ORIGIN_TAGS.get(info.origin)
        name = Text(f"{mark} {_truncate(info.name, NAME_WIDTH - (len(tag) + 1 if tag else 0))}")
        if tag:
            name.append(f" {tag}", style="italic dim")
        return [
            name,
            Text(info.provider),
            right(format_price(info.price_in)),
            right(format_price(info.price_out)),
            right(estimate),
            right(format_context(info.context)),
            right(format_ttft(getattr(stats, "ttft_p50", None))),
            right(format_ttft(getattr(stats, "ttft_p95", None))),
            right(format_tps(getattr(stats, "tps_p50", None))),
            right(format_runs(stats), style="" if stats is not None and stats.count else "dim"),
            right(format_ttft(getattr(published, "ttft_ms_p50", None)), style="italic"),
            right(format_tps(getattr(published, "tps_p50", None)), style="italic"),
            Text(format_tools(info.tools)),
            Text(info.tier),
            Text("✓") if status is None else Text(status, style="bold"),
        ]

    def _rebuild(self) -> None:
        if not self.is_mounted:
            return
        keep = self.highlighted_model.id if self.highlighted_model else self._pending_select
        self._pending_select = None
        scroll_x = self.scroll_x
        self.clear(columns=True)
        self._narrow = self.narrow
        for column, title in NARROW_COLUMNS if self._narrow else COLUMNS:
            self.add_column(self._label(column, title), key=column)
        self._shown = self._ordered()
        for info in self._shown:
            self.add_row(*self._cells(info), key=info.id)
        if keep is not None:
            self.select_model(keep)
        total = len(self._models)
        shown = len([m for m in self._shown if m is not self._typed])
        self.border_title = f"{total} models" if shown == total else f"{shown} of {total} models"
        if scroll_x:
            self.call_after_refresh(self.scroll_to, x=scroll_x, animate=False)

    def _refresh_mark(self, model_id: str) -> None:
        info = next((m for m in self._shown if m.id == model_id), None)
        if info is not None:
            self.update_cell(model_id, "model", self._cells(info)[0], update_width=False)

    # ------------------------------------------------------------------ actions and events

    def toggle_mark(self, model_id: str | None = None) -> bool | None:
        """Mark or unmark ``model_id`` (default: the highlighted row); the new state."""
        if model_id is None:
            highlighted = self.highlighted_model
            if highlighted is None:
                return None
            model_id = highlighted.id
        marked = model_id not in self.marked
        if marked:
            self.marked.add(model_id)
        else:
            self.marked.discard(model_id)
        self._refresh_mark(model_id)
        self.post_message(self.MarkToggled(self, model_id, marked))
        return marked

    def action_toggle_mark(self) -> None:
        self.toggle_mark()

    def action_sort(self, key: str) -> None:
        self.sort_by(key)

    def action_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse

    def action_pick(self) -> None:
        model = self.highlighted_model
        if model is not None:
            self.post_message(self.Picked(self, model))

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_pick()

    @on(DataTable.HeaderSelected)
    def _header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        key = _COLUMN_SORT.get(str(event.column_key.value))
        if key is not None:
            self.sort_by(key)

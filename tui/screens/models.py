"""The model table: every catalog model with price, context, measured latency, the
estimated cost of a request with the chosen agent, and whether its key is set.

Type to filter; Up/Down move the cursor while the filter keeps focus; Enter picks and
dismisses the screen with the model id (``None`` on Esc), so anything can push it and
wait for an answer — the app does so after an agent is picked, a session screen may do so
to switch models. Sorts work from anywhere: alt+p price, alt+e estimated cost, alt+c
context, alt+l latency, alt+s tokens/s, alt+n name, alt+r reverse, ctrl+s cycles; column
headers sort on click. Tab into the table for Space (mark for comparison); letters typed
there go to the filter. At 80 columns the table shows price, estimate, context and
latency with short titles, and the details line below says the rest. Ctrl+T opens the compare
screen (:mod:`tui.screens.compare`) for the marked models — with the highlighted one
added when fewer than two are marked.

Measured latency is shown as TTFT p50 and p95, tokens/s p50 and the number of runs they
come from ("not measured" for a model with none); beside it, labelled ``Pub.``, what
OpenRouter publishes for the model's endpoints (``agentic-flow models refresh``), with its
date in the detail line. Both are read again whenever the screen comes back to the top,
so a comparison or eval just run shows at once.

Your own models are here too: those priced under ``providers.NAME.models`` in settings
("yours"), and what your OpenAI-compatible servers list at ``GET /models``
("discovered"; asked in a worker with a short timeout, remembered for next time). Any
``provider:model`` typed into the filter for a known provider can be picked even when no
catalog lists it: it appears as the last row ("typed").

Picking a model whose provider has no key opens :class:`~tui.screens.key_dialog.KeyDialog`
(also Ctrl+K on the highlighted model): the key is saved in the user config file or kept
for this session, and the pick goes on.

Slow inputs load in workers: the agent's prompt is counted with tiktoken, measured
latency is read from the store, servers are asked for their models. Until they arrive
the table shows ``…`` and ``–``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from agentic_flow.core.agents.catalog import Agent
from agentic_flow.core.config import Settings
from agentic_flow.core.errors import ConfigError, StoreError
from agentic_flow.core.models.catalog import ModelCatalog, ModelInfo, cost, format_cost, format_tools
from agentic_flow.core.models.fit import model_fit
from agentic_flow.core.models.published_latency import PublishedStore, PublishedSummary
from agentic_flow.core.models.tokens import count_tokens
from agentic_flow.core.paths import user_config_file
from agentic_flow.core.runtime import Runtime
from agentic_flow.core.store.database import Store
from agentic_flow.tui.commands import PaletteCommand
from agentic_flow.tui.screens.compare import CompareScreen
from agentic_flow.tui.screens.key_dialog import KeyAnswer, KeyDialog
from agentic_flow.tui.widgets.model_table import (
    SORT_KEYS,
    LatencyLike,
    ModelTable,
    format_tps,
    format_ttft,
)

__all__ = [
    "ModelsScreen",
    "TaskEstimate",
    "TYPICAL_TASK_INPUT_TOKENS",
    "TYPICAL_TASK_OUTPUT_TOKENS",
    "prompt_tokens",
    "typed_model",
]

TYPICAL_TASK_INPUT_TOKENS = 1_500
"""Input tokens of a typical first request besides the system prompt (task + context)."""
TYPICAL_TASK_OUTPUT_TOKENS = 800
"""Output tokens of a typical answer."""

#: Ctrl+S walks through these.
SORT_CYCLE = ("price", "cost", "context", "latency", "speed", "name")


@dataclass(frozen=True)
class TaskEstimate:
    """The request the ``Est.`` column prices: system prompt + a typical task, and a reply."""

    prompt_tokens: int
    task_tokens: int = TYPICAL_TASK_INPUT_TOKENS
    output_tokens: int = TYPICAL_TASK_OUTPUT_TOKENS

    @property
    def input_tokens(self) -> int:
        return self.prompt_tokens + self.task_tokens

    def cost(self, model: ModelInfo) -> float | None:
        """USD for this request on ``model``; ``None`` when a needed price is unknown."""
        return cost(model, self.input_tokens, self.output_tokens)


def typed_model(text: str, known_providers: Iterable[str]) -> ModelInfo | None:
    """A ``provider:model`` typed into the filter, as a row to pick, or None when the text
    is not one (several words, no model part, a provider nobody configured)."""
    words = text.split()
    if len(words) != 1:
        return None
    provider, sep, model = words[0].partition(":")
    provider = provider.lower()
    if not sep or not model or provider not in set(known_providers):
        return None
    try:
        return ModelInfo(
            id=f"{provider}:{model}",
            name=f"{provider}:{model}",
            provider=provider,
            price_in=None,
            price_out=None,
            context=None,
            max_output=None,
            tools=None,
            tier="medium",
            price_date=date.today(),
            price_source="typed in the model table; price it under providers.NAME.models in settings",
            origin="typed",
        )
    except ValueError:  # a provider name the catalog cannot hold
        return None


@functools.lru_cache(maxsize=64)
def prompt_tokens(text: str) -> int:
    """Tokens in a system prompt (tiktoken ``cl100k``; an estimate for non-OpenAI models)."""

    return count_tokens(text)


class ModelsScreen(Screen[str | None]):
    """Pick a model for ``agent``; dismisses with the model id, or ``None`` on Esc."""

    CSS_PATH = "models.tcss"
    SUB_TITLE = "Pick a model"
    AUTO_FOCUS = "#model-filter"

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("enter", "pick", "Pick", priority=True),
        Binding("ctrl+s", "cycle_sort", "Sort"),
        # alt+letter comes before the filter, which would type the letter (a terminal sending
        # Esc-prefixed meta keys gives alt+n with the character "n").
        Binding("ctrl+r,alt+r", "reverse_sort", "Reverse", show=False, priority=True),
        Binding("alt+p", "sort('price')", "Sort by price", show=False, priority=True),
        Binding("alt+e", "sort('cost')", "Sort by estimated cost", show=False, priority=True),
        Binding("alt+c", "sort('context')", "Sort by context", show=False, priority=True),
        Binding("alt+l", "sort('latency')", "Sort by latency", show=False, priority=True),
        Binding("alt+s", "sort('speed')", "Sort by tokens/s", show=False, priority=True),
        Binding("alt+n", "sort('name')", "Sort by name", show=False, priority=True),
        Binding("ctrl+t", "compare", "Compare"),
        Binding("ctrl+k", "enter_key", "Key", priority=True),  # before the filter's kill-line
        Binding("down", "move(1)", show=False),
        Binding("up", "move(-1)", show=False),
        Binding("pagedown", "move(10)", show=False),
        Binding("pageup", "move(-10)", show=False),
    ]

    class ModelsDiscovered(Message):
        """Servers listed models the catalog did not have; ``catalog`` now holds them."""

        def __init__(self, catalog: ModelCatalog) -> None:
            super().__init__()
            self.catalog = catalog

    class KeyEntered(Message):
        """A key was entered for ``provider`` (saved in ``path``, or for the session: None)."""

        def __init__(self, provider: str, path: Path | None) -> None:
            super().__init__()
            self.provider = provider
            self.path = path

    def __init__(
        self,
        agent: Agent | None,
        catalog: ModelCatalog,
        *,
        settings: Settings | None = None,
        selected: str | None = None,
        marked: Iterable[str] = (),
        sort_key: str = "price",
        task_tokens: int = TYPICAL_TASK_INPUT_TOKENS,
        output_tokens: int = TYPICAL_TASK_OUTPUT_TOKENS,
        load_latency: bool = True,
        discover: bool = True,
        ask_keys: bool = True,
        name: str | None = None,
        id: str | None = None,
    ) -> None:
        """
        Args:
            agent: whose system prompt the ``Est.`` column prices (``None``: no prompt).
            catalog: the models to list.
            settings: for key status (custom providers, keys written in the config).
            selected: model id to put the cursor on first (e.g. the last one picked).
            marked: model ids already marked for comparison.
            sort_key: initial sort, one of ``SORT_KEYS``.
            task_tokens / output_tokens: the typical request added to the prompt.
            load_latency: read measured latency from the store (off in snapshot tests).
            discover: ask your OpenAI-compatible servers for their models (needs ``settings``).
            ask_keys: offer to enter a missing key when a model is picked (off when
                ``--base-url`` sends requests elsewhere).
        """
        super().__init__(name=name, id=id)
        self.agent = agent
        self.catalog = catalog
        self.settings = settings
        self._selected = selected
        self._marked = set(marked)
        self._sort_key = sort_key
        self._task_tokens = task_tokens
        self._output_tokens = output_tokens
        self._load_latency = load_latency
        self._discover = discover and settings is not None
        self._ask_keys = ask_keys
        self.estimate: TaskEstimate | None = None
        """The priced request, once the prompt has been counted."""
        self.latency_note = "p50/p95 of your runs"
        self.published_note = ""

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="models-summary")
        yield Input(placeholder="Filter models (words: provider, name, tier)…", id="model-filter", select_on_focus=False)
        yield ModelTable(
            self.catalog.all(),
            key_status=self._key_statuses(),
            marked=self._marked,
            sort_key=self._sort_key,
            selected=self._selected,
            id="model-table",
        )
        yield Static(id="model-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.table.border_subtitle = "alt+p e c l s n: sort · alt+r: reverse · tab: table · space: mark"
        if self.agent is not None:
            self.sub_title = f"Pick a model for {self.agent.name}"
        self._update_summary()
        self._update_detail()
        self._count_prompt()
        if self._load_latency:
            self._read_latency()
        if self._discover:
            self._discover_models()

    @property
    def table(self) -> ModelTable:
        return self.query_one("#model-table", ModelTable)

    def _key_statuses(self) -> dict[str, str | None]:
        providers = set(self.catalog.providers())
        typed = self.table.typed_model if self.is_mounted else None
        if typed is not None:
            providers.add(typed.provider)
        return {p: Runtime.key_status(p, self.settings) for p in providers}

    # ------------------------------------------------------------------ workers

    @work(exclusive=True, group="model-estimate")
    async def _count_prompt(self) -> None:
        text = self.agent.prompt if self.agent is not None else ""
        tokens = await asyncio.to_thread(prompt_tokens, text) if text else 0
        self.estimate = TaskEstimate(tokens, self._task_tokens, self._output_tokens)
        self.table.set_estimates({m.id: self.estimate.cost(m) for m in self.catalog})
        self._update_summary()
        self._update_detail()

    @work(exclusive=True, group="model-discovery")
    async def _discover_models(self) -> None:
        assert self.settings is not None
        found = await Runtime.discover_models(self.settings)
        for item in found:
            if item.error is not None and item.configured:
                self.notify(f"{item.provider}: {item.error}", title="Model list", severity="warning", timeout=8)
        new = [m for item in found for m in item.models if m.id not in self.catalog]
        if not new:
            return
        self.catalog = self.catalog.with_models(new)
        table = self.table
        table.set_models(self.catalog.all())
        table.set_key_status(self._key_statuses())
        if self.estimate is not None:
            table.set_estimates({m.id: self.estimate.cost(m) for m in self.catalog})
        self._update_detail()
        self.post_message(self.ModelsDiscovered(self.catalog))

    @work(exclusive=True, group="model-latency")
    async def _read_latency(self) -> None:
        try:
            stats, published = await asyncio.to_thread(_read_latency_stats)
        except (StoreError, OSError) as exc:  # only the latency columns are lost
            self.latency_note = f"measured latency unavailable: {exc}"
            self._update_summary()
            return
        self.table.set_latency(stats)
        self.table.set_published(published)
        dates = sorted({p.date for p in published.values()})
        self.published_note = (
            f"  Pub.: OpenRouter published, last 30 min (as of {dates[-1]})" if dates else ""
        )
        self._update_summary()
        self._update_detail()

    def on_screen_resume(self) -> None:
        """Back on top (after a compare or eval): show the latency it just measured."""
        if self._load_latency and self.is_mounted:
            self._read_latency()

    # ------------------------------------------------------------------ text

    def _update_summary(self) -> None:
        table = self.table
        who = self.agent.name if self.agent is not None else "no agent"
        if self.estimate is None:
            basis = "counting the prompt…"
        else:
            e = self.estimate
            basis = f"{e.prompt_tokens:,} prompt + {e.task_tokens:,} task tokens in, {e.output_tokens:,} out"
        direction = "▼" if table.sort_reverse else "▲"
        marked = f" · {len(table.marked)} marked" if table.marked else ""
        self.query_one("#models-summary", Static).update(
            Content.assemble(
                ("Agent ", "$text-muted"),
                (who, "bold $text-accent"),
                ("  Est. = ", "$text-muted"),
                basis,
                "\n",
                ("Sort ", "$text-muted"),
                f"{SORT_KEYS[table.sort_key]} {direction}{marked}",
                ("  TTFT, tok/s: ", "$text-muted"),
                self.latency_note,
                ("  * published" if table.narrow else "", "italic $text-muted"),
                (self.published_note, "$text-muted"),
            )
        )

    def _update_detail(self) -> None:
        table = self.table
        info = table.highlighted_model
        detail = self.query_one("#model-detail", Static)
        if info is None:
            detail.update(Content.from_markup("[$text-muted]No model matches the filter.[/]"))
            return
        status = table.key_status_of(info)
        if status is not None:
            key_part: tuple[str, str] = (status, "bold $text-error")
        elif info.provider == "local":
            key_part = ("runs on this machine", "$text-success")
        elif Runtime.needs_key(info.provider, self.settings):
            key_part = ("key set", "$text-success")
        else:
            key_part = ("no key needed", "$text-success")
        origin = {
            "discovered": ("  listed by your server", "italic $text-muted"),
            "settings": ("  priced in your settings", "italic $text-muted"),
            "typed": ("  typed: in no catalog, price unknown", "italic $text-warning"),
        }.get(info.origin, ("", ""))
        stats = table.latency_of(info.id)
        if stats is None or not stats.count:
            measured = "not measured yet"
        else:
            measured = (
                f"{stats.count} run(s): TTFT p50 {format_ttft(stats.ttft_p50)}"
                f" p95 {format_ttft(stats.ttft_p95)},"
                f" {format_tps(stats.tps_p50)} tok/s"
            )
        published = table.published_of(info.id)
        if isinstance(published, PublishedSummary):
            uptime = f", uptime {published.uptime_30m:.1f}%" if published.uptime_30m is not None else ""
            measured += (
                f"  published (OpenRouter, {published.endpoints} endpoint(s), {published.date}): "
                f"TTFT p50 {format_ttft(published.ttft_ms_p50)}, {format_tps(published.tps_p50)} tok/s{uptime}"
            )
        estimate = table.estimate_of(info.id) if self.estimate is not None else None
        narrow = ((f" · tools {format_tools(info.tools)} · {info.tier}", "$text-muted"),) if table.narrow else ()
        detail.update(
            Content.assemble(
                (info.id, "bold"),
                "  ",
                key_part,
                ("  est. ", "$text-muted"),
                format_cost(estimate) if self.estimate is not None else "…",
                "\n",
                (f"price as of {info.price_date.isoformat()}", "$text-muted"),
                ("  latency: ", "$text-muted"),
                measured,
                *narrow,
                origin,
            )
        )

    # ------------------------------------------------------------------ events

    @on(Input.Changed, "#model-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._set_filter(event.value)
        self._update_detail()

    def _set_filter(self, text: str) -> None:
        table = self.table
        typed = typed_model(text, Runtime.known_providers(self.settings))
        if typed is not None and typed.id in self.catalog:
            typed = None
        if typed is not None and typed.provider not in table.key_statuses:
            table.set_key_status({**table.key_statuses, typed.provider: Runtime.key_status(typed.provider, self.settings)})
        table.set_typed(typed)
        table.filter_text = text

    @on(Input.Submitted, "#model-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_pick()

    @on(DataTable.RowHighlighted, "#model-table")
    def _row_highlighted(self) -> None:
        self._update_detail()

    @on(ModelTable.Sorted)
    @on(ModelTable.MarkToggled)
    def _table_changed(self) -> None:
        self._update_summary()

    @on(ModelTable.Picked)
    def _picked(self, event: ModelTable.Picked) -> None:
        event.stop()
        self._pick(event.model)

    @on(ModelTable.Typed)
    def _typed_in_table(self, event: ModelTable.Typed) -> None:
        """Letters typed in the table go to the filter (the table takes none)."""
        event.stop()
        field = self.query_one("#model-filter", Input)
        # Now, in order with earlier letters; the focus moves after this handler, and
        # the filter does not select its text on focus (the next letter would replace it).
        field.cursor_position = len(field.value)
        field.insert_text_at_cursor(event.character)
        field.focus()

    # ------------------------------------------------------------------ actions

    def action_pick(self) -> None:
        # Enter is a priority binding: let the filter handle keys typed just before it.
        filter_input = self.query_one("#model-filter", Input)
        filter_input.call_later(self._pick_filtered, filter_input)

    def _pick_filtered(self, filter_input: Input) -> None:
        if self.table.filter_text != filter_input.value:
            self._set_filter(filter_input.value)
        info = self.table.highlighted_model
        if info is None:
            self.notify(
                "No model matches; type PROVIDER:MODEL to pick one that is in no catalog.", severity="warning"
            )
            return
        self._pick(info)

    def _pick(self, info: ModelInfo) -> None:
        """Dismiss with ``info``'s id — first offering to enter its provider's key if it has
        none; a model that cannot take the agent's tools or prompt is said so (the session
        says it again and offers it no tools)."""
        for warning in self.fit_warnings(info):
            self.notify(warning, title="Model fit", severity="warning", timeout=12)
        if self._ask_keys and self._key_missing(info.provider):
            self._ask_key(info.provider, then=lambda: self.dismiss(info.id))
            return
        self.dismiss(info.id)

    def fit_warnings(self, info: ModelInfo) -> list[str]:
        """What does not fit between ``info`` and the agent: tools, prompt vs context."""
        if self.agent is None:
            return []
        tools = len(self.agent.tools) if self.agent.tools is not None else 1  # no list: every tool
        fit = model_fit(
            info.id,
            tools=info.tools,
            context=info.context,
            agent=self.agent.name,
            agent_tools=tools,
            prompt_tokens=self.estimate.prompt_tokens if self.estimate is not None else None,
        )
        return list(fit.warnings)

    def action_sort(self, key: str) -> None:
        self.table.sort_by(key)

    def _key_missing(self, provider: str) -> bool:
        return Runtime.needs_key(provider, self.settings) and Runtime.key_status(provider, self.settings) is not None

    def _ask_key(self, provider: str, then: Callable[[], object] | None = None) -> None:
        status = Runtime.key_status(provider, self.settings) or f"set providers.{provider}.api_key"

        def answered(answer: KeyAnswer | None) -> None:
            if answer is None:
                return
            try:
                path = Runtime.enter_key(answer.provider, answer.key, save=answer.save)
            except ConfigError as exc:
                self.notify(str(exc), title="Key not saved", severity="error", timeout=15)
                return
            where = f"saved in {path} (readable by you only)" if path else "kept for this session"
            self.notify(f"{answer.provider} key {where}.", title="Key")
            self.table.set_key_status(self._key_statuses())
            self._update_detail()
            self.post_message(self.KeyEntered(answer.provider, path))
            if then is not None:
                then()

        self.app.push_screen(KeyDialog(provider, status, user_config_file()), answered)

    def action_enter_key(self) -> None:
        """Ctrl+K: enter the highlighted model's provider key."""
        info = self.table.highlighted_model
        if info is None:
            return
        if not Runtime.needs_key(info.provider, self.settings):
            self.notify(f"{info.provider} needs no key.", severity="information")
            return
        self._ask_key(info.provider)

    def action_back(self) -> None:
        self.dismiss(None)

    def action_move(self, delta: int) -> None:
        table = self.table
        if table.row_count:
            table.move_cursor(row=max(0, min(table.row_count - 1, table.cursor_row + delta)))

    def action_cycle_sort(self) -> None:
        table = self.table
        current = SORT_CYCLE.index(table.sort_key) if table.sort_key in SORT_CYCLE else -1
        table.sort_by(SORT_CYCLE[(current + 1) % len(SORT_CYCLE)], reverse=False)

    def action_reverse_sort(self) -> None:
        self.table.sort_by(self.table.sort_key, reverse=not self.table.sort_reverse)

    def models_to_compare(self) -> list[str]:
        """The marked models in table order (then any filtered out), plus the highlighted
        one when fewer than two are marked."""
        table = self.table
        shown = [m.id for m in table.shown_models]
        models = [m for m in shown if m in table.marked] + sorted(table.marked - set(shown))
        highlighted = table.highlighted_model
        if len(models) < 2 and highlighted is not None and highlighted.id not in models:
            models.append(highlighted.id)
        return models

    def action_compare(self) -> None:
        """Open the compare screen for the marked models."""
        models = self.models_to_compare()
        if len(models) < 2:
            self.notify("Mark two or more models to compare (Tab into the table, Space marks).", severity="warning")
            return

        self.app.push_screen(CompareScreen(models, agent=self.agent))

    def action_clear_marks(self) -> None:
        for model_id in sorted(self.table.marked):
            self.table.toggle_mark(model_id)

    def palette_commands(self) -> Iterable[PaletteCommand]:
        table = self.table
        yield PaletteCommand("Models: pick the highlighted model", "Start a session with it", self.action_pick)
        yield PaletteCommand("Models: back to the agents", "Close the model table", self.action_back)
        yield PaletteCommand(
            "Models: enter the API key of the highlighted model's provider",
            "Saved in your config file (0600) or kept for this session (ctrl+k)",
            self.action_enter_key,
        )
        for key in SORT_CYCLE:
            yield PaletteCommand(
                f"Models: sort by {SORT_KEYS[key]}", "Best first; again to reverse", functools.partial(table.sort_by, key)
            )
        yield PaletteCommand("Models: reverse the sort", "Worst first / best first", self.action_reverse_sort)
        yield PaletteCommand(
            "Models: mark or unmark the highlighted model", "Marked models are kept for comparing", table.toggle_mark
        )
        yield PaletteCommand(
            "Models: compare the marked models", "Run one task on them side by side (Ctrl+T)", self.action_compare
        )
        if table.marked:
            yield PaletteCommand("Models: clear the marks", f"Unmark {len(table.marked)} model(s)", self.action_clear_marks)


def _read_latency_stats() -> tuple[Mapping[str, LatencyLike], dict[str, PublishedSummary]]:
    """Measured latency and OpenRouter's published figures per model from the store (in a thread)."""

    with Store() as store:
        return store.all_latency_stats(), PublishedStore(store).summaries()

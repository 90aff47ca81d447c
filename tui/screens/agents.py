"""The agent catalog: a filterable list, a preview of the highlighted agent, and every
problem the loader met (file:line), shown rather than hidden.

Typing filters (name matches first, then description matches); Up/Down move through the
list while the filter keeps focus; Enter picks. Picking posts
:class:`AgentsScreen.AgentPicked`, which bubbles to the app — this screen stays at the
bottom of the workbench's flow, so it never dismisses itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, OptionList, Static
from textual.widgets.option_list import Option

from agentic_flow.core.agents.catalog import Agent, AgentCatalog, AgentProblem
from agentic_flow.tui.commands import PaletteCommand

__all__ = ["AgentsScreen", "short_path", "format_problem"]


def short_path(path: Path, workspace: Path | None = None) -> str:
    """``path`` relative to the workspace when inside it, else with ``~`` for home."""
    path = Path(path)
    if workspace is not None:
        try:
            return path.relative_to(workspace).as_posix()
        except ValueError:
            pass
        try:
            return path.resolve().relative_to(workspace.resolve()).as_posix()
        except (ValueError, OSError):
            pass
    try:
        return "~/" + path.relative_to(Path.home()).as_posix()
    except (ValueError, RuntimeError):
        return path.as_posix()


def format_problem(problem: AgentProblem, workspace: Path | None = None) -> Content:
    """One problem as ``severity  file:line  message``, styled by severity."""
    where = short_path(problem.path, workspace) + (f":{problem.line}" if problem.line else "")
    style = "bold $text-error" if problem.severity == "error" else "bold $text-warning"
    return Content.assemble(
        (f"{problem.severity:<7} ", style),
        (where, "$text-accent"),
        "  ",
        problem.message,
    )


def _tools_text(agent: Agent) -> str:
    if agent.tools is None:
        return "all tools"
    if not agent.tools:
        return "none"
    return ", ".join(agent.tools)


class AgentsScreen(Screen[None]):
    """Browse the agent catalog and pick one."""

    CSS_PATH = "agents.tcss"
    SUB_TITLE = "Pick an agent"
    AUTO_FOCUS = "#agent-filter"

    BINDINGS = [
        Binding("enter", "pick", "Pick", priority=True),
        Binding("down", "move(1)", "Next", show=False),
        Binding("up", "move(-1)", "Previous", show=False),
        Binding("pagedown", "move(10)", show=False),
        Binding("pageup", "move(-10)", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("ctrl+o", "focus_problems", "Problems"),
    ]

    class AgentPicked(Message):
        """The user picked ``agent`` (Enter, or a click on a highlighted entry)."""

        def __init__(self, agents_screen: AgentsScreen, agent: Agent) -> None:
            super().__init__()
            self.agents_screen = agents_screen
            self.agent = agent

        @property
        def control(self) -> AgentsScreen:
            return self.agents_screen

    def __init__(
        self,
        catalog: AgentCatalog,
        *,
        workspace: Path | None = None,
        remembered: Mapping[str, str] | None = None,
        selected: str | None = None,
        name: str | None = None,
        id: str | None = None,
    ) -> None:
        """
        Args:
            catalog: the loaded agents and loader problems.
            workspace: paths inside it are shown relative to it.
            remembered: agent name -> model last picked for it (shown in the preview).
            selected: name of the agent to highlight first.
        """
        super().__init__(name=name, id=id)
        self.catalog = catalog
        self.workspace = workspace
        self.remembered: Mapping[str, str] = remembered if remembered is not None else {}
        self._initial = selected
        self._filtered_for = ""
        self._shown: list[Agent] = []

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="agents-body"):
            with Vertical(id="agents-side"):
                yield Input(placeholder="Filter agents…", id="agent-filter")
                yield OptionList(id="agent-list", markup=False)
            with VerticalScroll(id="agent-preview"):
                yield Static(id="agent-details")
                yield Static("Prompt", id="agent-prompt-title")
                yield Static(id="agent-prompt")
        with VerticalScroll(id="agent-problems") as problems:
            problems.border_title = self._problems_title()
            yield Static(self._problems_content(), id="agent-problems-text")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#agent-problems").display = bool(self.catalog.problems)
        self._refill("")
        if self._initial:
            self.select_agent(self._initial)

    # ------------------------------------------------------------------ state

    @property
    def shown_agents(self) -> list[Agent]:
        """The agents the list shows now, in order (after filtering)."""
        return list(self._shown)

    @property
    def highlighted_agent(self) -> Agent | None:
        option_list = self.query_one("#agent-list", OptionList)
        index = option_list.highlighted
        if index is None or not 0 <= index < len(self._shown):
            return None
        return self._shown[index]

    def select_agent(self, name: str) -> bool:
        """Highlight the agent called ``name`` if it is shown; ``True`` if it was."""
        for index, agent in enumerate(self._shown):
            if agent.name == name:
                self.query_one("#agent-list", OptionList).highlighted = index
                self._show_preview(agent)
                return True
        return False

    def _refill(self, text: str) -> None:
        """Show the agents matching ``text``; highlight the best match (or keep the
        current agent when the filter was cleared)."""
        current = self.highlighted_agent if self._shown else None
        self._filtered_for = text
        self._shown = self.catalog.search(text) if text.strip() else list(self.catalog)
        option_list = self.query_one("#agent-list", OptionList)
        option_list.set_options(Option(Content(agent.name), id=agent.name) for agent in self._shown)
        if not self._shown:
            self._show_preview(None)
            return
        index = 0
        if not text.strip() and current is not None:
            index = next((i for i, a in enumerate(self._shown) if a.name == current.name), 0)
        option_list.highlighted = index
        self._show_preview(self._shown[index])

    # ------------------------------------------------------------------ preview

    def _show_preview(self, agent: Agent | None) -> None:
        details = self.query_one("#agent-details", Static)
        prompt = self.query_one("#agent-prompt", Static)
        title = self.query_one("#agent-prompt-title", Static)
        if agent is None:
            if self.catalog.agents:
                details.update(Content.from_markup("[$text-muted]No agent matches the filter.[/]"))
            else:
                where = ", ".join(short_path(d, self.workspace) for d, _ in self.catalog.dirs)
                details.update(
                    Content.from_markup(
                        "[$text-muted]No agents found. Looked in: $where[/]", where=where or "nowhere"
                    )
                )
            prompt.update("")
            title.display = False
            return
        title.display = True
        details.update(self._details(agent))
        prompt.update(Content(agent.prompt) if agent.prompt else Content.from_markup("[$text-muted](empty)[/]"))
        self.query_one("#agent-preview", VerticalScroll).scroll_home(animate=False)

    def _details(self, agent: Agent) -> Content:
        model = agent.model or "inherit (the session's model)"
        source = f"{agent.source} · {short_path(agent.path, self.workspace)}:{agent.line}"
        rows: list[tuple[str, str]] = [("Tools", _tools_text(agent)), ("Model", model)]
        if agent.name in self.remembered:
            rows.append(("Last pick", self.remembered[agent.name]))
        rows.append(("Source", source))
        parts: list[Content | str | tuple[str, str]] = [
            (agent.name, "bold $text-accent"),
            "\n",
            agent.description or "(no description)",
            "\n",
        ]
        for label, value in rows:
            parts += ["\n", (f"{label:<10}", "bold $text-primary"), value]
        own = [p for p in self.catalog.problems if p.path == agent.path]
        if own:
            noun = "problem" if len(own) == 1 else "problems"
            parts += ["\n", (f"{'Problems':<10}", "bold $text-warning"), f"{len(own)} {noun} in this file (listed below)"]
        return Content.assemble(*parts)

    # ------------------------------------------------------------------ problems

    def _problems_title(self) -> str:
        count = len(self.catalog.problems)
        return f"Loader problems ({count})"

    def _problems_content(self) -> Content:
        lines = [format_problem(p, self.workspace) for p in self.catalog.problems]
        return Content("\n").join(lines) if lines else Content("")

    # ------------------------------------------------------------------ events

    @on(Input.Changed, "#agent-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._refill(event.value)

    @on(Input.Submitted, "#agent-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_pick()

    @on(OptionList.OptionHighlighted, "#agent-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if 0 <= event.option_index < len(self._shown):
            self._show_preview(self._shown[event.option_index])

    @on(OptionList.OptionSelected, "#agent-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if 0 <= event.option_index < len(self._shown):
            self.post_message(self.AgentPicked(self, self._shown[event.option_index]))

    # ------------------------------------------------------------------ actions

    def action_pick(self) -> None:
        # Enter is a priority binding, so it can arrive while keys typed just before it
        # still wait in the filter's queue: pick once the filter has handled them.
        filter_input = self.query_one("#agent-filter", Input)
        filter_input.call_later(self._pick_filtered, filter_input)

    def _pick_filtered(self, filter_input: Input) -> None:
        if filter_input.value != self._filtered_for:
            self._refill(filter_input.value)
        agent = self.highlighted_agent
        if agent is None:
            self.notify("No agent is highlighted; clear the filter to see them all.", severity="warning")
            return
        self.post_message(self.AgentPicked(self, agent))

    def action_move(self, delta: int) -> None:
        option_list = self.query_one("#agent-list", OptionList)
        if not self._shown:
            return
        index = option_list.highlighted if option_list.highlighted is not None else 0
        option_list.highlighted = max(0, min(len(self._shown) - 1, index + delta))

    def action_clear_filter(self) -> None:
        filter_input = self.query_one("#agent-filter", Input)
        filter_input.value = ""
        filter_input.focus()

    def action_focus_problems(self) -> None:
        if not self.catalog.problems:
            self.notify("The agent loader reported no problems.")
            return
        self.query_one("#agent-problems").focus()

    def palette_commands(self) -> Iterable[PaletteCommand]:
        yield PaletteCommand("Agents: pick the highlighted agent", "Open the model table for it", self.action_pick)
        yield PaletteCommand("Agents: clear the filter", "Show every agent again", self.action_clear_filter)
        if self.catalog.problems:
            yield PaletteCommand(
                "Agents: show loader problems",
                f"{len(self.catalog.problems)} problem(s) found while loading agent files",
                self.action_focus_problems,
            )

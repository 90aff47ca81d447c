"""The workbench app: agent catalog -> model table -> session.

Flow: the agent catalog is the bottom screen. Enter on an agent pushes the model table
(preselecting the model last picked for that agent); Enter on a model records the choice
in ``tui-state.json`` and pushes ``SessionScreen(RunOptions)`` from
:mod:`tui.screens.session`, which opens the runtime itself. ``agentic-flow --agent X``
opens straight on X's model table, ``--agent X --model Y`` straight into the session.

The theme (F2 cycles the bundled themes; the palette lists them all) is remembered
in the same state file.

Start-up paints first: the module imports Textual and nothing of the core. The first
frame is a small loading screen; settings, the agent and model catalogs, the saved
state and the themes are read in a thread worker after it (importing pydantic, yaml,
...), then the agent catalog replaces it and any keys typed meanwhile are replayed
there. :attr:`WorkbenchApp.ready` is set once that is done. Ready-made inputs (tests)
skip the worker. ``benchmarks/startup.py`` measures the first frame.

Hooks for other screens:

* ``app.register_command(name, help, callback, screen=SessionScreen)`` adds palette
  entries; a screen may instead define ``palette_commands()`` (see :mod:`tui.commands`).
* ``app.open_models(agent, on_pick=callback)`` shows the model table and calls
  ``callback(model_id | None)`` instead of starting a new session (switching models).
* ``app.run_options(agent_name, model_id)`` builds the ``RunOptions`` the app would use.
* ``app.open_compare(models, task=...)`` opens the compare screen (default: the models
  marked in the model table, for the current agent).
* ``app.open_mcp()`` opens the MCP screen (the open session's servers, else the
  configured ones).
* ``app.open_eval_results(run_id)`` opens an eval run's results (default: the latest);
  ``app.pick_eval_run()`` lists the stored runs first.
* ``app.open_sessions()`` opens the session picker; the session picked is resumed
  (``agentic-flow -r``; ``agentic-flow -c`` / ``-r ID`` open straight into it).

Ctrl+Q asks first while an answer is running (:func:`tui.screens.session.guarded_quit`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Center, Middle
from textual.screen import Screen
from textual.widgets import Static

from agentic_flow.tui import textual_fixes
from agentic_flow.tui.commands import PaletteCommand, WorkbenchCommands

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.agents.catalog import Agent, AgentCatalog
    from agentic_flow.core.config import LoadedSettings
    from agentic_flow.core.evals.records import EvalRun
    from agentic_flow.core.models.catalog import ModelCatalog
    from agentic_flow.core.runtime import RunOptions
    from agentic_flow.tui.screens.agents import AgentsScreen
    from agentic_flow.tui.state import WorkbenchState
    from agentic_flow.tui.themes import LoadedThemes

__all__ = ["WorkbenchApp", "LoadingScreen", "run_app"]

textual_fixes.apply()  # see tui/textual_fixes.py

ModelCallback = Callable[[str | None], Any]


def __getattr__(name: str) -> Any:
    """The screens, imported on first use (each pulls in part of the core)."""
    value: Any
    if name == "SessionScreen":
        # lazy: the session screen imports the core's event models
        from agentic_flow.tui.screens.session import SessionScreen

        value = SessionScreen
    elif name == "ModelsScreen":
        # lazy: the model table imports the model catalog, the store and the runtime
        from agentic_flow.tui.screens.models import ModelsScreen

        value = ModelsScreen
    elif name == "CompareScreen":
        # lazy: the compare screen imports the compare runner and the store
        from agentic_flow.tui.screens.compare import CompareScreen

        value = CompareScreen
    elif name == "McpScreen":
        # lazy: the MCP screen imports the MCP client
        from agentic_flow.tui.screens.mcp import McpScreen

        value = McpScreen
    elif name in ("EvalResultsScreen", "EvalRunPicker"):
        # lazy: the eval screens import the eval store and charts
        from agentic_flow.tui.screens import eval_results

        value = getattr(eval_results, name)
    elif name == "SessionPicker":
        # lazy: the session picker reads the store
        from agentic_flow.tui.screens.sessions import SessionPicker

        value = SessionPicker
    elif name == "AgentsScreen":
        # lazy: the agent catalog screen imports the catalog loader (yaml)
        from agentic_flow.tui.screens.agents import AgentsScreen

        value = AgentsScreen
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # a test may replace it (monkeypatch), as with any module attribute
    return value


def _screen(name: str) -> Any:
    """A screen class by name: the module attribute (lazily imported, or patched)."""
    return globals()[name] if name in globals() else __getattr__(name)


@dataclass
class _Inputs:
    """What the workbench reads at start-up (in a thread worker, after the first frame)."""

    settings: "LoadedSettings"
    agent_catalog: "AgentCatalog"
    model_catalog: "ModelCatalog"
    state: "WorkbenchState"
    themes: "LoadedThemes"


def _load_inputs(
    workspace: Path,
    agents_dir: Path | None,
    agent_catalog: "AgentCatalog | None" = None,
    model_catalog: "ModelCatalog | None" = None,
    settings: "LoadedSettings | None" = None,
    state: "WorkbenchState | None" = None,
    themes: "LoadedThemes | None" = None,
) -> _Inputs:
    """Read what was not given (raises ``ConfigError`` for a bad settings file).

    The core's heavy imports (pydantic models, yaml, the catalogs) happen here, in the
    start-up worker, after the first frame.
    """
    from agentic_flow.core.agents.catalog import load_catalog  # lazy: after the first frame
    from agentic_flow.core.config import load_settings  # lazy: after the first frame
    from agentic_flow.core.models.catalog import ModelCatalog  # lazy: after the first frame
    from agentic_flow.tui.state import WorkbenchState  # lazy: after the first frame
    from agentic_flow.tui.themes import load_themes  # lazy: after the first frame (yaml)

    _screen("AgentsScreen")  # imported here, off the event loop
    settings = settings if settings is not None else load_settings(workspace)
    return _Inputs(
        settings=settings,
        agent_catalog=agent_catalog if agent_catalog is not None else load_catalog(agents_dir, cwd=workspace),
        model_catalog=model_catalog if model_catalog is not None else ModelCatalog.load(settings=settings.merged),
        state=state if state is not None else WorkbenchState.load(),
        themes=themes if themes is not None else load_themes(),
    )


class LoadingScreen(Screen[None]):
    """The first frame: shown while the catalogs load; keeps the keys typed meanwhile."""

    DEFAULT_CSS = """
    LoadingScreen {
        background: $background;
    }
    LoadingScreen Static {
        width: auto;
        color: $text-muted;
    }
    """

    def __init__(self) -> None:
        super().__init__(id="loading")
        self.keys: list[events.Key] = []

    def compose(self) -> ComposeResult:
        with Middle():
            with Center():
                yield Static("agentic-flow · loading agents and models…", markup=False)

    def on_screen_resume(self) -> None:
        app = self.app
        if isinstance(app, WorkbenchApp) and app.loaded and self.is_current:
            app._open_workbench(replace=True)

    def on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        if event.key == "ctrl+q":
            self.app.exit()
            return
        self.keys.append(events.Key(event.key, event.character))


class WorkbenchApp(App[int]):
    """The agentic-flow workbench."""

    TITLE = "agentic-flow"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {WorkbenchCommands}
    BINDINGS = [
        Binding("f2", "next_theme", "Theme"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        *,
        agent: str | None = None,
        model: str | None = None,
        agents_dir: str | Path | None = None,
        base_url: str | None = None,
        workspace: str | Path | None = None,
        agent_catalog: AgentCatalog | None = None,
        model_catalog: ModelCatalog | None = None,
        settings: LoadedSettings | None = None,
        state: WorkbenchState | None = None,
        themes: LoadedThemes | None = None,
        load_latency: bool = True,
        discover_models: bool = True,
        resume: str | None = None,
        pick_session: bool = False,
    ) -> None:
        """
        Args:
            agent / model / agents_dir / base_url / workspace: as the command-line flags.
            agent_catalog / model_catalog / settings / state / themes: ready-made inputs
                (tests); loaded from the usual places when ``None``.
            load_latency: read measured latency from the store in the model table.
            discover_models: ask your OpenAI-compatible servers for their models when the
                model table opens.
            resume: open straight into this stored session (``-c`` / ``-r ID``).
            pick_session: open on the session picker (``-r`` without an id).

        Raises:
            ConfigError: a settings file is invalid (the CLI prints it and exits).
        """
        super().__init__()
        self.workspace = Path(workspace).expanduser().resolve() if workspace else Path.cwd()
        # Relative to where the command was typed, for the catalog and the runtime alike.
        self.agents_dir = Path(agents_dir).expanduser().resolve() if agents_dir else None
        self.base_url = base_url
        self._initial_agent = agent
        self._initial_model = model
        self._resume = resume
        self._pick_session = pick_session
        self.load_latency = load_latency
        self.discover_models = discover_models
        self.current_agent: Agent | None = None
        """The agent last picked (the model table and session are for it)."""
        self.marked_models: set[str] = set()
        """Model ids marked in the model table, for comparing them later."""
        self.last_run_options: RunOptions | None = None
        """What the last session was started with."""
        self._commands: list[tuple[PaletteCommand, type[Screen[Any]] | None]] = []
        self._notes: list[tuple[str, str]] = []
        self._remember_theme = False
        self.ready = asyncio.Event()
        """Set once the catalogs are loaded and the agent catalog screen is up."""
        self.startup_error: Exception | None = None
        """Why the workbench could not start (a bad settings file): ``run_app`` raises it."""
        self._given: dict[str, Any] = dict(
            agent_catalog=agent_catalog, model_catalog=model_catalog, settings=settings, state=state, themes=themes
        )
        self.settings: LoadedSettings
        self.agent_catalog: AgentCatalog
        self.model_catalog: ModelCatalog
        self.state: WorkbenchState
        self.themes: LoadedThemes
        if agent_catalog is not None and model_catalog is not None and settings is not None:
            # Everything that costs time was given (tests): no loading screen.
            self._use(_load_inputs(self.workspace, self.agents_dir, **self._given))

    def _use(self, inputs: _Inputs) -> None:
        # lazy: registering themes needs the theme module (loaded with the inputs)
        from agentic_flow.tui.themes import register_themes

        self.settings = inputs.settings
        self.agent_catalog = inputs.agent_catalog
        self.model_catalog = inputs.model_catalog
        self.state = inputs.state
        self.themes = register_themes(self, inputs.themes)
        self._notes += [(w, "warning") for w in self.state.warnings]
        self._notes += [(p, "warning") for p in self.themes.problems]
        self._notes += [(w, "warning") for w in self.model_catalog.warnings]
        self._given = {}

    def load(self) -> None:
        """Read the settings, catalogs, state and themes now (the start-up worker's job)."""
        if not self.loaded:
            self._use(_load_inputs(self.workspace, self.agents_dir, **self._given))

    @property
    def loaded(self) -> bool:
        """The settings and catalogs are read (see :attr:`ready` to wait for it)."""
        return not self._given

    # ------------------------------------------------------------------ start-up

    @property
    def agents_screen(self) -> "AgentsScreen":
        """The agent catalog screen (the bottom of the workbench's flow)."""
        agents_screen = _screen("AgentsScreen")
        for screen in self.screen_stack:
            if isinstance(screen, agents_screen):
                return screen
        raise LookupError("the agent catalog screen is not open")

    def on_mount(self) -> None:
        if self.loaded:
            self._open_workbench()
            return
        self.push_screen(LoadingScreen())
        self.call_after_refresh(self._start_loading)  # the first frame is painted first

    def _start_loading(self) -> None:
        self.run_worker(self._load_in_thread, thread=True, group="startup", exit_on_error=False)

    def _load_in_thread(self) -> None:
        try:
            inputs = _load_inputs(self.workspace, self.agents_dir, **self._given)
        except Exception as exc:  # a bad settings file: the CLI says what to fix
            self.call_from_thread(self._startup_failed, exc)
            return
        self.call_from_thread(self._loaded, inputs)

    def _startup_failed(self, exc: Exception) -> None:
        self.startup_error = exc
        self.exit(return_code=2)

    def _loaded(self, inputs: _Inputs) -> None:
        self._use(inputs)
        loading = self.screen if isinstance(self.screen, LoadingScreen) else None
        if loading is None and any(isinstance(s, LoadingScreen) for s in self.screen_stack):
            # Something was pushed over the loading screen meanwhile: the agent catalog
            # takes the loading screen's place when that is back on top (on_screen_resume).
            self.ready.set()
            return
        self._open_workbench(replace=loading is not None)
        if loading is not None and loading.keys:
            keys = list(loading.keys)
            self.call_after_refresh(lambda: [self.post_message(key) for key in keys])  # typed while loading

    def _open_workbench(self, replace: bool = False) -> None:
        self.theme = self._initial_theme()
        # Pushed rather than made the default screen: Textual loads a screen's CSS_PATH
        # only for pushed screens.
        screen = _screen("AgentsScreen")(
            self.agent_catalog,
            workspace=self.workspace,
            remembered=self.state.models,
            # The agent `run` would use is highlighted, so Enter Enter starts a session.
            selected=self._initial_agent or self.settings.merged.default_agent or "coder",
            id="agents",
        )
        if replace:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)
        self._remember_theme = True
        for message, severity in self._notes:
            self.notify(message, severity=severity, timeout=10)  # type: ignore[arg-type]
        if self._resume:
            self.call_after_refresh(self.resume_session, self._resume)
        elif self._pick_session:
            self.call_after_refresh(self.open_sessions)
        elif self._initial_agent:
            self.call_after_refresh(self._open_initial)
        self.call_after_refresh(self.ready.set)

    def _initial_theme(self) -> str:
        # lazy: the theme module reads YAML; it was loaded with the inputs
        from agentic_flow.tui.themes import DEFAULT_THEME

        fallback = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else "textual-dark"
        for name, source in ((self.state.theme, str(self.state.path)), (self.settings.merged.theme, "settings")):
            if not name:
                continue
            if name in self.available_themes:
                return name
            self._notes.append((f"Theme {name!r} (from {source}) is not installed; using {fallback}.", "warning"))
        return fallback

    def _open_initial(self) -> None:
        from agentic_flow.core.errors import AgentDefinitionError  # lazy: after the first frame

        assert self._initial_agent is not None
        try:
            agent = self.agent_catalog.get(self._initial_agent)
        except AgentDefinitionError as exc:
            self.notify(str(exc), title="--agent", severity="error", timeout=15)
            return
        self.agents_screen.select_agent(agent.name)
        if self._initial_model:
            self.start_session(agent, self._initial_model)
        else:
            self.open_models(agent)

    # ------------------------------------------------------------------ the flow

    # Handlers by name (AgentsScreen.AgentPicked, ModelTable.MarkToggled): a decorator
    # would need those classes, and so the core, before the first frame.
    def on_agents_screen_agent_picked(self, event: Any) -> None:
        self.open_models(event.agent)

    def on_model_table_mark_toggled(self, event: Any) -> None:
        (self.marked_models.add if event.marked else self.marked_models.discard)(event.model_id)

    def preselected_model(self, agent: "Agent") -> str:
        """The model the table opens on: ``--model``, else last pick, else the default."""
        if self._initial_model:
            return self._initial_model
        remembered = self.state.models.get(agent.name)
        if remembered:
            return remembered
        # lazy: the runtime (httpx, providers) loads when a model is first chosen
        from agentic_flow.core.runtime import choose_model

        return choose_model(None, agent, self.settings)[0]

    def open_models(self, agent: Agent | None = None, on_pick: ModelCallback | None = None) -> None:
        """Push the model table for ``agent`` (default: the current one).

        Args:
            on_pick: called with the picked model id (``None`` if the user went back);
                default: remember the choice and start a session.
        """
        agent = agent or self.current_agent or self.agents_screen.highlighted_agent
        if agent is None:
            self.notify("Pick an agent first.", severity="warning")
            return
        self.current_agent = agent
        screen = _screen("ModelsScreen")(
            agent,
            self.model_catalog,
            settings=self.settings.merged,
            selected=self.preselected_model(agent),
            marked=self.marked_models,
            load_latency=self.load_latency,
            discover=self.discover_models,
            ask_keys=self.base_url is None,
        )
        self.push_screen(screen, on_pick or functools.partial(self._model_picked, agent))

    # By name, like the handlers above (ModelsScreen.ModelsDiscovered, .KeyEntered).
    def on_models_screen_models_discovered(self, event: Any) -> None:
        self.model_catalog = event.catalog  # compare prices them too

    def on_models_screen_key_entered(self, event: Any) -> None:
        from agentic_flow.core.config import load_settings  # lazy: after the first frame

        if event.path is not None:
            self.settings = load_settings(self.workspace)

    def open_mcp(self) -> None:
        """Push the MCP screen: the open session's servers, else the configured ones."""
        for screen in reversed(self.screen_stack):
            manager = getattr(getattr(screen, "runtime", None), "mcp", None)
            if manager is not None:
                self.push_screen(_screen("McpScreen")(manager))
                return
        self.push_screen(_screen("McpScreen")(workspace=self.workspace, settings=self.settings))

    def _model_picked(self, agent: Agent, model_id: str | None) -> None:
        if model_id is not None:
            self.start_session(agent, model_id)

    def run_options(self, agent: str, model: str) -> "RunOptions":
        """The options a session for ``agent`` on ``model`` is opened with."""
        # lazy: the runtime (httpx, providers) loads when a session is first opened
        from agentic_flow.core.runtime import RunOptions

        return RunOptions(
            model=model,
            agent=agent,
            agents_dir=str(self.agents_dir) if self.agents_dir else None,
            base_url=self.base_url,
            workspace=str(self.workspace),
        )

    def start_session(self, agent: "Agent", model_id: str) -> None:
        """Remember ``model_id`` for ``agent`` and open a session screen with them."""
        from agentic_flow.core.models.catalog import split_model_id  # lazy: after the first frame
        from agentic_flow.core.runtime import Runtime  # lazy: httpx and the providers, when first used

        try:
            provider, _ = split_model_id(model_id)
        except ValueError as exc:
            self.notify(str(exc), severity="error")
            return
        self.current_agent = agent
        if self.base_url is None:
            status = Runtime.key_status(provider, self.settings.merged)
            if status is not None:
                self.notify(f"{model_id}: {status} before sending a message.", severity="warning", timeout=10)
        try:
            self.state.remember_model(agent.name, model_id)
        except OSError as exc:
            self.notify(f"Could not remember the model for {agent.name}: {exc}", severity="warning")
        self.agents_screen.remembered = self.state.models
        opts = self.run_options(agent.name, model_id)
        self.last_run_options = opts
        self._pop_to_agents()
        self.push_screen(_screen("SessionScreen")(opts))

    def open_sessions(self) -> None:
        """Push the session picker; the session picked is resumed."""
        self.push_screen(_screen("SessionPicker")(self.workspace), self.resume_session)

    def resume_session(self, session_id: str | None) -> None:
        """Open stored session ``session_id`` (its own agent and model unless ``--model``)."""
        if not session_id:
            return
        # lazy: httpx and the providers, when first used
        from agentic_flow.core.runtime import RunOptions

        opts = RunOptions(
            model=self._initial_model,
            agent=self._initial_agent,
            agents_dir=str(self.agents_dir) if self.agents_dir else None,
            base_url=self.base_url,
            workspace=str(self.workspace),
            resume=session_id,
        )
        self.last_run_options = opts
        self._pop_to_agents()
        self.push_screen(_screen("SessionScreen")(opts))

    async def action_quit(self) -> None:
        """Ctrl+Q: quit, after asking when an answer is still running."""
        # lazy: the question lives with the session screen
        from agentic_flow.tui.screens.session import guarded_quit

        await guarded_quit(self)

    def _pop_to_agents(self) -> None:
        agents_screen = _screen("AgentsScreen")
        while len(self.screen_stack) > 2 and not isinstance(self.screen, agents_screen):
            self.pop_screen()

    def open_compare(self, models: Iterable[str] | None = None, *, task: str = "") -> None:
        """Push the compare screen for ``models`` (default: the marked ones, sorted)."""
        chosen = list(models) if models is not None else sorted(self.marked_models)
        if len(chosen) < 2:
            self.notify("Mark two or more models in the model table (Space) to compare them.", severity="warning")
            return

        self.push_screen(_screen("CompareScreen")(chosen, task=task, agent=self.current_agent))

    def open_eval_results(self, run_id: str | None = None) -> None:
        """Push the results of eval run ``run_id`` (None: the latest)."""
        self.push_screen(_screen("EvalResultsScreen")(run_id))

    def pick_eval_run(self) -> None:
        """List the stored eval runs; the one picked opens in the results screen."""
        self._pick_eval_run()

    @work(exclusive=True, group="eval-runs", exit_on_error=False)
    async def _pick_eval_run(self) -> None:
        from agentic_flow.core.errors import StoreError  # lazy: after the first frame

        try:
            runs = await asyncio.to_thread(_eval_runs)
        except StoreError as exc:
            self.notify(f"Eval runs unavailable: {exc}", severity="error")
            return
        if not runs:
            self.notify("No eval runs yet: agentic-flow eval SUITE.yaml --models A,B", severity="warning")
            return
        picked = await self.push_screen_wait(_screen("EvalRunPicker")(runs))
        if picked:
            self.open_eval_results(picked)

    # ------------------------------------------------------------------ themes

    def watch_theme(self, theme: str) -> None:
        if not self._remember_theme:
            return
        try:
            self.state.remember_theme(theme)
        except OSError as exc:
            self.notify(f"Could not remember the theme: {exc}", severity="warning")

    @property
    def theme_cycle(self) -> list[str]:
        """Themes F2 walks through: the workbench's own, else all installed."""
        return [n for n in self.themes.names if n in self.available_themes] or sorted(self.available_themes)

    def action_next_theme(self) -> None:
        names = self.theme_cycle
        index = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(index + 1) % len(names)]
        self.notify(f"Theme: {self.theme}", timeout=2)

    def set_theme(self, name: str) -> None:
        self.theme = name

    # ------------------------------------------------------------------ actions

    def action_open_agents(self) -> None:
        """Back to the agent catalog (closes the screens above it)."""
        self._pop_to_agents()

    def action_open_models(self) -> None:
        if isinstance(self.screen, _screen("ModelsScreen")):
            return
        self.open_models()

    # ------------------------------------------------------------------ command palette

    def register_command(
        self,
        name: str,
        help: str,
        callback: Callable[[], Any],
        *,
        screen: type[Screen[Any]] | None = None,
        discover: bool = True,
    ) -> PaletteCommand:
        """Add a palette entry; with ``screen``, only while a screen of that class is active."""
        command = PaletteCommand(name, help, callback, discover)
        self._commands.append((command, screen))
        return command

    def register_commands(
        self, commands: Iterable[tuple[str, str, Callable[[], Any]]], *, screen: type[Screen[Any]] | None = None
    ) -> list[PaletteCommand]:
        """:meth:`register_command` for several ``(name, help, callback)`` tuples."""
        return [self.register_command(name, help, callback, screen=screen) for name, help, callback in commands]

    def unregister_command(self, command: PaletteCommand) -> None:
        self._commands = [(c, s) for c, s in self._commands if c is not command]

    def palette_commands(self, screen: Screen[Any]) -> list[PaletteCommand]:
        """Everything the palette offers on ``screen``: its own, registered, the app's."""
        commands: list[PaletteCommand] = []
        source = getattr(screen, "palette_commands", None)
        if callable(source):
            commands += list(source())
        commands += [c for c, only in self._commands if only is None or isinstance(screen, only)]
        commands += self._app_commands()
        return commands

    def _app_commands(self) -> list[PaletteCommand]:
        commands = [
            PaletteCommand("Agents: open the agent catalog", "Back to the list of agents", self.action_open_agents),
            PaletteCommand("Models: open the model table", "Pick a model for the current agent", self.action_open_models),
            PaletteCommand("Theme: next", "Cycle the workbench themes (F2)", self.action_next_theme),
            PaletteCommand("MCP: servers, status and tools", "Restart a server, see its last error", self.open_mcp),
            PaletteCommand("Sessions: resume, rename or delete", "Stored sessions of this workspace", self.open_sessions),
        ]
        if self.marked_models:
            commands.append(
                PaletteCommand(
                    "Compare: the marked models",
                    f"Run one task on the {len(self.marked_models)} marked model(s) side by side",
                    self.open_compare,
                )
            )
        commands.append(
            PaletteCommand("Evals: latest results", "The matrix, charts and cells of the last eval run",
                           self.open_eval_results)
        )
        commands.append(PaletteCommand("Evals: choose a run", "Pick a stored eval run to look at", self.pick_eval_run))
        for name in self.theme_cycle:
            theme = self.get_theme(name)
            kind = "light" if theme is not None and not theme.dark else "dark"
            commands.append(
                PaletteCommand(f"Theme: {name}", f"Switch to the {kind} theme {name}", functools.partial(self.set_theme, name))
            )
        commands.append(PaletteCommand("Theme: choose from all themes", "Every installed theme, with preview", self.search_themes))
        commands.append(PaletteCommand("Quit", "Quit the workbench", self.action_quit))
        return commands

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        # Theme and Quit are ours (with the theme remembered); keep Keys, Screenshot, ...
        for command in super().get_system_commands(screen):
            if command.title not in ("Theme", "Quit"):
                yield command


def _eval_runs() -> list["EvalRun"]:
    from agentic_flow.core.evals.cache import EvalStore  # lazy: after the first frame
    from agentic_flow.core.store.database import Store  # lazy: after the first frame

    with Store() as store:
        return EvalStore(store).list_runs()


def run_app(
    agent: str | None = None,
    model: str | None = None,
    agents_dir: str | None = None,
    base_url: str | None = None,
    workspace: str | None = None,
    resume: str | None = None,
    pick_session: bool = False,
) -> int:
    """Open the workbench (``agentic-flow`` with no command); returns the exit code.

    Raises:
        ConfigError: a settings file is invalid.
    """
    app = WorkbenchApp(
        agent=agent,
        model=model,
        agents_dir=agents_dir,
        base_url=base_url,
        workspace=workspace,
        resume=resume,
        pick_session=pick_session,
    )
    result = app.run()
    if app.startup_error is not None:
        raise app.startup_error  # ConfigError: the CLI prints what to fix
    return result if isinstance(result, int) else (app.return_code or 0)

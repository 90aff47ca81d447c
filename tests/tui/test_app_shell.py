"""The workbench shell: the agent -> model -> session flow, remembered choices, themes,
the command palette and the command-line entry point.

The session screen belongs to another module; these tests stand a small recording
screen in for ``tui.screens.session`` so they check exactly what the app hands over.
"""

from __future__ import annotations

import inspect
import json
import os
from datetime import date
from pathlib import Path

import pytest
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from agentic_flow.core.agents.catalog import AgentCatalog, load_catalog
from agentic_flow.core.config import load_settings
from agentic_flow.core.models.catalog import ModelCatalog, ModelInfo
from agentic_flow.core.runtime import RunOptions
from agentic_flow.tui.app import WorkbenchApp, run_app
from agentic_flow.tui.screens.agents import AgentsScreen
from agentic_flow.tui.screens.models import ModelsScreen
from agentic_flow.tui.state import STATE_FILENAME, WorkbenchState, state_path
from agentic_flow.tui.themes import DEFAULT_THEME, bundled_themes_dir, load_theme_file, load_themes

SIZE = (80, 24)


def write_agents(root: Path) -> Path:
    folder = root / "agents"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "alpha.md").write_text(
        "---\nname: alpha\ndescription: Writes code.\ntools: Read, Edit\nmodel: sonnet\n---\nYou are alpha.\n"
    )
    (folder / "beta.md").write_text("---\nname: beta\ndescription: Reviews code.\n---\nYou are beta.\n")
    return folder


def agent_catalog(workspace: Path) -> AgentCatalog:
    folder = write_agents(workspace)
    full = load_catalog(folder, cwd=workspace)
    agents = {n: a for n, a in full.agents.items() if a.path.is_relative_to(folder)}
    return AgentCatalog(agents=agents, problems=[], dirs=[(folder, "agents-dir")])


def _model(model_id: str, price_in, price_out) -> ModelInfo:
    return ModelInfo(
        id=model_id,
        name=model_id.partition(":")[2],
        provider=model_id.partition(":")[0],
        price_in=price_in,
        price_out=price_out,
        context=131072,
        max_output=None,
        tools=True,
        tier="small",
        price_date=date(2025, 1, 1),
        price_source="test fixture",
    )


def model_catalog() -> ModelCatalog:
    return ModelCatalog(
        [
            _model("ollama:llama-local", 0.0, 0.0),
            _model("openai:gpt-mid", 0.4, 1.6),
            _model("anthropic:claude-sonnet-4-5", 3.0, 15.0),
        ]
    )


def make_app(workspace: Path, **kwargs) -> WorkbenchApp:
    kwargs.setdefault("agent_catalog", agent_catalog(workspace))
    kwargs.setdefault("model_catalog", model_catalog())
    kwargs.setdefault("load_latency", False)
    return WorkbenchApp(workspace=workspace, settings=load_settings(workspace), **kwargs)


class RecordingSessionScreen(Screen[None]):
    """Stands in for tui.screens.session.SessionScreen(opts)."""

    def __init__(self, opts: RunOptions) -> None:
        super().__init__()
        self.opts = opts

    def compose(self) -> ComposeResult:
        yield Static(f"session {self.opts.agent} on {self.opts.model}")


@pytest.fixture
def session_module(monkeypatch):
    """The app opens RecordingSessionScreen instead of the real session screen."""
    import agentic_flow.tui.app as app_module

    monkeypatch.setattr(app_module, "SessionScreen", RecordingSessionScreen)
    return app_module


def record_notifications(app: WorkbenchApp) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    original = app.notify

    def notify(message, *args, severity="information", **kwargs):
        seen.append((str(message), severity))
        return original(message, *args, severity=severity, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    return seen


# ---------------------------------------------------------------------------- the flow


async def test_pick_agent_then_model_records_the_choice_and_opens_the_session(tmp_path, session_module, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key-123456")  # with no key, the table asks for one first
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, AgentsScreen)
        await pilot.press(*"beta", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ModelsScreen)
        app.screen.table.select_model("openai:gpt-mid")
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RecordingSessionScreen)
        assert screen.opts == RunOptions(model="openai:gpt-mid", agent="beta", workspace=str(tmp_path.resolve()))
        assert app.last_run_options == screen.opts
        # Remembered per agent, on disk.
        saved = json.loads(state_path().read_text())
        assert saved["models"] == {"beta": "openai:gpt-mid"}
        # The session sits directly on the agent catalog.
        assert [type(s) for s in app.screen_stack[1:]] == [AgentsScreen, RecordingSessionScreen]


async def test_the_remembered_model_is_preselected_next_time(tmp_path, session_module, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-" + "k" * 40)  # so alpha's alias sonnet resolves
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press(*"alpha", "enter")
        await pilot.pause()
        # alpha declares `model: sonnet`: the table opens on it.
        assert app.screen.table.highlighted_model.id == "anthropic:claude-sonnet-4-5"
        app.screen.table.select_model("ollama:llama-local")
        await pilot.press("enter")
        await pilot.pause()

    again = make_app(tmp_path)
    assert again.state.models == {"alpha": "ollama:llama-local"}
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press(*"alpha", "enter")
        await pilot.pause()
        assert app is not again
        assert again.screen.table.highlighted_model.id == "ollama:llama-local"
        await pilot.press("escape")
        await pilot.pause()
        again.screen.select_agent("alpha")
        assert "Last pick" in str(again.screen.query_one("#agent-details", Static).render())


async def test_agent_and_model_flags_open_straight_into_the_session(tmp_path, session_module):
    app = make_app(tmp_path, agent="alpha", model="openai:gpt-mid")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, RecordingSessionScreen)
        assert app.screen.opts.agent == "alpha" and app.screen.opts.model == "openai:gpt-mid"
        assert app.state.models == {"alpha": "openai:gpt-mid"}
        app.action_open_agents()
        await pilot.pause()
        assert isinstance(app.screen, AgentsScreen)
        assert app.screen.highlighted_agent.name == "alpha"


async def test_agent_flag_alone_opens_its_model_table(tmp_path):
    app = make_app(tmp_path, agent="beta")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, ModelsScreen)
        assert app.screen.agent.name == "beta"


async def test_model_flag_alone_is_preselected_for_the_picked_agent(tmp_path):
    app = make_app(tmp_path, model="openai:gpt-mid")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, AgentsScreen)
        await pilot.press(*"alpha", "enter")
        await pilot.pause()
        assert app.screen.table.highlighted_model.id == "openai:gpt-mid"


async def test_an_unknown_agent_flag_is_reported_and_the_catalog_stays_open(tmp_path):
    app = make_app(tmp_path, agent="alhpa")
    seen = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, AgentsScreen)
        assert any("No agent named 'alhpa'" in m and "alpha" in m and s == "error" for m, s in seen)


async def test_picking_a_model_without_its_key_warns_what_to_set(tmp_path, session_module):
    app = make_app(tmp_path, agent="alpha", model="anthropic:claude-sonnet-4-5")
    seen = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, RecordingSessionScreen)
        assert any("set ANTHROPIC_API_KEY" in m and s == "warning" for m, s in seen)


async def test_the_real_session_screen_is_pushed_with_the_options(tmp_path):
    from agentic_flow.tui.screens import session
    app = make_app(tmp_path, agent="beta", model="ollama:llama-local")  # no request is sent
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, session.SessionScreen)
        assert app.screen.opts == app.last_run_options
        assert app.screen.opts.model == "ollama:llama-local" and app.screen.opts.agent == "beta"
        app.action_open_agents()
        await pilot.pause()
        assert isinstance(app.screen, AgentsScreen)


def test_the_session_screen_takes_run_options():
    """The agreed constructor: SessionScreen(opts: RunOptions)."""
    from agentic_flow.tui.screens.session import SessionScreen

    params = list(inspect.signature(SessionScreen).parameters.values())
    assert params and params[0].name == "opts"


# ---------------------------------------------------------------------------- themes


def test_three_bundled_themes_light_dark_and_high_contrast():
    loaded = load_themes([bundled_themes_dir()])
    assert loaded.problems == []
    themes = {t.name: t for t in loaded.themes}
    assert {"workbench-dark", "workbench-light", "workbench-high-contrast"} <= set(themes)
    assert themes["workbench-dark"].dark and not themes["workbench-light"].dark
    contrast = themes["workbench-high-contrast"]
    assert contrast.background.upper() == "#000000" and contrast.foreground.upper() == "#FFFFFF"
    for theme in loaded.themes:
        theme.to_color_system().generate()  # every colour parses
    assert DEFAULT_THEME in themes


def test_a_broken_theme_file_is_skipped_and_reported(tmp_path):
    (tmp_path / "bad.yaml").write_text("name: bad\nprimary: not-a-colour\n")
    (tmp_path / "typo.yaml").write_text("name: typo\nprimary: '#112233'\nbackgroud: '#000000'\n")
    (tmp_path / "mine.yaml").write_text("name: workbench-dark\nprimary: '#FF0000'\n")  # replaces bundled
    loaded = load_themes([bundled_themes_dir(), tmp_path])
    assert "bad" not in loaded.names and "typo" not in loaded.names
    assert any("not-a-colour" in p for p in loaded.problems)
    assert any("backgroud" in p for p in loaded.problems)
    assert next(t for t in loaded.themes if t.name == "workbench-dark").primary == "#FF0000"
    with pytest.raises(ValueError, match="primary"):
        (tmp_path / "empty.yaml").write_text("name: empty\n")
        load_theme_file(tmp_path / "empty.yaml")


async def test_all_bundled_themes_are_registered_at_start_up(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert {"workbench-dark", "workbench-light", "workbench-high-contrast"} <= set(app.available_themes)
        assert app.theme == DEFAULT_THEME
    assert not state_path().exists()  # nothing chosen, nothing written


async def test_theme_key_switches_and_the_theme_is_remembered_across_restarts(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "workbench-dark"
        await pilot.press("f2")
        await pilot.pause()
        assert app.theme == "workbench-high-contrast"
        await pilot.press("f2")
        await pilot.pause()
        assert app.theme == "workbench-light"
    assert json.loads(state_path().read_text())["theme"] == "workbench-light"

    restarted = make_app(tmp_path)
    async with restarted.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert restarted.theme == "workbench-light"
        assert restarted.current_theme.dark is False


async def test_theme_switch_from_the_command_palette(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"theme: workbench-light")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()
        assert app.theme == "workbench-light"
        assert isinstance(app.screen, AgentsScreen)
    assert WorkbenchState.load().theme == "workbench-light"


async def test_theme_from_settings_is_used_when_none_was_chosen(tmp_path):
    home = Path(os.environ["AGENTIC_FLOW_HOME"])
    (home / "config.yaml").write_text("theme: workbench-high-contrast\n")
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "workbench-high-contrast"


async def test_a_missing_theme_or_corrupt_state_file_falls_back_with_a_warning(tmp_path):
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    app = make_app(tmp_path)
    seen = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == DEFAULT_THEME
        assert any("not valid JSON" in m for m, _ in seen)
    path.write_text(json.dumps({"format": 1, "theme": "gone-theme", "models": {}}))
    app = make_app(tmp_path)
    seen = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == DEFAULT_THEME
        assert any("gone-theme" in m for m, _ in seen)


# ---------------------------------------------------------------------------- state file


def test_state_is_written_atomically_and_merged_with_other_writers(tmp_path):
    path = tmp_path / STATE_FILENAME
    first = WorkbenchState.load(path)
    second = WorkbenchState.load(path)
    first.remember_model("alpha", "openai:gpt-mid")
    second.remember_theme("workbench-light")  # must not drop alpha's model
    second.remember_model("beta", "ollama:llama-local")
    saved = json.loads(path.read_text())
    assert saved == {
        "format": 1,
        "theme": "workbench-light",
        "models": {"alpha": "openai:gpt-mid", "beta": "ollama:llama-local"},
    }
    assert [p.name for p in tmp_path.iterdir()] == [STATE_FILENAME]  # no temp files left
    assert state_path().parent.name == "data"  # under data_dir()


# ---------------------------------------------------------------------------- palette


async def test_palette_offers_every_app_and_screen_action(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        names = [c.name for c in app.palette_commands(app.screen)]
        for expected in (
            "Agents: pick the highlighted agent",
            "Agents: clear the filter",
            "Agents: open the agent catalog",
            "Models: open the model table",
            "Theme: next",
            "Theme: workbench-dark",
            "Theme: workbench-light",
            "Theme: workbench-high-contrast",
            "Theme: choose from all themes",
            "Quit",
        ):
            assert expected in names
        await pilot.press("enter")
        await pilot.pause()
        names = [c.name for c in app.palette_commands(app.screen)]
        for expected in (
            "Models: pick the highlighted model",
            "Models: back to the agents",
            "Models: sort by price (3:1 in/out)",
            "Models: sort by estimated cost",
            "Models: sort by context window",
            "Models: sort by time to first token",
            "Models: sort by name",
            "Models: reverse the sort",
            "Models: mark or unmark the highlighted model",
        ):
            assert expected in names
        # Textual's own Theme/Quit are replaced by ours (which remember the theme).
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Theme" not in titles and "Quit" not in titles and "Keys" in titles


async def test_palette_runs_a_screen_command(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"sort by name")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ModelsScreen)
        assert app.screen.table.sort_key == "name"


async def test_registered_commands_appear_on_their_screen_only(tmp_path, session_module):
    app = make_app(tmp_path)
    calls: list[str] = []
    app.register_command("Session: stop", "Stop the answer", lambda: calls.append("stop"), screen=RecordingSessionScreen)
    added = app.register_commands([("Audit: open", "Review decisions", lambda: calls.append("audit"))])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        names = [c.name for c in app.palette_commands(app.screen)]
        assert "Audit: open" in names and "Session: stop" not in names
        app.start_session(app.agent_catalog.get("beta"), "ollama:llama-local")
        await pilot.pause()
        assert isinstance(app.screen, RecordingSessionScreen)
        commands = {c.name: c for c in app.palette_commands(app.screen)}
        assert "Session: stop" in commands and "Audit: open" in commands
        commands["Session: stop"].callback()
        assert calls == ["stop"]
        app.unregister_command(added[0])
        assert "Audit: open" not in [c.name for c in app.palette_commands(app.screen)]


async def test_footer_shows_the_main_keys_in_80x24(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        keys = {b.key for _, b, enabled, _ in app.screen.active_bindings.values() if b.show and enabled}
        assert {"enter", "f2", "ctrl+q"} <= keys
        await pilot.press("enter")
        await pilot.pause()
        keys = {b.key for _, b, enabled, _ in app.screen.active_bindings.values() if b.show and enabled}
        assert {"enter", "escape", "ctrl+s"} <= keys


# ---------------------------------------------------------------------------- entry point


def test_bare_command_and_flags_reach_run_app(monkeypatch):
    from agentic_flow.main import main
    from agentic_flow.tui import app as tui_app

    calls = []
    monkeypatch.setattr(tui_app, "run_app", lambda **kwargs: calls.append(kwargs) or 0)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert main([]) == 0
    assert main(["--agent", "coder", "--model", "openai:gpt-4o-mini"]) == 0
    assert calls[0]["agent"] is None and calls[0]["model"] is None
    assert calls[1]["agent"] == "coder" and calls[1]["model"] == "openai:gpt-4o-mini"


def test_run_app_builds_the_app_from_the_flags(monkeypatch, tmp_path):
    seen = {}

    def fake_run(self, *args, **kwargs):
        seen["app"] = self
        return None

    monkeypatch.setattr(WorkbenchApp, "run", fake_run)
    write_agents(tmp_path)
    assert run_app(agent="alpha", model="openai:gpt-mid", workspace=str(tmp_path)) == 0
    app = seen["app"]
    assert app.workspace == tmp_path.resolve()
    app.load()  # what the start-up worker does after the first frame
    assert "alpha" in app.agent_catalog  # ./agents of the workspace is searched
    assert app.run_options("alpha", "openai:gpt-mid").workspace == str(tmp_path.resolve())


async def test_fast_typing_then_enter_picks_the_filtered_agent():
    """A burst of keys (typed fast, or sent by a terminal at once) ends in the filtered pick."""
    from textual import events

    from agentic_flow.tui.app import WorkbenchApp

    app = WorkbenchApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        for ch in "reviewer":
            app.post_message(events.Key(ch, ch))
        app.post_message(events.Key("enter", "\r"))
        await app.ready.wait()  # keys typed while the catalogs load are kept for the catalog screen
        await pilot.pause()
        await pilot.pause()
        assert app.screen.agent.name == "reviewer"

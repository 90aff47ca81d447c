"""The agent catalog and model table screens: Pilot tests for behaviour, snapshots for looks.

Every app here is deterministic: agents come from a folder written into ``tmp_path``
(the bundled ones are left out), models from a small fixed catalog, no measured latency
unless a test records some, and no API keys (tests/conftest.py removes them).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from textual import events
from textual.app import App
from textual.widgets import Input, OptionList, Static

from agentic_flow.core.agents.catalog import AgentCatalog, load_catalog
from agentic_flow.core.config import load_settings
from agentic_flow.core.models.catalog import ModelCatalog, ModelInfo, cost
from agentic_flow.tui.app import WorkbenchApp
from agentic_flow.tui.screens.agents import AgentsScreen
from agentic_flow.tui.screens.models import (
    TYPICAL_TASK_INPUT_TOKENS,
    TYPICAL_TASK_OUTPUT_TOKENS,
    ModelsScreen,
    prompt_tokens,
)
from agentic_flow.tui.state import WorkbenchState
from agentic_flow.tui.widgets.model_table import ModelTable
from tests.tui.session_fakes import wait_for

SIZE = (80, 24)

AGENT_FILES: dict[str, str | bytes] = {
    "alpha.md": (
        "---\nname: alpha\ndescription: Writes small, tested changes to Python code.\n"
        "tools: Read, Grep, Edit\nmodel: sonnet\n---\n"
        "You are alpha, a careful engineer.\n\n## Rules\n- Read before you edit.\n- Run the tests.\n"
    ),
    "beta.md": (
        "---\nname: beta\ndescription: Reviews diffs: finds bugs: reports them\ntools: Bash\n---\n"
        "You are beta, a reviewer.\n"
    ),
    "gamma.md": "# Gamma helper\n\nExplains build failures in plain words.\n",
    "delta.md": "---\nname: delta\nmetadata:\n  description: Plans multi-step work.\n---\nYou plan.\n",
    "broken.md": b"---\nname: broken\n\x00\x01binary\n",
}


def write_agents(root: Path) -> Path:
    folder = root / "agents"
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in AGENT_FILES.items():
        target = folder / name
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    return folder


def local_catalog(workspace: Path) -> AgentCatalog:
    """Only the agents (and problems) of ``workspace/agents``: no bundled agents."""
    folder = write_agents(workspace)
    full = load_catalog(folder, cwd=workspace)
    agents = {name: a for name, a in full.agents.items() if a.path.is_relative_to(folder)}
    problems = [p for p in full.problems if Path(p.path).is_relative_to(folder)]
    return AgentCatalog(agents=agents, problems=problems, dirs=[(folder, "agents-dir")])


def _model(model_id: str, name: str, price_in, price_out, context: int, tools: bool, tier: str) -> ModelInfo:
    return ModelInfo(
        id=model_id,
        name=name,
        provider=model_id.partition(":")[0],
        price_in=price_in,
        price_out=price_out,
        context=context,
        max_output=None,
        tools=tools,
        tier=tier,
        price_date=date(2025, 1, 1),
        price_source="test fixture",
    )


MODELS = [
    _model("openrouter:acme/small-1", "Acme Small", 0.10, 0.40, 131072, True, "small"),
    _model("anthropic:claude-sonnet-4-5", "Claude Sonnet 4.5", 3.0, 15.0, 200000, True, "frontier"),
    _model("ollama:llama-local", "Llama Local", 0.0, 0.0, 32768, True, "small"),
    _model("openrouter:mystery/model", "Mystery Model", None, None, 65536, False, "medium"),
    _model("openai:gpt-mid", "GPT Mid", 0.40, 1.60, 1047576, True, "medium"),
]


def model_catalog() -> ModelCatalog:
    return ModelCatalog(MODELS)


def make_app(workspace: Path, **kwargs) -> WorkbenchApp:
    kwargs.setdefault("agent_catalog", local_catalog(workspace))
    kwargs.setdefault("model_catalog", model_catalog())
    kwargs.setdefault("state", WorkbenchState.load(workspace / "state" / "tui-state.json"))
    kwargs.setdefault("load_latency", False)
    kwargs.setdefault("discover_models", False)
    return WorkbenchApp(workspace=workspace, settings=load_settings(workspace), **kwargs)


async def open_models(pilot, agent: str = "alpha") -> ModelsScreen:
    """From the agent catalog: filter to ``agent``, Enter, wait for the estimate worker."""
    await pilot.pause()
    for key in agent:
        await pilot.press(key)
    await pilot.press("enter")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, ModelsScreen)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    return screen


def cell(table: ModelTable, model_id: str, column: str) -> str:
    return table.get_cell(model_id, column).plain


# ---------------------------------------------------------------------------- agents


async def test_agent_list_shows_every_loaded_agent(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, AgentsScreen)
        assert [a.name for a in screen.shown_agents] == ["alpha", "beta", "delta", "gamma"]
        assert app.focused is screen.query_one("#agent-filter", Input)


async def test_typing_filters_agents_and_escape_clears(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press(*"bug")  # only in beta's description
        await pilot.pause()
        screen = app.screen
        assert [a.name for a in screen.shown_agents] == ["beta"]
        assert screen.highlighted_agent.name == "beta"
        await pilot.press("escape")
        await pilot.pause()
        assert len(screen.shown_agents) == 4
        await pilot.press(*"zzz")
        await pilot.pause()
        assert screen.shown_agents == []
        assert "No agent matches" in str(screen.query_one("#agent-details", Static).render())


async def test_up_down_move_the_highlight_while_the_filter_keeps_focus(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        await pilot.press("down", "down")
        assert screen.highlighted_agent.name == "delta"
        assert isinstance(app.focused, Input)
        assert "delta" in str(screen.query_one("#agent-details", Static).render())


async def test_preview_shows_description_tools_model_source_and_prompt(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        details = str(app.screen.query_one("#agent-details", Static).render())
        prompt = str(app.screen.query_one("#agent-prompt", Static).render())
        assert "Writes small, tested changes" in details
        assert "read, grep, edit" in details
        assert "sonnet" in details
        assert "agents/alpha.md:7" in details  # relative to the workspace, prompt line
        assert "You are alpha, a careful engineer." in prompt
        assert "## Rules" in prompt  # the prompt is shown as written


async def test_problems_of_a_messy_agents_dir_are_listed_with_file_and_line(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        panel = app.screen.query_one("#agent-problems")
        assert panel.display
        assert panel.border_title == f"Loader problems ({len(app.agent_catalog.problems)})"
        text = str(app.screen.query_one("#agent-problems-text", Static).render())
        assert "agents/broken.md:3" in text and "binary file" in text
        assert "agents/beta.md:3" in text and "not valid YAML" in text
        assert "agents/gamma.md:1" in text and "no YAML frontmatter" in text
        assert "agents/delta.md" in text and "metadata" in text
        # The broken file is skipped, the others still load.
        assert "broken" not in [a.name for a in app.screen.shown_agents]
        await pilot.press("ctrl+o")
        assert app.focused is panel


async def test_problems_panel_is_hidden_when_there_are_none(tmp_path):
    catalog = local_catalog(tmp_path)
    catalog.problems.clear()
    app = make_app(tmp_path, agent_catalog=catalog)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not app.screen.query_one("#agent-problems").display


async def test_an_agent_with_problems_says_so_in_its_preview(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.screen.select_agent("beta")
        details = str(app.screen.query_one("#agent-details", Static).render())
        assert "problem in this file" in details


async def test_enter_picks_the_agent_and_opens_its_model_table(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_models(pilot, "gamma")
        assert screen.agent.name == "gamma"
        assert app.current_agent.name == "gamma"
        assert "gamma" in screen.sub_title


async def test_clicking_an_agent_then_enter_on_the_list_picks_it(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        option_list = app.screen.query_one("#agent-list", OptionList)
        option_list.focus()
        await pilot.press("down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ModelsScreen)
        assert app.screen.agent.name == "beta"


# ---------------------------------------------------------------------------- models


async def test_model_table_lists_the_catalog_sorted_by_price_unknown_last(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_models(pilot)
        ids = [m.id for m in screen.table.shown_models]
        assert ids == [
            "ollama:llama-local",
            "openrouter:acme/small-1",
            "openai:gpt-mid",
            "anthropic:claude-sonnet-4-5",
            "openrouter:mystery/model",
        ]
        table = screen.table
        assert cell(table, "openrouter:mystery/model", "in") == "?"
        assert cell(table, "openrouter:mystery/model", "cost") == "?"
        assert cell(table, "anthropic:claude-sonnet-4-5", "in") == "$3.00"
        assert cell(table, "openai:gpt-mid", "context") == "1M"  # 1,047,576: what the vendor calls it


async def test_sort_by_price_keys_and_reverse_keep_unknown_last(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_models(pilot)
        table = screen.table
        await pilot.press("alt+n")  # sorts work from the filter...
        assert table.sort_key == "name"
        assert [m.name for m in table.shown_models][:2] == ["Acme Small", "Claude Sonnet 4.5"]
        await pilot.press("tab")  # ...and from the table
        assert app.focused is table
        await pilot.press("alt+p")
        assert table.sort_key == "price" and not table.sort_reverse
        await pilot.press("alt+p")  # same key again: most expensive first
        assert table.sort_reverse
        ids = [m.id for m in table.shown_models]
        assert ids[0] == "anthropic:claude-sonnet-4-5"
        assert ids[-1] == "openrouter:mystery/model"  # unknown price never comes first
        assert "▼" in table.columns["in"].label.plain  # the sort key shows at 80 columns
        await pilot.press("alt+c")
        assert table.shown_models[0].id == "openai:gpt-mid"  # largest context first
        summary = str(screen.query_one("#models-summary", Static).render())
        assert "context window" in summary


async def test_letters_typed_in_the_table_go_to_the_filter(tmp_path):
    """The table takes no letters (they used to sort it, and typing got lost there)."""
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_models(pilot)
        table = screen.table
        await pilot.press("tab")
        assert app.focused is table
        sort_before = table.sort_key
        await pilot.press(*"claude")
        field = screen.query_one("#model-filter", Input)
        assert field.has_focus and field.value == "claude"
        assert table.sort_key == sort_before
        await wait_for(pilot, lambda: [m.id for m in table.shown_models] == ["anthropic:claude-sonnet-4-5"], "the filter")


async def test_home_and_end_in_the_table_go_to_the_first_and_last_model(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_models(pilot)
        table = screen.table
        await pilot.press("tab")
        assert app.focused is table and table.row_count > 3
        await pilot.press("down", "down", "down")
        await pilot.press("home")
        assert table.cursor_row == 0
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1


async def test_a_long_model_id_keeps_the_detail_line_below_it_in_view(tmp_path):
    long = _model("openrouter:meta-llama/llama-3.1-8b-instruct-with-a-very-long-name", "Llama Long", 0.02, 0.05,
                  131072, True, "small")
    app = make_app(tmp_path, model_catalog=ModelCatalog([*MODELS, long]))
    async with app.run_test(size=SIZE) as pilot:  # 80x24
        screen = await open_models(pilot)
        await pilot.press(*"very-long")
        await wait_for(pilot, lambda: screen.table.highlighted_model is long, "the long model")
        await pilot.pause()
        detail = screen.query_one("#model-detail")
        assert "price as of" in str(detail.render())
        assert detail.content_region.height >= 3  # the id's line wraps at 80: the line under it stays


async def meta(pilot, key: str) -> None:
    """``key`` as a terminal that sends Esc-prefixed meta keys gives it: ``alt+n`` with the
    character ``n`` (``pilot.press`` gives no character, which hid the bug)."""
    pilot.app.post_message(events.Key(key, key.rsplit("+", 1)[-1]))
    await pilot.pause()


async def test_meta_letters_sort_from_the_filter_and_the_table_and_type_nothing(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_models(pilot)
        table = screen.table
        field = screen.query_one("#model-filter", Input)
        assert field.has_focus
        await meta(pilot, "alt+n")
        assert table.sort_key == "name" and field.value == ""
        await meta(pilot, "alt+r")
        assert table.sort_reverse and field.value == ""
        await pilot.press("tab")
        assert app.focused is table
        await meta(pilot, "alt+c")
        assert table.sort_key == "context" and field.value == ""
        assert app.focused is table  # nothing was sent to the filter
        await pilot.press("n")  # a plain letter still goes to the filter
        assert field.has_focus and field.value == "n"


async def test_the_table_sends_no_meta_letter_to_the_filter(tmp_path):
    """The table alone (no screen binding takes alt+n first): alt+letter is not typing."""
    typed: list[str] = []

    class TableApp(App[None]):
        def compose(self):
            yield ModelTable(MODELS)

        def on_model_table_typed(self, event: ModelTable.Typed) -> None:
            typed.append(event.character)

    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(ModelTable).focus()
        await meta(pilot, "alt+n")
        await meta(pilot, "ctrl+x")
        await pilot.press("x")
        assert typed == ["x"]


async def test_eighty_columns_show_price_estimate_context_and_latency(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_models(pilot)
        table = screen.table
        assert table.narrow
        keys = [str(column.key.value) for column in table.ordered_columns]
        assert keys == ["model", "in", "out", "cost", "context", "ttft", "tps", "tools", "key"]
        # Every column is in view: the table's content is no wider than the table.
        assert table.virtual_size.width <= table.scrollable_content_region.width
        assert cell(table, "anthropic:claude-sonnet-4-5", "cost") == "$0.017"
        # The rest is in the details line under the table.
        table.select_model("anthropic:claude-sonnet-4-5")
        await pilot.pause()
        detail = str(screen.query_one("#model-detail", Static).render())
        assert "anthropic:claude-sonnet-4-5" in detail and "set ANTHROPIC_API_KEY" in detail
        assert "tools yes" in detail and "frontier" in detail
    async with make_app(tmp_path).run_test(size=(160, 30)) as pilot:
        screen = await open_models(pilot)
        assert not screen.table.narrow and "provider" in [str(c.key.value) for c in screen.table.ordered_columns]


async def test_picking_a_model_without_tools_for_an_agent_with_tools_warns(tmp_path):
    app = make_app(tmp_path)
    picked: list = []
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_models(pilot)  # alpha: Read, Grep, Edit
        assert screen.fit_warnings(screen.catalog.get("openai:gpt-mid")) == []
        screen.table.select_model("openrouter:mystery/model")  # Tools: no
        app.start_session = lambda agent, model_id: picked.append(model_id)  # type: ignore[method-assign]
        await pilot.press("enter")
        await wait_for(pilot, lambda: picked or not isinstance(app.screen, ModelsScreen), "the pick")
        messages = [n.message for n in app._notifications]
        assert any("cannot use tools" in m and "not offered" in m for m in messages)


async def test_ctrl_s_cycles_the_sort_from_the_filter(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_models(pilot)
        assert isinstance(app.focused, Input)
        await pilot.press("ctrl+s")
        assert screen.table.sort_key == "cost"
        await pilot.press("ctrl+s")
        assert screen.table.sort_key == "context"
        await pilot.press("ctrl+r")
        assert screen.table.sort_reverse
        assert screen.table.shown_models[0].id == "ollama:llama-local"  # smallest context


async def test_clicking_a_column_header_sorts_by_it(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(140, 30)) as pilot:
        screen = await open_models(pilot)
        table = screen.table
        columns = table.ordered_columns
        index = next(i for i, c in enumerate(columns) if c.key.value == "context")
        x = 1 + sum(c.get_render_width(table) for c in columns[:index]) + 1
        await pilot.click(ModelTable, offset=(x, 1))
        await pilot.pause()
        assert table.sort_key == "context"


async def test_typing_filters_models_by_every_word(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_models(pilot)
        await pilot.press(*"openrouter")
        await pilot.pause()
        assert {m.id for m in screen.table.shown_models} == {"openrouter:acme/small-1", "openrouter:mystery/model"}
        await pilot.press(*" small")
        await pilot.pause()
        assert [m.id for m in screen.table.shown_models] == ["openrouter:acme/small-1"]
        await pilot.press(*"xyz")
        await pilot.pause()
        assert screen.table.shown_models == []
        assert "No model matches" in str(screen.query_one("#model-detail", Static).render())


async def test_estimated_cost_is_prompt_plus_typical_task(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_models(pilot)
        agent = app.agent_catalog.get("alpha")
        tokens = prompt_tokens(agent.prompt)
        assert screen.estimate.prompt_tokens == tokens > 0
        expected = cost(MODELS[1], tokens + TYPICAL_TASK_INPUT_TOKENS, TYPICAL_TASK_OUTPUT_TOKENS)
        assert screen.table.estimate_of("anthropic:claude-sonnet-4-5") == pytest.approx(expected)
        assert screen.table.estimate_of("openrouter:mystery/model") is None
        summary = str(screen.query_one("#models-summary", Static).render())
        assert f"{tokens:,} prompt + {TYPICAL_TASK_INPUT_TOKENS:,} task tokens" in summary


async def test_models_whose_provider_has_no_key_say_what_to_set(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 24)) as pilot:  # wide: the key column says what to set
        screen = await open_models(pilot)
        table = screen.table
        assert cell(table, "openrouter:acme/small-1", "key") == "set OPENROUTER_API_KEY"
        assert cell(table, "anthropic:claude-sonnet-4-5", "key") == "set ANTHROPIC_API_KEY"
        assert cell(table, "openai:gpt-mid", "key") == "✓"
        assert cell(table, "ollama:llama-local", "key") == "✓"
        table.select_model("openrouter:acme/small-1")
        await pilot.pause()
        assert "set OPENROUTER_API_KEY" in str(screen.query_one("#model-detail", Static).render())
        table.select_model("ollama:llama-local")
        await pilot.pause()
        assert "no key needed" in str(screen.query_one("#model-detail", Static).render())


async def test_measured_latency_comes_from_the_store(tmp_path):
    from agentic_flow.core.store.database import Store

    with Store() as store:
        for ttft, tps in ((400.0, 80.0), (600.0, 60.0), (500.0, 70.0)):
            store.record_latency("openai:gpt-mid", ttft_ms=ttft, tokens_per_s=tps)
        store.record_latency("anthropic:claude-sonnet-4-5", ttft_ms=2500.0, tokens_per_s=40.0)
    app = make_app(tmp_path, load_latency=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_models(pilot)
        table = screen.table
        assert cell(table, "openai:gpt-mid", "ttft") == "500ms"
        assert cell(table, "openai:gpt-mid", "tps") == "70"
        assert cell(table, "anthropic:claude-sonnet-4-5", "ttft") == "2.5s"
        assert cell(table, "ollama:llama-local", "ttft") == "–"  # never measured
        await pilot.press("ctrl+s", "ctrl+s", "ctrl+s")  # cost -> context -> latency
        assert table.sort_key == "latency"
        assert [m.id for m in table.shown_models][:2] == ["openai:gpt-mid", "anthropic:claude-sonnet-4-5"]
        table.select_model("openai:gpt-mid")
        await pilot.pause()
        assert "3 run(s)" in str(screen.query_one("#model-detail", Static).render())


async def test_space_marks_models_and_the_app_keeps_the_marks(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_models(pilot)
        table = screen.table
        await pilot.press("tab")
        table.select_model("openrouter:acme/small-1")
        await pilot.press("space", "down", "space")
        marked = {"openrouter:acme/small-1", "openai:gpt-mid"}
        assert table.marked == marked
        assert cell(table, "openai:gpt-mid", "model").startswith("●")
        await pilot.pause()
        assert app.marked_models == marked
        assert "2 marked" in str(screen.query_one("#models-summary", Static).render())
        await pilot.press("space")  # unmark
        await pilot.pause()
        assert app.marked_models == {"openrouter:acme/small-1"}
        await pilot.press("escape", "escape")  # focus... then back to the agents
        await pilot.pause()
        if isinstance(app.screen, ModelsScreen):
            await pilot.press("escape")
            await pilot.pause()
        assert isinstance(app.screen, AgentsScreen)
        app.open_models(app.agent_catalog.get("alpha"))
        await pilot.pause()
        assert app.screen.table.marked == {"openrouter:acme/small-1"}


async def test_escape_goes_back_to_the_agent_catalog(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_models(pilot)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, AgentsScreen)
        assert app.last_run_options is None


async def test_models_screen_answers_with_the_picked_id(tmp_path, monkeypatch):
    """The screen is reusable (e.g. to switch models mid-session): it dismisses with the id."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key-123456")
    app = make_app(tmp_path)
    answers = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.open_models(app.agent_catalog.get("beta"), on_pick=answers.append)
        await pilot.pause()
        app.screen.table.select_model("openai:gpt-mid")
        await pilot.press("enter")
        await pilot.pause()
        assert answers == ["openai:gpt-mid"]
        assert app.last_run_options is None  # on_pick replaced starting a session


# ---------------------------------------------------------------------------- snapshots


async def steady_cursor(pilot) -> None:
    """A blinking cursor would make screenshots depend on timing: keep it on."""
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


async def pick_alpha(pilot) -> None:
    await open_models(pilot, "alpha")
    await steady_cursor(pilot)


def test_snapshot_agent_catalog(snap_compare, tmp_path):
    assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=steady_cursor)


def test_snapshot_model_table(snap_compare, tmp_path):
    assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=pick_alpha)


def test_snapshot_model_table_light_theme(snap_compare, tmp_path):
    state = WorkbenchState.load(tmp_path / "state" / "tui-state.json")
    state.theme = "workbench-light"
    assert snap_compare(make_app(tmp_path, state=state), terminal_size=SIZE, run_before=pick_alpha)


def test_snapshot_agent_catalog_high_contrast(snap_compare, tmp_path):
    state = WorkbenchState.load(tmp_path / "state" / "tui-state.json")
    state.theme = "workbench-high-contrast"
    assert snap_compare(make_app(tmp_path, state=state), terminal_size=SIZE, run_before=steady_cursor)

"""The model table with models of your own: priced in settings, listed by your server
(``GET /models`` on the scripted server), typed into the filter; and keys entered in place."""

from __future__ import annotations

import stat

import yaml
from textual.widgets import Button, Input, Static

from agentic_flow.core import keys, paths
from agentic_flow.core.config import load_settings
from agentic_flow.core.models.catalog import ModelCatalog
from agentic_flow.core.runtime import Runtime
from agentic_flow.tui.screens.key_dialog import KeyDialog
from agentic_flow.tui.screens.models import ModelsScreen
from tests.llm_server import llm_server  # noqa: F401
from tests.tui.test_catalog_screens import MODELS, SIZE, cell, make_app

LAB = {"id": "lab-coder", "name": "Lab Coder", "context": 32768, "price_in": 0.2, "price_out": 0.6}


def settings_with_lab(server_url: str, models: list | None = None) -> None:
    path = paths.user_config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"kind": "openai", "base_url": server_url, "models": models if models is not None else [LAB]}
    path.write_text(yaml.safe_dump({"providers": {"lab": entry}}))


def catalog_for(workspace) -> ModelCatalog:
    """The fixed test models plus what the settings add (as the app loads it)."""
    with_settings = ModelCatalog.load(settings=load_settings(workspace).merged)
    return ModelCatalog(MODELS).with_models(m for m in with_settings if m.provider == "lab")


async def open_table(pilot, app, answers: list) -> ModelsScreen:
    await pilot.pause()
    app.open_models(app.agent_catalog.get("alpha"), on_pick=answers.append)
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, ModelsScreen)
    return screen


def detail(screen: ModelsScreen) -> str:
    return str(screen.query_one("#model-detail", Static).render())


async def test_a_lab_model_from_settings_is_listed_priced_and_picked(tmp_path, llm_server):
    settings_with_lab(llm_server.openai_url)
    app = make_app(tmp_path, model_catalog=catalog_for(tmp_path))
    answers: list = []
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_table(pilot, app, answers)
        table = screen.table
        assert cell(table, "lab:lab-coder", "model").endswith("Lab Coder yours")
        assert (cell(table, "lab:lab-coder", "in"), cell(table, "lab:lab-coder", "out")) == ("$0.20", "$0.60")
        assert cell(table, "lab:lab-coder", "cost") not in ("?", "…")  # the estimate uses its price
        assert cell(table, "lab:lab-coder", "key") == "✓"
        await pilot.press(*"lab coder")
        await pilot.pause()
        assert table.highlighted_model.id == "lab:lab-coder"
        assert "priced in your settings" in detail(screen)
        await pilot.press("enter")
        await pilot.pause()
    assert answers == ["lab:lab-coder"]


async def test_models_your_server_lists_appear_marked_discovered(tmp_path, llm_server):
    """Asked in a worker when the table opens; the app's catalog learns them (compare prices them)."""
    llm_server.models = ["lab-coder", {"id": "lab-big", "max_model_len": 65536}]
    settings_with_lab(llm_server.openai_url)
    app = make_app(tmp_path, model_catalog=catalog_for(tmp_path), discover_models=True)
    answers: list = []
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_table(pilot, app, answers)
        table = screen.table
        assert cell(table, "lab:lab-big", "model").endswith("lab-big discovered")
        assert cell(table, "lab:lab-big", "context") == "64K"
        # A listing has no price: "?" (never $0, also on this machine), its estimate too,
        # and it sorts after every priced model.
        assert [cell(table, "lab:lab-big", c) for c in ("in", "out", "cost")] == ["?", "?", "?"]
        shown = table.shown_models
        big = next(i for i, m in enumerate(shown) if m.id == "lab:lab-big")
        assert table.sort_key == "price" and big > max(i for i, m in enumerate(shown) if m.price_known)
        assert cell(table, "lab:lab-coder", "in") == "$0.20"  # your price wins over the listing
        assert app.model_catalog.get("lab:lab-big") is not None
        assert any(r.method == "GET" and r.path == "/v1/models" for r in llm_server.requests)
        table.select_model("lab:lab-big")
        await pilot.pause()
        assert "listed by your server" in detail(screen)


async def test_an_unreachable_server_of_yours_is_reported(tmp_path, llm_server):
    url = llm_server.openai_url
    llm_server.stop()
    settings_with_lab(url)
    app = make_app(tmp_path, model_catalog=catalog_for(tmp_path), discover_models=True)
    seen: list[str] = []
    original = app.notify

    def notify(message, *args, **kwargs):
        seen.append(str(message))
        return original(message, *args, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await open_table(pilot, app, [])
    assert any(m.startswith("lab: ") and "not reachable" in m for m in seen)


async def test_a_typed_provider_model_can_be_picked(tmp_path, llm_server):
    settings_with_lab(llm_server.openai_url)
    app = make_app(tmp_path, model_catalog=catalog_for(tmp_path))
    answers: list = []
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_table(pilot, app, answers)
        table = screen.table
        await pilot.press(*"lab:lab-coder-xl")
        await pilot.pause()
        assert [m.id for m in table.shown_models] == ["lab:lab-coder-xl"]
        assert cell(table, "lab:lab-coder-xl", "model").endswith("typed")
        assert cell(table, "lab:lab-coder-xl", "in") == "?"
        assert "in no catalog" in detail(screen)
        await pilot.press("enter")
        await pilot.pause()
    assert answers == ["lab:lab-coder-xl"]


async def test_a_typed_id_sits_below_the_catalog_matches_and_unknown_providers_are_not_offered(tmp_path, llm_server):
    settings_with_lab(llm_server.openai_url)
    app = make_app(tmp_path, model_catalog=catalog_for(tmp_path))
    answers: list = []
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_table(pilot, app, answers)
        table = screen.table
        await pilot.press(*"lab:lab-c")
        await pilot.pause()
        assert [m.id for m in table.shown_models] == ["lab:lab-coder", "lab:lab-c"]
        screen.query_one("#model-filter", Input).value = "nobody:model-x"
        await pilot.pause()
        assert table.shown_models == []
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ModelsScreen) and answers == []


async def test_picking_a_model_without_a_key_offers_to_enter_it_for_the_session(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    keys.forget_session_keys()
    app = make_app(tmp_path)
    answers: list = []
    try:
        async with app.run_test(size=(160, 24)) as pilot:  # wide: the key column says what to set
            screen = await open_table(pilot, app, answers)
            table = screen.table
            assert cell(table, "openai:gpt-mid", "key") == "set OPENAI_API_KEY"
            table.select_model("openai:gpt-mid")
            await pilot.press("enter")
            await pilot.pause()
            dialog = app.screen
            assert isinstance(dialog, KeyDialog)
            assert "OPENAI_API_KEY is not set" in str(dialog.query_one("#key-title", Static).render())
            await pilot.press(*"sk-typed-in-the-app-0123456789")
            await pilot.click("#key-session")
            await pilot.pause()
            assert answers == ["openai:gpt-mid"]  # the pick went on
            assert Runtime.key_status("openai", None) is None
            assert not paths.user_config_file().exists()  # nothing written
    finally:
        keys.forget_session_keys()


async def test_a_key_can_be_saved_to_the_config_file_with_ctrl_k(tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    keys.forget_session_keys()
    app = make_app(tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_table(pilot, app, [])
            screen.table.select_model("anthropic:claude-sonnet-4-5")
            await pilot.press("ctrl+k")
            await pilot.pause()
            assert isinstance(app.screen, KeyDialog)
            await pilot.press(*"sk-ant-saved-0123456789abcdef")
            app.screen.query_one("#key-save", Button).press()
            await pilot.pause()
            assert isinstance(app.screen, ModelsScreen)
            assert cell(screen.table, "anthropic:claude-sonnet-4-5", "key") == "✓"
        path = paths.user_config_file()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert yaml.safe_load(path.read_text()) == {"providers": {"anthropic": {"api_key": "sk-ant-saved-0123456789abcdef"}}}
        assert app.settings.merged.providers["anthropic"].api_key is not None  # the app re-read its settings
    finally:
        keys.forget_session_keys()


async def test_escape_in_the_key_dialog_goes_back_to_the_table(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    app = make_app(tmp_path)
    answers: list = []
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_table(pilot, app, answers)
        screen.table.select_model("openai:gpt-mid")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, KeyDialog)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and answers == []

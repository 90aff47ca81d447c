"""The README's Quick start in the workbench, with no API key: Enter on the agent, Enter on
the model (the embedded one is preselected), a question — and a sensible answer.

Marked ``local``: it runs the real embedded model (the ``[local]`` extra).
"""

from __future__ import annotations

import pytest

from agentic_flow.core.local import server as local
from agentic_flow.tui.app import WorkbenchApp
from agentic_flow.tui.screens.models import ModelsScreen
from agentic_flow.tui.state import WorkbenchState
from tests.tui.session_fakes import wait_for
from tests.tui.test_session_screen import all_text, idle, open_session, send

pytestmark = [
    pytest.mark.local,
    pytest.mark.skipif(local.local_status() is not None, reason="the local extra is not installed"),
]


async def test_enter_enter_and_a_question_get_a_sensible_first_answer(tmp_path):
    app = WorkbenchApp(workspace=tmp_path, state=WorkbenchState.load(tmp_path / "state.json"), load_latency=False,
                       discover_models=False)
    try:
        async with app.run_test(size=(100, 40)) as pilot:
            await pilot.pause()
            await pilot.press("enter")  # coder, highlighted
            await wait_for(pilot, lambda: isinstance(app.screen, ModelsScreen), "the model table")
            assert app.screen.table.highlighted_model.id == "local:smollm2-135m-instruct"
            await pilot.press("enter")
            screen = await open_session(pilot)
            await send(pilot, "What is 2+2?")
            await idle(pilot)
            text = all_text(screen)
            assert "4" in text.split("What is 2+2?", 1)[1], text
    finally:
        await local.stop_local_server()

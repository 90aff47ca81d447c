"""Suite-wide fixtures: every test runs with its own AGENTIC_FLOW_HOME and no API keys."""

from __future__ import annotations

import pytest

from agentic_flow.core.redact import KNOWN_KEY_VARS as KEY_VARS


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Never touch the real home: config, data and cache live in a temp dir."""
    home = tmp_path_factory.mktemp("af-home")
    monkeypatch.setenv("AGENTIC_FLOW_HOME", str(home))
    for var in KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    yield home

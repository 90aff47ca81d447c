"""Where agentic-flow keeps its state.

``AGENTIC_FLOW_HOME`` relocates everything (config, data, cache) under one folder; tests
always set it. Otherwise the platform's standard dirs are used (platformdirs).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["config_dir", "data_dir", "cache_dir", "user_config_file", "project_settings_file"]

APP_NAME = "agentic-flow"


def _home() -> Path | None:
    value = os.environ.get("AGENTIC_FLOW_HOME")
    return Path(value).expanduser() if value else None


def config_dir() -> Path:
    """Folder of the user config file (``config.yaml``) and user agents."""
    home = _home()
    if home is not None:
        return home
    # lazy: platformdirs only when AGENTIC_FLOW_HOME is unset
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME))


def data_dir() -> Path:
    """Folder of the SQLite store and other state worth keeping."""
    home = _home()
    if home is not None:
        return home / "data"
    # lazy: platformdirs only when AGENTIC_FLOW_HOME is unset
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME))


def cache_dir() -> Path:
    """Folder of caches that can be rebuilt (model list refreshes)."""
    home = _home()
    if home is not None:
        return home / "cache"
    # lazy: platformdirs only when AGENTIC_FLOW_HOME is unset
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME))


def user_config_file() -> Path:
    return config_dir() / "config.yaml"


def project_settings_file(workspace: Path | None = None) -> Path:
    """The project's settings file; "always allow" rules are written here."""
    return (workspace or Path.cwd()) / ".agentic-flow" / "settings.yaml"

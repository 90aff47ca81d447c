"""Themes as data: YAML files in ``themes/`` turned into registered Textual themes.

Each file holds the fields of :class:`textual.theme.Theme` (``name``, ``dark``,
``primary``, ``background``, ..., and ``variables`` for Textual's CSS variables). The
bundled folder ships ``workbench-dark``, ``workbench-light`` and
``workbench-high-contrast``; files in ``<config dir>/themes`` are loaded after it, so a
user can add themes or replace a bundled one by reusing its name.

A file that cannot be used (bad YAML, unknown key, a colour Textual cannot parse) is
skipped and reported, so one broken theme never stops the workbench from opening.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from textual.color import Color, ColorParseError
from textual.theme import Theme

import agentic_flow.themes as _bundled
from agentic_flow.core.paths import config_dir

if TYPE_CHECKING:  # pragma: no cover
    from textual.app import App

__all__ = [
    "DEFAULT_THEME",
    "LoadedThemes",
    "bundled_themes_dir",
    "user_themes_dir",
    "load_theme_file",
    "load_themes",
    "register_themes",
]

DEFAULT_THEME = "workbench-dark"
"""The theme used when none was chosen (or the chosen one is gone)."""

_FIELDS = {f.name for f in dataclasses.fields(Theme)}
_COLOR_FIELDS = ("primary", "secondary", "warning", "error", "success", "accent",
                 "foreground", "background", "surface", "panel", "boost")


@dataclass
class LoadedThemes:
    """Themes read from the theme folders, in load order, plus each problem met."""

    themes: list[Theme] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [theme.name for theme in self.themes]


def bundled_themes_dir() -> Path:
    """The top-level ``themes/`` folder shipped with the project."""
    return Path(_bundled.__file__).resolve().parent


def user_themes_dir() -> Path:
    """Where a user's own theme files go (``<config dir>/themes``)."""
    return config_dir() / "themes"


def load_theme_file(path: Path) -> Theme:
    """One theme file as a :class:`Theme`.

    Raises:
        ValueError: the file is unreadable, not YAML, or not a valid theme; the message
            names the file and what to fix.
    """
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ValueError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from exc
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: a theme file holds 'key: value' lines (name, primary, ...)")
    unknown = sorted(set(map(str, doc)) - _FIELDS)
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_FIELDS))}")
    data: dict[str, Any] = dict(doc)
    data.setdefault("name", path.stem)
    if not isinstance(data["name"], str) or not data["name"].strip():
        raise ValueError(f"{path}: 'name' must be text")
    if "primary" not in data:
        raise ValueError(f"{path}: 'primary' (the main colour) is required")
    for key in _COLOR_FIELDS:
        value = data.get(key)
        if value is None:
            continue
        try:
            Color.parse(str(value))
        except ColorParseError as exc:
            raise ValueError(f"{path}: {key} {value!r} is not a colour ({exc})") from exc
        data[key] = str(value)
    variables = data.get("variables") or {}
    if not isinstance(variables, dict):
        raise ValueError(f"{path}: 'variables' must be a mapping of CSS variable -> value")
    data["variables"] = {str(k): str(v) for k, v in variables.items()}
    for key in ("dark", "ansi"):
        if key in data and not isinstance(data[key], bool):
            raise ValueError(f"{path}: '{key}' must be true or false")
    for key in ("luminosity_spread", "text_alpha"):
        if key in data and not isinstance(data[key], (int, float)):
            raise ValueError(f"{path}: '{key}' must be a number")
    return Theme(**data)


def load_themes(dirs: list[Path] | None = None) -> LoadedThemes:
    """Every ``*.yaml``/``*.yml`` theme in ``dirs`` (default: bundled, then user).

    A later file with the same name replaces an earlier one.
    """
    folders = dirs if dirs is not None else [bundled_themes_dir(), user_themes_dir()]
    result = LoadedThemes()
    by_name: dict[str, Theme] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        for path in files:
            try:
                theme = load_theme_file(path)
            except ValueError as exc:
                result.problems.append(f"theme skipped: {exc}")
                continue
            by_name[theme.name] = theme
    result.themes = list(by_name.values())
    return result


def register_themes(app: App[Any], loaded: LoadedThemes | None = None) -> LoadedThemes:
    """Register the themes from the theme folders with ``app``; returns what was loaded."""
    loaded = loaded if loaded is not None else load_themes()
    for theme in loaded.themes:
        app.register_theme(theme)
    return loaded

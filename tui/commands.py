"""Command palette entries for every workbench action.

Commands are data (:class:`PaletteCommand`: name, help, callback) gathered fresh each
time the palette opens, from three places, in this order:

1. the active screen, if it has a ``palette_commands()`` method (duck-typed — see
   :class:`CommandSource`); the agent catalog and model table screens do;
2. commands registered on the app with ``WorkbenchApp.register_command`` (optionally
   only for one screen class) — the hook for screens built elsewhere;
3. the app's own commands (themes, open agents, open models, quit).

:class:`WorkbenchCommands` is the Textual ``Provider`` that shows them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider

__all__ = ["PaletteCommand", "CommandSource", "PaletteProvider", "WorkbenchCommands"]


@dataclass(frozen=True)
class PaletteCommand:
    """One palette entry.

    Attributes:
        name: what the user types and sees, e.g. ``"Models: sort by price"``.
        help: one line under the name saying what it does.
        callback: called with no arguments when the command is chosen.
        discover: listed when the palette opens with nothing typed yet.
    """

    name: str
    help: str
    callback: Callable[[], Any]
    discover: bool = True


@runtime_checkable
class CommandSource(Protocol):
    """Anything (usually a screen) that offers palette commands while it is active."""

    def palette_commands(self) -> Iterable[PaletteCommand]: ...


class PaletteProvider(Provider):
    """A palette provider listing :class:`PaletteCommand` objects; subclasses say which."""

    def _commands(self) -> list[PaletteCommand]:
        raise NotImplementedError

    async def discover(self) -> Hits:
        for command in self._commands():
            if command.discover:
                yield DiscoveryHit(command.name, command.callback, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.name)
            if score > 0:
                yield Hit(score, matcher.highlight(command.name), command.callback, help=command.help)


class WorkbenchCommands(PaletteProvider):
    """Shows the app's :meth:`palette_commands` for the screen the palette was opened on."""

    def _commands(self) -> list[PaletteCommand]:
        getter = getattr(self.app, "palette_commands", None)
        if getter is None:
            return []
        return list(getter(self.screen))

"""Options a command takes both before and after its ACTION.

``agentic-flow agents --json list`` must mean ``agentic-flow agents list --json``. Plain
argparse gets this wrong: the command's parser stores ``--json``, then the ACTION's
parser parses the rest into a fresh namespace holding *its* defaults and copies all of
it back, so ``json=False`` overwrites what was given before the ACTION.

:class:`CommandParser` (the class of every top-level command's parser) fixes it in one
place. Before its first parse it gives every option it shares with its ACTION parsers
(same ``dest``) the default ``argparse.SUPPRESS`` — in both — so a namespace holds only
what was given, in either position; after parsing it applies each default once (the
ACTION's own default when it has one), and refuses an option given before an ACTION
that does not take it (``models --json refresh``) instead of dropping it. Mutually
exclusive options (``audit --json list --csv``) are checked across both positions.
"""

from __future__ import annotations

import argparse
from typing import Any, Sequence

__all__ = ["CommandParser"]


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The parser's options (``--flag``), without ``-h/--help``."""
    return [
        a for a in parser._actions
        if a.option_strings and not isinstance(a, argparse._HelpAction) and a.dest is not argparse.SUPPRESS
    ]


def _flag(action: argparse.Action) -> str:
    return max(action.option_strings, key=len)  # --output, not -o


class CommandParser(argparse.ArgumentParser):
    """The parser of one command (``agents``, ``sessions``, ...): see the module doc."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shared: "_Shared | None" = None

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._shared is None:
            self._shared = _Shared(self)  # once every option is added: the first parse
        parsed, extras = super().parse_known_args(args, namespace)
        self._shared.finish(parsed)
        return parsed, extras


class _Shared:
    """The command's options and its ACTION parsers, their defaults taken out for :meth:`finish`."""

    def __init__(self, command: argparse.ArgumentParser) -> None:
        self.command = command
        subparsers = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
        self.action_dest: str | None = subparsers[0].dest if subparsers else None
        self.actions: dict[str, argparse.ArgumentParser] = dict(subparsers[0].choices) if subparsers else {}
        self.options = _options(command) if subparsers else []
        self.defaults: dict[str, Any] = {}  # dest -> the command's default
        self.action_defaults: dict[tuple[str, str], Any] = {}  # (ACTION, dest) -> that ACTION's default
        self.action_dests: dict[str, set[str]] = {}  # ACTION -> the dests it takes
        for option in self.options:
            self.defaults[option.dest] = option.default
            option.default = argparse.SUPPRESS
        for name, parser in self.actions.items():
            self.action_dests[name] = set()
            for option in _options(parser):
                self.action_dests[name].add(option.dest)
                if option.dest in self.defaults:
                    self.action_defaults[(name, option.dest)] = option.default
                    option.default = argparse.SUPPRESS

    def finish(self, namespace: argparse.Namespace) -> None:
        if not self.options:
            return
        action: str = getattr(namespace, self.action_dest or "", None) or ""  # "": none given
        parser = self.actions.get(action)
        given = {o.dest for o in self.options if hasattr(namespace, o.dest)}
        if parser is not None:
            for option in self.options:
                if option.dest in given and option.dest not in self.action_dests[action]:
                    parser.error(f"{_flag(option)} does not apply to `{parser.prog}`")
        for group in [*self.command._mutually_exclusive_groups, *(parser._mutually_exclusive_groups if parser else [])]:
            both = [a for a in group._group_actions if a.dest in given]
            if len(both) > 1:
                (parser or self.command).error(f"argument {_flag(both[1])}: not allowed with argument {_flag(both[0])}")
        for option in self.options:
            if option.dest not in given:
                default = self.action_defaults.get((action, option.dest), self.defaults[option.dest])
                setattr(namespace, option.dest, default)

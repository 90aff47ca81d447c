"""``agentic-flow`` command line.

The parser is built here with no heavy imports, so ``agentic-flow --help`` is fast;
each command's module is imported only when that command runs, and the Textual app
only when the workbench opens.

Exit codes (also in ``--help``):
  0 success · 1 error · 2 usage error · 3 configuration error · 4 provider error
  (missing/refused key, unknown model, server down) · 5 the answer was cut off (the stream
  dropped, or the token limit) ·
  130 interrupted (Ctrl-C) · 141 stdout closed by its reader · 143 terminated (SIGTERM)
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence, cast

from agentic_flow.core import __version__
from agentic_flow.core.cli.catalogs import cmd_agents, cmd_models
from agentic_flow.core.cli.checks import url_problem, workspace_problem
from agentic_flow.core.cli.exit_codes import (
    EXIT_CONFIG,
    EXIT_CUT_OFF,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PIPE,
    EXIT_PROVIDER,
    EXIT_USAGE,
)
from agentic_flow.core.cli.extra import add_extra_commands, dispatch_extra
from agentic_flow.core.cli.output import err, silence_stdout
from agentic_flow.core.cli.parsing import CommandParser
from agentic_flow.core.cli.permissions import add_permissions_command, cmd_permissions
from agentic_flow.core.errors import (
    AgenticFlowError,
    ConfigError,
    ProviderError,
    UnknownModel,
)
from agentic_flow.core.logs import setup_logging

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_ERROR", "EXIT_USAGE", "EXIT_CONFIG", "EXIT_PROVIDER", "EXIT_CUT_OFF"]


EPILOG = """\
exit codes:
  0 success, 1 error, 2 usage error, 3 configuration error,
  4 provider error (missing or refused key, unknown model, server down),
  5 the answer was cut off (the stream dropped, or the token limit), 130 interrupted
  (Ctrl-C), 141 stdout closed by its reader (`| head`), 143 terminated (SIGTERM)

examples:
  agentic-flow                                   open the workbench
  agentic-flow run --agent coder --task "add a --verbose flag" --model openrouter:deepseek/deepseek-chat
  echo "explain this repo" | agentic-flow run --model anthropic:claude-sonnet-4-5
  agentic-flow models --sort price
  agentic-flow agents list
  agentic-flow doctor                            what the command sandbox allows here
  agentic-flow permissions explain "git push -f"  how a command is read and which rule decides it
"""


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", "-m", help="PROVIDER:MODEL, e.g. openrouter:meta-llama/llama-3.1-8b-instruct")
    p.add_argument("--agent", "-a", help="agent name from the catalog (default: settings default_agent, else coder)")
    p.add_argument("--agents-dir", metavar="DIR", help="extra agents folder, searched before all others")
    p.add_argument("--base-url", metavar="URL", help="send requests to this server instead of the provider's default")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    _add_model_options(p)
    p.add_argument("--task", "-t", help="the task; read from stdin when omitted and stdin is not a terminal")
    p.add_argument("--system", metavar="TEXT", help="replace the agent's system prompt with TEXT")
    p.add_argument("--max-tokens", type=int, metavar="N", help="maximum tokens the model may write per turn")
    p.add_argument("--temperature", type=float, metavar="T", help="sampling temperature (0-2)")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="read timeout: longest silence allowed from the server (default 120)")
    p.add_argument("--retry", type=int, metavar="N", help="retries on connect errors, 429 and 5xx before the first token (default 3)")
    p.add_argument("--max-turns", type=int, metavar="N", help="stop after N model turns (default 25)")
    p.add_argument(
        "--approve",
        choices=["ask", "auto", "accept-edits", "read-only", "deny"],
        help="who approves tool calls: ask (a person at this terminal; denied when there is none), "
        "auto, accept-edits, read-only (permission modes), deny (deny everything that would ask)",
    )
    p.add_argument("--json", action="store_true", help="print every event as one JSON line instead of the text")
    p.add_argument("--output", "-o", metavar="FILE", help="also write the final answer (Markdown) to FILE")
    p.add_argument("--resume", metavar="SESSION", help="continue a stored session (id or unique prefix)")
    p.add_argument("--no-tools", action="store_true", help="offer the model no tools")
    p.add_argument(
        "--trust-mcp",
        action="append",
        default=[],
        metavar="NAME",
        help="start the workspace's MCP server NAME (.mcp.json) this run without a remembered approval; repeatable",
    )
    p.add_argument("--workspace", metavar="DIR", help="workspace root for file tools and commands (default: current dir)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentic-flow",
        description="A terminal workbench for running coding agents on any LLM provider. "
        "With no command it opens the workbench; with --task it runs headless (like `run`).",
        epilog=_workbench_help() + EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    parser.add_argument("--version", action="version", version=f"agentic-flow {__version__}")
    # CommandParser: a command's options work before and after its ACTION (agents --json list)
    sub = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser),
    )

    run = sub.add_parser("run", help="run an agent on a task headless and stream the answer", epilog=EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_run_options(run)

    models = sub.add_parser("models", help="list the model catalog, or refresh it from OpenRouter")
    models_sub = models.add_subparsers(dest="models_command", metavar="ACTION")
    models_list = models_sub.add_parser("list", help="print the model table (default)")
    for p in (models, models_list):
        p.add_argument("--sort", choices=["name", "price", "context", "latency"], default=None, help="sort the table")
        p.add_argument("--json", action="store_true", help="print JSON")
        p.add_argument("--search", metavar="TEXT", help="only models whose id or name contains TEXT")
        p.add_argument(
            "--offline", action="store_true",
            help="do not ask your OpenAI-compatible servers (GET /models); use what they listed last time",
        )
    refresh = models_sub.add_parser("refresh", help="update OpenRouter models and prices (cached for offline use)")
    refresh.add_argument(
        "--base-url", default=None,
        help="OpenRouter API base URL (default: providers.openrouter.base_url in settings, else https://openrouter.ai/api/v1)",
    )
    refresh.add_argument("--timeout", type=float, default=30.0, help="seconds to wait (default 30)")
    refresh.add_argument("--latency-for", metavar="A,B,...",
                         help="also fetch OpenRouter's published latency for these models (author/slug)")
    refresh.add_argument("--no-latency", action="store_true", help="skip OpenRouter's published per-endpoint latency")

    agents = sub.add_parser("agents", help="list or show agents from the catalog")
    agents_sub = agents.add_subparsers(dest="agents_command", metavar="ACTION")
    agents_list = agents_sub.add_parser("list", help="table of agents and loader problems (default)")
    for p in (agents, agents_list):
        p.add_argument("--json", action="store_true", help="print JSON")
        p.add_argument("--agents-dir", metavar="DIR", help="extra agents folder, searched first")
    show = agents_sub.add_parser("show", help="show one agent: description, tools, prompt")
    show.add_argument("name")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.add_argument("--agents-dir", metavar="DIR", help="extra agents folder, searched first")

    doctor = sub.add_parser("doctor", help="report the command sandbox (Landlock, network, writable paths) and MCP servers")
    doctor.add_argument("--workspace", metavar="DIR", help="the project folder (default: current dir)")

    add_permissions_command(sub)
    add_extra_commands(sub)
    return parser


def _short_form(argv: list[str]) -> bool:
    """``agentic-flow --agent X --task ... --model Y`` is ``run``."""
    return any(a == "--task" or a.startswith("--task=") or a == "-t" for a in argv)


WorkbenchOpener = Callable[[argparse.Namespace], int]
"""Opens the interactive workbench with the parsed options; returns the exit code.

The core cannot open it itself (it never imports the UI): the entry point above both
layers, :func:`agentic_flow.main.main`, passes one in.
"""


def main(argv: Sequence[str] | None = None, open_workbench: WorkbenchOpener | None = None) -> int:
    """Run the command line; with no command, open the workbench through ``open_workbench``."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] not in ("-h", "--help", "--version") and args_list[0].startswith("-"):
        if _short_form(args_list):
            args_list = ["run", *args_list]
        else:
            return _open_workbench(args_list, open_workbench)
    if not args_list:
        return _open_workbench([], open_workbench)
    parser = build_parser()
    args, extras = parser.parse_known_args(args_list)
    if extras:  # said by the command's own parser: its usage line, not the top level's
        _parser_of(parser, args).error(f"unrecognized arguments: {' '.join(extras)}")

    setup_logging()
    try:
        return _dispatch(args, parser)
    except KeyboardInterrupt:
        print("\nagentic-flow: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `agentic-flow models | head -1`: the reader has what it wanted
        silence_stdout()
        return EXIT_PIPE


def _parser_of(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the command (and ACTION) ``args`` were parsed for."""
    current = parser
    while True:
        sub = next((a for a in current._actions if isinstance(a, argparse._SubParsersAction)), None)
        name = getattr(args, sub.dest, None) if sub is not None else None
        if sub is None or name not in sub.choices:
            return current
        current = sub.choices[name]


def _dispatch(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:

    try:
        if args.command == "run":
            # lazy: each command loads only what it runs (`--help` stays fast)
            from agentic_flow.core.cli.run import cmd_run

            return cmd_run(args)
        if args.command == "models":

            return cmd_models(args)
        if args.command == "agents":

            return cmd_agents(args)
        if args.command == "doctor":
            # lazy: each command loads only what it runs (`--help` stays fast)
            from agentic_flow.core.cli.doctor import cmd_doctor

            return cmd_doctor(args)

        if args.command == "permissions":

            return cmd_permissions(args)

        result = dispatch_extra(args)
        if result is None:
            parser.print_help()
            return EXIT_USAGE
        return result
    except ConfigError as exc:
        err(str(exc))
        return EXIT_CONFIG
    except AgenticFlowError as exc:
        err(str(exc))

        return EXIT_PROVIDER if isinstance(exc, (ProviderError, UnknownModel)) else EXIT_ERROR


def _session_to_open(args: argparse.Namespace) -> tuple[str | None, bool]:
    """``-c`` / ``-r [ID]``: the full id of the session to open, and whether to show the
    session picker first (``-r`` without an id). Unknown ids fail here, before any UI."""
    if not args.continue_last and args.resume is None:
        return None, False
    from pathlib import Path  # lazy: only -c / -r need it

    from agentic_flow.core.store.database import Store  # lazy: only -c / -r read the store

    store = Store()
    if args.resume:
        return store.get_session(args.resume).id, False
    if args.resume == "":
        return None, True
    workspace = Path(args.workspace or ".").expanduser().resolve()
    rows = store.list_sessions(limit=1, workspace=workspace)
    if not rows:
        raise AgenticFlowError(
            f"no session to continue in {workspace}: start one with `agentic-flow`, "
            "or pick any with `agentic-flow -r`"
        )
    return rows[0].id, False


def _workbench_parser() -> argparse.ArgumentParser:
    """Options of the workbench itself (``agentic-flow [options]``, no command)."""
    parser = argparse.ArgumentParser(prog="agentic-flow", description="Open the workbench.")
    _add_model_options(parser)
    parser.add_argument("--workspace", metavar="DIR", help="workspace root (default: current dir)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "-c", "--continue", dest="continue_last", action="store_true",
        help="continue the last session of this workspace",
    )
    which.add_argument(
        "-r", "--resume", nargs="?", const="", default=None, metavar="ID",
        help="resume session ID (id or unique prefix); without ID, pick one from a list",
    )
    return parser


def _workbench_help() -> str:
    """The workbench's options as the top-level ``--help`` lists them (from its parser)."""
    text = _workbench_parser().format_help()
    options = text[text.index("options:") + len("options:"):]
    lines = [line for line in options.splitlines() if line.strip() and "-h, --help" not in line
             and "show this help message" not in line]
    return "workbench options (agentic-flow [OPTIONS], no command):\n" + "\n".join(lines) + "\n\n"


def _open_workbench(argv: list[str], opener: WorkbenchOpener | None) -> int:
    parser = _workbench_parser()
    args = parser.parse_args(argv)
    problem = workspace_problem(args.workspace) or url_problem(args.base_url)
    if problem is not None:
        err(problem)
        return EXIT_USAGE
    try:
        args.resume, args.pick_session = _session_to_open(args)
    except AgenticFlowError as exc:
        err(str(exc))
        return EXIT_ERROR

    if opener is None:
        err("the workbench is not available here; use `agentic-flow run --task ...` (see --help)")
        return EXIT_USAGE
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        err(
            "the workbench needs a terminal (stdin and stdout are not one). "
            "For scripts and pipes use `agentic-flow run --task ...` (see `agentic-flow run --help`)."
        )
        return EXIT_USAGE
    setup_logging()
    try:
        return opener(args)
    except ConfigError as exc:
        err(str(exc))
        return EXIT_CONFIG

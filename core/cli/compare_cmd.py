"""``agentic-flow compare``: N models on one task, and ``compare apply`` / ``compare diff``.

By default each model runs the agent *with its tools* in its own isolated copy of the
workspace (:mod:`core.compare.agentic`); ``--no-tools`` is the text-only comparison of
answers (:mod:`core.compare.runner`). Results go to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentic_flow.core.cli.checks import seconds_problem, url_problem, workspace_problem
from agentic_flow.core.cli.exit_codes import (
    EXIT_CONFIG,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PROVIDER,
    EXIT_USAGE,
)
from agentic_flow.core.cli.output import err, warn
from agentic_flow.core.cli.task_input import read_task
from agentic_flow.core.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.compare.options import CallOptions

__all__ = ["add_compare_command", "cmd_compare", "COMPARE_EPILOG"]

COMPARE_EPILOG = """\
examples:
  agentic-flow compare --agent coder --models openrouter:deepseek/deepseek-chat,anthropic:claude-sonnet-4-5 \\
      --task "make the failing test in tests/test_dates.py pass" --check "pytest -q"
  agentic-flow compare diff deepseek          # the diff one model made
  agentic-flow compare apply deepseek         # apply it to this workspace (asks per file)
  agentic-flow compare --no-tools --models a:x,b:y --task "..." --runs 3 --csv -o results.csv

By default every model runs the agent with its tools, each in its own copy of the
workspace (a git worktree at HEAD plus your uncommitted changes, or a temp copy honouring
.gitignore), under the permission engine and the sandbox with the headless policy of
--approve (default accept-edits: edits in the copy are allowed, whatever would ask is
denied). --check CMD then runs in each copy (deny rules still apply; it runs in the
sandbox). Your workspace is untouched until `compare apply MODEL`; the copies are removed
unless --keep. --no-tools compares plain answers instead (--check then runs on the code
blocks of each answer). Exit 0 when at least one model finished, 4 when none did."""

_AGENT_POLICIES = ("accept-edits", "auto", "deny", "read-only")
_TEXT_POLICIES = ("ask", "auto", "deny")


def add_compare_command(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    c = sub.add_parser(
        "compare", help="run an agent (or a prompt) on several models at once and compare them",
        epilog=COMPARE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.add_argument("action", nargs="?", choices=["apply", "diff"], help="apply or show one model's diff")
    c.add_argument("target", nargs="?", metavar="MODEL", help="for apply/diff: the model (id or a unique part)")
    c.add_argument("--models", "-M", metavar="A,B,...", help="comma-separated PROVIDER:MODEL ids")
    c.add_argument("--task", "-t", help="the task; read from stdin when omitted and stdin is not a terminal")
    c.add_argument("--agent", "-a", help="the agent (default: settings default_agent, else coder)")
    c.add_argument("--agents-dir", metavar="DIR", help="extra agents folder, searched first")
    c.add_argument("--no-tools", action="store_true", help="text-only: compare answers, no tools, no copies")
    c.add_argument("--workspace", metavar="DIR", help="the workspace to copy / apply to (default: current dir)")
    c.add_argument("--keep", action="store_true", help="keep each model's copy of the workspace (paths printed)")
    c.add_argument("--max-turns", type=int, metavar="N", help="stop each agent after N model turns (default 25)")
    c.add_argument("--runs", type=int, default=1, metavar="K", help="runs per model; figures become median (min-max)")
    fmt = c.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print the full result as JSON")
    fmt.add_argument("--csv", action="store_true", help="print one CSV row per model run")
    fmt.add_argument("--md", action="store_true", help="print a Markdown table to paste into a PR")
    c.add_argument(
        "--output", "-o", metavar="FILE", help="write the result to FILE (format from the flag or the extension)"
    )
    c.add_argument("--check", metavar="CMD", help="agents: run CMD in each copy afterwards; --no-tools: on the code blocks")
    c.add_argument(
        "--check-timeout", type=float, default=30.0, metavar="SECONDS", help="limit for --check (default 30)"
    )
    c.add_argument(
        "--approve", choices=["ask", "accept-edits", "auto", "deny", "read-only"],
        help="agents: the headless policy (accept-edits, auto, deny, read-only; default accept-edits); "
        "apply: who approves the files (default ask: a person; denied headless); --no-tools: --check's approval",
    )
    c.add_argument("--id", dest="compare_id", metavar="ID", help="apply/diff: which comparison (default: the latest)")
    c.add_argument("--run", type=int, metavar="N", help="apply/diff: which run of the model (with --runs K)")
    c.add_argument("--timeout", type=float, metavar="SECONDS", help="longest a model's run may take (default: none)")
    c.add_argument("--retry", type=int, metavar="N", help="retries on connect errors, 429 and 5xx (default 3)")
    c.add_argument("--base-url", metavar="URL", help="send every model's requests to this server")
    c.add_argument("--max-tokens", type=int, metavar="N", help="maximum tokens each model may write per turn")
    c.add_argument("--temperature", type=float, metavar="T", help="sampling temperature (0-2)")
    c.add_argument("--no-answers", action="store_true", help="leave the answers out of --md output")


def _interactive() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty() and sys.stderr.isatty()
    except (ValueError, OSError):
        return False


def _format(args: argparse.Namespace) -> str | None:
    for flag, name in (("json", "json"), ("csv", "csv"), ("md", "md")):
        if getattr(args, flag):
            return name
    if args.output:
        suffix = Path(args.output).suffix.lower()
        return {".json": "json", ".csv": "csv", ".md": "md", ".markdown": "md"}.get(suffix, "md")
    return None


def _usage_error(args: argparse.Namespace) -> str | None:
    if args.runs < 1:
        return "--runs must be 1 or more"
    problem = (
        seconds_problem(args.timeout) or seconds_problem(args.check_timeout, "--check-timeout")
        or url_problem(args.base_url)
    )
    if problem:
        return problem
    if args.retry is not None and args.retry < 0:
        return "--retry must be 0 or more"
    if args.max_tokens is not None and args.max_tokens <= 0:
        return "--max-tokens must be a positive number"
    if args.max_turns is not None and args.max_turns <= 0:
        return "--max-turns must be a positive number"
    if args.temperature is not None and not 0 <= args.temperature <= 2:
        return "--temperature must be between 0 and 2"
    if args.no_tools:
        if args.approve and args.approve not in _TEXT_POLICIES:
            return f"--approve {args.approve} applies to agent runs; with --no-tools use one of {', '.join(_TEXT_POLICIES)}"
        if args.keep:
            return "--keep keeps the agents' copies of the workspace; --no-tools makes none"
    elif args.approve and args.approve not in _AGENT_POLICIES:
        return (
            f"--approve {args.approve} needs a person, and agent runs are unattended; "
            f"use one of {', '.join(_AGENT_POLICIES)}"
        )
    return None


def _progress_line(done: int, total: int, run: Any) -> str:
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.models.catalog import format_cost

    head = f"[{done}/{total}] {run.model_id}"
    if run.status != "ok":
        return f"{head}: failed — {run.error}"
    parts = [f"ttft {run.ttft_s:.2f}s" if run.ttft_s is not None else "ttft -"]
    if run.turns is not None:
        parts.append(f"{run.turns} turn{'s' if run.turns != 1 else ''}")
        parts.append(f"tools {run.tool_calls_summary}")
        parts.append(f"wall {run.total_s:.2f}s" if run.total_s is not None else "wall -")
        parts.append(f"cost {format_cost(run.cost)}")
        parts.append(f"diff {run.diff_summary}")
        if run.checks.command is not None:
            parts.append(f"check {run.checks.command.summary()}")
        if run.copy_path:
            parts.append(f"kept in {run.copy_path}")
        return f"{head}: done — " + " · ".join(parts)
    if run.tokens_per_s is not None:
        parts.append(f"{run.tokens_per_s:.0f} tok/s")
    if run.total_s is not None:
        parts.append(f"total {run.total_s:.2f}s")
    parts.append(f"cost {format_cost(run.cost)}")
    parts.append(run.checks.summary())
    return f"{head}: done — " + " · ".join(parts)


def cmd_compare(args: argparse.Namespace) -> int:
    problem = workspace_problem(args.workspace)
    if problem:
        err(problem)
        return EXIT_USAGE
    if args.action in ("apply", "diff"):
        return _apply_or_diff(args)
    if args.target:
        err(f"unexpected argument {args.target!r}: only `compare apply MODEL` and `compare diff MODEL` take one")
        return EXIT_USAGE
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.compare.runner import parse_models

    problem = _usage_error(args)
    if problem is None and not args.models:
        problem = "--models is required: --models PROVIDER:MODEL,PROVIDER:MODEL,..."
    task = read_task(args.task, sys.stdin) if problem is None else None
    if problem is None and not task:
        problem = 'no task: pass --task "..." or pipe it on stdin'
    if problem is not None or not task:
        err(problem or "no task")
        return EXIT_USAGE
    try:
        models = parse_models(args.models)
    except ConfigError as exc:
        err(str(exc))
        return EXIT_USAGE
    workspace = Path(args.workspace or ".").resolve()  # a folder: checked above
    if args.output and not Path(args.output).resolve().parent.is_dir():  # before paying for the models
        err(f"cannot write --output file {args.output}: its folder does not exist")
        return EXIT_USAGE
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.config import load_settings

    try:
        load_settings(workspace)  # a broken settings file stops here, as for every command
    except ConfigError as exc:
        err(str(exc))
        return EXIT_CONFIG
    comparison = _text_comparison(args, task, models, workspace) if args.no_tools else _agent_comparison(
        args, task, models, workspace
    )
    total = len(models) * args.runs
    rounds = f", {args.runs} runs each" if args.runs > 1 else ""
    count = f"{len(models)} model" + ("s" if len(models) != 1 else "")
    print(f"comparing {count}{rounds}: {', '.join(models)}", file=sys.stderr, flush=True)
    if not args.no_tools:
        print(
            f"each runs the agent with its tools in its own copy of {workspace} (--approve "
            f"{args.approve or 'accept-edits'}); your workspace is untouched. --no-tools compares answers only.",
            file=sys.stderr, flush=True,
        )
    return _run_and_print(args, comparison, total)


def _text_comparison(args: argparse.Namespace, task: str, models: list[str], workspace: Path) -> Any:
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.compare.options import CheckOptions
    from agentic_flow.core.compare.runner import Comparison
    from agentic_flow.core.config import load_settings
    from agentic_flow.core.store.database import Store

    settings = load_settings(workspace)
    engine = approver = None
    if args.check:
        # lazy: each command loads only what it runs (`--help` stays fast)
        from agentic_flow.core.permissions import PermissionEngine, mode_and_approver_for

        mode, approver = mode_and_approver_for(args.approve, _interactive())
        engine, warnings = PermissionEngine.from_settings(
            workspace, mode, user_settings=settings.user_file, project_settings=settings.project_file
        )
        for message in warnings:
            warn(message)
    return Comparison(
        task, models, agent=args.agent, agents_dir=args.agents_dir, runs=args.runs, settings=settings,
        store=Store(), call=_call_options(args),
        check=CheckOptions(args.check, args.check_timeout, engine=engine, approver=approver),
    )


def _agent_comparison(args: argparse.Namespace, task: str, models: list[str], workspace: Path) -> Any:
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.compare.agentic import AgenticComparison
    from agentic_flow.core.compare.options import CheckOptions
    from agentic_flow.core.store.database import Store

    return AgenticComparison(
        task, models, workspace=workspace, agent=args.agent, agents_dir=args.agents_dir,
        approve=args.approve or "accept-edits", runs=args.runs, call=_call_options(args),
        check=CheckOptions(args.check, args.check_timeout), keep=args.keep, store=Store(),
    )


def _call_options(args: argparse.Namespace) -> "CallOptions":
    """The flags that say how every model is called."""
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.compare.options import CallOptions

    return CallOptions(
        max_tokens=args.max_tokens, temperature=args.temperature, timeout=args.timeout, retries=args.retry,
        base_url=args.base_url, max_turns=getattr(args, "max_turns", None),
    )


def _run_and_print(args: argparse.Namespace, comparison: Any, total: int) -> int:
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.compare.export import render, to_markdown
    from agentic_flow.core.compare.runner import RunFinished

    async def run() -> None:
        done = 0
        async for _, event in comparison.stream():
            if isinstance(event, RunFinished):
                done += 1
                print(_progress_line(done, total, event.run), file=sys.stderr, flush=True)

    interrupted = False
    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        interrupted = True
    result = comparison.result
    if result is None:  # interrupted before anything was set up
        return EXIT_INTERRUPTED
    fmt = _format(args)
    text = render(result, fmt or "text") if fmt != "md" else to_markdown(result, answers=not args.no_answers)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            err(f"cannot write --output file {args.output}: {exc.strerror or exc}")
            return EXIT_ERROR
        print(f"wrote the comparison ({fmt}) to {args.output}; stored as {result.id}", file=sys.stderr)
        sys.stdout.write(render(result, "text"))
    else:
        sys.stdout.write(text)
    sys.stdout.flush()
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if any(s.ok_runs for s in result.summaries) else EXIT_PROVIDER


# --------------------------------------------------------------------------- apply / diff


def _load_result(compare_id: str | None) -> Any:
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.compare.results import CompareStore
    from agentic_flow.core.errors import StoreError
    from agentic_flow.core.store.database import Store

    store = CompareStore(Store())
    if compare_id:
        return store.load(compare_id)
    for result in store.recent(50):
        if result.mode == "agent":
            return result
    raise StoreError(
        "no stored agent comparison: run `agentic-flow compare --agent NAME --models A,B --task ...` first"
    )


def _apply_or_diff(args: argparse.Namespace) -> int:
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.compare.apply import pick_run

    if not args.target:
        err(f"which model? `agentic-flow compare {args.action} MODEL` (an id or a unique part of one)")
        return EXIT_USAGE
    if args.approve == "read-only":
        err("--approve read-only would deny every file; use ask, accept-edits, auto or deny")
        return EXIT_USAGE
    result = _load_result(args.compare_id)
    run = pick_run(result, args.target, args.run)
    if args.action == "diff":
        if not run.diff.strip():
            print(f"{run.model_id} changed nothing in comparison {result.id}", file=sys.stderr)
            return EXIT_OK
        sys.stdout.write(run.diff if run.diff.endswith("\n") else run.diff + "\n")
        print(f"{run.model_id} in comparison {result.id}: {run.diff_summary}", file=sys.stderr)
        return EXIT_OK
    return _apply(args, result, run)


def _apply(args: argparse.Namespace, result: Any, run: Any) -> int:
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.compare.apply import apply_run
    from agentic_flow.core.config import load_settings
    from agentic_flow.core.permissions import PermissionEngine, mode_and_approver_for
    from agentic_flow.core.permissions.audit import AuditLog
    from agentic_flow.core.store.database import Store

    workspace = Path(args.workspace or result.workspace or ".").resolve()
    if not workspace.is_dir():
        err(f"the workspace {workspace} does not exist; pass --workspace DIR")
        return EXIT_USAGE
    settings = load_settings(workspace)
    mode, approver = mode_and_approver_for(args.approve or "ask", _interactive())
    engine, warnings = PermissionEngine.from_settings(
        workspace, mode, user_settings=settings.user_file, project_settings=settings.project_file
    )
    for message in warnings:
        warn(message)
    print(f"applying the diff of {run.model_id} (comparison {result.id}, {run.diff_summary}) to {workspace}",
          file=sys.stderr)
    outcome = asyncio.run(
        apply_run(run, workspace, engine=engine, approver=approver, audit=AuditLog(Store()), compare_id=result.id)
    )
    for f in outcome.files:
        verdict = "allowed" if f.allowed else "denied"
        print(f"  {f.path}: {f.change.split(' (from')[0]} — {verdict} ({f.decided_by})", file=sys.stderr)
    print(outcome.message, file=sys.stderr if not outcome.applied else sys.stdout)
    if outcome.applied or not outcome.files and not run.diff.strip():
        return EXIT_OK
    return EXIT_ERROR

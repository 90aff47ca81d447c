"""``agentic-flow compare``, ``route`` (and ``route calibrate``) and ``cost``.

Registered by :func:`add_analysis_commands` and run by :func:`dispatch_analysis`; this
module imports nothing heavy at parser-building time, so ``--help`` stays fast.
Results go to stdout, progress and problems to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from agentic_flow.core.cli.exit_codes import (
    EXIT_CONFIG,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PROVIDER,
    EXIT_USAGE,
)
from agentic_flow.core.cli.output import err, table, warn
from agentic_flow.core.cli.task_input import read_task
from agentic_flow.core.errors import (
    AgenticFlowError,
    ConfigError,
    ProviderError,
    UnknownModel,
)

__all__ = ["add_analysis_commands", "dispatch_analysis"]

COMPARE_EPILOG = """\
examples:
  agentic-flow compare --models openrouter:deepseek/deepseek-chat,anthropic:claude-sonnet-4-5 \\
      --task "write a python function that parses ISO dates" --md
  agentic-flow compare --models a:x,b:y --task "..." --runs 3 --csv -o results.csv
  agentic-flow compare --models a:x,b:y --task "..." --check "python {file}" --approve auto

Each model runs concurrently in isolation; one failing never stops the others (exit 0
when at least one model finished, 4 when none did). With --runs K, figures are the
median (min-max). --check CMD runs CMD in a temp folder holding the answer's code blocks
(block1.py, ... ; {file}, {files}, {dir} are filled in), through the permission rules:
headless, it runs only if a rule or --approve auto allows it."""

COST_EPILOG = """\
examples:
  agentic-flow cost --tokens 10M
  agentic-flow cost --tokens 10M --input-share 0.8 \\
      --mix "anthropic:claude-sonnet-4-5=0.3,openrouter:deepseek/deepseek-chat=0.7"
  agentic-flow cost --from-history            # your last 30 days, scaled to a month"""


def add_analysis_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``compare``, ``route`` and ``cost`` to the top-level subparsers."""
    raw = argparse.RawDescriptionHelpFormatter
    c = sub.add_parser(
        "compare", help="run one task on several models at once and compare them", epilog=COMPARE_EPILOG,
        formatter_class=raw,
    )
    c.add_argument("--models", "-M", required=True, metavar="A,B,...", help="comma-separated PROVIDER:MODEL ids")
    c.add_argument("--task", "-t", help="the task; read from stdin when omitted and stdin is not a terminal")
    c.add_argument("--agent", "-a", help="use this agent's system prompt (no tools are offered in a comparison)")
    c.add_argument("--agents-dir", metavar="DIR", help="extra agents folder, searched first")
    c.add_argument("--runs", type=int, default=1, metavar="K", help="runs per model; figures become median (min-max)")
    fmt = c.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print the full result as JSON")
    fmt.add_argument("--csv", action="store_true", help="print one CSV row per model run")
    fmt.add_argument("--md", action="store_true", help="print a Markdown table to paste into a PR")
    c.add_argument(
        "--output", "-o", metavar="FILE", help="write the result to FILE (format from the flag or the extension)"
    )
    c.add_argument(
        "--check", metavar="CMD", help="run CMD on each answer's extracted code (through the permission rules)"
    )
    c.add_argument(
        "--check-timeout", type=float, default=30.0, metavar="SECONDS", help="limit for --check (default 30)"
    )
    c.add_argument(
        "--approve", choices=["ask", "auto", "deny"],
        help="who approves --check commands: ask (a person; denied headless), auto, deny",
    )
    c.add_argument("--timeout", type=float, metavar="SECONDS", help="longest a model's run may take (default: none)")
    c.add_argument("--retry", type=int, metavar="N", help="retries on connect errors, 429 and 5xx (default 3)")
    c.add_argument("--base-url", metavar="URL", help="send every model's requests to this server")
    c.add_argument("--max-tokens", type=int, metavar="N", help="maximum tokens each model may write")
    c.add_argument("--temperature", type=float, metavar="T", help="sampling temperature (0-2)")
    c.add_argument("--no-answers", action="store_true", help="leave the answers out of --md output")

    r = sub.add_parser("route", help="which model --model auto would choose for a task, and why")
    r_sub = r.add_subparsers(dest="route_command", metavar="ACTION")
    r_sub.add_parser("calibrate", help="fit the routing weights to the stored comparison results")
    r.add_argument("--task", "-t", help="the task; read from stdin when omitted and stdin is not a terminal")
    r.add_argument("--explain", action="store_true", help="show the scores, alternatives and deciding features")
    r.add_argument("--agent", "-a", help="the agent that would run it (default: settings default_agent, else coder)")
    r.add_argument("--agents-dir", metavar="DIR", help="extra agents folder, searched first")
    r.add_argument("--no-tools", action="store_true", help="as for run --no-tools: the task needs no tool support")
    r.add_argument("--top", type=int, default=3, metavar="N", help="alternatives shown with --explain (default 3)")
    r.add_argument("--all", action="store_true", help="with --explain, list every excluded model")
    r.add_argument("--json", action="store_true", help="print the whole decision as JSON")

    k = sub.add_parser(
        "cost", help="project the monthly cost of a token volume per model and for a mix", epilog=COST_EPILOG,
        formatter_class=raw,
    )
    k.add_argument("--tokens", metavar="N", help="tokens a month: 10M, 500k, 1.5B or a plain number")
    k.add_argument("--input-share", metavar="SHARE", help="part of the tokens that is input: 0.7 or 70%% (default 0.7)")
    k.add_argument("--mix", metavar="A=S,B=S", help="a mix of models whose shares add up to 1")
    k.add_argument("--models", metavar="A,B,...", help="only these models in the per-model table")
    k.add_argument("--from-history", action="store_true", help="input share, mix and volume from your stored usage")
    k.add_argument("--days", type=int, default=30, metavar="N", help="history window for --from-history (default 30)")
    k.add_argument("--json", action="store_true", help="print JSON")


def dispatch_analysis(args: argparse.Namespace) -> int | None:
    """Run ``compare`` / ``route`` / ``cost``; None when the command is not one of them."""
    commands = {"compare": _compare, "route": _route, "cost": _cost}
    command = commands.get(args.command)
    if command is None:
        return None

    try:
        return command(args)
    except ConfigError as exc:
        err(str(exc))
        return EXIT_CONFIG
    except AgenticFlowError as exc:  # the same mapping as the top-level dispatcher
        err(str(exc))
        return EXIT_PROVIDER if isinstance(exc, (ProviderError, UnknownModel)) else EXIT_ERROR


# --------------------------------------------------------------------------- compare


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


def _compare_usage_error(args: argparse.Namespace) -> str | None:
    if args.runs < 1:
        return "--runs must be 1 or more"
    for name in ("timeout", "check_timeout"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            return f"--{name.replace('_', '-')} must be more than 0 seconds"
    if args.retry is not None and args.retry < 0:
        return "--retry must be 0 or more"
    if args.max_tokens is not None and args.max_tokens <= 0:
        return "--max-tokens must be a positive number"
    if args.temperature is not None and not 0 <= args.temperature <= 2:
        return "--temperature must be between 0 and 2"
    return None


def _progress_line(done: int, total: int, run: Any) -> str:
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.models.catalog import format_cost

    head = f"[{done}/{total}] {run.model_id}"
    if run.status != "ok":
        return f"{head}: failed — {run.error}"
    parts = [f"ttft {run.ttft_s:.2f}s" if run.ttft_s is not None else "ttft -"]
    if run.tokens_per_s is not None:
        parts.append(f"{run.tokens_per_s:.0f} tok/s")
    if run.total_s is not None:
        parts.append(f"total {run.total_s:.2f}s")
    parts.append(f"cost {format_cost(run.cost)}")
    parts.append(run.checks.summary())
    return f"{head}: done — " + " · ".join(parts)


def _compare(args: argparse.Namespace) -> int:

    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.compare.export import render
    from agentic_flow.core.compare.runner import Comparison, RunFinished, parse_models
    from agentic_flow.core.config import load_settings
    from agentic_flow.core.store.database import Store

    problem = _compare_usage_error(args)
    task = read_task(args.task, sys.stdin)
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
    workspace = Path.cwd()
    settings = load_settings(workspace)
    engine = approver = None
    if args.check:
        # lazy: each command loads only what it runs (`--help` stays fast)
        from agentic_flow.core.permissions import (
            PermissionEngine,
            mode_and_approver_for,
        )

        mode, approver = mode_and_approver_for(args.approve, _interactive())
        engine, warnings = PermissionEngine.from_settings(
            workspace, mode, user_settings=settings.user_file, project_settings=settings.project_file
        )
        for message in warnings:
            warn(message)
    comparison = Comparison(
        task, models, agent=args.agent, agents_dir=args.agents_dir, runs=args.runs, settings=settings,
        store=Store(), check_cmd=args.check, check_timeout=args.check_timeout, engine=engine, approver=approver,
        timeout=args.timeout, retries=args.retry, base_url=args.base_url, max_tokens=args.max_tokens,
        temperature=args.temperature,
    )
    total = len(models) * args.runs
    rounds = f", {args.runs} runs each" if args.runs > 1 else ""
    print(f"comparing {len(models)} models{rounds}: {', '.join(models)}", file=sys.stderr, flush=True)

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
    text = render(result, fmt or "text") if fmt != "md" else _markdown(result, args)
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


def _markdown(result: Any, args: argparse.Namespace) -> str:
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.compare.export import to_markdown

    return to_markdown(result, answers=not args.no_answers)


# --------------------------------------------------------------------------- route


def _route(args: argparse.Namespace) -> int:

    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.models.catalog import ModelCatalog
    from agentic_flow.core.store.database import Store

    if args.route_command == "calibrate":
        # lazy: each command loads only what it runs (`--help` stays fast)
        from agentic_flow.core.routing.router import calibrate

        cal = calibrate(Store(), ModelCatalog.load())
        print(f"calibrated from {cal.samples} model runs in {cal.comparisons} comparison(s); wrote {cal.path}")
        for note in cal.notes:
            print(f"  {note}")
        rows = []
        for model_id, (s, n) in sorted(cal.models.items(), key=lambda kv: -(cal.rate(kv[0]) or 0)):
            rows.append([model_id, f"{s}/{n}", f"{cal.rate(model_id):.2f}"])
        print(table(["MODEL", "SUCCEEDED", "RATE (smoothed)"], rows, right=(1, 2)))
        return EXIT_OK
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.agents.catalog import load_catalog
    from agentic_flow.core.config import load_settings
    from agentic_flow.core.routing.router import route

    task = read_task(args.task, sys.stdin)
    if not task:
        err('no task: pass --task "..." or pipe it on stdin')
        return EXIT_USAGE
    if args.top < 0:
        err("--top must be 0 or more")
        return EXIT_USAGE
    workspace = Path.cwd()
    settings = load_settings(workspace)
    agents = load_catalog(Path(args.agents_dir) if args.agents_dir else None, cwd=workspace)
    agent = agents.get(args.agent or settings.merged.default_agent or "coder")
    decision = route(
        task, agent=agent, settings=settings, catalog=ModelCatalog.load(settings=settings.merged), store=Store(),
        tools=False if args.no_tools else None,
    )
    for message in decision.warnings:
        warn(message)
    if args.json:
        print(json.dumps(decision.to_dict(), indent=2, default=str))
    elif args.explain:
        print(decision.explain(args.top, all_excluded=args.all))
    elif decision.chosen is not None:
        print(decision.chosen.id)
        print(decision.reason, file=sys.stderr)
    if decision.chosen is None:
        if not args.explain:
            err(decision.message())
        return EXIT_PROVIDER
    return EXIT_OK


# --------------------------------------------------------------------------- cost


def _cost(args: argparse.Namespace) -> int:
    try:
        return _cost_checked(args)
    except ValueError as exc:
        err(str(exc))
        return EXIT_USAGE


def _cost_checked(args: argparse.Namespace) -> int:

    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.config import load_settings
    from agentic_flow.core.models.catalog import ModelCatalog
    from agentic_flow.core.models.cost import (
        DEFAULT_INPUT_SHARE,
        parse_mix,
        parse_share,
        parse_tokens,
        project,
        project_from_history,
    )

    if not args.tokens and not args.from_history:
        raise ValueError("give a volume with --tokens (e.g. --tokens 10M) or use --from-history")
    if args.days <= 0:
        raise ValueError("--days must be more than 0")
    catalog = ModelCatalog.load(settings=load_settings().merged)  # with your own providers' models
    tokens = parse_tokens(args.tokens) if args.tokens else None
    share = parse_share(args.input_share) if args.input_share is not None else None
    mix = parse_mix(args.mix, catalog) if args.mix else None
    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    if args.from_history:
        # lazy: each command loads only what it runs (`--help` stays fast)
        from agentic_flow.core.store.database import Store

        projection = project_from_history(
            Store(), tokens=tokens, days=args.days, input_share=share, mix=mix, catalog=catalog
        )
        if models:
            projection.lines = [line for line in projection.lines if line.model_id in models]
    else:
        assert tokens is not None
        projection = project(
            tokens, input_share=DEFAULT_INPUT_SHARE if share is None else share, catalog=catalog, models=models,
            mix=mix,
        )
    if args.json:
        print(json.dumps(projection.to_dict(), indent=2))
        return EXIT_OK
    print(_cost_text(projection, catalog))
    return EXIT_OK


def _cost_text(projection: Any, catalog: Any) -> str:
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.models.catalog import format_cost, format_price

    dates = projection.price_dates()
    when = f" ({dates[0]}" + (f" … {dates[1]})" if dates[1] != dates[0] else ")") if dates else ""
    fetched = ""
    if getattr(catalog, "cache_fetched_at", None):
        fetched = f"; OpenRouter prices refreshed {catalog.cache_fetched_at:%Y-%m-%d}"
    head = f"{projection.tokens:,} tokens a month · {projection.input_share:.0%} input"
    if projection.history is not None:
        window = f"last {projection.history.days} days" if projection.history.days else "all of it"
        head += f" · input share and mix from your stored usage ({window})"
    lines = [f"{head} · prices from the model catalog{when}{fetched}", ""]
    rows = [
        [
            line.model_id,
            format_price(line.info.price_in) if line.info else "?",
            format_price(line.info.price_out) if line.info else "?",
            f"{line.input_tokens:,}",
            f"{line.output_tokens:,}",
            format_cost(line.monthly),
            line.price_date or "-",
        ]
        for line in projection.lines
    ]
    lines.append(table(["MODEL", "IN $/M", "OUT $/M", "INPUT", "OUTPUT", "PER MONTH", "PRICE AS OF"], rows,
                       right=(1, 2, 3, 4, 5)))
    if projection.mix:
        lines += ["", "mix:"]
        mix_rows = [
            [f"{line.share:.0%}", line.model_id, f"{line.input_tokens:,}", f"{line.output_tokens:,}",
             format_cost(line.monthly)]
            for line in projection.mix
        ]
        lines.append(table(["SHARE", "MODEL", "INPUT", "OUTPUT", "PER MONTH"], mix_rows, right=(0, 2, 3, 4)))
        lines.append(f"mix total: {format_cost(projection.mix_total)} a month")
    for note in projection.notes:
        lines.append(f"note: {note}")
    lines.append("? = price unknown (never counted as $0)")
    return "\n".join(lines)

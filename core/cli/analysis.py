"""``agentic-flow compare`` (see :mod:`.compare_cmd`), ``route`` (and ``route calibrate``) and ``cost``.

Registered by :func:`add_analysis_commands` and run by :func:`dispatch_analysis`; this
module imports nothing heavy at parser-building time, so ``--help`` stays fast.
Results go to stdout, progress and problems to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from agentic_flow.core.cli.compare_cmd import add_compare_command, cmd_compare
from agentic_flow.core.cli.evals import add_eval_command, cmd_eval
from agentic_flow.core.cli.exit_codes import (
    EXIT_CONFIG,
    EXIT_ERROR,
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

COST_EPILOG = """\
examples:
  agentic-flow cost --tokens 10M
  agentic-flow cost --tokens 10M --input-share 0.8 \\
      --mix "anthropic:claude-sonnet-4-5=0.3,openrouter:deepseek/deepseek-chat=0.7"
  agentic-flow cost --from-history            # your last 30 days, scaled to a month"""


def add_analysis_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``compare``, ``route`` and ``cost`` to the top-level subparsers."""
    raw = argparse.RawDescriptionHelpFormatter
    add_compare_command(sub)
    add_eval_command(sub)

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
    """Run ``compare`` / ``eval`` / ``route`` / ``cost``; None when the command is not one of them."""
    commands = {"compare": cmd_compare, "eval": cmd_eval, "route": _route, "cost": _cost}
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


# --------------------------------------------------------------------------- route


def _route(args: argparse.Namespace) -> int:

    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.models.catalog import ModelCatalog
    from agentic_flow.core.store.database import Store

    if args.route_command == "calibrate":
        # lazy: each command loads only what it runs (`--help` stays fast)
        from agentic_flow.core.config import load_settings
        from agentic_flow.core.routing.router import calibrate

        # with your own providers' models and the prices set for them
        cal = calibrate(Store(), ModelCatalog.load(settings=load_settings(Path.cwd()).merged))
        evals = f" and {cal.eval_cells} eval cell(s)" if cal.eval_cells else ""
        print(f"calibrated from {cal.samples} model runs in {cal.comparisons} comparison(s){evals}; wrote {cal.path}")
        for note in cal.notes:
            print(f"  {note}")
        rows = []
        for model_id, (s, n) in sorted(cal.models.items(), key=lambda kv: -(cal.rate(kv[0]) or 0)):
            rows.append([model_id, f"{s}/{n}", f"{cal.rate(model_id):.2f}"])
        print(table(["MODEL", "SUCCEEDED", "RATE (smoothed)"], rows, right=(1, 2)))
        if cal.evals:
            # lazy: each command loads only what it runs (`--help` stays fast)
            from agentic_flow.core.models.catalog import format_cost

            evidence = [
                [task_type, model_id, f"{e.passed}/{e.cells}", "yes" if e.proven else "no", format_cost(e.cost_per_solved),
                 ", ".join(e.eval_ids)]
                for task_type, by_model in sorted(cal.evals.items())
                for model_id, e in sorted(by_model.items(), key=lambda kv: (-kv[1].rate, kv[0]))
            ]
            print("\neval evidence per task type (`--model auto` prefers the cheapest proven model):")
            print(table(["TYPE", "MODEL", "PASSED", "PROVEN", "COST/SOLVED", "EVAL RUNS"], evidence, right=(2,)))
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


def _agents_text(projection: Any, format_cost: Any) -> list[str]:
    """The window's real usage per agent and model, and the all-on-the-priciest figure."""
    agents = projection.agents
    window = f"last {projection.history.days} days" if projection.history and projection.history.days else "all usage"
    rows = [
        [
            line.agent + (" (subagent)" if line.subagent else ""),
            line.model_id,
            line.turns,
            f"{line.input_tokens:,}",
            f"{line.output_tokens:,}",
            format_cost(line.cost),
        ]
        for line in agents.lines
    ]
    out = ["", f"by agent and model ({window}, at catalog prices):"]
    out.append(table(["AGENT", "MODEL", "TURNS", "INPUT", "OUTPUT", "COST"], rows, right=(2, 3, 4, 5)))
    out.append(f"as run: {format_cost(agents.total)}")
    if agents.strongest is not None:
        out.append(f"the same tokens all on {agents.strongest}: {format_cost(agents.all_strongest)}")
    return out


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
    if projection.agents is not None and projection.agents.lines:
        lines += _agents_text(projection, format_cost)
    for note in projection.notes:
        lines.append(f"note: {note}")
    lines.append("? = price unknown (never counted as $0)")
    return "\n".join(lines)

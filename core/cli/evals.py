"""``agentic-flow eval``: run a suite on several models, list runs, write reports.

    agentic-flow eval SUITE.yaml --models A,B,C [--runs K] [--max-concurrency N] [--dry-run]
    agentic-flow eval report [RUN] [--md | --csv | --json | --html] [-o FILE]
    agentic-flow eval list

Progress goes to stderr, results to stdout (or ``-o FILE``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from agentic_flow.core.cli.checks import url_problem
from agentic_flow.core.cli.exit_codes import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_PROVIDER, EXIT_USAGE
from agentic_flow.core.cli.output import err, table, write_output

__all__ = ["add_eval_command", "cmd_eval", "EVAL_EPILOG"]

EVAL_EPILOG = """\
examples:
  agentic-flow eval examples/evals/python-fixes.yaml --models a:x,b:y --dry-run
  agentic-flow eval examples/evals/python-fixes.yaml --models a:x,b:y --runs 3
  agentic-flow eval report latest --html -o report.html
  agentic-flow eval list

Each cell (task x model x run) runs the agent with its tools in its own copy of the
task's workspace fixture, then the task's checks in that copy. At most
--max-concurrency cells run at once per provider; a 429 halves that and Retry-After is
honoured. Results are stored as each cell finishes: the same command again (after a
crash, Ctrl-C or kill) skips the stored cells and runs the rest. Exit 0 when every cell
has a result, 4 when some ended in a provider error (run again to finish them), 130
when interrupted."""


def add_eval_command(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    e = sub.add_parser(
        "eval", help="run an evaluation suite (tasks x models x runs), list runs, write reports",
        epilog=EVAL_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    e.add_argument("target", metavar="SUITE.yaml | report | list", help="a suite file, or report / list")
    e.add_argument("run_id", nargs="?", metavar="RUN", help="for report: the run id or prefix (default: latest)")
    e.add_argument("--models", "-M", metavar="A,B,...", help="comma-separated PROVIDER:MODEL ids")
    e.add_argument("--runs", type=int, default=1, metavar="K", help="runs of every task on every model (default 1)")
    e.add_argument("--max-concurrency", type=int, default=4, metavar="N",
                   help="cells running at once per provider (default 4; halved on 429)")
    e.add_argument("--dry-run", action="store_true", help="print the estimated cost of the matrix and stop")
    e.add_argument("--base-url", metavar="URL", help="send every model's requests to this server")
    e.add_argument("--retry", type=int, metavar="N", help="retries on connect errors, 429 and 5xx per request")
    e.add_argument("--agents-dir", metavar="DIR", help="extra agents folder, searched first")
    e.add_argument("--keep", action="store_true", help="keep every cell's copy of its workspace")
    e.add_argument("--quiet", "-q", action="store_true", help="no progress lines (cells that could not run are still said)")
    fmt = e.add_mutually_exclusive_group()
    fmt.add_argument("--md", action="store_true", help="report: Markdown")
    fmt.add_argument("--csv", action="store_true", help="report: one CSV row per cell")
    fmt.add_argument("--json", action="store_true", help="report: JSON")
    fmt.add_argument("--html", action="store_true", help="report: a self-contained HTML page with charts")
    e.add_argument("--output", "-o", metavar="FILE", help="report: write to FILE (format from the flag or extension)")


def cmd_eval(args: argparse.Namespace) -> int:
    if args.target == "report":
        return _report(args)
    if args.target == "list":
        return _list(args)
    if args.run_id:
        err(f"unexpected argument {args.run_id!r}: `eval SUITE.yaml --models ...` takes one suite file")
        return EXIT_USAGE
    return _run(args)


def _report_format(args: argparse.Namespace) -> str:
    for name in ("md", "csv", "json", "html"):
        if getattr(args, name):
            return name
    if args.output:
        suffix = Path(args.output).suffix.lower()
        return {".md": "md", ".markdown": "md", ".csv": "csv", ".json": "json", ".html": "html", ".htm": "html"}.get(
            suffix, "md"
        )
    return "text"


def render_report(fmt: str, report: Any, store: Any) -> str:
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.evals.reports import load_transcripts, to_csv, to_json, to_markdown, to_text

    if fmt == "html":
        # lazy: each command loads only what it runs (`--help` stays fast)
        from agentic_flow.core.evals.html import to_html

        return to_html(report, load_transcripts(store, report.cells))
    return {"md": to_markdown, "csv": to_csv, "json": to_json, "text": to_text}[fmt](report)


def _write(args: argparse.Namespace, text: str, what: str) -> int:
    if args.output:
        if not write_output(args.output, text):
            return EXIT_ERROR
        print(f"wrote {what} to {Path(args.output).resolve()}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.evals.cache import EvalStore
    from agentic_flow.core.evals.reports import summarize
    from agentic_flow.core.store.database import Store

    store = Store()
    evals = EvalStore(store)
    run = evals.resolve_run(args.run_id)
    report = summarize(run, evals.run_cells(run))
    fmt = _report_format(args)
    return _write(args, render_report(fmt, report, store), f"the {fmt} report of eval run {run.id}")


def _list(args: argparse.Namespace) -> int:
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.evals.cache import EvalStore
    from agentic_flow.core.store.database import Store

    runs = EvalStore(Store()).list_runs()
    if not runs:
        print("no eval runs yet: agentic-flow eval SUITE.yaml --models A,B")
        return EXIT_OK
    rows = [[r.id, r.updated_at.strftime("%Y-%m-%d %H:%M"), r.suite_name, r.status, len(r.tasks), len(r.models), r.runs,
             len(r.cell_keys)] for r in runs]
    print(table(["RUN", "UPDATED", "SUITE", "STATUS", "TASKS", "MODELS", "RUNS", "CELLS"], rows, right=(4, 5, 6, 7)))
    return EXIT_OK


def _usage(args: argparse.Namespace) -> str | None:
    if not args.models:
        return "--models is required: --models PROVIDER:MODEL,PROVIDER:MODEL,..."
    if args.runs < 1:
        return "--runs must be 1 or more"
    if args.max_concurrency < 1:
        return "--max-concurrency must be 1 or more"
    if args.retry is not None and args.retry < 0:
        return "--retry must be 0 or more"
    if problem := url_problem(args.base_url):
        return problem
    if any(getattr(args, f) for f in ("md", "csv", "json", "html")) or args.output:
        return "--md/--csv/--json/--html/-o are for `eval report`; the run prints a summary table"
    return None


def _run(args: argparse.Namespace) -> int:
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.evals.runner import EvalRunner
    from agentic_flow.core.evals.suite import load_suite

    problem = _usage(args)
    if problem:
        err(problem)
        return EXIT_USAGE
    suite = load_suite(args.target)
    quiet = args.quiet

    def progress(p: Any) -> None:
        if not quiet:
            print(f"eval: {p.line()}", file=sys.stderr, flush=True)

    def cell_done(cell: Any) -> None:
        if quiet and cell.status != "error":  # -q drops progress, never why a cell could not run
            return
        mark = {"passed": "✓", "failed": "✗", "error": "!"}[cell.status]
        failed = [c.label for c in cell.checks if not c.passed]
        why = f" — {cell.error}" if cell.status == "error" else (f" — failed: {'; '.join(failed)}" if failed else "")
        print(f"  {mark} {cell.task_id} × {cell.model_id} #{cell.run_index + 1}{why}", file=sys.stderr, flush=True)

    runner = EvalRunner(
        suite, args.models, runs=args.runs, max_concurrency=args.max_concurrency, base_url=args.base_url,
        retries=args.retry, agents_dir=args.agents_dir, keep=args.keep, on_progress=progress, on_cell=cell_done,
    )
    if args.dry_run:
        return _dry_run(runner)
    print(
        f"eval run {runner.id}: suite {suite.name}, {len(suite.tasks)} tasks × {len(runner.models)} models × "
        f"{args.runs} run(s) = {len(runner.cells)} cells, up to {args.max_concurrency} at once per provider",
        file=sys.stderr, flush=True,
    )
    try:
        header, cells = asyncio.run(runner.run())
    except KeyboardInterrupt:
        print(f"\nagentic-flow: interrupted; stored cells are kept — run the same command to resume ({runner.id})",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.evals.reports import summarize, to_text

    sys.stdout.write(to_text(summarize(header, cells)))
    for change in runner.limiter.history:
        print(f"eval: concurrency for {change.provider} {change.old} → {change.new} ({change.reason})", file=sys.stderr)
    return EXIT_OK if header.status == "complete" else EXIT_PROVIDER


def _dry_run(runner: Any) -> int:
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.evals.estimate import estimate_matrix
    from agentic_flow.core.models.catalog import format_cost

    cached = runner.cached_keys()
    estimate = estimate_matrix(runner.suite, runner.cells, runner.catalog, agents=runner.agents, cached=cached)
    per_task: dict[str, tuple[int, int]] = {}
    for c in estimate.cells:
        per_task.setdefault(c.cell.task.id, (c.input_tokens, c.output_tokens))
    print(f"dry run of eval {runner.id}: {len(runner.cells)} cells "
          f"({len(runner.suite.tasks)} tasks × {len(runner.models)} models × {runner.runs} run(s)); nothing is sent")
    print(table(["TASK", "TOKENS IN / RUN", "TOKENS OUT / RUN", "FROM"],
                [[t.id, f"{per_task[t.id][0]:,}", f"{per_task[t.id][1]:,}", "suite estimate" if t.estimate else "router estimate"]
                 for t in runner.suite.tasks], right=(1, 2)))
    print()
    rows = [[model, n, format_cost(cost)] for model, (n, cost) in estimate.by_model().items()]
    print(table(["MODEL", "CELLS", "EST. COST"], rows, right=(1, 2)))
    unknown = estimate.unpriced
    prefix = "at least " if unknown else ""
    print(f"\nestimated cost of the whole matrix: {prefix}{format_cost(estimate.total)}")
    if cached:
        print(f"{len(cached)} cell(s) are already stored and will not run: {prefix}{format_cost(estimate.remaining)} to go")
    if unknown:
        print(f"price unknown (not counted) for: {', '.join(unknown)}")
    return EXIT_OK

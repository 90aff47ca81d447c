"""A comparison as Markdown (for a PR), CSV (one row per run), JSON, or a terminal table.

Display conventions, the same in every format that shows text: ``~`` before a token
count means it was estimated (the server sent no usage), ``?`` is a price the catalog
does not know (never ``$0``), ``-`` a figure that could not be measured (no token came).
With several runs a cell reads ``median (min–max)``.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Callable

from agentic_flow.core.cli.output import table
from agentic_flow.core.compare.result import CompareResult, ModelSummary, Spread
from agentic_flow.core.models.catalog import format_cost

__all__ = [
    "COLUMNS",
    "AGENT_COLUMNS",
    "columns_for",
    "summary_rows",
    "to_markdown",
    "to_csv",
    "to_json",
    "to_text",
    "render",
    "FORMATS",
]

COLUMNS = ["Model", "Status", "TTFT", "Tokens/s", "Total", "Tokens in / out", "Cost", "Stop", "Code checks"]
AGENT_COLUMNS = [
    "Model", "Status", "Check", "Diff", "Turns", "Tool calls", "Tokens in / out", "Cost", "TTFT", "Wall", "Stop",
]
"""Columns of an agent comparison (each model ran the agent with its tools in a copy)."""
FORMATS = ("md", "csv", "json", "text")


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _rate(value: float) -> str:
    return f"{value:.1f}"


def _count(value: float) -> str:
    return f"{value:.0f}"


def _cell(spread: Spread | None, one: Callable[[float], str], missing: str = "-") -> str:
    return missing if spread is None else spread.fmt(one)


def _status(s: ModelSummary) -> str:
    if s.status == "ok":
        return "ok" if len(s.runs) == 1 else f"ok {s.ok_runs}/{len(s.runs)}"
    kinds = sorted({r.error_kind or "error" for r in s.runs if r.status == "failed"})
    label = "failed" if s.status == "failed" else f"{s.ok_runs}/{len(s.runs)} ok"
    return f"{label} ({', '.join(kinds)})"


def columns_for(result: CompareResult) -> list[str]:
    return AGENT_COLUMNS if result.mode == "agent" else COLUMNS


def _check_cell(s: ModelSummary) -> str:
    verdicts = [r.check_passed for r in s.runs]
    known = [v for v in verdicts if v is not None]
    if not known:
        command = next((r.checks.command for r in s.runs if r.checks.command is not None), None)
        return "-" if command is None else command.summary()
    if len(s.runs) == 1:
        return "passed" if known[0] else "failed"
    return f"{sum(known)}/{len(known)} passed"


def _diff_cell(s: ModelSummary) -> str:
    if len(s.runs) == 1:
        return s.runs[0].diff_summary
    return "; ".join(f"#{r.run_index + 1} {r.diff_summary}" for r in s.runs)


def _tools_cell(s: ModelSummary) -> str:
    totals: dict[str, int] = {}
    for run in s.runs:
        for name, count in run.tool_calls.items():
            totals[name] = totals.get(name, 0) + count
    if not totals:
        return "none"
    return ", ".join(f"{n} {c}" for n, c in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))


def _agent_rows(result: CompareResult) -> list[list[str]]:
    rows = []
    for s in result.summaries:
        tilde = "~" if s.estimated else ""
        tokens = "-"
        if s.input_tokens is not None and s.output_tokens is not None:
            tokens = f"{tilde}{_cell(s.input_tokens, _count)} / {tilde}{_cell(s.output_tokens, _count)}"
        rows.append(
            [
                s.model_id,
                _status(s),
                _check_cell(s),
                _diff_cell(s),
                _cell(s.turns, _count),
                _tools_cell(s),
                tokens,
                _cell(s.cost, format_cost, "?") if s.ok_runs else "-",
                _cell(s.ttft_s, _seconds),
                _cell(s.total_s, _seconds),
                ", ".join(s.stop_reasons) or "-",
            ]
        )
    return rows


def summary_rows(result: CompareResult) -> list[list[str]]:
    """One row of display strings per model, in :func:`columns_for` order."""
    if result.mode == "agent":
        return _agent_rows(result)
    rows = []
    for s in result.summaries:
        tilde = "~" if s.estimated else ""
        tokens = "-"
        if s.input_tokens is not None and s.output_tokens is not None:
            tokens = f"{tilde}{_cell(s.input_tokens, _count)} / {tilde}{_cell(s.output_tokens, _count)}"
        if s.ok_runs:
            cost = _cell(s.cost, format_cost, "?")
        else:
            cost = "-"
        rows.append(
            [
                s.model_id,
                _status(s),
                _cell(s.ttft_s, _seconds),
                _cell(s.tokens_per_s, _rate),
                _cell(s.total_s, _seconds),
                tokens,
                cost,
                ", ".join(s.stop_reasons) or "-",
                s.checks_summary,
            ]
        )
    return rows


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _fence_for(text: str) -> str:
    longest = 2
    run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return "`" * (longest + 1)


def _ranking_line(result: CompareResult) -> str:
    rank = result.ranking()
    parts = []
    for key, label in (("cost", "Cheapest"), ("ttft", "Fastest first token"), ("total", "Fastest overall")):
        if rank[key]:
            parts.append(f"**{label}:** `{rank[key][0]}`")
    checked = [result.summary(m) for m in rank["checks"]]
    best = checked[0] if checked else None
    if len(checked) > 1 and all(s.checks_passed == s.checks_total for s in checked):
        parts.append("**Code checks:** all passed")
    elif best is not None and best.checks_passed:
        parts.append(f"**Best code checks:** `{best.model_id}` ({best.checks_passed}/{best.checks_total})")
    return " · ".join(parts)


def to_markdown(result: CompareResult, *, answers: bool = True) -> str:
    """A table to paste into a pull request, then failures and (folded) answers."""
    task = " ".join(result.task.split())
    if len(task) > 300:
        task = task[:299] + "…"
    lines = ["### Model comparison", "", f"**Task:** {_md(task)}", ""]
    meta = [f"{len(result.models)} models"]
    if result.agent:
        meta.append(f"agent `{result.agent}`")
    runs = f"{result.runs} run{'s' if result.runs != 1 else ''} each"
    meta.append(runs + (" — median (min–max)" if result.runs > 1 else ""))
    meta.append(f"wall time {_seconds(result.wall_s)}")
    meta.append(result.created_at.strftime("%Y-%m-%d %H:%M UTC"))
    if result.check_cmd:
        meta.append(f"check `{_md(result.check_cmd)}`")
    if not result.complete:
        meta.append("**interrupted: partial results**")
    lines += [" · ".join(meta), ""]
    columns = columns_for(result)
    lines.append("| " + " | ".join(columns) + " |")
    numeric = ("TTFT", "Tokens/s", "Total", "Tokens in / out", "Cost", "Wall", "Turns")
    lines.append("|" + "|".join("---:" if c in numeric else "---" for c in columns) + "|")
    for row in summary_rows(result):
        row = [f"`{row[0]}`", *row[1:]]
        lines.append("| " + " | ".join(_md(c) if i else c for i, c in enumerate(row)) + " |")
    lines.append("")
    ranking = _ranking_line(result)
    if ranking:
        lines += [ranking, ""]
    lines.append("TTFT = time to first token; `~` = token count estimated (no usage sent); `?` = price unknown.")
    failures = [(s.model_id, e) for s in result.summaries for e in s.errors]
    if failures:
        lines += ["", "**Failures**", ""]
        lines += [f"- `{m}`: {_md(e)}" for m, e in failures]
    if result.mode == "agent":
        lines += _diff_sections(result)
    if answers:
        lines += ["", "<details><summary>Answers</summary>", ""]
        for s in result.summaries:
            for run in s.runs:
                label = f"`{s.model_id}`" + (f" (run {run.run_index + 1})" if result.runs > 1 else "")
                body = run.answer.rstrip() or "(no text)"
                fence = _fence_for(body)
                lines += [f"#### {label}", "", f"{fence}markdown", body, fence, ""]
        lines.append("</details>")
    return "\n".join(lines) + "\n"


def _diff_sections(result: CompareResult) -> list[str]:
    out = ["", f"Workspace `{_md(result.workspace or '?')}` · agents ran under `--approve {result.approve}`;"
           " apply one with `agentic-flow compare apply MODEL`."]
    for s in result.summaries:
        for run in s.runs:
            if not run.diff.strip():
                continue
            label = f"`{s.model_id}`" + (f" (run {run.run_index + 1})" if result.runs > 1 else "")
            fence = _fence_for(run.diff)
            out += ["", f"<details><summary>Diff of {label}: {run.diff_summary}</summary>", "",
                    f"{fence}diff", run.diff.rstrip("\n"), fence, "", "</details>"]
    return out


_CSV_FIELDS = [
    "model", "run", "status", "error_kind", "error", "ttft_s", "tokens_per_s", "total_s", "input_tokens",
    "output_tokens", "tokens_estimated", "cost_usd", "stop_reason", "checks_ok", "checks", "reported_model",
    "turns", "tool_calls", "files_changed", "insertions", "deletions", "check_passed", "session",
]


def to_csv(result: CompareResult) -> str:
    """One row per model run; empty cells are unknown (a cost is never written as 0 when unknown)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=_CSV_FIELDS, lineterminator="\n")
    writer.writeheader()

    def num(value: Any, digits: int = 4) -> str:
        return "" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    for run in result.all_runs:
        checks_ok = run.checks.ok
        writer.writerow(
            {
                "model": run.model_id,
                "run": run.run_index + 1,
                "status": run.status,
                "error_kind": run.error_kind or "",
                "error": run.error or "",
                "ttft_s": num(run.ttft_s),
                "tokens_per_s": num(run.tokens_per_s, 2),
                "total_s": num(run.total_s),
                "input_tokens": num(run.input_tokens),
                "output_tokens": num(run.output_tokens),
                "tokens_estimated": "yes" if run.estimated else "no",
                "cost_usd": num(run.cost, 8),
                "stop_reason": run.stop_reason,
                "checks_ok": "" if checks_ok is None else ("yes" if checks_ok else "no"),
                "checks": run.checks.summary(),
                "reported_model": run.reported_model or "",
                "turns": num(run.turns),
                "tool_calls": run.tool_calls_summary if run.tool_calls else "",
                "files_changed": len(run.changed) if result.mode == "agent" else "",
                "insertions": sum(f.added or 0 for f in run.changed) if result.mode == "agent" else "",
                "deletions": sum(f.removed or 0 for f in run.changed) if result.mode == "agent" else "",
                "check_passed": "" if run.check_passed is None else ("yes" if run.check_passed else "no"),
                "session": run.session_id or "",
            }
        )
    return out.getvalue()


def to_json(result: CompareResult) -> str:
    return result.to_json() + "\n"


def to_text(result: CompareResult) -> str:
    """The terminal table (plain text), the ranking and the failures."""

    if result.mode == "agent":
        lines = [table(AGENT_COLUMNS, summary_rows(result), right=(4, 6, 7, 8, 9))]
    else:
        lines = [table(COLUMNS, summary_rows(result), right=(2, 3, 4, 5, 6))]
    rank = result.ranking()
    best = [f"{label} {rank[key][0]}" for key, label in (("cost", "cheapest"), ("ttft", "fastest first token"),
                                                         ("total", "fastest overall")) if rank[key]]
    if best:
        lines += ["", " · ".join(best)]
    for s in result.summaries:
        for e in s.errors:
            lines.append(f"{s.model_id}: {e}")
    if result.mode == "agent":
        lines.append(f"diffs: agentic-flow compare diff MODEL · apply one: agentic-flow compare apply MODEL ({result.id})")
    lines.append("~ = estimated token count · ? = price unknown")
    return "\n".join(lines) + "\n"


def render(result: CompareResult, fmt: str) -> str:
    """``md``, ``csv``, ``json`` or ``text``."""
    if fmt == "md":
        return to_markdown(result)
    if fmt == "csv":
        return to_csv(result)
    if fmt == "json":
        return to_json(result)
    if fmt == "text":
        return to_text(result)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")

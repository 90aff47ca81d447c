"""The eval report as one self-contained HTML page: no scripts, no network, inline SVG charts.

Sections: the per-model table; three charts drawn as inline SVG — pass rate per model
with its spread over runs (whiskers from the worst to the best run), cost against pass
rate (a scatter: up and left is better), latency (TTFT p50/p95 and wall time p50 bars);
the task × model matrix, whose cells link to the drill-down below it: one ``<details>``
per cell with its checks, the agent's transcript and its diff. Everything is escaped;
the page loads nothing (no ``src``/``href`` outside the page, no ``url(...)``), so it can
be mailed or attached to a pull request.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING

from agentic_flow.core.evals.reports import EvalReport, ModelStats, fmt_rate, fmt_seconds
from agentic_flow.core.models.catalog import format_cost

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.evals.records import CellResult
    from agentic_flow.core.messages import Message

__all__ = ["to_html", "svg_pass_rates", "svg_cost_vs_pass", "svg_latency", "cell_anchor"]

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")
TEXT_LIMIT = 4000

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#1d1d1f;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}table{border-collapse:collapse;margin:.5rem 0}
th,td{border:1px solid #d0d0d7;padding:.3rem .6rem;text-align:left;vertical-align:top}th{background:#f3f3f6}
td.num{text-align:right;font-variant-numeric:tabular-nums}.pass{color:#1a7f37}.fail{color:#c2241c}.some{color:#9a6700}
.meta{color:#555}.charts{display:flex;flex-wrap:wrap;gap:1rem}.chart{border:1px solid #e0e0e6;padding:.5rem}
pre{background:#f6f8fa;padding:.6rem;overflow-x:auto;font-size:12px;white-space:pre-wrap}
details{border:1px solid #e0e0e6;margin:.4rem 0;padding:.3rem .6rem}summary{cursor:pointer;font-weight:600}
.msg{margin:.3rem 0}.role{font-weight:600;color:#555}a{color:#0b57d0}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def cell_anchor(cell: "CellResult") -> str:
    return f"cell-{cell.key[:16]}"


def _color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _svg(width: int, height: int, label: str, body: list[str]) -> str:
    return (
        f'<svg class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(label)}">'
        f"<title>{_e(label)}</title>" + "".join(body) + "</svg>"
    )


def _short(model_id: str, width: int = 28) -> str:
    return model_id if len(model_id) <= width else model_id[: width - 1] + "…"


def svg_pass_rates(models: list[ModelStats]) -> str:
    """Horizontal bars of pass rate per model, with a whisker from the worst to the best run."""
    row, left, plot = 26, 190, 300
    height = 40 + row * len(models)
    body = [f'<text x="{left}" y="16" font-size="12">pass rate (whisker: worst–best run)</text>']
    for pct in (0, 50, 100):
        x = left + plot * pct / 100
        body.append(f'<line x1="{x}" y1="22" x2="{x}" y2="{height - 10}" stroke="#ddd"/>')
        body.append(f'<text x="{x}" y="{height - 1}" font-size="10" text-anchor="middle">{pct}%</text>')
    for i, m in enumerate(models):
        y = 26 + i * row
        rate = m.pass_rate or 0.0
        body.append(f'<text x="{left - 6}" y="{y + 13}" font-size="11" text-anchor="end">{_e(_short(m.model_id))}</text>')
        body.append(
            f'<rect class="bar" data-model="{_e(m.model_id)}" x="{left}" y="{y + 2}" width="{plot * rate:.1f}" '
            f'height="14" fill="{_color(i)}"><title>{_e(m.model_id)}: {fmt_rate(m.pass_rate)}</title></rect>'
        )
        spread = m.spread
        if spread is not None:
            x1, x2 = left + plot * spread[0], left + plot * spread[1]
            body.append(f'<line class="whisker" x1="{x1:.1f}" y1="{y + 9}" x2="{x2:.1f}" y2="{y + 9}" stroke="#222"/>')
        body.append(f'<text x="{left + plot * rate + 4:.1f}" y="{y + 13}" font-size="10">{fmt_rate(m.pass_rate)}</text>')
    return _svg(left + plot + 60, height, "Pass rate per model", body)


def svg_cost_vs_pass(models: list[ModelStats]) -> str:
    """Scatter: total cost (x) against pass rate (y); models with an unknown cost are listed."""
    width, height, pad = 460, 300, 50
    priced = [m for m in models if m.cost is not None and m.cells]
    top = max((m.cost or 0.0 for m in priced), default=0.0) or 1.0
    body = [
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - 10}" y2="{height - pad}" stroke="#888"/>',
        f'<line x1="{pad}" y1="10" x2="{pad}" y2="{height - pad}" stroke="#888"/>',
        f'<text x="{(width + pad) / 2}" y="{height - 12}" font-size="11" text-anchor="middle">total cost (USD)</text>',
        f'<text x="14" y="{(height - pad) / 2}" font-size="11" transform="rotate(-90 14 {(height - pad) / 2})" '
        'text-anchor="middle">pass rate</text>',
        f'<text x="{pad - 4}" y="14" font-size="10" text-anchor="end">100%</text>',
        f'<text x="{pad - 4}" y="{height - pad}" font-size="10" text-anchor="end">0%</text>',
        f'<text x="{width - 10}" y="{height - pad + 14}" font-size="10" text-anchor="end">{_e(format_cost(top))}</text>',
    ]
    for i, m in enumerate(models):
        if m not in priced:
            continue
        x = pad + (width - pad - 20) * ((m.cost or 0.0) / top)
        y = (height - pad) - (height - pad - 10) * (m.pass_rate or 0.0)
        body.append(
            f'<circle class="point" data-model="{_e(m.model_id)}" cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{_color(i)}">'
            f"<title>{_e(m.model_id)}: {fmt_rate(m.pass_rate)} for {_e(format_cost(m.cost))}</title></circle>"
        )
        body.append(f'<text x="{x + 8:.1f}" y="{y + 4:.1f}" font-size="10">{_e(_short(m.model_id, 22))}</text>')
    unpriced = [m.model_id for m in models if m not in priced]
    if unpriced:
        body.append(f'<text x="{pad + 6}" y="{height - pad - 6}" font-size="10" fill="#9a6700">price unknown: '
                    f"{_e(', '.join(_short(u, 22) for u in unpriced))}</text>")
    return _svg(width, height, "Cost against pass rate", body)


def svg_latency(models: list[ModelStats]) -> str:
    """Grouped bars per model: TTFT p50, TTFT p95 and wall time p50 (seconds)."""
    row, left, plot = 40, 190, 300
    series = [("TTFT p50", "ttft_p50", "#4e79a7"), ("TTFT p95", "ttft_p95", "#a0cbe8"), ("wall p50", "wall_p50", "#f28e2b")]
    values = [getattr(m, attr) or 0.0 for m in models for _, attr, _ in series]
    top = max(values, default=0.0) or 1.0
    height = 40 + row * len(models)
    body = []
    for j, (label, _, color) in enumerate(series):
        body.append(f'<rect x="{left + j * 90}" y="6" width="10" height="10" fill="{color}"/>')
        body.append(f'<text x="{left + j * 90 + 14}" y="15" font-size="11">{label}</text>')
    for i, m in enumerate(models):
        y = 26 + i * row
        body.append(f'<text x="{left - 6}" y="{y + 16}" font-size="11" text-anchor="end">{_e(_short(m.model_id))}</text>')
        for j, (label, attr, color) in enumerate(series):
            value = getattr(m, attr)
            w = plot * (value or 0.0) / top
            body.append(
                f'<rect class="bar" data-model="{_e(m.model_id)}" x="{left}" y="{y + j * 10}" width="{w:.1f}" '
                f'height="9" fill="{color}"><title>{_e(m.model_id)} {label}: {fmt_seconds(value)}</title></rect>'
            )
    body.append(f'<text x="{left + plot}" y="{height - 2}" font-size="10" text-anchor="end">{fmt_seconds(top)}</text>')
    return _svg(left + plot + 40, height, "Latency per model", body)


def _clip(text: str) -> str:
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + f"\n… ({len(text) - TEXT_LIMIT} more characters)"


def _transcript(messages: list["Message"] | None) -> str:
    if not messages:
        return '<p class="meta">No transcript stored for this cell.</p>'
    parts = []
    for message in messages:
        role = getattr(message, "role", "?")
        if role == "tool":
            name = getattr(message, "name", "")
            body = _clip(getattr(message, "content", ""))
            parts.append(f'<div class="msg"><span class="role">tool result ({_e(name)})</span><pre>{_e(body)}</pre></div>')
            continue
        text = getattr(message, "content", "")
        calls = getattr(message, "tool_calls", [])
        inner = f"<pre>{_e(_clip(text))}</pre>" if text else ""
        for call in calls:
            args = json.dumps(call.arguments, ensure_ascii=False)
            inner += f"<pre>→ {_e(call.name)} {_e(_clip(args))}</pre>"
        parts.append(f'<div class="msg"><span class="role">{_e(role)}</span>{inner}</div>')
    return "".join(parts)


def _status_class(text: str) -> str:
    return "pass" if text.endswith("✓") else "fail" if text.endswith("✗") else "some"


def _cell_section(cell: "CellResult", transcripts: dict[str, list["Message"]]) -> str:
    r = cell.run
    mark = "pass" if cell.passed else "fail"
    checks = "".join(
        f'<tr><td class="{"pass" if c.passed else "fail"}">{"✓" if c.passed else "✗"}</td><td>{_e(c.label)}</td>'
        f"<td><pre>{_e(_clip(c.detail))}</pre></td></tr>"
        for c in cell.checks
    ) or '<tr><td colspan="3">no checks</td></tr>'
    figures = (
        f"{_e(cell.status)} · {r.turns or 0} turn(s) · tools {_e(r.tool_calls_summary)} · "
        f"tokens {r.input_tokens or 0:,}/{r.output_tokens or 0:,} · cost {_e(format_cost(cell.cost))} · "
        f"TTFT {fmt_seconds(r.ttft_s)} · wall {fmt_seconds(r.total_s)} · stop {_e(r.stop_reason)} · "
        f"diff {_e(r.diff_summary)}"
    )
    error = f'<p class="fail">{_e(cell.error)}</p>' if cell.error else ""
    diff = f"<pre>{_e(_clip(r.diff))}</pre>" if r.diff.strip() else '<p class="meta">No changes.</p>'
    transcript = _transcript(transcripts.get(r.session_id or ""))
    return (
        f'<details id="{cell_anchor(cell)}" class="cell" data-task="{_e(cell.task_id)}" data-model="{_e(cell.model_id)}">'
        f'<summary><span class="{mark}">{"✓" if cell.passed else "✗"}</span> {_e(cell.task_id)} × {_e(cell.model_id)} '
        f"run {cell.run_index + 1}</summary><p class=\"meta\">{figures}</p>{error}"
        f"<h4>Checks</h4><table>{checks}</table><h4>Diff</h4>{diff}<h4>Transcript</h4>{transcript}</details>"
    )


def to_html(report: EvalReport, transcripts: dict[str, list["Message"]] | None = None) -> str:
    """The whole report as one HTML document (see the module docstring)."""
    transcripts = transcripts or {}
    run = report.run
    rows = "".join(
        f"<tr><td><code>{_e(m.model_id)}</code></td><td class=\"num\">{_e(m.rate_text())}</td>"
        f"<td class=\"num\">{m.passed}/{m.cells}</td><td class=\"num\">{_e(format_cost(m.cost) if m.cells else '-')}</td>"
        f"<td class=\"num\">{_e(format_cost(m.cost_per_solved) if m.passed else '-')}</td>"
        f"<td class=\"num\">{fmt_seconds(m.ttft_p50)} / {fmt_seconds(m.ttft_p95)}</td>"
        f"<td class=\"num\">{fmt_seconds(m.wall_p50)} / {fmt_seconds(m.wall_p95)}</td>"
        f"<td class=\"num\">{m.input_tokens:,} / {m.output_tokens:,}</td></tr>"
        for m in report.models
    )
    head = "".join(f"<th><code>{_e(m)}</code></th>" for m in run.models)
    matrix_rows = []
    for task in report.tasks:
        tds = []
        for model in run.models:
            cells = report.cell_list(task, model)
            text = report.matrix_cell(task, model)
            links = " ".join(
                f'<a href="#{cell_anchor(c)}" title="run {c.run_index + 1}: {_e(c.status)}">#{c.run_index + 1}</a>'
                for c in cells
            )
            tds.append(f'<td class="{_status_class(text)}">{_e(text)} {links}</td>')
        matrix_rows.append(f"<tr><th>{_e(task)}</th>{''.join(tds)}</tr>")
    sections = "".join(_cell_section(c, transcripts) for c in report.cells)
    settings = run.settings
    meta = (
        f"run <code>{_e(run.id)}</code> · {_e(run.status)} · {len(run.tasks)} tasks × {len(run.models)} models × "
        f"{run.runs} run(s) · updated {run.updated_at:%Y-%m-%d %H:%M UTC} · agentic-flow "
        f"{_e(settings.get('agentic_flow', '?'))}"
        + (f" · commit <code>{_e(str(settings['git_commit'])[:12])}</code>" if settings.get("git_commit") else "")
    )
    missing = (
        f'<p class="some">{report.missing} cell(s) have no result yet: run the same command again to finish them.</p>'
        if report.missing else ""
    )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>Eval {_e(run.suite_name)} ({_e(run.id)})</title><style>{_CSS}</style></head><body>"
        f"<h1>Eval: {_e(run.suite_name)}</h1><p class=\"meta\">{meta}</p>{missing}"
        "<h2>Models</h2><table id=\"models\"><tr><th>Model</th><th>Pass rate (worst–best run)</th><th>Solved</th>"
        "<th>Cost</th><th>Cost / solved</th><th>TTFT p50 / p95</th><th>Wall p50 / p95</th><th>Tokens in / out</th></tr>"
        f"{rows}</table>"
        f"<h2>Charts</h2><div class=\"charts\">{svg_pass_rates(report.models)}{svg_cost_vs_pass(report.models)}"
        f"{svg_latency(report.models)}</div>"
        f"<h2>Matrix</h2><table id=\"matrix\"><tr><th>Task</th>{head}</tr>{''.join(matrix_rows)}</table>"
        f"<h2>Cells</h2>{sections}"
        "<p class=\"meta\">? = price unknown (never counted as $0) · - = not measured.</p></body></html>\n"
    )

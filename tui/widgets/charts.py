"""Charts of models side by side, drawn in the terminal with ``textual-plotext``.

Three charts, the same on the compare screen and the eval results screen, fed the same
data (:class:`ModelPoint`, one per model):

* :class:`CostPassChart` — cost against pass rate, one point per model (up and left is
  better); models with an unknown price are left out and named under the chart.
* :class:`LatencyChart` — time to first token and wall time per model, side by side.
* :class:`TokensChart` — input and output tokens per model, stacked.

:class:`ChartsPanel` holds the three in a row. Models are labelled by their short name
(the part after the last ``/`` or ``:``), numbered when two share one. Pass rate means a
compare's check (or code checks) passing, or an eval's cells passing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual_plotext import PlotextPlot
from textual_plotext.plot import Plot

from agentic_flow.core.compare.result import CompareResult
from agentic_flow.core.evals.reports import EvalReport

__all__ = [
    "ModelPoint",
    "ModelChart",
    "CostPassChart",
    "LatencyChart",
    "TokensChart",
    "ChartsPanel",
    "points_from_compare",
    "points_from_eval",
    "short_names",
]


@dataclass(frozen=True)
class ModelPoint:
    """One model's figures for the charts (None: not measured / unknown)."""

    model_id: str
    pass_rate: float | None
    cost: float | None
    ttft_s: float | None
    wall_s: float | None
    tokens_in: int | None
    tokens_out: int | None


def short_names(model_ids: Sequence[str], width: int = 12) -> list[str]:
    """``openrouter:meta-llama/llama-3.1-8b`` -> ``llama-3.1-8b`` (clipped; duplicates numbered)."""
    names = []
    for model_id in model_ids:
        tail = model_id.replace(":", "/").rsplit("/", 1)[-1] or model_id
        names.append(tail if len(tail) <= width else tail[: width - 1] + "…")
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if names.count(name) > 1:
            seen[name] = seen.get(name, 0) + 1
            name = f"{name[: width - 2]}#{seen[name]}"
        out.append(name)
    return out


def points_from_compare(result: CompareResult) -> list[ModelPoint]:
    """Per model: the check's pass rate (agent runs), else the code checks', else finished runs'."""
    points = []
    for s in result.summaries:
        checks = [r.check_passed for r in s.runs if r.check_passed is not None]
        if checks:
            rate: float | None = sum(checks) / len(checks)
        elif s.checks_total:
            rate = s.checks_passed / s.checks_total
        else:
            rate = s.ok_runs / len(s.runs) if s.runs else None
        points.append(
            ModelPoint(
                model_id=s.model_id,
                pass_rate=rate,
                cost=s.cost.median if s.cost else None,
                ttft_s=s.ttft_s.median if s.ttft_s else None,
                wall_s=s.total_s.median if s.total_s else None,
                tokens_in=round(s.input_tokens.median) if s.input_tokens else None,
                tokens_out=round(s.output_tokens.median) if s.output_tokens else None,
            )
        )
    return points


def points_from_eval(report: EvalReport) -> list[ModelPoint]:
    """Per model: pass rate over its cells, total cost, TTFT and wall p50, tokens summed."""
    return [
        ModelPoint(
            model_id=m.model_id, pass_rate=m.pass_rate, cost=m.cost if m.cells else None, ttft_s=m.ttft_p50,
            wall_s=m.wall_p50, tokens_in=m.input_tokens if m.cells else None,
            tokens_out=m.output_tokens if m.cells else None,
        )
        for m in report.models
    ]


class ModelChart(PlotextPlot):
    """A plot of :class:`ModelPoint` data; :meth:`set_points` redraws it."""

    DEFAULT_CSS = """
    ModelChart {
        width: 1fr;
        height: 1fr;
        min-height: 10;
        border: round $border-blurred;
    }
    """
    TITLE = ""

    def __init__(self, points: Sequence[ModelPoint] = (), *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.points: list[ModelPoint] = list(points)

    def on_mount(self) -> None:
        super().on_mount()
        self.border_title = self.TITLE
        self.replot()

    def set_points(self, points: Sequence[ModelPoint]) -> None:
        self.points = list(points)
        if self.is_mounted:
            self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        self.border_subtitle = ""
        if not self.points:
            plt.title("no results yet")
        else:
            self.draw(plt)
        self.refresh()

    def draw(self, plt: Plot) -> None:  # pragma: no cover - every chart draws
        raise NotImplementedError


class CostPassChart(ModelChart):
    """Cost (x, USD) against pass rate (y, %): up and left is better."""

    TITLE = "Cost vs pass rate"

    def draw(self, plt: Plot) -> None:
        priced = [p for p in self.points if p.cost is not None and p.pass_rate is not None]
        names = dict(zip([p.model_id for p in self.points], short_names([p.model_id for p in self.points])))
        for point in priced:
            assert point.cost is not None and point.pass_rate is not None
            plt.scatter([point.cost], [point.pass_rate * 100], label=names[point.model_id], marker="dot")
        unknown = [names[p.model_id] for p in self.points if p.cost is None]
        self.border_subtitle = "price unknown: " + ", ".join(unknown) if unknown else ""
        plt.xlabel("cost $")
        plt.ylabel("pass %")
        plt.ylim(0, 100)


class LatencyChart(ModelChart):
    """TTFT and wall time per model (seconds)."""

    TITLE = "Latency (s): TTFT, wall"

    def draw(self, plt: Plot) -> None:
        names = short_names([p.model_id for p in self.points])
        ttft = [p.ttft_s or 0.0 for p in self.points]
        wall = [p.wall_s or 0.0 for p in self.points]
        # plotext takes `labels` for several series; its type hints only know `label`
        plt.multiple_bar(names, [ttft, wall], labels=["TTFT", "wall"], orientation="horizontal")  # type: ignore[call-arg]


class TokensChart(ModelChart):
    """Input and output tokens per model, stacked."""

    TITLE = "Tokens: in, out"

    def draw(self, plt: Plot) -> None:
        names = short_names([p.model_id for p in self.points])
        tokens_in = [p.tokens_in or 0 for p in self.points]
        tokens_out = [p.tokens_out or 0 for p in self.points]
        # plotext takes `labels` for several series; its type hints only know `label`
        plt.stacked_bar(names, [tokens_in, tokens_out], labels=["in", "out"], orientation="horizontal")  # type: ignore[call-arg]


class ChartsPanel(Horizontal):
    """The three charts in a row."""

    DEFAULT_CSS = """
    ChartsPanel {
        height: 14;
    }
    """

    def __init__(self, points: Sequence[ModelPoint] = (), *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._points = list(points)

    def compose(self) -> ComposeResult:
        yield CostPassChart(self._points, classes="chart-cost")
        yield LatencyChart(self._points, classes="chart-latency")
        yield TokensChart(self._points, classes="chart-tokens")

    @property
    def charts(self) -> list[ModelChart]:
        return list(self.query(ModelChart))

    def set_points(self, points: Sequence[ModelPoint]) -> None:
        self._points = list(points)
        for chart in self.charts:
            chart.set_points(self._points)

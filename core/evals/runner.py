"""``agentic-flow eval SUITE.yaml --models a,b,c [--runs K]``: the matrix, run and kept.

Every cell (task × model × run) is an :class:`~core.compare.agentic.IsolatedRun`: the
agent with its tools in its own copy of the task's fixture, then the task's checks in
that copy (:mod:`.checks`). Cells run concurrently, at most ``--max-concurrency`` per
provider, through an :class:`~.limiter.AdaptiveLimiter` that halves a provider's cap on
429 and honours ``Retry-After``; a cell that stays rate limited to the end is put back
in the queue (up to ``max_attempts``).

Cells start slowest model first: by the latency measured in the user's earlier runs
(TTFT p50 plus a typical answer at the measured tokens/s; a model never measured counts
as the median of those measured), so a long cell does not wait behind short ones and the
matrix ends sooner (longest-processing-time-first scheduling).

Each judged cell is written to the store at once (:class:`~.cache.EvalStore`), keyed by
(task, fixture hash, model, params hash, run index). The run's own id is a hash of the
suite's path and text, the models, the run count and the base URL, so running the same
command again is the same run: stored cells are skipped (``cached``) and only the rest
run — after a crash, a Ctrl-C or a ``kill``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentic_flow.core import __version__
from agentic_flow.core.agents.catalog import load_catalog
from agentic_flow.core.compare.agentic import AgentRunSpec, IsolatedRun
from agentic_flow.core.compare.isolation import sweep_stale_copies
from agentic_flow.core.compare.result import ModelRun
from agentic_flow.core.compare.runner import parse_models
from agentic_flow.core.config import LoadedSettings, load_settings
from agentic_flow.core.errors import AgenticFlowError, ConfigError, StoreError
from agentic_flow.core.evals.cache import EvalStore
from agentic_flow.core.evals.cells import Cell, build_matrix
from agentic_flow.core.evals.checks import run_checks
from agentic_flow.core.evals.limiter import DEFAULT_MAX_CONCURRENCY, AdaptiveLimiter
from agentic_flow.core.evals.records import TRANSIENT_KINDS, CellResult, CheckResult, EvalRun
from agentic_flow.core.evals.suite import Suite
from agentic_flow.core.events import Event, Retrying
from agentic_flow.core.routing.router import task_type_of
from agentic_flow.core.store.database import Store

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.agents.catalog import Agent
    from agentic_flow.core.models.catalog import ModelCatalog

__all__ = ["EvalProgress", "EvalRunner", "eval_id_for"]

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
TYPICAL_ANSWER_TOKENS = 500
"""Output tokens assumed per cell when ordering cells by expected duration."""
RATE_LIMIT_PAUSE = 1.0
"""Seconds a provider's new cells wait after a run that ended rate limited (no Retry-After known)."""


def eval_id_for(suite: Suite, models: list[str], runs: int, base_url: str | None) -> str:
    """The run's id: the same suite (path and text), models, runs and server give the same id."""
    raw = "\0".join([str(suite.path or suite.name), suite.text_hash, ",".join(models), str(runs), base_url or ""])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:12]


@dataclass
class EvalProgress:
    """Where the matrix is: cells done (this time), cached (stored before), running, failed."""

    total: int
    cached: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    running: int = 0
    started: float = field(default_factory=time.perf_counter)

    @property
    def done(self) -> int:
        """Cells that ran to a verdict this time."""
        return self.passed + self.failed

    @property
    def remaining(self) -> int:
        return max(0, self.total - self.cached - self.done - self.errors)

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the pace of the cells finished so far (None before the first)."""
        finished = self.done + self.errors
        if not finished:
            return None
        elapsed = time.perf_counter() - self.started
        return elapsed / finished * self.remaining

    def line(self) -> str:
        eta = self.eta_s
        when = "-" if eta is None else (f"{eta:.0f}s" if eta < 90 else f"{eta / 60:.1f}m")
        return (
            f"{self.cached + self.done + self.errors}/{self.total} cells · done {self.done} "
            f"(passed {self.passed}, failed {self.failed}) · cached {self.cached} · running {self.running} · "
            f"errors {self.errors} · ETA {when}"
        )


def _versions(repo_dir: Path) -> dict[str, Any]:
    commit = None
    try:
        proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo_dir, capture_output=True, text=True, timeout=10)
        if proc.returncode == 0:
            commit = proc.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    return {"agentic_flow": __version__, "python": platform.python_version(), "git_commit": commit}


class EvalRunner:
    """Plan and run an eval of ``suite`` on ``models``.

    Args:
        runs: runs of every task on every model (``--runs K``).
        max_concurrency: cells running at once per provider (``--max-concurrency``).
        store: where cells and the run are kept (default: the user's store).
        catalog: prices for costs (default: the model catalog).
        base_url: send every model's (and judge's) requests to this server.
        repo_dir: the repository git-ref fixtures come from (default: the current dir).
        keep: keep every cell's copy of its workspace.
        on_progress: called with the :class:`EvalProgress` after every change.
        on_cell: called with each finished :class:`CellResult` (errors included).
        on_event: called with ``(cell, event)`` for every event of every run.
    """

    def __init__(
        self,
        suite: Suite,
        models: list[str] | str,
        *,
        runs: int = 1,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        store: "Store | None" = None,
        catalog: "ModelCatalog | None" = None,
        settings: LoadedSettings | None = None,
        base_url: str | None = None,
        retries: int | None = None,
        agents_dir: str | None = None,
        repo_dir: Path | None = None,
        keep: bool = False,
        max_attempts: int = MAX_ATTEMPTS,
        on_progress: Callable[[EvalProgress], None] | None = None,
        on_cell: Callable[[CellResult], None] | None = None,
        on_event: Callable[[Cell, Event], None] | None = None,
    ) -> None:
        if runs < 1:
            raise ConfigError("--runs must be 1 or more")
        if max_concurrency < 1:
            raise ConfigError("--max-concurrency must be 1 or more")
        self.suite = suite
        self.models = parse_models(models)
        self.runs = runs
        self.repo_dir = (repo_dir or Path.cwd()).resolve()
        self.settings = settings or load_settings(self.repo_dir)
        if store is None:
            store = Store()
        self.store = store
        self.cache = EvalStore(store)
        if catalog is None:
            # lazy: the catalog is read only when none is given
            from agentic_flow.core.models.catalog import ModelCatalog

            catalog = ModelCatalog.load(settings=self.settings.merged)  # with the prices set in the config
        self.catalog = catalog
        self.base_url = base_url
        self.retries = retries
        self.agents_dir = agents_dir
        self.keep = keep
        self.max_attempts = max_attempts
        self.limiter = AdaptiveLimiter(max_concurrency=max_concurrency)
        self.on_progress = on_progress
        self.on_cell = on_cell
        self.on_event = on_event
        self.agents = self._agents()
        self.cells = build_matrix(
            suite, self.models, runs, agent_prompts={n: (a.prompt if a else None) for n, a in self.agents.items()},
            repo_dir=self.repo_dir, extra=base_url or "",
        )
        self.id = eval_id_for(suite, self.models, runs, base_url)
        self.progress = EvalProgress(total=len(self.cells))
        self.results: dict[str, CellResult] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._start_gate: asyncio.Semaphore | None = None

    def _agents(self) -> dict[str | None, "Agent | None"]:
        catalog = load_catalog(Path(self.agents_dir) if self.agents_dir else None, cwd=self.repo_dir)
        default = self.settings.merged.default_agent or "coder"
        agents: dict[str | None, Agent | None] = {}
        for task in self.suite.tasks:
            name = self.suite.effective(task)["agent"]
            if name not in agents:
                try:
                    agents[name] = catalog.get(name or default)
                except AgenticFlowError as exc:
                    raise ConfigError(f"task {task.id}: {exc}", path=str(self.suite.path)) from None
        return agents

    def agent_name(self, cell: Cell) -> str:
        agent = self.agents.get(self.suite.effective(cell.task)["agent"])
        return agent.name if agent is not None else (self.settings.merged.default_agent or "coder")

    def task_type(self, cell: Cell) -> str:
        if cell.task.type:
            return cell.task.type
        return task_type_of(cell.task.prompt, self.agents.get(self.suite.effective(cell.task)["agent"]))

    # ------------------------------------------------------------------ planning

    def header(self, status: str = "running") -> EvalRun:
        now = datetime.now(timezone.utc)
        existing = self.cache.get_run(self.id)
        return EvalRun(
            id=self.id, suite_name=self.suite.name, suite_path=str(self.suite.path) if self.suite.path else None,
            created_at=existing.created_at if existing else now, updated_at=now, models=self.models, runs=self.runs,
            tasks=[t.id for t in self.suite.tasks], cell_keys=[c.key for c in self.cells],
            status=status,  # type: ignore[arg-type]
            settings={
                "max_concurrency": self.limiter.max_concurrency, "base_url": self.base_url, "keep": self.keep,
                **_versions(self.repo_dir),
            },
        )

    def slowest_first(self, cells: list[Cell]) -> list[Cell]:
        """``cells`` ordered by the expected duration of their model, longest first (stable)."""
        try:
            # latency is recorded by the runs in the user's store, which may not be self.store
            with Store() as store:
                stats = store.all_latency_stats()
        except StoreError:
            return cells
        expected: dict[str, float] = {}
        for model in self.models:
            s = stats.get(model)
            if s is not None and s.ttft_p50 is not None:
                seconds = s.ttft_p50 / 1000
                if s.tps_p50:
                    seconds += TYPICAL_ANSWER_TOKENS / s.tps_p50
                expected[model] = seconds
        if not expected:
            return cells
        typical = statistics.median(expected.values())
        return sorted(cells, key=lambda c: (-expected.get(c.model_id, typical), c.model_id not in expected))

    def cached_keys(self) -> set[str]:
        return self.cache.done_keys(c.key for c in self.cells)

    # ------------------------------------------------------------------ running

    async def run(self) -> tuple[EvalRun, list[CellResult]]:
        """Run every cell not stored yet; returns the run and its stored cells (matrix order)."""
        await asyncio.to_thread(sweep_stale_copies)
        cached = await asyncio.to_thread(self.cached_keys)
        self.progress = EvalProgress(total=len(self.cells), cached=len(cached))
        await asyncio.to_thread(self.cache.save_run, self.header())
        self._report()
        todo = await asyncio.to_thread(self.slowest_first, [c for c in self.cells if c.key not in cached])
        self._start_gate = asyncio.Semaphore(1)
        tasks = [asyncio.create_task(self._cell(c)) for c in todo]
        status = "interrupted"
        try:
            await asyncio.gather(*tasks)
            status = "complete" if not self.progress.errors else "incomplete"
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for task in list(self._background):
                task.cancel()
            header = self.header(status)
            try:
                await asyncio.shield(asyncio.to_thread(self.cache.save_run, header))
            except StoreError as exc:
                logger.warning("eval: could not update run %s: %s", self.id, exc)
        stored = await asyncio.to_thread(self.cache.run_cells, header)
        return header, stored

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.progress)

    async def _cell(self, cell: Cell) -> None:
        result: CellResult | None = None
        for attempt in range(1, self.max_attempts + 1):
            async with self.limiter.slot(cell.provider) as slot:
                self.progress.running += 1
                self._report()
                try:
                    result = await self._execute(cell, slot, attempt)
                finally:
                    self.progress.running -= 1
                if result.status == "error" and result.run.error_kind == "rate_limited":
                    slot.rate_limited = True
                    await self.limiter.rate_limited(cell.provider, RATE_LIMIT_PAUSE)
                    if attempt < self.max_attempts:
                        continue
            break
        assert result is not None
        self.results[cell.key] = result
        if result.status == "error":
            self.progress.errors += 1
        else:
            try:
                await asyncio.to_thread(self.cache.save_cell, result)
            except StoreError as exc:
                logger.warning("eval: could not store cell %s: %s", cell.label, exc)
            if result.status == "passed":
                self.progress.passed += 1
            else:
                self.progress.failed += 1
        if self.on_cell is not None:
            self.on_cell(result)
        self._report()

    async def _execute(self, cell: Cell, slot: Any, attempt: int) -> CellResult:
        task = cell.task
        options = self.suite.effective(task)
        spec = AgentRunSpec(
            task=task.prompt, model_id=cell.model_id, agent=self.agent_name(cell), agents_dir=self.agents_dir,
            approve=options["approve"], base_url=self.base_url, max_turns=options["max_turns"],
            max_tokens=options["max_tokens"], temperature=options["temperature"], timeout=options["timeout"],
            retry=self.retries, no_tools=not options["tools"],
        )
        started = datetime.now(timezone.utc)

        def emit(event: Event) -> None:
            if isinstance(event, Retrying) and event.status == 429:
                slot.rate_limited = True
                job = asyncio.get_running_loop().create_task(self.limiter.rate_limited(cell.provider, event.delay))
                self._background.add(job)
                job.add_done_callback(self._background.discard)
            if self.on_event is not None:
                self.on_event(cell, event)

        checks: list[CheckResult] = []
        error: str | None = None
        try:
            async with IsolatedRun(
                spec, source=cell.fixture.source, ref=cell.fixture.ref, run_index=cell.run_index,
                catalog=self.catalog, keep=self.keep, label=f"{task.id}-{cell.model_id}",
                plain=cell.fixture.ref is None, start_gate=self._start_gate,
            ) as isolated:
                run = await isolated.execute(emit)
                await isolated.collect_diff()
                transient = run.status == "failed" and (run.error_kind or "") in TRANSIENT_KINDS
                if not transient:
                    checks = await run_checks(
                        task.checks, suite=self.suite, task=task, isolated=isolated, run=run, settings=self.settings,
                        catalog=self.catalog, base_url=self.base_url, store=self.store,
                    )
        except AgenticFlowError as exc:  # the copy could not be made, git failed, ...
            run = ModelRun(model_id=cell.model_id, run_index=cell.run_index, status="failed", stop_reason="error",
                           error=str(exc), error_kind=type(exc).__name__)
            transient = True
            error = str(exc)
        unmade = next((c for c in checks if c.could_not_run), None)
        if transient:
            status = "error"
            error = error or run.error
        elif unmade is not None:  # the task ran, but a check could not be made: not a verdict
            status = "error"
            error = unmade.detail
        else:
            status = "passed" if run.status == "ok" and all(c.passed for c in checks) else "failed"
            if run.status != "ok":
                error = run.error
        return CellResult(
            key=cell.key, task_id=task.id, task_type=self.task_type(cell), model_id=cell.model_id,
            run_index=cell.run_index, fixture_hash=cell.fixture.hash, params_hash=cell.params_hash,
            status=status, run=run, checks=checks, error=error,  # type: ignore[arg-type]
            attempts=attempt, started_at=started, finished_at=datetime.now(timezone.utc), eval_id=self.id,
        )

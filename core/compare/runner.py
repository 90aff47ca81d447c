"""One task on N models at once: measured side by side, failures isolated, results kept.

Every model gets its own provider and its own asyncio task; the runs share nothing but
the HTTP connection pool, so one model failing (missing key, 500s, a timeout, a stream
cut off) is recorded as failed with its error and never stops the others. With
``runs=K`` the models run K rounds (all models concurrently within a round, rounds one
after another, so a provider's rate limit is not hit K times at once) and each figure
is reported as a median with its spread.

What is measured, from the stream's own timing (``time.perf_counter``):

* TTFT — request sent → first text, reasoning or tool-call token (retries included:
  that is what the user waits for);
* total — request sent → end of the turn; tokens/s — output tokens over the time after
  the first token;
* tokens in/out — as the server reported them, else counted with tiktoken and marked
  estimated; cost — from the model catalog (``None``, shown ``?``, when not priced).

No tools are offered: a comparison measures each model's answer to the same prompt,
and tool calls would make the runs act on the workspace concurrently and their timings
incomparable. An agent contributes its system prompt only.

The live form, :meth:`Comparison.stream`, yields ``(model_id, event)`` as the events
arrive (provider events plus :class:`RunStarted` / :class:`RunFinished`), so a screen
can stream N columns; :attr:`Comparison.live` holds each model's running figures.
:func:`compare` runs it to the end and returns the :class:`CompareResult`. Results are
kept in SQLite by :class:`core.compare_store.CompareStore`; latency samples (of finished
runs that needed no retry) go to the store's ``runs_latency`` (source ``compare``) and
usage to its ``turns``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Literal, Sequence

from agentic_flow.core.agents.catalog import load_catalog
from agentic_flow.core.compare.codecheck import (
    CheckReport,
    check_blocks,
    extract_blocks,
    run_check_command,
)
from agentic_flow.core.compare.options import CallOptions, CheckOptions
from agentic_flow.core.compare.result import (
    OK_STOPS,
    CompareResult,
    ModelRun,
    ModelSummary,
)
from agentic_flow.core.compare.results import CompareStore
from agentic_flow.core.config import LoadedSettings, Settings, load_settings
from agentic_flow.core.errors import AgenticFlowError, ConfigError, StoreError
from agentic_flow.core.events import (
    Event,
    MessageStarted,
    ProviderFailed,
    Retrying,
    TextDelta,
    ThinkingDelta,
    ToolCallStarted,
    TurnEnded,
    Usage,
)
from agentic_flow.core.http import HttpClient
from agentic_flow.core.local.server import ensure_local_server
from agentic_flow.core.messages import ChatRequest, UserMessage
from agentic_flow.core.models.catalog import ModelCatalog
from agentic_flow.core.models.tokens import count_request_tokens, count_tokens
from agentic_flow.core.paths import project_settings_file, user_config_file
from agentic_flow.core.permissions import PermissionEngine, PolicyApprover
from agentic_flow.core.permissions.audit import AuditLog
from agentic_flow.core.runtime import make_provider

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.agents.catalog import Agent
    from agentic_flow.core.http import HttpClient
    from agentic_flow.core.models.catalog import ModelCatalog
    from agentic_flow.core.permissions import Approver, PermissionEngine
    from agentic_flow.core.store.database import Store

__all__ = [
    "RunStarted",
    "RunFinished",
    "LiveMeter",
    "Comparison",
    "compare",
    "parse_models",
]

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- live events


class RunStarted(Event):
    """A model's run began (its column can show "waiting for the first token")."""

    type: Literal["compare_run_started"] = "compare_run_started"
    model_id: str
    run_index: int


class RunFinished(Event):
    """A model's run ended; ``run`` has its figures and code checks."""

    type: Literal["compare_run_finished"] = "compare_run_finished"
    model_id: str
    run: ModelRun


@dataclass
class LiveMeter:
    """A run's figures while it streams (read by a screen on its own timer)."""

    started: float | None = None
    first_token: float | None = None
    ended: float | None = None
    chars: int = 0
    usage: Usage | None = None

    def start(self) -> None:
        self.started = time.perf_counter()

    def observe(self, event: Event) -> None:
        now = time.perf_counter()
        if isinstance(event, (TextDelta, ThinkingDelta)):
            if self.first_token is None and event.text:
                self.first_token = now
            self.chars += len(event.text)
        elif isinstance(event, ToolCallStarted) and self.first_token is None:
            self.first_token = now
        elif isinstance(event, Usage):
            self.usage = event
        elif isinstance(event, TurnEnded):
            self.ended = now

    def stop(self) -> None:
        if self.ended is None:
            self.ended = time.perf_counter()

    @property
    def ttft_s(self) -> float | None:
        if self.started is None or self.first_token is None:
            return None
        return self.first_token - self.started

    @property
    def elapsed_s(self) -> float | None:
        if self.started is None:
            return None
        return (self.ended or time.perf_counter()) - self.started

    @property
    def output_tokens(self) -> int:
        """Reported output tokens once known; before that ~4 characters per token."""
        return self.usage.output_tokens if self.usage is not None else round(self.chars / 4)

    @property
    def tokens_per_s(self) -> float | None:
        if self.first_token is None:
            return None
        gen = (self.ended or time.perf_counter()) - self.first_token
        return self.output_tokens / gen if gen > 0 and self.output_tokens > 0 else None


# --------------------------------------------------------------------------- running


def parse_models(text: str | Sequence[str]) -> list[str]:
    """``"a:x, b:y,a:x"`` → ``["a:x", "b:y"]`` (order kept, duplicates dropped)."""
    items = text.split(",") if isinstance(text, str) else list(text)
    models = list(dict.fromkeys(m.strip() for m in items if m.strip()))
    if not models:
        raise ConfigError("no models given: --models PROVIDER:MODEL,PROVIDER:MODEL,...")
    for m in models:
        if ":" not in m.strip(":"):
            raise ConfigError(f"model id {m!r} must look like PROVIDER:MODEL (`agentic-flow models` lists them)")
    return models


def _loaded(settings: LoadedSettings | Settings | None) -> LoadedSettings:
    """The settings files when none are given; a bare Settings wrapped as if from the user file."""
    if isinstance(settings, LoadedSettings):
        return settings
    if settings is None:

        return load_settings()

    return LoadedSettings(
        merged=settings, user=settings, project=Settings(), user_file=user_config_file(),
        project_file=project_settings_file(),
    )


_DONE = object()


@dataclass
class _Collected:
    text: list[str] = field(default_factory=list)
    stop: str = ""
    errors: list[ProviderFailed] = field(default_factory=list)
    retries: int = 0
    reported: str | None = None
    usage: Usage | None = None


class Comparison:
    """A comparison being run: iterate :meth:`stream`, then read :attr:`result`.

    Args:
        task: the prompt sent to every model.
        model_ids: ``provider:model`` ids (duplicates are dropped).
        agent: an agent (or its name, looked up in the catalog); its prompt is the system prompt.
        runs: rounds per model (≥ 1).
        settings: providers, keys, timeouts (default: the settings files); ``retries``
            falls back to them.
        catalog: prices (default: the loaded model catalog).
        store: where latency, usage and the result are recorded (None: nowhere).
        check_cmd: ``--check CMD``, run on each finished answer with code through
            ``engine`` and ``approver`` (built from settings, headless deny, if omitted).
        timeout: seconds one model's run may take in all (also its read timeout).
        base_url: send every model's requests to this server.
    """

    def __init__(
        self,
        task: str,
        model_ids: Sequence[str],
        *,
        agent: "Agent | str | None" = None,
        agents_dir: str | None = None,
        system: str | None = None,
        runs: int = 1,
        call: CallOptions = CallOptions(),
        check: CheckOptions = CheckOptions(),
        settings: LoadedSettings | Settings | None = None,
        catalog: "ModelCatalog | None" = None,
        store: "Store | None" = None,
        http: "HttpClient | None" = None,
    ) -> None:
        if not task.strip():
            raise ConfigError("the task is empty: pass --task \"...\" or pipe it on stdin")
        if runs < 1:
            raise ConfigError("--runs must be 1 or more")
        self.task = task
        self.model_ids = parse_models(model_ids)
        self.runs = runs
        self.settings = _loaded(settings)
        if catalog is None:
            catalog = ModelCatalog.load(settings=self.settings.merged)
        self.catalog = catalog
        self.store = store
        self.call = call
        self.check = check
        if isinstance(agent, str):
            agent = load_catalog(Path(agents_dir) if agents_dir else None).get(agent)
        self.agent = agent
        self.system = system if system is not None else (agent.prompt if agent is not None else None)
        self.id = uuid.uuid4().hex[:12]
        self.created_at = datetime.now(timezone.utc)
        self.live: dict[str, LiveMeter] = {}
        self.finished: dict[str, list[ModelRun]] = {m: [] for m in self.model_ids}
        self.result: CompareResult | None = None
        self._http = http
        self._own_http = http is None
        self._decide_lock = asyncio.Lock()
        self._started = False

    # -- the live stream -------------------------------------------------------------
    async def stream(self) -> AsyncIterator[tuple[str, Event]]:
        """``(model_id, event)`` for every event of every model, as they arrive."""
        if self._started:
            raise RuntimeError("a Comparison can be streamed once")
        self._started = True
        if self._http is None:

            self._http = HttpClient()
        began = time.perf_counter()
        tasks: list[asyncio.Task[None]] = []
        complete = False
        try:
            self._prepare_checks()
            for round_index in range(self.runs):
                queue: asyncio.Queue[Any] = asyncio.Queue()
                tasks = [asyncio.create_task(self._guarded(m, round_index, queue)) for m in self.model_ids]
                pending = len(tasks)
                while pending:
                    item = await queue.get()
                    if item is _DONE:
                        pending -= 1
                        continue
                    yield item
            complete = True
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            if self._own_http and self._http is not None:
                await self._http.aclose()
            self.result = self._build(time.perf_counter() - began, complete)
        if self.store is not None:
            await asyncio.to_thread(self._save_result, self.result)

    def _prepare_checks(self) -> None:
        """A check command with no engine or approver given: the project's rules, no person."""
        check = self.check
        if check.command is None or (check.engine is not None and check.approver is not None):
            return
        engine = check.engine
        if engine is None:
            engine, warnings = PermissionEngine.from_settings(
                Path.cwd(), user_settings=self.settings.user_file, project_settings=self.settings.project_file
            )
            for message in warnings:
                logger.warning("%s", message)
        approver = check.approver or PolicyApprover("deny", context="compare --check")
        self.check = replace(check, engine=engine, approver=approver)

    async def _guarded(self, model_id: str, run_index: int, queue: asyncio.Queue[Any]) -> None:
        """One model's run; whatever happens, it ends with a RunFinished and _DONE."""
        try:
            run = await self._run_model(model_id, run_index, queue)
        except asyncio.CancelledError:
            queue.put_nowait(_DONE)
            raise
        except Exception as exc:  # a bug in one run must not end the others
            logger.exception("compare: run of %s failed unexpectedly", model_id)
            run = ModelRun(
                model_id=model_id, run_index=run_index, status="failed", error=f"internal error: {exc!r}",
                error_kind="internal", stop_reason="error",
            )
        self.finished[model_id].append(run)
        queue.put_nowait((model_id, RunFinished(model_id=model_id, run=run)))
        queue.put_nowait(_DONE)

    async def _run_model(self, model_id: str, run_index: int, queue: asyncio.Queue[Any]) -> ModelRun:

        meter = LiveMeter()
        self.live[model_id] = meter
        queue.put_nowait((model_id, RunStarted(model_id=model_id, run_index=run_index)))
        got = _Collected()
        wire = model_id.split(":", 1)[1]
        request = ChatRequest(
            model=wire,
            messages=[UserMessage(content=self.task)],
            system=self.system,
            max_tokens=self.call.max_tokens,
            temperature=self.call.temperature,
        )

        def emit(event: Event) -> None:
            meter.observe(event)
            queue.put_nowait((model_id, event))

        try:
            if model_id.startswith("local:"):
                await ensure_local_server(model=wire)
            provider = make_provider(
                model_id, self.settings, base_url=self.call.base_url, timeout=self.call.timeout,
                retry=self.call.retries, http=self._http,
            )
            meter.start()
            async with _deadline(self.call.timeout):
                async for event in provider.stream(request):
                    _collect(got, event)
                    emit(event)
        except TimeoutError:
            got.stop = "timeout"
            got.errors.append(ProviderFailed(
                provider=model_id.split(":", 1)[0], model=wire, kind="timeout",
                message=f"{model_id}: no complete answer within {self.call.timeout:g} s (--timeout); "
                "the text received so far is kept",
            ))
            emit(got.errors[-1])
        except AgenticFlowError as exc:
            got.stop = got.stop or "error"
            got.errors.append(ProviderFailed(
                provider=model_id.split(":", 1)[0], model=wire, message=str(exc),
                kind=str(getattr(exc, "kind", type(exc).__name__)),
            ))
            emit(got.errors[-1])
        meter.stop()
        run = self._figures(model_id, run_index, request, got, meter)
        run.checks = await self._checks(run)
        if self.store is not None:
            await asyncio.to_thread(self._record, run)
        return run

    def _figures(
        self, model_id: str, run_index: int, request: ChatRequest, got: _Collected, meter: LiveMeter
    ) -> ModelRun:
        text = "".join(got.text)
        ok = got.stop in OK_STOPS
        fatal = None if ok else (got.errors[-1] if got.errors else None)
        warnings = [e.message for e in got.errors if e is not fatal]
        usage = got.usage
        if usage is None and text:

            usage = Usage(
                input_tokens=count_request_tokens(request.messages, request.system, (), request.model),
                output_tokens=count_tokens(text, request.model),
                estimated=True,
            )
        total = None if meter.started is None or meter.ended is None else meter.ended - meter.started
        ttft = meter.ttft_s
        tps = None
        if usage is not None and ttft is not None and total is not None and usage.output_tokens > 0:
            gen = total - ttft
            tps = usage.output_tokens / gen if gen > 0 else None
        cost = None
        if usage is not None:
            cost = self.catalog.cost(model_id, usage.input_tokens, usage.output_tokens)
        error: str | None
        if not ok and fatal is None:
            error = "the stream ended without finishing the turn"
        else:
            error = None if fatal is None else fatal.message
        return ModelRun(
            model_id=model_id,
            run_index=run_index,
            status="ok" if ok else "failed",
            error=error,
            error_kind=None if ok else (fatal.kind if fatal is not None else "cut_off"),
            warnings=warnings,
            reported_model=got.reported,
            ttft_s=ttft,
            total_s=total,
            tokens_per_s=tps,
            input_tokens=None if usage is None else usage.input_tokens,
            output_tokens=None if usage is None else usage.output_tokens,
            estimated=bool(usage and usage.estimated),
            cost=cost,
            stop_reason=got.stop or "cut_off",
            retries=got.retries,
            answer=text,
        )

    async def _checks(self, run: ModelRun) -> CheckReport:
        blocks = extract_blocks(run.answer)
        report = CheckReport(blocks=check_blocks(blocks))
        check = self.check
        if check.command and run.status == "ok" and blocks and check.engine is not None and check.approver is not None:
            audit = AuditLog(self.store) if self.store is not None else None
            report.command = await run_check_command(
                check.command, run.answer, engine=check.engine, approver=_Serialised(check.approver, self._decide_lock),
                timeout=check.timeout, blocks=blocks, model=run.model_id, audit=audit,
                sandbox_settings=self.settings.merged.sandbox,
            )
        return report

    # -- storage ----------------------------------------------------------------------
    def _record(self, run: ModelRun) -> None:
        """Usage into ``turns`` (it was spent) and, for finished runs, a latency sample."""

        assert self.store is not None
        try:
            if run.input_tokens is not None and run.output_tokens is not None:
                self.store.record_turn(
                    None, model=run.model_id, input_tokens=run.input_tokens, output_tokens=run.output_tokens,
                    estimated=run.estimated, cost=run.cost,
                    ttft_ms=None if run.ttft_s is None else run.ttft_s * 1000,
                    tokens_per_s=run.tokens_per_s,
                    total_ms=None if run.total_s is None else run.total_s * 1000,
                    stop_reason=run.stop_reason,
                )
            # A retried run's TTFT measures the backoff, not the model: not a latency sample.
            if run.status == "ok" and run.ttft_s is not None and run.retries == 0:
                self.store.record_latency(
                    run.model_id, ttft_ms=run.ttft_s * 1000, tokens_per_s=run.tokens_per_s,
                    output_tokens=run.output_tokens, source="compare",
                )
        except StoreError as exc:  # the figures on screen matter more than the record
            logger.warning("compare: could not record %s: %s", run.model_id, exc)

    def _save_result(self, result: CompareResult) -> None:

        assert self.store is not None

        try:
            CompareStore(self.store).save(result)
        except StoreError as exc:
            logger.warning("compare: could not store the result: %s", exc)

    def _build(self, wall: float, complete: bool) -> CompareResult:
        return CompareResult(
            id=self.id,
            created_at=self.created_at,
            task=self.task,
            agent=self.agent.name if self.agent is not None else None,
            models=self.model_ids,
            runs=self.runs,
            wall_s=wall,
            check_cmd=self.check.command,
            complete=complete,
            summaries=[
                ModelSummary.of(m, sorted(self.finished[m], key=lambda r: r.run_index)) for m in self.model_ids
            ],
        )


class _Serialised:
    """An approver that answers one question at a time (N answers may ask at once)."""

    def __init__(self, inner: "Approver", lock: asyncio.Lock) -> None:
        self.inner = inner
        self.lock = lock

    async def ask(self, request: Any, verdict: Any) -> Any:
        async with self.lock:
            return await self.inner.ask(request, verdict)


def _collect(got: _Collected, event: Event) -> None:
    if isinstance(event, TextDelta):
        got.text.append(event.text)
    elif isinstance(event, MessageStarted):
        got.reported = event.model
    elif isinstance(event, Usage):
        got.usage = event
    elif isinstance(event, TurnEnded):
        got.stop = event.stop_reason
    elif isinstance(event, ProviderFailed):
        got.errors.append(event)
    elif isinstance(event, Retrying):
        got.retries += 1


def _deadline(seconds: float | None) -> contextlib.AbstractAsyncContextManager[Any]:
    return asyncio.timeout(seconds) if seconds is not None else contextlib.nullcontext()


async def compare(task: str, model_ids: Sequence[str], **options: Any) -> CompareResult:
    """Run :class:`Comparison` to the end (same arguments) and return its result."""
    comparison = Comparison(task, model_ids, **options)
    async for _ in comparison.stream():
        pass
    assert comparison.result is not None
    return comparison.result

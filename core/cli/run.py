"""``agentic-flow run``: one task, headless, streamed to stdout.

stdout carries the answer and nothing else: the text of each turn as it arrives (turns
separated by a line break), or with ``--json`` every event as one JSON line carrying the
session id. Progress, tool calls, errors (one line each) and the final summary go to
stderr, so stdout can be piped or redirected cleanly; a line on stderr never puts a
character into stdout (when both are one terminal, stderr gets the line break).

Only the main agent's answer goes to stdout. Subagents' work (see ``core.agents.delegation``)
shows on stderr, each line marked with its agent path (``[coder › reviewer]``), their
figures count in the summary, and ``--json`` lines carry every event's ``agent_id`` /
``parent_id``.

When the reader of stdout goes away (``run … | head -1``) the run stops as after Ctrl-C
— the answer so far is saved — without a traceback, and exits 141 like a program killed
by SIGPIPE (``git log | head``). Ctrl-C stops the model and keeps what arrived; SIGTERM
(``docker stop``, ``kill``, a CI timeout) does the same — the turn is cancelled, running
commands' process groups are killed, the partial answer is printed and saved — and the
exit code is 143 instead of 130.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from pathlib import Path
from typing import TextIO

import orjson

from agentic_flow.core.cli.checks import seconds_problem, url_problem, workspace_problem
from agentic_flow.core.cli.exit_codes import (
    EXIT_CUT_OFF,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PIPE,
    EXIT_PROVIDER,
    EXIT_TERMINATED,
    EXIT_USAGE,
)
from agentic_flow.core.cli.output import err, fmt_cost, fmt_seconds, fmt_tokens, silence_stdout, warn
from agentic_flow.core.cli.task_input import read_task
from agentic_flow.core.events import (
    MAIN_AGENT_ID,
    Event,
    MessageStarted,
    Notice,
    PermissionDecided,
    PermissionRequested,
    ProviderFailed,
    Retrying,
    SubagentFinished,
    SubagentStarted,
    TextDelta,
    ToolCallReady,
    ToolResult,
    TurnEnded,
)
from agentic_flow.core.redact import redact, redact_obj

__all__ = ["cmd_run", "failure_line"]


def failure_line(event: ProviderFailed) -> str:
    """A provider failure as one line: who failed (provider, model, HTTP status), once, then what."""
    where = event.provider + (f" ({event.model})" if event.model else "")
    if event.status:
        where += f" HTTP {event.status}"
    return f"{where}: {event.message}" if where else event.message


class _Answer:
    """stdout for the answer: notes where the text stands and when its reader left."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.closed = False
        self.at_line_start = True
        try:
            self.terminal = stream.isatty()
        except (AttributeError, ValueError, OSError):
            self.terminal = False

    def write(self, text: str) -> None:
        if self.closed or not text:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except BrokenPipeError:
            self.closed = True
            silence_stdout(self.stream)
            return
        self.at_line_start = text.endswith("\n")

    def end_line(self) -> None:
        """End a line of answer text (between turns, and at the end)."""
        if not self.at_line_start:
            self.write("\n")

    def before_stderr(self) -> None:
        """About to print a line on stderr: on a shared terminal, start it on its own line
        (the break goes to stderr, so stdout keeps exactly the answer)."""
        if self.terminal and not self.at_line_start and not self.closed:
            sys.stderr.write("\n")
            self.at_line_start = True



def _interactive() -> bool:
    """A person can answer prompts only when both stdin and stderr are terminals."""
    try:
        return sys.stdin is not None and sys.stdin.isatty() and sys.stderr.isatty()
    except (ValueError, OSError):
        return False


def cmd_run(args: argparse.Namespace) -> int:
    task = read_task(args.task, sys.stdin)
    if not task:
        err("no task: pass --task \"...\" or pipe it on stdin (echo \"...\" | agentic-flow run ...)")
        return EXIT_USAGE
    for name in ("max_tokens", "max_turns"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            err(f"--{name.replace('_', '-')} must be a positive number")
            return EXIT_USAGE
    if args.temperature is not None and not 0 <= args.temperature <= 2:
        err("--temperature must be between 0 and 2")
        return EXIT_USAGE
    problem = seconds_problem(args.timeout) or workspace_problem(args.workspace) or url_problem(args.base_url)
    if problem:
        err(problem)
        return EXIT_USAGE
    if args.retry is not None and args.retry < 0:
        err("--retry must be 0 or more")
        return EXIT_USAGE
    try:
        return asyncio.run(_run(args, task))
    except asyncio.CancelledError:  # SIGTERM before the answer started streaming
        return EXIT_TERMINATED


class _Terminated:
    """Cancels the run on SIGTERM the way Ctrl-C does (asyncio's SIGINT handler).

    Without it SIGTERM kills the process on the spot: the partial answer is never saved
    and a running command's process group (started in its own session) is orphaned.
    """

    def __init__(self) -> None:
        self.received = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def install(self) -> None:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()

        def on_sigterm() -> None:
            self.received = True
            if task is not None:
                task.cancel()

        try:
            loop.add_signal_handler(signal.SIGTERM, on_sigterm)
        except (NotImplementedError, RuntimeError, ValueError):  # Windows, not the main thread
            return
        self._loop = loop

    def remove(self) -> None:
        if self._loop is not None:
            self._loop.remove_signal_handler(signal.SIGTERM)
            self._loop = None


async def _run(args: argparse.Namespace, task: str) -> int:
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.runtime import RunOptions, Runtime

    opts = RunOptions(
        model=args.model,
        agent=args.agent,
        agents_dir=args.agents_dir,
        base_url=args.base_url,
        system=args.system,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        timeout=args.timeout,
        retry=args.retry,
        max_turns=args.max_turns,
        approve=args.approve,
        workspace=args.workspace,
        no_tools=args.no_tools,
        resume=args.resume,
        task=task,
        trust_mcp=tuple(args.trust_mcp or ()),
    )
    terminated = _Terminated()
    terminated.install()
    try:
        runtime = await Runtime.open(
            opts, interactive=_interactive(), on_notice=lambda message: print(message, file=sys.stderr, flush=True)
        )
        try:
            code = await _stream(runtime, task, args)
        finally:
            await runtime.aclose()
    finally:
        terminated.remove()
    return EXIT_TERMINATED if code == EXIT_INTERRUPTED and terminated.received else code


def _json_line(event: Event, session_id: str | None) -> str:
    """One ``--json`` line: the event with the session id (to ``--resume`` it)."""
    data = event.model_dump(mode="json")
    data["session_id"] = session_id
    line = orjson.dumps(data).decode()
    # Tool calls and permission events echo arguments (keys a model was given);
    # the model's own text is printed as it is, as without --json.
    return line if isinstance(event, TextDelta) else redact(line)


async def _stream(runtime, task: str, args: argparse.Namespace) -> int:  # noqa: ANN001
    session = runtime.session
    out = _Answer(sys.stdout)
    for message in runtime.warnings:
        warn(message)
    if args.model in (None, "auto"):
        print(f"agentic-flow: using {session.model_id} ({runtime.model_reason})", file=sys.stderr)
    reported: str | None = None
    last_stop = ""
    had_error = False
    answer: list[str] = []
    paths: dict[str, str] = {}  # agent_id -> agent path, for the stderr lines
    started = time.perf_counter()
    interrupted = False
    events = session.send(task)
    reader_gone = asyncio.Event()

    async def consume() -> None:
        nonlocal reported, last_stop, had_error
        async for event in events:
            if args.json:
                out.write(_json_line(event, session.session_id) + "\n")
            if event.agent_id != MAIN_AGENT_ID:  # a subagent's: never on stdout
                if not args.json:
                    _describe_subagent(event, paths, out)
            elif isinstance(event, TextDelta):
                answer.append(event.text)
                if not args.json:
                    out.write(event.text)
            elif isinstance(event, MessageStarted):
                reported = event.model
                answer.clear()  # the final answer is the last turn's text
                if not args.json:
                    out.end_line()  # the previous turn's text ends its line
            elif isinstance(event, TurnEnded):
                last_stop = event.stop_reason
            elif isinstance(event, ProviderFailed):
                had_error = True
                out.before_stderr()
                err(failure_line(event))  # with --json too: the log says why it exits 4
            elif not args.json:
                _describe(event, out)
            if out.closed:  # nobody reads the answer any more: to be stopped as Ctrl-C stops it
                reader_gone.set()

    # The events are read in a task of their own so that, when stdout's reader leaves,
    # the run is stopped the way Ctrl-C stops it: cancelled where it waits (the network,
    # a tool), so every layer keeps what it had (the partial answer, the turn's figures).
    # Leaving the loop instead left the session's generators suspended: nothing saved.
    reader = asyncio.create_task(consume())
    gone = asyncio.create_task(reader_gone.wait())
    try:
        await asyncio.wait({reader, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not reader.done():
            reader.cancel()
        try:
            await reader
        except asyncio.CancelledError:
            if not reader_gone.is_set():
                raise
            last_stop = "cancelled"
    except (KeyboardInterrupt, asyncio.CancelledError):
        interrupted = True
        last_stop = "cancelled"
        if not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    finally:
        gone.cancel()
        await events.aclose()  # the turn so far is kept, the connection closed
    if not args.json:
        out.end_line()
    text = "".join(answer)
    output_failed = False
    if args.output:
        try:
            Path(args.output).write_text(text + ("\n" if text and not text.endswith("\n") else ""), encoding="utf-8")
        except OSError as exc:
            err(f"cannot write --output file {args.output}: {exc.strerror or exc}")
            output_failed = True
    if last_stop == "max_tokens":
        warn("the answer stopped at the token limit and may be incomplete: raise --max-tokens (or max_tokens in settings)")
    _summary(session, reported, last_stop, time.perf_counter() - started)
    if out.closed:
        return EXIT_PIPE
    if interrupted:
        return 130
    if last_stop in ("cut_off", "max_tokens"):  # a dropped stream, or the token limit
        return EXIT_CUT_OFF
    if had_error and last_stop == "error":
        return EXIT_PROVIDER
    if output_failed:
        return EXIT_ERROR
    return EXIT_OK


def _describe(event: Event, out: _Answer) -> None:
    """Tool activity and retries, one line each on stderr."""
    line = _line_for(event)
    if line:
        out.before_stderr()
        print(line, file=sys.stderr, flush=True)


def _line_for(event: Event) -> str | None:
    line = None
    if isinstance(event, ToolCallReady):
        shown = redact_obj(event.arguments or {})  # before cutting: a cut key would not be recognised
        args = ", ".join(f"{k}={str(v)[:60]!r}" for k, v in shown.items())
        line = f"→ {event.name}({args})" if not event.error else f"→ {event.name}: {event.error}"
    elif isinstance(event, PermissionRequested):
        line = f"? {event.tool} needs approval: {event.reason}"
    elif isinstance(event, PermissionDecided):
        verdict = "allowed" if event.allowed else "denied"
        line = f"  {verdict} by {event.decided_by}" + (f": {event.reason}" if event.reason and not event.allowed else "")
    elif isinstance(event, ToolResult):
        first = event.content.strip().splitlines()[0][:100] if event.content.strip() else "(no output)"
        line = f"  {'✗' if event.is_error else '✓'} {first}"
    elif isinstance(event, Retrying):
        line = f"retrying in {event.delay:.1f}s (retry {event.attempt} of {event.max_attempts}): {event.reason}"
    elif isinstance(event, Notice):
        line = event.message
    return line


def _describe_subagent(event: Event, paths: dict[str, str], out: _Answer) -> None:
    """A subagent's start, tool activity and end, one line each on stderr, marked with its path."""
    if isinstance(event, SubagentStarted):
        paths[event.agent_id] = event.path
        line = f"⇢ [{event.path}] {event.description} · {event.model} ({event.model_reason})"
    elif isinstance(event, SubagentFinished):
        est = "~" if event.estimated else ""
        error = f": {event.error}" if event.error else ""
        line = (
            f"⇠ [{paths.get(event.agent_id, event.agent_id)}] {event.stop_reason}{error} · {event.turns} turns · "
            f"{est}{event.input_tokens + event.output_tokens} tokens · cost {fmt_cost(event.cost)}"
        )
    else:
        detail = failure_line(event) if isinstance(event, ProviderFailed) else _line_for(event)
        if not detail:
            return
        line = f"  [{paths.get(event.agent_id, event.agent_id)}] {detail.strip()}"
    out.before_stderr()
    print(line, file=sys.stderr, flush=True)


def _summary(session, reported: str | None, stop: str, total: float) -> None:  # noqa: ANN001
    totals = session.all_totals()  # the subagents' turns count too
    ttft = next((t.ttft_s for t in session.totals.turns if t.ttft_s is not None), None)
    est = " (estimated)" if totals.estimated else ""
    model = reported or session.wire_model
    subagents = _count(session)
    parts = [
        f"model {session.model_id.split(':', 1)[0]}:{model}",
        f"tokens in {fmt_tokens(totals.input_tokens, totals.estimated)} / out {fmt_tokens(totals.output_tokens, totals.estimated)}{est}",
        f"cost {fmt_cost(totals.cost)}",
        f"ttft {fmt_seconds(ttft)}",
        f"total {fmt_seconds(total)}",
        f"stop {stop or 'none'}",
    ]
    if subagents:
        parts.insert(3, f"{subagents} subagent{'s' if subagents != 1 else ''} (counted in tokens and cost)")
    if session.session_id:
        answered = any(getattr(m, "role", "") == "assistant" for m in session.messages)
        parts.append(f"session {session.session_id}" if answered or session.resumed else "session not kept (nothing answered)")
    print("── " + " · ".join(parts), file=sys.stderr, flush=True)


def _count(session) -> int:  # noqa: ANN001
    return sum(1 + _count(child) for child in session.children)

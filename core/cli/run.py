"""``agentic-flow run``: one task, headless, streamed to stdout.

Text goes to stdout as it arrives (or every event as JSON Lines with ``--json``);
progress, tool calls and the final one-line summary go to stderr, so stdout can be
piped or redirected cleanly. Ctrl-C stops the model and keeps what arrived; SIGTERM
(``docker stop``, ``kill``, a CI timeout) does the same — the turn is cancelled, running
commands' process groups are killed, the partial answer is printed and saved — and the
exit code is 143 instead of 130.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from pathlib import Path
from typing import TextIO

from agentic_flow.core.cli.exit_codes import (
    EXIT_CUT_OFF,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PROVIDER,
    EXIT_TERMINATED,
    EXIT_USAGE,
)
from agentic_flow.core.cli.output import err, fmt_cost, fmt_seconds, fmt_tokens, warn
from agentic_flow.core.cli.task_input import read_task
from agentic_flow.core.events import (
    Event,
    MessageStarted,
    Notice,
    PermissionDecided,
    PermissionRequested,
    ProviderFailed,
    Retrying,
    TextDelta,
    ToolCallReady,
    ToolResult,
    TurnEnded,
    event_to_json,
)
from agentic_flow.core.redact import redact, redact_obj

__all__ = ["cmd_run"]



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
    if args.timeout is not None and args.timeout <= 0:
        err("--timeout must be more than 0 seconds")
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


async def _stream(runtime, task: str, args: argparse.Namespace) -> int:  # noqa: ANN001
    session = runtime.session
    out = sys.stdout
    for message in runtime.warnings:
        warn(message)
    if args.model in (None, "auto"):
        print(f"agentic-flow: using {session.model_id} ({runtime.model_reason})", file=sys.stderr)
    reported: str | None = None
    last_stop = ""
    had_error = False
    answer: list[str] = []
    started = time.perf_counter()
    interrupted = False
    try:
        async for event in session.send(task):
            if args.json:
                line = event_to_json(event)
                # Tool calls and permission events echo arguments (keys a model was given);
                # the model's own text is printed as it is, as without --json.
                out.write((line if isinstance(event, TextDelta) else redact(line)) + "\n")
                out.flush()
            if isinstance(event, TextDelta):
                answer.append(event.text)
                if not args.json:
                    out.write(event.text)
                    out.flush()
            elif isinstance(event, MessageStarted):
                reported = event.model
                answer.clear()  # the final answer is the last turn's text
            elif isinstance(event, TurnEnded):
                last_stop = event.stop_reason
            elif isinstance(event, ProviderFailed):
                had_error = True
                if not args.json:
                    _newline_if_needed(answer, out)
                    err(event.message)
            elif not args.json:
                _describe(event, answer, out)
    except (KeyboardInterrupt, asyncio.CancelledError):
        interrupted = True
        last_stop = "cancelled"
    if not args.json and answer and not "".join(answer).endswith("\n"):
        out.write("\n")
        out.flush()
    text = "".join(answer)
    if args.output:
        try:
            Path(args.output).write_text(text + ("\n" if text and not text.endswith("\n") else ""), encoding="utf-8")
        except OSError as exc:
            err(f"cannot write --output file {args.output}: {exc.strerror or exc}")
    _summary(session, reported, last_stop, time.perf_counter() - started)
    if interrupted:
        return 130
    if last_stop == "cut_off":
        return EXIT_CUT_OFF
    if had_error and last_stop == "error":
        return EXIT_PROVIDER
    return EXIT_OK


def _newline_if_needed(answer: list[str], out: TextIO) -> None:
    if answer and not answer[-1].endswith("\n"):
        out.write("\n")
        out.flush()


def _describe(event: Event, answer: list[str], out: TextIO) -> None:
    """Tool activity and retries, one line each on stderr."""
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
        line = f"retrying in {event.delay:.1f}s (attempt {event.attempt}/{event.max_attempts}): {event.reason}"
    elif isinstance(event, Notice):
        line = event.message
    if line:
        _newline_if_needed(answer, out)
        print(line, file=sys.stderr, flush=True)


def _summary(session, reported: str | None, stop: str, total: float) -> None:  # noqa: ANN001
    totals = session.totals
    ttft = next((t.ttft_s for t in totals.turns if t.ttft_s is not None), None)
    est = " (estimated)" if totals.estimated else ""
    model = reported or session.wire_model
    parts = [
        f"model {session.model_id.split(':', 1)[0]}:{model}",
        f"tokens in {fmt_tokens(totals.input_tokens, totals.estimated)} / out {fmt_tokens(totals.output_tokens, totals.estimated)}{est}",
        f"cost {fmt_cost(totals.cost)}",
        f"ttft {fmt_seconds(ttft)}",
        f"total {fmt_seconds(total)}",
        f"stop {stop or 'none'}",
    ]
    if session.session_id:
        parts.append(f"session {session.session_id}")
    print("── " + " · ".join(parts), file=sys.stderr, flush=True)

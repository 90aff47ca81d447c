"""The ``bash`` tool: run a shell command in the workspace, inside the command sandbox.

The command runs as ``bash -c`` under the sandbox launcher (``core/sandbox``): writes
only in the workspace and a private ``TMPDIR``, no secret paths, no network unless the
call asks for it (``network: true``, which the permission engine asks a person about)
and no API keys in the environment. It has its own session (so its own process group)
and no stdin. When bash exits, or on timeout, cancel (``ctx.cancel_event``) or task
cancellation, every process it started is killed — also ones that left the group
(``setsid``) — so nothing outlives the call. stdout and stderr are merged in arrival
order and only the tail is kept, so a chatty build cannot flood memory or the model's
context.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time

from pydantic import BaseModel, ConfigDict, Field

from agentic_flow.core.sandbox import Sandbox
from agentic_flow.core.tools.base import Tool, ToolContext, ToolOutput

__all__ = ["BashTool", "DEFAULT_TIMEOUT", "MAX_TIMEOUT", "MAX_OUTPUT_CHARS", "kill_process_group"]

DEFAULT_TIMEOUT = 120.0
MAX_TIMEOUT = 600.0
MAX_OUTPUT_CHARS = 30_000
#: After SIGTERM, how long the group gets to exit before SIGKILL.
_TERM_GRACE = 1.0
#: After bash exits, how long background children may keep the output pipe open.
_PIPE_GRACE = 0.5
#: Non-interactive defaults: no pagers, no credential prompts that would hang the call.
_ENV_DEFAULTS = {"PAGER": "cat", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0"}


class BashArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: str = Field(min_length=1, description="The command line, run with `bash -c` in the workspace root.")
    timeout: float = Field(
        DEFAULT_TIMEOUT,
        gt=0,
        le=MAX_TIMEOUT,
        description=f"Seconds before the command is killed (default {DEFAULT_TIMEOUT:g}, max {MAX_TIMEOUT:g}).",
    )
    network: bool = Field(
        False,
        description="Set true only if the command needs the network (downloads, git fetch/push); "
        "such calls need approval. Without it the command has no network access.",
    )


class _TailBuffer:
    """Keeps the last ``limit`` bytes of a stream and counts what was dropped."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self.data += chunk
        if len(self.data) > 2 * self.limit:
            del self.data[: len(self.data) - self.limit]

    def text(self) -> tuple[str, int]:
        """The kept tail as text, and how many characters (approximately) were dropped."""
        decoded = bytes(self.data[-self.limit * 4 :]).decode("utf-8", "replace")
        dropped = self.total - len(self.data)
        if len(decoded) > self.limit:
            dropped += len(decoded) - self.limit
            decoded = decoded[-self.limit :]
        return decoded, dropped


async def kill_process_group(proc: asyncio.subprocess.Process, grace: float = _TERM_GRACE) -> None:
    """SIGTERM the process's group, then SIGKILL whatever is left after ``grace``."""
    pgid = proc.pid  # start_new_session: the leader's pid is the group id
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(_exited(proc), timeout=grace)
    while time.monotonic() < deadline and _group_alive(pgid):
        await asyncio.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(_exited(proc), timeout=grace)


async def _exited(proc: asyncio.subprocess.Process) -> int:
    """Wait for the process itself to exit.

    ``Process.wait()`` also waits until every holder of the output pipe has closed it,
    so a backgrounded ``sleep 30 &`` would make it hang; the return code is set as
    soon as the process exits, so poll that instead (quickly at first).
    """
    delay = 0.002
    while proc.returncode is None:
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)
    return proc.returncode


def _group_alive(pgid: int) -> bool:
    """Does any process of the group still run?

    ``killpg(pgid, 0)`` also succeeds for zombies, and reparented zombies linger when
    PID 1 does not reap (containers, micro-VMs); on Linux, ask /proc for live members.
    """
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    if not os.path.isdir("/proc/self"):
        return True
    with os.scandir("/proc") as entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as handle:
                    fields = handle.read().rsplit(b")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
                return True
    return False


async def _pump(stream: asyncio.StreamReader, buffer: _TailBuffer) -> None:
    while chunk := await stream.read(65536):
        buffer.feed(chunk)


def _one_line(command: str, width: int = 80) -> str:
    line = " ".join(command.split())
    return line if len(line) <= width else line[: width - 1] + "…"


class BashTool(Tool):
    name = "bash"
    kind = "execute"
    description = (
        "Run a shell command with `bash -c` in the workspace root; stdout and stderr are merged. "
        f"No stdin. Killed after `timeout` seconds (default {DEFAULT_TIMEOUT:g}, max {MAX_TIMEOUT:g}). "
        f"Only the last {MAX_OUTPUT_CHARS} characters of output are returned. The exit code is reported. "
        "Runs in a sandbox: it can write only inside the workspace and $TMPDIR, has no network unless "
        "`network` is true, and background processes are stopped when the command ends."
    )
    args_model = BashArgs

    def render_preview(self, args: BashArgs, ctx: ToolContext) -> str | None:
        return args.command

    async def execute(self, args: BashArgs, ctx: ToolContext) -> ToolOutput:
        own = ctx.sandbox is None
        sandbox = ctx.sandbox if ctx.sandbox is not None else Sandbox(ctx.workspace)
        try:
            return await self._execute(args, ctx, sandbox)
        finally:
            if own:
                sandbox.close()

    async def _execute(self, args: BashArgs, ctx: ToolContext, sandbox: Sandbox) -> ToolOutput:
        prepared = sandbox.prepare(
            ["bash", "-c", args.command], mode=ctx.mode, network=args.network, extra_env=_ENV_DEFAULTS
        )
        grace = prepared.stop_grace
        proc = await asyncio.create_subprocess_exec(
            *prepared.argv,
            cwd=ctx.workspace,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            env=prepared.env,
        )
        assert proc.stdout is not None
        buffer = _TailBuffer(MAX_OUTPUT_CHARS)
        pump = asyncio.create_task(_pump(proc.stdout, buffer))
        waiter = asyncio.create_task(_exited(proc))
        cancel = asyncio.create_task(ctx.cancel_event.wait()) if ctx.cancel_event is not None else None
        outcome = "done"
        background_killed = False
        try:
            pending = {waiter} | ({cancel} if cancel else set())
            done, _ = await asyncio.wait(pending, timeout=args.timeout, return_when=asyncio.FIRST_COMPLETED)
            if waiter not in done:
                outcome = "cancelled" if cancel is not None and cancel in done else "timeout"
                await kill_process_group(proc, grace=grace)
            # Background children may still hold the pipe open; do not wait for them.
            finished, _ = await asyncio.wait({pump}, timeout=_PIPE_GRACE)
            if pump not in finished:
                background_killed = outcome == "done"
                await kill_process_group(proc, grace=min(grace, 0.2) if not prepared.launcher else grace)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(pump), timeout=_PIPE_GRACE)
        finally:
            # Reached with an exception too (task cancelled): never leave the group running.
            if proc.returncode is None or not pump.done():
                await asyncio.shield(kill_process_group(proc, grace=grace if prepared.launcher else 0.2))
            pipe_still_open = not pump.done()
            for task in (pump, waiter, cancel):
                if task is not None and not task.done():
                    task.cancel()
            if pipe_still_open:
                # A process outside the group (e.g. one that called setsid) still holds
                # the pipe: close our end so the transport is not leaked.
                transport = getattr(proc, "_transport", None)
                if transport is not None:
                    transport.close()
        return self._result(args, proc.returncode, outcome, buffer, background_killed)

    def _result(
        self,
        args: BashArgs,
        returncode: int | None,
        outcome: str,
        buffer: _TailBuffer,
        background_killed: bool,
    ) -> ToolOutput:
        output, dropped = buffer.text()
        parts: list[str] = []
        if dropped > 0:
            parts.append(f"[output truncated: first {dropped} characters dropped, showing the last {MAX_OUTPUT_CHARS}]")
        if output:
            parts.append(output.rstrip("\n"))
        short = _one_line(args.command)
        if outcome == "timeout":
            parts.append(f"Command timed out after {args.timeout:g} s; its process group was killed.")
            return ToolOutput(content="\n".join(parts), is_error=True, summary=f"ran `{short}` (timed out)")
        if outcome == "cancelled":
            parts.append("Command cancelled by the user; its process group was killed.")
            return ToolOutput(content="\n".join(parts), is_error=True, summary=f"ran `{short}` (cancelled)")
        if background_killed:
            parts.append("[background processes still holding the output open were stopped]")
        code = returncode if returncode is not None else -1
        status = f"exit code: {code}"
        if code < 0:
            with contextlib.suppress(ValueError):
                status += f" (killed by {signal.Signals(-code).name})"
        parts.append(status)
        return ToolOutput(content="\n".join(parts), is_error=code != 0, summary=f"ran `{short}` (exit {code})")

"""MCP client: start configured servers, expose their tools, call them safely.

One :class:`McpManager` owns every configured server. Each server runs in its own
asyncio task that enters the SDK's ``Client`` (stdio subprocess or streamable HTTP),
lists the tools, then waits until it is told to stop, so the SDK's task groups are
entered and left in one task. A server that fails to start, crashes or stops answering
is marked ``failed: <reason>``; the others keep working and the session goes on.

The SDK (``import mcp`` costs ~1.4 s) is imported inside functions only, when at least
one server is started; importing this module stays cheap. SDK exceptions are turned
into :class:`~core.errors.McpError` in one place, :func:`_map_sdk_error`.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import logging
import os
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from pydantic import RootModel, ValidationError

from agentic_flow import __version__
from agentic_flow.core.errors import McpError
from agentic_flow.core.mcp.config import McpServerConfig
from agentic_flow.core.mcp.elicitation import ElicitationFormError, complete_answer, schema_defaults
from agentic_flow.core.mcp.names import WireNames, parse_user_name, user_name
from agentic_flow.core.tools.base import Tool, ToolContext, ToolOutput, clean_schema

if TYPE_CHECKING:
    from mcp import Client

    from agentic_flow.core.sandbox import Sandbox

__all__ = [
    "McpManager",
    "McpTool",
    "ServerStatus",
    "McpServerConfig",
    "default_elicitation_policy",
    "schema_defaults",
    "render_tool_result",
    "ElicitationAction",
    "ElicitationHandler",
    "NoticeHandler",
    "McpServerStopped",
    "McpCallTimeout",
    "DEFAULT_START_TIMEOUT",
    "DEFAULT_CALL_TIMEOUT",
]

logger = logging.getLogger(__name__)

DEFAULT_START_TIMEOUT = 30.0
DEFAULT_CALL_TIMEOUT = 120.0
#: How long a server that timed out gets to prove it is alive (``tools/list``).
PROBE_TIMEOUT = 5.0
#: Upper bound for stopping all servers (stdio shutdown: close stdin, SIGTERM, SIGKILL).
STOP_TIMEOUT = 15.0

ElicitationAction = Literal["accept", "decline", "cancel"]
#: ``async (server, message, requested_schema) -> ("accept", data) | ("decline", None) | ("cancel", None)``
ElicitationHandler = Callable[[str, str, dict[str, Any]], Awaitable[tuple[ElicitationAction, dict[str, Any] | None]]]
#: ``(server, message)``; may return an awaitable.
NoticeHandler = Callable[[str, str], Any]


class McpServerStopped(McpError):
    """The server went away (exited, crashed, connection lost) during a call."""


class McpCallTimeout(McpError):
    """A tool call got no answer within the call timeout and was cancelled."""


@dataclass(frozen=True)
class ServerStatus:
    """What the user sees of one server: ``status`` is ``starting``, ``ready``,
    ``failed: <reason>`` or ``stopped``; ``tools`` are the server's own tool names."""

    name: str
    transport: str
    status: str
    tools: list[str] = field(default_factory=list)
    error: str | None = None


def default_elicitation_policy(auto: bool) -> ElicitationHandler:
    """The unattended answer to elicitation requests.

    With ``auto`` (``--approve auto``) a form is accepted with the schema's defaults when
    every required field has one; anything else, and everything without ``auto``, is
    declined so a headless run never hangs on a question nobody can answer.
    """

    async def policy(
        server: str, message: str, schema: dict[str, Any]
    ) -> tuple[ElicitationAction, dict[str, Any] | None]:
        if not auto:
            return "decline", None
        data = schema_defaults(schema)
        return ("accept", data) if data is not None else ("decline", None)

    return policy


class _Arguments(RootModel[dict[str, Any]]):
    """MCP arguments are checked by the server against its own schema."""


class McpTool(Tool):
    """One tool of one MCP server, named ``mcp:server/tool`` for people and rules."""

    kind = "mcp"
    args_model = _Arguments

    def __init__(
        self,
        manager: McpManager,
        server: str,
        tool: str,
        wire_name: str,
        description: str,
        input_schema: Mapping[str, Any],
        annotations: Mapping[str, Any] | None = None,
    ) -> None:
        self._manager = manager
        self.server = server
        self.tool = tool
        self.name = user_name(server, tool)
        self.wire_name = wire_name
        text = description.strip() or f"Tool '{tool}'."
        self.description = f"[MCP server {server}] {text}"
        self.input_schema = clean_schema(dict(input_schema))
        #: The server's hints (``readOnlyHint``, ``destructiveHint``, ...), informational only.
        self.annotations: dict[str, Any] = dict(annotations or {})

    async def execute(self, args: _Arguments, ctx: ToolContext) -> ToolOutput:
        return await self._manager.call(self.server, self.tool, args.root, cancel_event=ctx.cancel_event)

    def render_preview(self, args: _Arguments, ctx: ToolContext) -> str | None:
        shown = json.dumps(args.root, indent=2, ensure_ascii=False, default=str)
        if len(shown) > 4000:
            shown = shown[:4000] + "\n… (truncated)"
        return f"{self.name}\n{shown}"


class _Server:
    """Runtime state of one configured server (internal)."""

    def __init__(self, config: McpServerConfig) -> None:
        self.config = config
        self.status: Literal["starting", "ready", "failed", "stopped"] = "starting"
        self.error: str | None = None
        self.client: Client | None = None
        self.tools: list[Any] = []  # mcp_types.Tool
        self.tool_objects: dict[str, McpTool] = {}
        self.task: asyncio.Task[None] | None = None
        self.started = asyncio.Event()
        self.stop = asyncio.Event()
        self.stderr: IO[bytes] | None = None
        self._pause_depth = 0
        self._pause_started = 0.0
        self._paused_total = 0.0

    @property
    def name(self) -> str:
        return self.config.name

    def fail(self, reason: str) -> None:
        if self.status != "failed":
            self.status, self.error = "failed", reason
        self.stop.set()
        self.started.set()

    def status_text(self) -> str:
        return f"failed: {self.error}" if self.status == "failed" else self.status

    # Time spent waiting for a person to answer an elicitation does not count
    # against the call timeout.
    def pause(self) -> None:
        if self._pause_depth == 0:
            self._pause_started = time.monotonic()
        self._pause_depth += 1

    def resume(self) -> None:
        self._pause_depth -= 1
        if self._pause_depth == 0:
            self._paused_total += time.monotonic() - self._pause_started

    def paused_seconds(self) -> float:
        ongoing = time.monotonic() - self._pause_started if self._pause_depth else 0.0
        return self._paused_total + ongoing

    def stderr_tail(self, lines: int = 3, limit: int = 400) -> str:
        """The last lines the server wrote to stderr (stdio servers only)."""
        if self.stderr is None:
            return ""
        try:
            fd = self.stderr.fileno()
            size = os.fstat(fd).st_size
            chunk = os.pread(fd, 8192, max(0, size - 8192))
        except (OSError, ValueError):
            return ""
        text = chunk.decode("utf-8", "replace")
        kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
        return " | ".join(kept)[-limit:]

    def close_stderr(self) -> None:
        if self.stderr is not None:
            self.stderr.close()
            self.stderr = None


class McpManager:
    """Starts every configured MCP server, exposes their tools, stops them all.

    Use as ``async with McpManager(servers, ...) as mcp:`` or call :meth:`start` and
    :meth:`aclose`. Every method is safe to call with servers that failed.

    Args:
        servers: validated, expanded configs of trusted servers (see ``core.mcp.trust``
            and ``core.runtime.trusted_mcp_servers``).
        on_notice: ``(server, message)`` for progress, log messages and problems.
        elicitation_handler: answers servers' questions; defaults to declining them.
        start_timeout: seconds a server gets to start and list its tools.
        call_timeout: seconds a tool call may take (time spent answering an
            elicitation does not count).
        log_level: the lowest server log level to ask for.
        probe_timeout: after a call times out, how long the server gets to answer a
            ``tools/list`` before it is declared stopped.
        sandbox: stdio servers start inside this command sandbox (unless their config
            says ``"sandbox": false``), in ``sandbox_mode`` (``read-only`` or a writable mode).
    """

    def __init__(
        self,
        servers: Mapping[str, McpServerConfig],
        *,
        on_notice: NoticeHandler | None = None,
        elicitation_handler: ElicitationHandler | None = None,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        log_level: str = "info",
        probe_timeout: float = PROBE_TIMEOUT,
        sandbox: "Sandbox | None" = None,
        sandbox_mode: str = "ask",
    ) -> None:
        self._servers: dict[str, _Server] = {name: _Server(config) for name, config in servers.items()}
        self._on_notice = on_notice
        self._elicit = elicitation_handler or default_elicitation_policy(auto=False)
        self.start_timeout = start_timeout
        self.call_timeout = call_timeout
        self.log_level = log_level
        self.probe_timeout = probe_timeout
        self.sandbox = sandbox
        self.sandbox_mode = sandbox_mode
        self.wire_names = WireNames()
        #: The most recent ``(server, message)`` notices, oldest first.
        self.notices: deque[tuple[str, str]] = deque(maxlen=500)
        self._background: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> McpManager:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Start every server concurrently; returns when each is ready or failed."""
        pending = [server for server in self._servers.values() if server.task is None]
        await asyncio.gather(*(self._start_one(server) for server in pending))
        self._assign_names()

    async def restart(self, name: str) -> ServerStatus:
        """Stop (if running) and start one server again; returns its new status."""
        old = self._servers.get(name)
        if old is None:
            raise McpError(f"No MCP server named '{name}' is configured.")
        await self._stop_servers([old])
        old.close_stderr()
        fresh = _Server(old.config)
        self._servers[name] = fresh
        await self._start_one(fresh)
        self._assign_names()
        return self._status_of(fresh)

    async def aclose(self) -> None:
        """Stop every server and wait for their processes to be gone."""
        await self._stop_servers(list(self._servers.values()))
        for task in list(self._background):
            task.cancel()
        for server in self._servers.values():
            server.close_stderr()

    async def _start_one(self, server: _Server) -> None:
        server.task = asyncio.create_task(self._serve(server), name=f"mcp-server-{server.name}")
        try:
            await asyncio.wait_for(server.started.wait(), self.start_timeout)
        except TimeoutError:
            tail = server.stderr_tail()
            server.fail(f"did not start within {self.start_timeout:g}s" + (f" (stderr: {tail})" if tail else ""))
            server.task.cancel()
            await asyncio.wait({server.task}, timeout=STOP_TIMEOUT)
        if server.status == "failed":
            self._notice(server.name, f"failed to start: {server.error}")

    async def _stop_servers(self, servers: list[_Server]) -> None:
        tasks = []
        for server in servers:
            server.stop.set()
            if server.task is not None and not server.task.done():
                tasks.append(server.task)
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
            for task in stuck:
                task.cancel()
            if stuck:
                await asyncio.wait(stuck, timeout=STOP_TIMEOUT)
        for server in servers:
            if server.status in ("ready", "starting"):
                server.status = "stopped"

    async def _serve(self, server: _Server) -> None:
        """The task that owns one server's SDK client from start to stop."""
        try:
            async with AsyncExitStack() as stack:
                client = await self._connect(server, stack)
                tools = await _list_all_tools(client)
                if server.status == "failed":  # timed out meanwhile
                    return
                server.client, server.tools, server.status = client, tools, "ready"
                server.started.set()
                await server.stop.wait()
        except asyncio.CancelledError:
            if server.status == "starting":
                server.fail("start-up was cancelled")
            raise
        except Exception as exc:  # everything becomes a status, never a crash
            if server.status == "starting":
                server.fail(str(_map_sdk_error(exc, server.config, stderr=server.stderr_tail())))
            elif server.status == "ready" and not server.stop.is_set():
                server.fail(f"connection lost: {_describe(exc)}")
                self._notice(server.name, f"stopped: {server.error}")
            else:
                logger.debug("MCP server %s raised while stopping", server.name, exc_info=True)
        finally:
            server.client = None
            server.started.set()

    async def _connect(self, server: _Server, stack: AsyncExitStack) -> Client:
        """Build the transport and the SDK client for ``server`` and enter them."""
        # lazy: the MCP SDK (~1.4 s) loads only when a server starts
        import mcp_types
        from mcp import Client, StdioServerParameters, stdio_client
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client


        config = server.config
        transport: Any
        if config.transport == "stdio":
            server.stderr = tempfile.TemporaryFile(prefix=f"mcp-{config.name}-", suffix=".stderr")
            command, args, env = self._stdio_command(config)
            params = StdioServerParameters(command=command, args=args, env=env, cwd=config.cwd)
            transport = stdio_client(params, errlog=server.stderr)  # type: ignore[arg-type]
        else:
            http = await stack.enter_async_context(create_mcp_http_client(headers=dict(config.headers) or None))
            transport = streamable_http_client(config.url, http_client=http)
        client = Client(
            transport,
            client_info=mcp_types.Implementation(name="agentic-flow", version=__version__),
            elicitation_callback=self._elicitation_callback(server),
            logging_callback=self._logging_callback(server),
            message_handler=self._message_handler(server),
            log_level=self.log_level,  # type: ignore[arg-type]
            cache=None,
        )
        return await stack.enter_async_context(client)

    def _stdio_command(self, config: McpServerConfig) -> tuple[str, list[str], dict[str, str] | None]:
        """How to start a stdio server: through the sandbox launcher unless it opted out.

        The SDK gives a server only a few safe variables (HOME, PATH, ...) plus the
        config's ``env``; sandboxed servers also get their private ``TMPDIR``.
        """
        env = dict(config.env) or None
        if self.sandbox is None or not config.sandbox:
            return config.command, list(config.args), env
        prepared = self.sandbox.prepare(
            [config.command, *config.args],
            mode=self.sandbox_mode,
            network=config.sandbox_network,
            env={},
            extra_env=dict(config.env),
        )
        return prepared.argv[0], prepared.argv[1:], prepared.env

    # ----------------------------------------------------------------- tools

    @property
    def servers(self) -> list[ServerStatus]:
        """Status of every configured server, in configuration order."""
        return [self._status_of(server) for server in self._servers.values()]

    def _status_of(self, server: _Server) -> ServerStatus:
        return ServerStatus(
            name=server.name,
            transport=server.config.transport,
            status=server.status_text(),
            tools=[tool.name for tool in server.tools],
            error=server.error,
        )

    def tools(self) -> dict[str, McpTool]:
        """The tools of every ready server, keyed by wire name."""
        self._assign_names()
        result: dict[str, McpTool] = {}
        for server in self._servers.values():
            if server.status != "ready":
                continue
            for tool in server.tools:
                obj = server.tool_objects.get(tool.name)
                if obj is None:
                    hints = tool.annotations
                    annotations = hints.model_dump(by_alias=True, exclude_none=True) if hints else None
                    obj = McpTool(
                        self,
                        server.name,
                        tool.name,
                        self.wire_names.wire(server.name, tool.name),
                        tool.description or tool.title or "",
                        tool.input_schema or {"type": "object"},
                        annotations,
                    )
                    server.tool_objects[tool.name] = obj
                result[obj.wire_name] = obj
        return result

    def tool(self, name: str) -> McpTool | None:
        """Find a ready tool by wire name (``mcp__s__t``) or user name (``mcp:s/t``)."""
        pair = parse_user_name(name) or self.wire_names.resolve(name)
        if pair is None:
            return None
        return next((tool for tool in self.tools().values() if (tool.server, tool.tool) == pair), None)

    def _assign_names(self) -> None:
        ready = [server for server in self._servers.values() if server.status == "ready"]
        self.wire_names.assign((server.name, tool.name) for server in ready for tool in server.tools)

    # ----------------------------------------------------------------- calls

    async def call(
        self,
        server_name: str,
        tool_name: str,
        arguments: dict[str, Any],
        *,
        timeout: float | None = None,
        cancel_event: asyncio.Event | None = None,
    ) -> ToolOutput:
        """Call one tool; every failure comes back as an error :class:`ToolOutput`."""
        label = user_name(server_name, tool_name)
        server = self._servers.get(server_name)
        if server is None:
            return _error_output(label, f"No MCP server named '{server_name}' is configured.")
        client = server.client
        if server.status != "ready" or client is None:
            return _error_output(
                label,
                f"MCP server '{server_name}' is not running ({server.status_text()}); "
                f"'{tool_name}' cannot be called.",
            )
        limit = self.call_timeout if timeout is None else timeout

        async def progress(progress: float, total: float | None, message: str | None) -> None:
            amount = f"{progress:g}/{total:g}" if total else f"{progress:g}"
            self._notice(server_name, f"{tool_name}: {amount}" + (f" {message}" if message else ""))

        call = asyncio.create_task(client.call_tool(tool_name, arguments, progress_callback=progress))
        try:
            result = await self._await_call(server, call, limit, cancel_event)
        except _Cancelled:
            return _error_output(label, f"The call to {label} was cancelled by the user.")
        except Exception as exc:
            error = _map_sdk_error(exc, server.config, tool=tool_name, timeout=limit)
            if isinstance(error, McpCallTimeout):
                error = await self._after_timeout(server, tool_name, error)
            if isinstance(error, McpServerStopped):
                tail = server.stderr_tail()
                reason = str(error) + (f" (stderr: {tail})" if tail else "")
                server.fail(f"stopped while running '{tool_name}'" + (f" (stderr: {tail})" if tail else ""))
                self._notice(server_name, reason)
                return _error_output(label, reason)
            return _error_output(label, str(error))
        text, is_error = render_tool_result(result)
        first = text.strip().splitlines()[0][:160] if text.strip() else "(no output)"
        summary = f"{label} failed: {first}" if is_error else f"{label}: {first}"
        return ToolOutput(content=text, is_error=is_error, summary=summary)

    async def _await_call(
        self, server: _Server, call: asyncio.Task[Any], limit: float, cancel_event: asyncio.Event | None
    ) -> Any:
        """Wait for ``call`` within ``limit`` seconds (not counting elicitation time)."""
        started, paused_at_start = time.monotonic(), server.paused_seconds()
        stopper = asyncio.create_task(cancel_event.wait()) if cancel_event is not None else None
        try:
            while True:
                deadline = started + limit + (server.paused_seconds() - paused_at_start)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise McpCallTimeout(f"no answer within {limit:g}s")
                waiting: set[asyncio.Task[Any]] = {call} if stopper is None else {call, stopper}
                done, _ = await asyncio.wait(waiting, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
                if call in done:
                    return call.result()
                if stopper is not None and stopper in done:
                    raise _Cancelled()
        finally:
            if stopper is not None:
                stopper.cancel()
            if not call.done():
                call.cancel()
                await asyncio.gather(call, return_exceptions=True)

    async def _after_timeout(self, server: _Server, tool_name: str, error: McpError) -> McpError:
        """A call timed out: keep the server if it still answers, else report it stopped."""
        client = server.client
        if client is None:
            return McpServerStopped(f"MCP server '{server.name}' stopped while running '{tool_name}'")
        try:
            await asyncio.wait_for(client.session.list_tools(), self.probe_timeout)
        except Exception:
            return McpServerStopped(
                f"MCP server '{server.name}' stopped answering while running '{tool_name}' "
                f"({error.message}); it has been stopped"
            )
        return error

    # ----------------------------------------------------------------- server requests

    def _notice(self, server: str, message: str) -> None:
        self.notices.append((server, message))
        if self._on_notice is None:
            return
        try:
            outcome = self._on_notice(server, message)
            if inspect.isawaitable(outcome):
                task = asyncio.ensure_future(outcome)
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        except Exception:
            logger.exception("on_notice callback failed")

    def _elicitation_callback(self, server: _Server) -> Any:
        async def callback(context: Any, params: Any) -> Any:
            # lazy: the MCP SDK (~1.4 s) loads only when a server starts
            import mcp_types

            message = getattr(params, "message", "")
            if getattr(params, "mode", "form") == "url":
                self._notice(server.name, f"asks you to open {params.url}: {message} (declined: not supported)")
                return mcp_types.ElicitResult(action="decline")
            schema = params.requested_schema
            schema = dict(schema) if isinstance(schema, Mapping) else schema.model_dump(by_alias=True)
            server.pause()
            try:
                action, data = await self._elicit(server.name, message, schema)
            except Exception as exc:
                logger.exception("elicitation handler failed")
                self._notice(server.name, f"question '{message}' could not be answered: {_describe(exc)}")
                return mcp_types.ElicitResult(action="cancel")
            finally:
                server.resume()
            if action == "accept":
                try:
                    # Omitted fields take the schema's defaults (SEP-1034); values are checked.
                    content = complete_answer(schema, data)
                    result = mcp_types.ElicitResult(action="accept", content=content)
                except (ElicitationFormError, ValueError) as exc:  # pydantic: str, number, bool or list[str]
                    self._notice(server.name, f"answer to '{message}' is not valid, declined: {exc}")
                    return mcp_types.ElicitResult(action="decline")
                self._notice(server.name, f"asked '{message}': accept")
                return result
            self._notice(server.name, f"asked '{message}': {action}")
            return mcp_types.ElicitResult(action="cancel" if action == "cancel" else "decline")

        return callback

    def _logging_callback(self, server: _Server) -> Any:
        async def callback(params: Any) -> None:
            data = params.data if isinstance(params.data, str) else json.dumps(params.data, default=str)
            source = f" {params.logger}" if params.logger else ""
            self._notice(server.name, f"[{params.level}{source}] {data}")

        return callback

    def _message_handler(self, server: _Server) -> Any:
        async def handler(message: Any) -> None:
            if isinstance(message, Exception):
                self._notice(server.name, f"transport problem: {_describe(message)}")
            elif getattr(message, "method", "") == "notifications/tools/list_changed":
                self._notice(server.name, "its tool list changed; restart the server to use the new tools")

        return handler


class _Cancelled(Exception):
    """The user set the cancel event during a call."""


async def _list_all_tools(client: Client) -> list[Any]:
    """Every page of ``tools/list``."""
    tools: list[Any] = []
    cursor: str | None = None
    for _ in range(100):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            break
    return tools


def _map_sdk_error(
    exc: BaseException, config: McpServerConfig, *, tool: str | None = None, timeout: float = 0.0, stderr: str = ""
) -> McpError:
    """The one boundary where SDK and transport exceptions become :class:`McpError`.

    With ``tool`` None the failure happened while starting ``config``'s server and the
    message is the reason shown as ``failed: <reason>``; otherwise it happened during a
    call of ``tool`` and the message is what the model and the user read.
    """
    leaf = _leaf(exc)
    if isinstance(leaf, McpCallTimeout):
        error: McpError = McpCallTimeout(
            f"MCP tool '{tool}' on server '{config.name}' did not answer within {timeout:g}s and was cancelled"
        )
    elif isinstance(leaf, McpError):
        return leaf
    else:
        try:
            error = _start_error(leaf, config, stderr) if tool is None else _call_error(leaf, config.name, tool)
        except ImportError as missing:
            error = McpError(f"the MCP SDK cannot be imported ({missing}); install the 'mcp' package")
    error.__cause__ = exc
    return error


def _start_error(leaf: BaseException, config: McpServerConfig, stderr: str) -> McpError:
    # lazy: the MCP SDK (~1.4 s) loads only when a server starts
    from mcp import MCPError
    from mcp_types import CONNECTION_CLOSED

    said = f" (stderr: {stderr})" if stderr else ""
    if isinstance(leaf, FileNotFoundError):
        if config.cwd and leaf.filename == config.cwd and not Path(config.cwd).is_dir():
            return McpError(f"working directory '{config.cwd}' does not exist")
        return McpError(f"command '{config.command}' not found (is it installed and on PATH?)")
    if isinstance(leaf, PermissionError):
        return McpError(f"command '{config.command}' cannot be run: permission denied")
    if isinstance(leaf, MCPError):
        if leaf.code == CONNECTION_CLOSED:
            if config.transport == "stdio":
                return McpError("the server exited during start-up" + (said or " without saying why"))
            return McpError(f"{config.url} closed the connection during start-up")
        where = config.url if config.transport == "http" else f"'{config.command}'"
        return McpError(f"{where} refused the MCP handshake: {leaf.message} (code {leaf.code}){said}")
    if config.transport == "http" and type(leaf).__module__.startswith("httpx"):
        return McpError(f"cannot reach {config.url}: {_describe(leaf)}")
    return McpError(f"{_describe(leaf)}{said}")


def _call_error(leaf: BaseException, server: str, tool: str) -> McpError:
    # lazy: the MCP SDK (~1.4 s) loads only when a server starts
    import anyio
    from mcp import InputRequiredRoundsExceededError, MCPError
    from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT

    if isinstance(leaf, MCPError):
        if leaf.code == CONNECTION_CLOSED:
            return McpServerStopped(f"MCP server '{server}' stopped while running '{tool}'")
        if leaf.code == REQUEST_TIMEOUT:
            return McpCallTimeout(f"MCP tool '{tool}' on server '{server}' timed out: {leaf.message}")
        return McpError(f"MCP server '{server}' refused the call to '{tool}': {leaf.message} (code {leaf.code})")
    if isinstance(leaf, (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, OSError)):
        return McpServerStopped(f"MCP server '{server}' stopped while running '{tool}' ({_describe(leaf)})")
    if isinstance(leaf, InputRequiredRoundsExceededError):
        return McpError(f"MCP server '{server}' kept asking for input while running '{tool}'; gave up")
    if isinstance(leaf, (ValidationError, RuntimeError)):
        return McpError(f"MCP server '{server}' returned an invalid result for '{tool}': {_describe(leaf)}")
    return McpError(f"Calling '{tool}' on MCP server '{server}' failed: {_describe(leaf)}")


def render_tool_result(result: Any) -> tuple[str, bool]:
    """A ``CallToolResult`` as text for the model, and whether it is an error.

    Text is joined; images and audio are noted with their type and size; embedded text
    resources are included under a header; resource links are noted.
    """
    parts: list[str] = []
    for block in getattr(result, "content", None) or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind in ("image", "audio"):
            parts.append(f"[{kind}: {block.mime_type}, {_b64_size(block.data)} bytes]")
        elif kind == "resource":
            res = block.resource
            mime = f", {res.mime_type}" if getattr(res, "mime_type", None) else ""
            if getattr(res, "text", None) is not None:
                parts.append(f"[resource: {res.uri}{mime}]\n{res.text}")
            else:
                parts.append(f"[resource: {res.uri}{mime}, {_b64_size(getattr(res, 'blob', ''))} bytes]")
        elif kind == "resource_link":
            mime = f", {block.mime_type}" if block.mime_type else ""
            parts.append(f"[resource link: {block.name} <{block.uri}>{mime}]")
        else:
            parts.append(f"[{kind or 'unknown'} content]")
    if not parts and getattr(result, "structured_content", None) is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False, default=str))
    text = "\n".join(parts) if parts else "(no output)"
    return text, bool(getattr(result, "is_error", False))


def _b64_size(data: str) -> int:
    try:
        return len(base64.b64decode(data, validate=False))
    except (ValueError, TypeError):
        return len(data) * 3 // 4


def _error_output(label: str, message: str) -> ToolOutput:
    return ToolOutput(content=message, is_error=True, summary=f"{label} failed: {message.splitlines()[0][:160]}")


def _leaf(exc: BaseException) -> BaseException:
    """The first real exception inside (nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

"""What every tool is: a name, a pydantic argument model, and an async ``run``.

The session loop treats built-in and MCP tools alike through :class:`Tool`. ``run``
never raises for a bad call: invalid arguments and :class:`~core.errors.ToolError` come
back as an error :class:`ToolOutput`, because the model (not the user) made the mistake
and should see the message and try again.
"""

from __future__ import annotations

import asyncio
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Literal

from pydantic import BaseModel, ValidationError

from agentic_flow.core.errors import ToolError
from agentic_flow.core.messages import ToolSpec

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.sandbox import Sandbox

__all__ = [
    "ToolKind",
    "ToolOutput",
    "ToolContext",
    "Tool",
    "WIRE_NAME_RE",
    "clean_schema",
    "format_validation_error",
]

ToolKind = Literal["read", "edit", "execute", "mcp", "agent"]

#: What OpenAI, Anthropic and Gemini all accept as a function name.
WIRE_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass(frozen=True)
class ToolOutput:
    """The result of one tool call.

    Attributes:
        content: what goes back to the model.
        is_error: the call failed; providers mark the result as an error.
        summary: one line for the audit log (``edited src/a.py (+3 -1)``).
        diff: the unified diff of a file change, for the TUI and the audit log.
    """

    content: str
    is_error: bool = False
    summary: str = ""
    diff: str | None = None


@dataclass
class ToolContext:
    """Where a tool runs. ``cancel_event`` lets the user stop a long command."""

    workspace: Path
    cancel_event: asyncio.Event | None = None
    hidden: Callable[[str], bool] | None = None
    """``hidden(relative_path)`` is true when a deny rule hides that file (``read(**/.env)``):
    tree walks (glob, grep) skip it, so a search cannot leak what a read may not."""
    sandbox: "Sandbox | None" = None
    """The session's command sandbox; None: commands get a default one of their own."""
    mode: str = "ask"
    """The permission mode in force: ``read-only`` runs commands in a read-only sandbox."""

    @property
    def cancelled(self) -> bool:
        return self.cancel_event is not None and self.cancel_event.is_set()

    def is_hidden(self, path: Path) -> bool:
        if self.hidden is None:
            return False
        try:
            rel = path.relative_to(self.workspace).as_posix()
        except ValueError:
            rel = path.as_posix()
        return self.hidden(rel)


class Tool(ABC):
    """A tool the model can call.

    Subclasses set the class attributes and implement :meth:`execute`; :meth:`run`
    does the validation and error mapping so no tool repeats it.

    Attributes:
        name: user-facing name, also the name permission rules match (``read``,
            ``mcp:server/tool``).
        wire_name: the name sent to providers (``^[a-zA-Z0-9_-]{1,64}$``); defaults to
            ``name`` for classes that set ``name``.
        description: told to the model.
        kind: ``read`` | ``edit`` | ``execute`` | ``mcp`` | ``agent`` (delegation).
        args_model: pydantic model (``extra="forbid"``) the arguments must satisfy.
    """

    name: str
    wire_name: str
    description: str
    kind: ToolKind
    args_model: ClassVar[type[BaseModel]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__ and "wire_name" not in cls.__dict__:
            cls.wire_name = cls.name

    @cached_property
    def input_schema(self) -> dict[str, Any]:
        """JSON Schema of the arguments, cleaned so every provider accepts it."""
        return clean_schema(self.args_model.model_json_schema())

    def spec(self) -> ToolSpec:
        """The tool as offered to a provider (under its wire name)."""
        if not WIRE_NAME_RE.match(self.wire_name):
            raise ValueError(f"tool wire name {self.wire_name!r} is not provider-safe")
        return ToolSpec(name=self.wire_name, description=self.description, input_schema=self.input_schema)

    def parse_arguments(self, arguments: Any) -> BaseModel:
        """Validate raw arguments; raise :class:`ToolError` with a readable message."""
        try:
            return self.args_model.model_validate(arguments)
        except ValidationError as exc:
            raise ToolError(format_validation_error(self.name, exc)) from exc

    async def run(self, arguments: dict[str, Any], ctx: ToolContext) -> ToolOutput:
        """Validate and execute; failures become an error output, never an exception."""
        try:
            args = self.parse_arguments(arguments)
            return await self.execute(args, ctx)
        except ToolError as exc:
            return self._failure(exc.message)
        except OSError as exc:
            # Permission denied, disk full, ...: the model can act on the message.
            detail = exc.strerror or str(exc)
            where = f" ({exc.filename})" if exc.filename else ""
            return self._failure(f"{self.name} failed: {detail}{where}")

    def preview(self, arguments: dict[str, Any], ctx: ToolContext) -> str | None:
        """What a permission prompt should show (a diff, a command), computed without side effects."""
        try:
            args = self.parse_arguments(arguments)
            return self.render_preview(args, ctx)
        except ToolError as exc:
            return f"(this call would fail: {exc.message})"
        except OSError as exc:
            return f"(this call would fail: {exc.strerror or exc})"

    @abstractmethod
    async def execute(self, args: Any, ctx: ToolContext) -> ToolOutput:
        """Do the work with validated ``args``; raise :class:`ToolError` for failures."""

    def render_preview(self, args: Any, ctx: ToolContext) -> str | None:
        """Preview for validated ``args``; ``None`` when the arguments say it all."""
        return None

    def _failure(self, message: str) -> ToolOutput:
        first_line = message.splitlines()[0] if message else ""
        return ToolOutput(content=message, is_error=True, summary=f"{self.name} failed: {first_line[:200]}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} wire={self.wire_name!r} kind={self.kind}>"


def format_validation_error(tool_name: str, exc: ValidationError) -> str:
    """One line per problem, naming the argument, so the model can fix its call."""
    lines = [f"Invalid arguments for {tool_name}:"]
    for err in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in err.get("loc", ())) or "(arguments)"
        msg = err.get("msg", "invalid")
        if err.get("type") == "extra_forbidden":
            msg = "unknown argument"
        lines.append(f"- {loc}: {msg}")
    return "\n".join(lines)


#: Schema keywords whose value maps *names* to subschemas (a name may be "title").
_NAME_MAPS = frozenset({"properties", "patternProperties", "definitions", "dependentSchemas"})


def clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Make a pydantic JSON Schema acceptable to every provider.

    Inlines ``$ref``/``$defs`` (some providers reject references), drops ``title``
    noise, and turns ``anyOf: [X, null]`` (pydantic's ``X | None``) into plain ``X``
    (Gemini rejects ``null`` types). The result is still a valid JSON Schema object.
    """
    defs: dict[str, Any] = schema.get("$defs", {})

    def walk(node: Any, in_properties: bool = False) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        if in_properties:
            # Keys here are argument names (one may be called "title"): keep them all.
            return {key: walk(value) for key, value in node.items()}
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = dict(defs.get(ref.removeprefix("#/$defs/"), {}))
            target.update({k: v for k, v in node.items() if k != "$ref"})
            return walk(target)
        out: dict[str, Any] = {}
        collapsed_null = False
        for key, value in node.items():
            if key in ("title", "$defs"):
                continue
            if key == "anyOf" and isinstance(value, list):
                non_null = [v for v in value if not (isinstance(v, dict) and v.get("type") == "null")]
                if len(non_null) == 1 and len(non_null) < len(value):
                    out.update(walk(non_null[0]))
                    collapsed_null = True
                    continue
            out[key] = walk(value, in_properties=key in _NAME_MAPS)
        if collapsed_null and "default" in out and out["default"] is None:
            # "default: null" would contradict the now non-null type; omitting the
            # argument means the same thing.
            del out["default"]
        return out

    cleaned = walk(schema)
    cleaned.setdefault("type", "object")
    cleaned.setdefault("properties", {})
    return cleaned

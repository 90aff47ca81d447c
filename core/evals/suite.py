"""Evaluation suites: a YAML file of tasks, each with a workspace fixture and checks.

::

    name: python-fixes
    description: small bugs an agent should fix
    defaults:                  # every task gets these unless it says otherwise
      agent: coder
      approve: accept-edits    # accept-edits | auto | deny | read-only (nobody is asked)
      max_turns: 12
      timeout: 300             # seconds for one agent run
    tasks:
      - id: fix-add
        type: debug            # task type for `route calibrate` (default: from the prompt)
        prompt: Make test_calc.py pass.
        workspace: fixtures/calc          # a folder next to the suite file
        # workspace: {git: v1.2.0, path: src}   a ref of the current git repository
        estimate: {input_tokens: 6000, output_tokens: 900}   # for --dry-run (optional)
        checks:
          - command: python -m pytest -q      # exit code 0 (or `exit_code: N`) passes
            timeout: 120
          - file_exists: calc.py
          - file_contains: {path: calc.py, text: "a + b"}
          - file_regex: {path: calc.py, pattern: 'return\\s+a \\+ b'}
          - python_parses: "**/*.py"         # `answer` checks the code blocks of the answer
          - json_schema: {path: out.json, schema: {type: object, required: [name]}}
          - answer_contains: "Paris"
          - answer_regex: '\\b42\\b'
          - judge: {model: anthropic:claude-haiku-4-5, rubric: "Correct and minimal?", threshold: 0.7}

Unknown keys are errors that name the file, the line and the key; paths are relative to
the suite file. A task passes when every check passes.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from agentic_flow.core.errors import ConfigError

__all__ = [
    "Suite",
    "Task",
    "TaskDefaults",
    "Fixture",
    "Estimate",
    "Check",
    "CommandCheckSpec",
    "FileExists",
    "FileContains",
    "FileRegex",
    "PythonParses",
    "JsonSchemaCheck",
    "AnswerContains",
    "AnswerRegex",
    "JudgeCheck",
    "load_suite",
    "parse_suite",
]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Fixture(_Strict):
    """Where a task's agent works: a folder, a git ref of the current repository, or nothing."""

    folder: str | None = None
    git: str | None = None
    path: str | None = None
    """With ``git``: the subfolder of the repository the agent works in."""

    @model_validator(mode="after")
    def _one_kind(self) -> Fixture:
        if self.folder and self.git:
            raise ValueError("give either folder or git, not both")
        if self.path and not self.git:
            raise ValueError("path is the subfolder of a git fixture; use folder for a plain folder")
        return self


class Estimate(_Strict):
    """Tokens one run of the task is expected to use, for ``--dry-run``."""

    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)


class CommandCheckSpec(_Strict):
    command: str = Field(min_length=1)
    exit_code: int = 0
    timeout: float = Field(default=120.0, gt=0)


class FileExists(_Strict):
    file_exists: str = Field(min_length=1)


class _PathText(_Strict):
    path: str = Field(min_length=1)
    text: str


class FileContains(_Strict):
    file_contains: _PathText


class _PathPattern(_Strict):
    path: str = Field(min_length=1)
    pattern: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return pattern


class FileRegex(_Strict):
    file_regex: _PathPattern


class PythonParses(_Strict):
    python_parses: str = Field(min_length=1)
    """A path or glob in the workspace, or ``answer`` for the answer's code blocks."""


class _SchemaRef(_Strict):
    path: str = Field(min_length=1)
    """The JSON file to validate, or ``answer`` for the answer's JSON."""
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    schema_file: str | None = None

    @model_validator(mode="after")
    def _one_schema(self) -> _SchemaRef:
        if (self.schema_ is None) == (self.schema_file is None):
            raise ValueError("give exactly one of schema (inline) or schema_file")
        return self


class JsonSchemaCheck(_Strict):
    json_schema: _SchemaRef


class AnswerContains(_Strict):
    answer_contains: str = Field(min_length=1)


class AnswerRegex(_Strict):
    answer_regex: str

    @field_validator("answer_regex")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return pattern


class _Judge(_Strict):
    model: str = Field(min_length=3)
    rubric: str = Field(min_length=1)
    threshold: float = Field(default=0.7, ge=0, le=1)
    base_url: str | None = None

    @field_validator("model")
    @classmethod
    def _model_id(cls, model: str) -> str:
        if ":" not in model.strip(":"):
            raise ValueError("the judge model must look like PROVIDER:MODEL")
        return model


class JudgeCheck(_Strict):
    judge: _Judge


Check = (
    CommandCheckSpec | FileExists | FileContains | FileRegex | PythonParses | JsonSchemaCheck | AnswerContains
    | AnswerRegex | JudgeCheck
)
_CHECK_KEYS: dict[str, type[BaseModel]] = {
    "command": CommandCheckSpec,
    "file_exists": FileExists,
    "file_contains": FileContains,
    "file_regex": FileRegex,
    "python_parses": PythonParses,
    "json_schema": JsonSchemaCheck,
    "answer_contains": AnswerContains,
    "answer_regex": AnswerRegex,
    "judge": JudgeCheck,
}


def check_label(check: Check) -> str:
    """A short, stable description of a check (``command: pytest -q``)."""
    if isinstance(check, CommandCheckSpec):
        return f"command: {check.command}" + (f" (exit {check.exit_code})" if check.exit_code else "")
    if isinstance(check, FileExists):
        return f"file exists: {check.file_exists}"
    if isinstance(check, FileContains):
        return f"{check.file_contains.path} contains {check.file_contains.text!r}"
    if isinstance(check, FileRegex):
        return f"{check.file_regex.path} matches /{check.file_regex.pattern}/"
    if isinstance(check, PythonParses):
        return f"python parses: {check.python_parses}"
    if isinstance(check, JsonSchemaCheck):
        return f"{check.json_schema.path} matches the JSON schema"
    if isinstance(check, AnswerContains):
        return f"answer contains {check.answer_contains!r}"
    if isinstance(check, AnswerRegex):
        return f"answer matches /{check.answer_regex}/"
    return f"judge {check.judge.model} (threshold {check.judge.threshold:g})"


class TaskDefaults(_Strict):
    agent: str | None = None
    approve: Literal["accept-edits", "auto", "deny", "read-only"] = "accept-edits"
    max_turns: int | None = Field(default=None, gt=0)
    max_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=None, ge=0, le=2)
    timeout: float | None = Field(default=None, gt=0)
    tools: bool = True


class Task(_Strict):
    id: str
    prompt: str = Field(min_length=1)
    type: str | None = None
    """Task type for routing calibration (``debug``, ``code``, ...); default: from the prompt."""
    agent: str | None = None
    workspace: Fixture | None = None
    approve: Literal["accept-edits", "auto", "deny", "read-only"] | None = None
    max_turns: int | None = Field(default=None, gt=0)
    max_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=None, ge=0, le=2)
    timeout: float | None = Field(default=None, gt=0)
    tools: bool | None = None
    estimate: Estimate | None = None
    checks: list[Check] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("task ids are letters, digits, '.', '_' or '-' (at most 64), e.g. fix-add")
        return value

    @field_validator("workspace", mode="before")
    @classmethod
    def _fixture(cls, value: Any) -> Any:
        return {"folder": value} if isinstance(value, str) else value

    @field_validator("checks", mode="before")
    @classmethod
    def _checks(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, dict) or not item:
                raise ValueError(f"check #{i + 1} must be a mapping such as {{command: pytest -q}}")
            kind = next((k for k in item if k in _CHECK_KEYS), None)
            if kind is None:
                raise ValueError(
                    f"check #{i + 1} has none of the known kinds ({', '.join(_CHECK_KEYS)}): {sorted(item)}"
                )
            out.append(_CHECK_KEYS[kind].model_validate(item))
        return out


class Suite(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    defaults: TaskDefaults = Field(default_factory=TaskDefaults)
    tasks: list[Task] = Field(min_length=1)
    path: Path | None = Field(default=None, exclude=True)
    """The file it was read from (paths in it are relative to its folder)."""
    text_hash: str = Field(default="", exclude=True)

    @model_validator(mode="after")
    def _unique_ids(self) -> Suite:
        seen: set[str] = set()
        for task in self.tasks:
            if task.id in seen:
                raise ValueError(f"two tasks have the id {task.id!r}; ids must be unique")
            seen.add(task.id)
        return self

    @property
    def folder(self) -> Path:
        return self.path.parent if self.path is not None else Path.cwd()

    def resolve(self, relative: str) -> Path:
        """A path written in the suite, relative to the suite's folder."""
        path = Path(relative).expanduser()
        return path if path.is_absolute() else (self.folder / path).resolve()

    def effective(self, task: Task) -> dict[str, Any]:
        """The task's run settings with the defaults filled in."""
        d = self.defaults
        return {
            "agent": task.agent or d.agent,
            "approve": task.approve or d.approve,
            "max_turns": task.max_turns or d.max_turns,
            "max_tokens": task.max_tokens or d.max_tokens,
            "temperature": task.temperature if task.temperature is not None else d.temperature,
            "timeout": task.timeout or d.timeout,
            "tools": task.tools if task.tools is not None else d.tools,
        }


def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """The line in the YAML where the item at ``loc`` starts (best effort)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    for part in loc:
        if node is None:
            return None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            node = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
    return node.start_mark.line + 1 if node is not None else None


def parse_suite(text: str, path: Path | None = None) -> Suite:
    """Read a suite from YAML ``text``; errors name the file, line and key."""
    where = str(path) if path else "<suite>"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(
            f"not valid YAML: {getattr(exc, 'problem', exc)}", path=where, line=mark.line + 1 if mark else None
        ) from None
    if not isinstance(data, dict):
        raise ConfigError("a suite is a mapping with name and tasks (see `agentic-flow eval --help`)", path=where)
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and p[0].isupper()))
        key = ".".join(str(p) for p in loc) or None
        raise ConfigError(first["msg"], path=where, line=_line_of(text, loc), key=key) from None
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return suite.model_copy(update={"path": path.resolve() if path else None, "text_hash": digest})


def load_suite(path: str | Path) -> Suite:
    """Read a suite file (see the module docstring for the format)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the suite: {exc.strerror or exc}", path=str(path)) from exc
    return parse_suite(text, path)


def task_spec_json(suite: Suite, task: Task) -> str:
    """What about a task decides its result (prompt, checks, run settings), as stable JSON."""
    data = {
        "prompt": task.prompt,
        "checks": [c.model_dump(mode="json", by_alias=True) for c in task.checks],
        "settings": suite.effective(task),
    }
    return json.dumps(data, sort_keys=True)

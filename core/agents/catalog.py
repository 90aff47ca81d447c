"""The agent catalog: Claude Code style subagent files (markdown + YAML frontmatter).

An agent file looks like this::

    ---
    name: reviewer
    description: Reviews a diff for bugs. Use after writing code.
    tools: Read, Grep, Glob        # or a YAML list; omitted = all tools
    model: sonnet                  # optional; "inherit" = the session's model
    color: blue                    # optional
    ---
    You are a code reviewer. ...   # the body is the system prompt

Folders are searched in this order, earlier folders winning on name clashes:
``--agents-dir``, ``./.claude/agents``, ``./agents``, the user dir, the bundled catalog.

Files found in the wild are messy, so loading is lenient: a frontmatter that is not
valid YAML (typically an unquoted ``: `` inside a description) is re-read line by line;
a description nested under ``metadata:`` is used; a file with no frontmatter still
becomes an agent named after the file. Every such repair is reported as an
:class:`AgentProblem` with file and 1-based line, and a file that cannot be used at all
(binary, not UTF-8, unreadable) is reported and skipped. Nothing in a file's content
makes :func:`load_catalog` raise: one bad file never hides the rest.
"""

from __future__ import annotations

import difflib
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal

import yaml

import agentic_flow.agents as _bundled
from agentic_flow.core.errors import AgentDefinitionError
from agentic_flow.core.paths import config_dir

__all__ = [
    "Agent",
    "AgentProblem",
    "AgentCatalog",
    "Source",
    "agent_dirs",
    "load_catalog",
    "load_agent_file",
    "normalize_tool_name",
    "bundled_agents_dir",
]

Source = Literal["agents-dir", "project-claude", "project", "user", "bundled"]
Severity = Literal["error", "warning"]

#: Larger files are not agent definitions (and would only waste memory).
MAX_FILE_BYTES = 1_000_000

#: Claude Code tool names and the names of our built-in tools (compared lower-cased).
_TOOL_NAMES: dict[str, str] = {
    "read": "read",
    "write": "write",
    "edit": "edit",
    "multiedit": "edit",
    "glob": "glob",
    "grep": "grep",
    "ls": "ls",
    "bash": "bash",
    "agent": "agent",
    "task": "agent",  # Claude Code's delegation tool
}

#: Keys a subagent file may carry at the top level. In the lenient reader these are
#: the only keys that end a ``description``, whose prose often holds ``user: ...`` lines.
_KNOWN_KEYS = frozenset(
    {
        "name",
        "description",
        "tools",
        "model",
        "color",
        "metadata",
        "disallowedTools",
        "disallowed-tools",
        "allowed-tools",
        "permissionMode",
        "mcpServers",
        "skills",
        "hooks",
        "maxTurns",
        "version",
        "author",
        "tags",
        "category",
        "license",
    }
)
_PROSE_KEYS = frozenset({"description"})
#: Fields a messy file sometimes nests under ``metadata:``.
_LIFTABLE = ("name", "description", "tools", "model", "color")
#: Not agents, even though they sit in an agents folder.
_SKIP_FILES = frozenset({"readme.md", "changelog.md", "contributing.md", "license.md"})

#: What a name may look like: it is typed after --agent and written in settings, so no
#: brackets, quotes or YAML indicators left over from a broken frontmatter line.
_NAME_RE = re.compile(r"^[^\W_][\w .:@+-]*$")
_KEY_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*:(?:[ \t]+(.*)|[ \t]*)$")
_DELIMITER = "---"


@dataclass(kw_only=True)
class Agent:
    """One loaded agent.

    Attributes:
        name: unique name in the catalog (frontmatter ``name``, else the file name).
        description: when to use the agent; shown in the catalog and to routers.
        prompt: the markdown body, used as the system prompt.
        tools: our tool names (``read``, ``mcp:server/tool``, ...); ``None`` = all tools,
            ``[]`` = none.
        model: a model alias or ``provider:model`` id; ``None`` = the session's model.
        color: display colour, as written.
        extra: every other frontmatter key, as loaded.
        path: the file it came from.
        source: which search folder it came from.
        line: 1-based file line where the prompt starts.
        key_lines: 1-based file line of each frontmatter key (``tools``, ``name``, ...), so
            a problem found later (an unknown tool) can point at it.
    """

    name: str
    description: str
    prompt: str
    path: Path
    source: str
    tools: list[str] | None = None
    model: str | None = None
    color: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    line: int = 1
    key_lines: dict[str, int] = field(default_factory=dict)


@dataclass
class AgentProblem:
    """Something wrong in an agent file, with where it is, so the user can fix it."""

    path: Path
    line: int | None
    message: str
    severity: Severity = "warning"

    def __str__(self) -> str:
        where = str(self.path) + (f":{self.line}" if self.line else "")
        return f"{where}: {self.severity}: {self.message}"


@dataclass
class AgentCatalog:
    """Agents by name plus every problem met while loading them."""

    agents: dict[str, Agent] = field(default_factory=dict)
    problems: list[AgentProblem] = field(default_factory=list)
    dirs: list[tuple[Path, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.agents)

    def __contains__(self, name: object) -> bool:
        return name in self.agents

    def __iter__(self) -> Iterator[Agent]:
        """Agents sorted by name, the order a list shows them in."""
        return iter(sorted(self.agents.values(), key=lambda a: a.name.lower()))

    def get(self, name: str) -> Agent:
        """The agent called ``name``; a miss raises with the closest names as a hint."""
        if name in self.agents:
            return self.agents[name]
        folded = [n for n in self.agents if n.lower() == name.lower()]
        if len(folded) == 1:
            return self.agents[folded[0]]
        names = sorted(self.agents)
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
        close += [n for n in names if name.lower() in n.lower() and n not in close][: 3 - len(close)]
        if close:
            hint = "Did you mean " + " or ".join(repr(n) for n in close) + "?"
        elif names:
            more = len(names) - 12
            rest = f" and {more} more (`agentic-flow agents list`)." if more > 0 else "."
            hint = f"Known agents: {', '.join(names[:12])}{rest}"
        else:
            hint = "No agents were found; add markdown files to ./.claude/agents or ./agents."
        raise AgentDefinitionError(f"No agent named {name!r}. {hint}")

    def search(self, text: str) -> list[Agent]:
        """Agents whose name or description contains ``text`` (name matches first)."""
        needle = text.strip().lower()
        by_name: list[Agent] = []
        by_description: list[Agent] = []
        for agent in self:
            if needle in agent.name.lower():
                by_name.append(agent)
            elif needle in agent.description.lower():
                by_description.append(agent)
        return by_name + by_description


# --------------------------------------------------------------------------- folders


def bundled_agents_dir() -> Path:
    """The catalog shipped with the project (the top-level ``agents/`` folder)."""
    return Path(_bundled.__file__).resolve().parent


def agent_dirs(agents_dir: Path | None = None, cwd: Path | None = None) -> list[tuple[Path, str]]:
    """Folders to search, earliest winning, each with its source label.

    Missing folders are listed too (the UI shows where it looked). Folders that resolve
    to the same place appear once, under their first label: when run inside this repo,
    ``./agents`` *is* the bundled folder.
    """
    base = Path(cwd or Path.cwd()).expanduser()
    candidates: list[tuple[Path, str]] = []
    if agents_dir is not None:
        explicit = Path(agents_dir).expanduser()
        candidates.append((explicit if explicit.is_absolute() else base / explicit, "agents-dir"))
    candidates += [
        (base / ".claude" / "agents", "project-claude"),
        (base / "agents", "project"),
        (config_dir() / "agents", "user"),
        (bundled_agents_dir(), "bundled"),
    ]
    seen: set[Path] = set()
    result: list[tuple[Path, str]] = []
    for path, source in candidates:
        try:
            key = path.resolve()
        except OSError:
            key = path.absolute()
        if key in seen:
            continue
        seen.add(key)
        result.append((path, source))
    return result


def _agent_files(directory: Path, problems: list[AgentProblem]) -> list[Path]:
    """``*.md`` files in ``directory`` and its direct subfolders, top level first."""
    files: list[Path] = []
    try:
        entries = sorted(directory.iterdir(), key=lambda p: p.name.lower())
    except OSError as exc:
        problems.append(AgentProblem(directory, None, f"cannot list folder: {exc.strerror or exc}", "error"))
        return files
    subdirs: list[Path] = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            subdirs.append(entry)
        elif _is_agent_file(entry):
            files.append(entry)
    for sub in subdirs:
        try:
            files += sorted((p for p in sub.iterdir() if _is_agent_file(p)), key=lambda p: p.name.lower())
        except OSError as exc:
            problems.append(AgentProblem(sub, None, f"cannot list folder: {exc.strerror or exc}", "error"))
    return files


def _is_agent_file(path: Path) -> bool:
    name = path.name
    return (
        name.lower().endswith(".md")
        and not name.startswith(".")
        and name.lower() not in _SKIP_FILES
        and path.is_file()
    )


# --------------------------------------------------------------------------- catalog


def load_catalog(agents_dir: Path | None = None, cwd: Path | None = None) -> AgentCatalog:
    """Load every agent from the search folders; problems are collected, never raised."""
    catalog = AgentCatalog(dirs=agent_dirs(agents_dir, cwd))
    problems = catalog.problems
    name_lines: dict[str, int] = {}
    for directory, source in catalog.dirs:
        if not directory.is_dir():
            if source == "agents-dir":
                what = "is not a folder" if directory.exists() else "does not exist"
                problems.append(AgentProblem(directory, None, f"--agents-dir {what}", "error"))
            continue
        for agent, name_line in _load_dir(directory, source, problems):
            winner = catalog.agents.get(agent.name)
            if winner is None:
                catalog.agents[agent.name] = agent
                name_lines[agent.name] = name_line
                continue
            problems.append(
                AgentProblem(
                    winner.path,
                    name_lines[agent.name],
                    f"agent {agent.name!r} from {winner.source} ({winner.path}) overrides "
                    f"the one from {agent.source} ({agent.path}:{name_line})",
                    "warning",
                )
            )
    return catalog


def _load_dir(directory: Path, source: str, problems: list[AgentProblem]) -> list[tuple[Agent, int]]:
    """Agents of one folder; a name used twice in it keeps the first file only."""
    loaded: dict[str, tuple[Agent, int]] = {}
    for path in _agent_files(directory, problems):
        parsed = _parse_file(path, source, problems)
        if parsed is None:
            continue
        agent, name_line = parsed
        first = loaded.get(agent.name)
        if first is not None:
            problems.append(
                AgentProblem(
                    path,
                    name_line,
                    f"agent name {agent.name!r} is already used by {first[0].path} in the same "
                    f"folder; this file is ignored — rename one of them",
                    "error",
                )
            )
            continue
        loaded[agent.name] = (agent, name_line)
    return list(loaded.values())


def load_agent_file(path: Path, source: str = "agents-dir") -> tuple[Agent | None, list[AgentProblem]]:
    """Load one file: the agent (``None`` if unusable) and the problems found in it."""
    problems: list[AgentProblem] = []
    parsed = _parse_file(Path(path), source, problems)
    return (parsed[0] if parsed else None), problems


# --------------------------------------------------------------------------- one file


class _FileReport:
    """Collects problems for one file, so parsing code only says what and where."""

    def __init__(self, path: Path, sink: list[AgentProblem]) -> None:
        self.path = path
        self.sink = sink

    def warn(self, line: int | None, message: str) -> None:
        self.sink.append(AgentProblem(self.path, line, message, "warning"))

    def error(self, line: int | None, message: str) -> None:
        self.sink.append(AgentProblem(self.path, line, message, "error"))


def _read_text(path: Path, report: _FileReport) -> str | None:
    """The file as text with ``\\n`` line ends and no BOM, or ``None`` (reported)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            report.error(None, f"file is {size:,} bytes; agent files are at most {MAX_FILE_BYTES:,} — skipped")
            return None
        data = path.read_bytes()
    except OSError as exc:
        report.error(None, f"cannot read file: {exc.strerror or exc} — skipped")
        return None
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        report.error(line, "binary file (contains NUL bytes), not a markdown agent — skipped")
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        report.error(
            line,
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save the file as UTF-8 — skipped",
        )
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")


def _parse_file(path: Path, source: str, sink: list[AgentProblem]) -> tuple[Agent, int] | None:
    """Parse one agent file into an agent and the line of its name (or 1)."""
    report = _FileReport(path, sink)
    text = _read_text(path, report)
    if text is None:
        return None
    if not text.strip():
        report.warn(None, "file is empty — skipped")
        return None
    lines = text.split("\n")

    # Frontmatter: an opening `---` (after blank lines at most) and a closing `---`/`...`.
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    data: dict[str, Any] = {}
    key_lines: dict[str, int] = {}
    body_start = 0  # index into lines
    has_frontmatter = False
    if start < len(lines) and lines[start].rstrip() == _DELIMITER:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].rstrip() in (_DELIMITER, "...")),
            None,
        )
        if end is None:
            report.warn(
                start + 1,
                "frontmatter opened with '---' is never closed; the whole file is read as the "
                "prompt, the name taken from the file name",
            )
        else:
            has_frontmatter = True
            body_start = end + 1
            data, key_lines = _parse_frontmatter(lines[start + 1 : end], start + 2, report)
    else:
        report.warn(
            1,
            "no YAML frontmatter (--- name/description ---); name taken from the file name "
            "and description from the text",
        )

    # Body = the prompt; `line` is where its first non-blank line is.
    first_body = body_start
    while first_body < len(lines) and not lines[first_body].strip():
        first_body += 1
    prompt = "\n".join(lines[first_body:]).strip()
    body_line = (first_body if prompt else body_start) + 1

    _lift_from_metadata(data, key_lines, report)

    name_line = key_lines.get("name", 1)
    name = _as_text(data.pop("name", None), "name", key_lines, report)
    if not name:
        name = path.stem
        if has_frontmatter:
            report.warn(key_lines.get("name", start + 1), f"no 'name' in frontmatter; using the file name {name!r}")
    if not _NAME_RE.match(name):
        report.warn(
            name_line,
            f"agent name {name!r} is not a valid name: use letters, digits, spaces and - _ . :, starting "
            "with a letter or digit (it is typed after --agent); quote the value in the frontmatter",
        )

    description = _as_text(data.pop("description", None), "description", key_lines, report)
    if not description:
        description = _describe_from_body(prompt)
        if has_frontmatter:
            if description:
                report.warn(start + 1, "no 'description' in frontmatter; using the first paragraph of the prompt")
            else:
                report.warn(start + 1, "no 'description': routers and the catalog cannot tell when to use this agent")

    tools = _parse_tools(data.pop("tools", None), key_lines.get("tools"), report)
    model = _as_text(data.pop("model", None), "model", key_lines, report) or None
    if model is not None and model.lower() == "inherit":
        model = None
    color = _as_text(data.pop("color", None), "color", key_lines, report) or None

    if not prompt:
        report.warn(body_line, "empty prompt: the agent has no instructions below the frontmatter")

    agent = Agent(
        name=name,
        description=description,
        prompt=prompt,
        tools=tools,
        model=model,
        color=color,
        extra=data,
        path=path,
        source=source,
        line=body_line,
        key_lines=dict(key_lines),
    )
    return agent, name_line


def _lift_from_metadata(data: dict[str, Any], key_lines: dict[str, int], report: _FileReport) -> None:
    """Use fields a file nested under ``metadata:`` when the top level lacks them."""
    meta = data.get("metadata")
    if not isinstance(meta, dict):
        return
    lifted = []
    for key in _LIFTABLE:
        if key in meta and data.get(key) in (None, ""):
            data[key] = meta[key]
            key_lines[key] = key_lines.get(f"metadata.{key}", key_lines.get("metadata", 1))
            lifted.append(key)
    if lifted:
        keys = ", ".join(f"'{k}'" for k in lifted)
        report.warn(
            key_lines.get("metadata"),
            f"{keys} found under 'metadata:' and used; move {'it' if len(lifted) == 1 else 'them'} "
            "to the top level of the frontmatter",
        )


def _as_text(value: Any, key: str, key_lines: dict[str, int], report: _FileReport) -> str:
    """A scalar field as a stripped string; lists/maps are reported and dropped."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        report.warn(key_lines.get(key), f"'{key}' should be text, not a {type(value).__name__}; ignored")
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def _describe_from_body(prompt: str) -> str:
    """First paragraph that is not a heading (else the first heading), for files without one."""
    heading = ""
    for block in re.split(r"\n\s*\n", prompt):
        block = block.strip()
        if not block:
            continue
        if block.startswith("#") and "\n" not in block:
            heading = heading or block.lstrip("#").strip()
            continue
        lines = [ln.strip() for ln in block.split("\n") if not ln.strip().startswith("#")]
        paragraph = " ".join(ln for ln in lines if ln)
        if paragraph:
            return paragraph if len(paragraph) <= 300 else paragraph[:299].rstrip() + "…"
    return heading


# --------------------------------------------------------------------------- tools


def normalize_tool_name(name: str) -> str:
    """Claude Code tool name -> ours: ``Read`` -> ``read``, ``mcp__s__t`` -> ``mcp:s/t``.

    A permission-style suffix is kept (``Bash(git diff:*)`` -> ``bash(git diff:*)``);
    names we do not know are returned as given.
    """
    name = name.strip()
    head, paren, rest = name.partition("(")
    base = head.strip()
    if base.startswith("mcp__"):
        server, _, tool = base[len("mcp__") :].partition("__")
        mapped = f"mcp:{server}/{tool or '*'}" if server else base
    else:
        mapped = _TOOL_NAMES.get(base.lower(), base)
    return mapped + (paren + rest if paren else "")


def _parse_tools(value: Any, line: int | None, report: _FileReport) -> list[str] | None:
    """``tools`` as our names; absent/null/``*`` = all tools, bad shapes = none (reported)."""
    if value is None:
        return None
    if isinstance(value, str):
        if value.strip() in ("*", "all"):
            return None
        # Commas inside parentheses belong to the entry: "read, agent(reviewer, tester)".
        items: list[Any] = re.split(r"[,\n](?![^()]*\))", value)
    elif isinstance(value, list):
        items = value
    else:
        report.warn(line, f"'tools' should be a list or comma-separated names, not {value!r}; agent gets no tools")
        return []
    tools: list[str] = []
    for item in items:
        if not isinstance(item, str):
            report.warn(line, f"tool {item!r} in 'tools' is not a name; ignored")
            continue
        if not item.strip():
            continue
        mapped = normalize_tool_name(item)
        if mapped not in tools:
            tools.append(mapped)
    return tools


# --------------------------------------------------------------------------- frontmatter


def _parse_frontmatter(
    lines: list[str], first_line: int, report: _FileReport
) -> tuple[dict[str, Any], dict[str, int]]:
    """YAML first; if that fails, the lenient line reader. Lines map to file lines."""
    text = "\n".join(lines)
    if not text.strip():
        report.warn(first_line - 1, "frontmatter is empty")
        return {}, {}
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = first_line + mark.line if mark is not None else first_line
        problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
        report.warn(
            line,
            f"frontmatter is not valid YAML ({problem}); read it line by line instead — "
            "quote values that contain ': ' or start with a special character",
        )
        return _lenient(lines, first_line, report)
    if not isinstance(data, dict):
        report.warn(
            first_line,
            f"frontmatter is a {type(data).__name__}, not 'key: value' lines; read it line by line instead",
        )
        return _lenient(lines, first_line, report)
    key_lines = _node_key_lines(node, first_line, report)
    return {str(k): v for k, v in data.items()}, key_lines


def _node_key_lines(node: yaml.Node | None, first_line: int, report: _FileReport) -> dict[str, int]:
    """File line of each top-level key (and ``metadata.*``); duplicate keys reported."""
    key_lines: dict[str, int] = {}
    if not isinstance(node, yaml.MappingNode):
        return key_lines

    def walk(mapping: yaml.MappingNode, prefix: str) -> None:
        for key_node, value_node in mapping.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = prefix + str(key_node.value)
            line = first_line + key_node.start_mark.line
            if key in key_lines:
                report.warn(line, f"key '{key}' appears twice (lines {key_lines[key]} and {line}); the last one is used")
            key_lines[key] = line
            if not prefix and key == "metadata" and isinstance(value_node, yaml.MappingNode):
                walk(value_node, "metadata.")

    walk(node, "")
    return key_lines


def _lenient(lines: list[str], first_line: int, report: _FileReport) -> tuple[dict[str, Any], dict[str, int]]:
    """Read ``key: value`` lines without YAML's rules, for frontmatter YAML refuses.

    The first ``: `` separates key and value; indented lines (and, inside a
    description, unindented lines that are not a known key) continue the value; a
    value-less key followed by ``- x`` lines is a list, by ``k: v`` lines a mapping.
    """
    data: dict[str, Any] = {}
    key_lines: dict[str, int] = {}
    _lenient_into(lines, first_line, "", data, key_lines, report)
    return data, key_lines


def _lenient_into(
    lines: list[str],
    first_line: int,
    prefix: str,
    data: dict[str, Any],
    key_lines: dict[str, int],
    report: _FileReport,
) -> None:
    entries: list[tuple[str, str, list[str], int]] = []  # key, inline value, continuation, line
    for index, raw in enumerate(lines):
        line_no = first_line + index
        current = entries[-1] if entries else None
        if not raw.strip():
            if current is not None:
                current[2].append("")
            continue
        if raw[0] in " \t":
            if current is not None:
                current[2].append(raw)
            else:
                report.warn(line_no, f"indented line before any key ignored: {raw.strip()[:60]!r}")
            continue
        if raw.startswith("#"):
            continue
        match = _KEY_RE.match(raw)
        starts_key = match is not None and (
            current is None or current[0] not in _PROSE_KEYS or match.group(1) in _KNOWN_KEYS
        )
        if match is not None and starts_key:
            entries.append((match.group(1), (match.group(2) or "").strip(), [], line_no))
        elif current is not None:
            current[2].append(raw)
        else:
            report.warn(line_no, f"line is not 'key: value'; ignored: {raw.strip()[:60]!r}")

    for key, inline, continuation, line_no in entries:
        full_key = prefix + key
        if full_key in key_lines:
            report.warn(
                line_no, f"key '{full_key}' appears twice (lines {key_lines[full_key]} and {line_no}); the last one is used"
            )
        key_lines[full_key] = line_no
        data[key] = _lenient_value(inline, continuation, line_no + 1, full_key, key_lines, report)


def _lenient_value(
    inline: str,
    continuation: list[str],
    first_line: int,
    full_key: str,
    key_lines: dict[str, int],
    report: _FileReport,
) -> Any:
    while continuation and not continuation[-1].strip():
        continuation = continuation[:-1]
    block = textwrap.dedent("\n".join(continuation)).split("\n") if continuation else []
    if inline[:1] in ("|", ">") and inline.rstrip("+-0123456789") in ("|", ">"):
        if inline.startswith("|"):
            return "\n".join(block).strip("\n") + "\n"
        return _fold(block)
    if not inline and block:
        content = [ln for ln in block if ln.strip()]
        if all(ln.startswith("- ") or ln == "-" for ln in content if not ln[0].isspace()):
            return _lenient_list(block)
        if _KEY_RE.match(content[0]) and "." not in full_key and full_key not in _PROSE_KEYS:
            nested: dict[str, Any] = {}
            offset = next(i for i, ln in enumerate(block) if ln.strip())
            _lenient_into(block[offset:], first_line + offset, full_key + ".", nested, key_lines, report)
            return nested
        return _scalar(_fold(block))
    if block:
        if any(ln[:1] not in ("", " ", "\t") for ln in continuation):
            # Unindented continuation is not YAML at all: the author wrote lines
            # (examples, dialogues), so keep them as lines instead of folding.
            return _scalar(_keep_lines([inline] + block))
        return _scalar(_fold([inline] + block))
    return _scalar(inline)


def _keep_lines(block: list[str]) -> str:
    """Lines stripped, runs of blank lines collapsed to one."""
    text = "\n".join(ln.strip() for ln in block)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _lenient_list(block: list[str]) -> list[Any]:
    items: list[str] = []
    for ln in block:
        if not ln.strip():
            continue
        if not ln[0].isspace():
            items.append(ln[1:].strip())
        elif items:
            items[-1] += " " + ln.strip()
    return [_scalar(item) for item in items]


def _fold(block: list[str]) -> str:
    """YAML-style folding: lines joined by spaces, blank lines kept as line breaks."""
    paragraphs: list[str] = []
    current: list[str] = []
    for ln in block:
        if ln.strip():
            current.append(ln.strip())
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return "\n".join(paragraphs)


def _scalar(text: str) -> Any:
    """A lenient value: quoted strings unquoted, ``[a, b]`` lists, null/true/false/numbers typed.

    YAML 1.1's ``yes``/``on``/``off`` stay text: a name ``on`` should not become ``True``.
    """
    text = text.strip()
    if not text or text in ("~", "null", "Null", "NULL"):
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    if re.fullmatch(r"[+-]?(\d+\.\d*|\.\d+)([eE][+-]?\d+)?", text):
        return float(text)
    quoted = len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'"
    if quoted or (text[0] == "[" and text.endswith("]")):
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = None
        if quoted:
            return value if isinstance(value, str) else text[1:-1]
        if isinstance(value, list):
            return value
        return [part.strip().strip("\"'") for part in text[1:-1].split(",") if part.strip()]
    return text

"""The permission engine: one place that decides allow / deny / ask for every tool call.

Order of evaluation (first that applies wins)::

    1. deny rules          any rule matching (any part of a command,    -> deny
                           a file a command reads or writes)
    2. read-only mode      anything but a read (or a delegation)       -> deny
    3. ask rules           any rule matching                           -> ask
    4. dangerous           unless a specific allow rule names it       -> ask
    5. opaque commands     code the parser cannot see (shell.py)       -> ask
    6. allow rules         incl. this session's answers; EVERY part    -> allow
                           plain, no write/exec flag the rule omits
    7. the mode            see ``core.permissions.modes``; a command   -> ask
                           that is not plain (a loop, ``$(...)``, ``&``,
                           a computed name) is never approved by a mode

No rule and no mode approves a command that is not plain: only a person can (denied
headless, with the reason), as DESIGN.md's contract says.

Allow rules are the strict side: a command they allow has been fully understood
(parsed with the bash grammar, every part plain, see ``core.permissions.shell``). Deny
rules are best effort against a determined adversary — they see through quoting,
wrappers (``sudo``, ``env``, ``time``, ``xargs``), ``sh -c``/``eval``, aliases, here-doc
and piped scripts, brace and ``$IFS`` tricks, paths, symlinks and globbed executables,
but cannot know what ``X=rm; $X`` or ``$(which rm)`` runs; so when bash deny rules
exist, a command whose name is computed at run time asks even where the mode would
allow it. The OS sandbox (``core.sandbox``) holds when this reading is wrong.

Paths are resolved before every decision (``targets.resolve_path``: ``..`` and
symlinks), so ``evaluate`` reads file metadata (links, link counts) but never file
contents, and never waits: the TUI can preview verdicts and tests can table them.
``decide`` adds the person: for an "ask" it awaits an ``Approver`` and applies the
answer's scope — once, this session (an exact in-memory rule), or always (a rule
appended to the project settings file).
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
import shutil
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from agentic_flow.core import paths
from agentic_flow.core.errors import ConfigError
from agentic_flow.core.events import PermissionDecided, PermissionRequested
from agentic_flow.core.permissions.dangerous import Danger, command_paths, find_dangers
from agentic_flow.core.permissions.effects import effects
from agentic_flow.core.permissions.globs import command_pattern_literal_text, escape_command, escape_path
from agentic_flow.core.permissions.modes import (
    READ_ONLY_REASON,
    Mode,
    mode_outcome,
    parse_mode,
)
from agentic_flow.core.permissions.prefix_rules import part_rules
from agentic_flow.core.permissions.rules import (
    Rule,
    RuleAction,
    RuleSet,
    load_rule_sets,
    mcp_rule_text,
    parse_rule,
)
from agentic_flow.core.permissions.settings_file import append_allow_rule
from agentic_flow.core.permissions.shell import (
    CommandPart,
    Redirect,
    ShellAnalysis,
    analyze_command,
    basename,
    brace_rewrite,
    command_chain,
    deny_forms,
    has_unsafe_characters,
    render_words,
    word_variants,
)
from agentic_flow.core.permissions.targets import (
    Target,
    canonical_tool,
    real_path,
    resolve_path,
    target_for,
    tool_kind,
)
from agentic_flow.core.permissions.workspace_trust import (
    UNTRUSTED_RULE_HINT,
    WorkspaceModeRequest,
    gate_workspace,
    is_user_rule_source,
)

# Redirect targets that write no file a person would care about.
_HARMLESS_SINKS = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty"})

if TYPE_CHECKING:
    from agentic_flow.core.events import PermissionDecided, PermissionRequested
    from agentic_flow.core.permissions.approvers import Approver

__all__ = [
    "Outcome",
    "Scope",
    "AnswerKind",
    "PermissionRequest",
    "Verdict",
    "Answer",
    "Decision",
    "PermissionEngine",
    "exact_rule",
]

Outcome = Literal["allow", "deny", "ask"]
Scope = Literal["once", "session", "always", "rule", "mode", "policy"]
AnswerKind = Literal["once", "session", "always", "deny"]
_ANSWER_KINDS = ("once", "session", "always", "deny")


@dataclass(frozen=True)
class PermissionRequest:
    """One tool call waiting for permission (``tool`` as users see it: ``bash``, ``mcp:s/t``).

    ``agent`` is the agent path (``coder``, or ``coder › reviewer`` for a subagent's call)
    and ``agent_id`` the run's id of that agent (``main``, ``main.1``; see ``core.events``).
    """

    call_id: str
    tool: str
    arguments: dict[str, Any]
    workspace: Path
    session_id: str | None = None
    agent: str | None = None
    model: str | None = None
    agent_id: str | None = None


@dataclass(frozen=True)
class Verdict:
    """What the rules and the mode say, before any person is involved.

    ``decided_by`` is ``rule:TEXT [FILE]``, ``mode:NAME``, ``dangerous: REASON`` or
    ``session``; ``dangers`` lists every dangerous finding (also when a rule allowed it).
    """

    outcome: Outcome
    reason: str
    decided_by: str
    dangers: tuple[str, ...] = ()

    @property
    def from_ask_rule(self) -> bool:
        return self.outcome == "ask" and self.decided_by.startswith("rule:")

    def to_event(self, request: PermissionRequest, preview: str | None = None) -> PermissionRequested:

        return PermissionRequested(
            call_id=request.call_id, tool=request.tool, arguments=request.arguments, reason=self.reason, preview=preview
        )


@dataclass(frozen=True)
class Answer:
    """An approver's answer.

    Attributes:
        kind: once, session, always or deny.
        reason: for a deny, sent back to the model; otherwise a note for the audit log.
        rule: a rule the person wrote instead of the exact one (``bash(pytest *)``).
        by: ``person``, or ``policy:NAME`` when no person answered.
    """

    kind: AnswerKind
    reason: str | None = None
    rule: str | None = None
    by: str = "person"

    def __post_init__(self) -> None:
        if self.kind not in _ANSWER_KINDS:
            raise ValueError(f"unknown answer kind {self.kind!r}; use one of {_ANSWER_KINDS}")


@dataclass(frozen=True)
class Decision:
    """The final word on one call, as recorded in the audit log."""

    allowed: bool
    scope: Scope
    decided_by: str
    reason: str | None = None
    rule_written: str | None = None
    rule_file: Path | None = None

    def to_event(self, request: PermissionRequest) -> PermissionDecided:

        return PermissionDecided(
            call_id=request.call_id,
            tool=request.tool,
            allowed=self.allowed,
            scope=self.scope,
            decided_by=self.decided_by,
            reason=self.reason,
        )


@dataclass
class _Call:
    """A request prepared for matching (computed once per evaluation).

    ``analyses[0]`` is the command as sent; the others are spellings deny rules also
    look at (NFKC-normalised, brace expansion rewritten).
    """

    name: str
    target: Target
    analyses: list[ShellAnalysis] = field(default_factory=list)
    workspace: Path | None = None
    _paths: tuple[list[Target], list[Target]] | None = None

    @property
    def analysis(self) -> ShellAnalysis | None:
        return self.analyses[0] if self.analyses else None

    def command_paths(self) -> tuple[list[Target], list[Target]]:
        """(read, written) files of a bash call, resolved; computed on first use."""
        if self._paths is None:
            reads: list[Target] = []
            writes: list[Target] = []
            for analysis in self.analyses:
                r, w = command_paths(analysis, self.workspace or Path.cwd())
                reads += r
                writes += w
            self._paths = (reads, writes)
        return self._paths


def exact_rule(request: PermissionRequest) -> str | None:
    """The rule naming exactly this call: the command, the path, or the MCP tool.

    Wildcards in the argument are escaped so the rule stays exact (``ls *.py`` becomes
    ``bash(ls \\*.py)``). Edits get ``edit(...)`` so the rule covers write and edit.
    None for unknown tools and empty commands (no rule could name them).
    """
    name = canonical_tool(request.tool)
    kind = tool_kind(name)
    target = target_for(name, request.arguments or {}, request.workspace)
    if name == "bash":
        return f"bash({escape_command(target.raw)})" if target.raw.strip() else None
    if kind in ("read", "edit"):
        path = target.rel if target.inside else target.abs
        return f"{'edit' if kind == 'edit' else name}({escape_path(path)})"
    if kind == "mcp":
        return mcp_rule_text(name)
    return None


def _glob_forms(part: CommandPart, rule: Rule) -> set[str]:
    """``/bin/r? -rf x`` may run ``rm``: if the executable is a glob that could expand
    to the rule's command name, spell the part with that name."""
    first = (rule.pattern or "").split(" ", 1)[0]
    if not first or "*" in first:
        return set()
    forms: set[str] = set()
    for variant in word_variants(part):
        for words in command_chain(variant):
            exe = basename(words[0])
            if any(c in exe for c in "*?[") and fnmatch.fnmatchcase(first.casefold(), exe.casefold()):
                forms.add(" ".join((first, *words[1:])))
    return forms


def _executable_resolver(workspace: Path) -> Callable[[str], str | None]:
    """``./del`` -> ``rm`` when ``del`` is a symlink to ``/bin/rm`` (the name of the
    program a path really runs; None when it does not exist)."""

    def resolve(word: str) -> str | None:
        path = os.path.join(workspace, os.path.expanduser(word))
        real = real_path(path)
        return basename(real) if os.path.isfile(real) else None

    return resolve


def _same_program(path_word: str, name: str, workspace: Path) -> bool:
    """Whether the path ``/usr/bin/git`` runs the program ``git`` that PATH would find."""
    found = shutil.which(name)
    if found is None:
        return False
    return real_path(os.path.join(workspace, path_word)) == real_path(found)


def _redirect_form(redirect: Redirect) -> str:
    gap = "" if redirect.op in (">&", "<&") else " "
    return f"{redirect.fd or ''}{redirect.op}{gap}{render_words((redirect.target,))}"


def _opaque_reasons(command: str, analysis: ShellAnalysis) -> list[str]:
    """Why no rule or mode may approve ``command`` (empty: it can be checked)."""
    reasons = list(analysis.opaque)
    if has_unsafe_characters(command):
        reasons.insert(0, "invisible or control characters (what runs differs from what is shown)")
    return reasons


def _dedupe(rules: list[Rule]) -> list[Rule]:
    out: list[Rule] = []
    for rule in rules:
        if rule not in out:
            out.append(rule)
    return out


def _ascii_command(words: tuple[str, ...], raw_words: tuple[str, ...]) -> bool:
    """No look-alike executables: ``ɡit`` (U+0261) is not ``git``."""
    if raw_words and not raw_words[0].isascii():
        return False
    return all(chain[0].isascii() for chain in command_chain(words))


class PermissionEngine:
    """Decides tool calls from rules, the mode, dangerous-operation checks and people.

    Args:
        mode: ``ask``, ``accept-edits``, ``auto`` or ``read-only`` (switchable later).
        rules: user + project + Claude rules (see ``load_rule_sets``).
        workspace: the project root; file tools may not leave it.
        project_settings_path: where "always" answers are written
            (default ``<workspace>/.agentic-flow/settings.yaml``).
    """

    def __init__(
        self,
        mode: Mode | str = "ask",
        rules: RuleSet | None = None,
        workspace: Path | str | None = None,
        project_settings_path: Path | None = None,
    ) -> None:
        self._mode: Mode = parse_mode(mode)
        self.rules = rules or RuleSet()
        self.workspace = Path(os.path.abspath(workspace if workspace is not None else Path.cwd()))
        self.project_settings_path = Path(project_settings_path or paths.project_settings_file(self.workspace))
        self._session: list[Rule] = []
        self._write_lock: asyncio.Lock | None = None
        #: Why commands run without the OS sandbox here (None: they run inside it). Then
        #: no mode allows a command by itself: auto mode asks (denied headless).
        self.sandbox_unavailable: str | None = None
        #: Commands get the network by default (``sandbox: {network: true}``); otherwise a
        #: ``bash`` call with ``network: true`` needs a person or an allow rule.
        self.network_default = False
        # Workspace trust (see permissions.workspace_trust); from_settings fills these in.
        self.user_settings_path: Path | None = None
        self.repo_rules_trusted = True
        self.withheld_mode: WorkspaceModeRequest | None = None

    @classmethod
    def from_settings(
        cls,
        workspace: Path,
        mode: Mode | str | None = None,
        *,
        user_settings: Path | None = None,
        project_settings: Path | None = None,
        include_claude: bool = True,
    ) -> tuple[PermissionEngine, list[str]]:
        """An engine with rules from every settings file; returns it with load warnings.

        ``mode`` (from ``--approve``) beats the settings' default mode, which beats ``ask``.
        A mode the workspace's own files set applies only as far as the user trusts the
        workspace, and so do their allow rules for dangerous operations (see
        ``permissions.workspace_trust``); a withheld mode adds a warning saying how to
        confirm it.
        """
        project = project_settings or paths.project_settings_file(Path(workspace))
        user_file = Path(user_settings or paths.user_config_file())
        rules, warnings = load_rule_sets(
            Path(workspace), user_settings=user_file, project_settings=project, include_claude=include_claude
        )
        gate = gate_workspace(Path(workspace), rules, user_file)
        engine = cls(mode or gate.mode or "ask", rules, workspace, project)
        engine.user_settings_path = user_file
        engine.repo_rules_trusted = gate.trusted
        if mode is None and gate.withheld is not None:
            engine.withheld_mode = gate.withheld
            warnings.append(gate.withheld.notice)
        return engine, warnings

    def trust_workspace(self, mode: Mode | str | None = None) -> None:
        """The user confirmed the workspace: apply ``mode`` and trust its allow rules."""
        if mode is not None:
            self.mode = mode
        self.repo_rules_trusted = True
        self.withheld_mode = None

    # ------------------------------------------------------------ mode and session

    @property
    def mode(self) -> Mode:
        return self._mode

    @mode.setter
    def mode(self, value: Mode | str) -> None:
        self._mode = parse_mode(value)

    @property
    def session_rules(self) -> tuple[Rule, ...]:
        return tuple(self._session)

    def allow_for_session(self, rule: str | Rule) -> Rule:
        """Add an in-memory allow rule for the rest of this engine's life."""
        parsed = rule if isinstance(rule, Rule) else parse_rule(rule, "allow")
        if parsed.action != "allow":
            parsed = Rule("allow", parsed.tool, parsed.pattern, parsed.mcp_server, parsed.mcp_tool)
        if parsed not in self._session:
            self._session.append(parsed)
        return parsed

    def suggest_rule(self, request: PermissionRequest) -> str | None:
        """The exact rule for this call (what "session" and "always" remember).

        None for a command that is not plain: no rule can approve it (only a person,
        each time), so offering to remember one would be a promise the engine breaks.
        """
        rules = self.suggest_rules(request)
        return ", ".join(rules) if rules else None

    def suggest_rules(self, request: PermissionRequest) -> list[str]:
        """What "session" and "always" remember: the exact rule for the call, or for a
        plain command of several parts one rule per part (``core.permissions.prefix_rules``)."""
        if canonical_tool(request.tool) == "bash":
            analysis = self._prepare(request).analysis
            if analysis is None or not analysis.plain:
                return []
            per_part = part_rules(analysis)
            if per_part:
                return per_part
        exact = exact_rule(request)
        return [exact] if exact else []

    # ------------------------------------------------------------ evaluation

    def _prepare(self, request: PermissionRequest) -> _Call:
        name = canonical_tool(request.tool)
        target = target_for(name, request.arguments or {}, request.workspace)
        call = _Call(name, target, workspace=Path(request.workspace))
        if name == "bash":
            command = target.raw
            resolver = _executable_resolver(Path(request.workspace))
            call.analyses.append(analyze_command(command, resolver))
            normalized = unicodedata.normalize("NFKC", command)
            if normalized != command:
                call.analyses.append(analyze_command(normalized, resolver))
            for text in (command, normalized):
                rewritten = brace_rewrite(text)
                if rewritten is not None:
                    call.analyses.append(analyze_command(rewritten, resolver))
        return call

    def _matches_any(self, rule: Rule, call: _Call, *, for_deny: bool) -> bool:
        """Deny/ask semantics: the rule matches the call if it matches ANY part, or, for
        ``read(...)`` / ``edit(...)`` rules, any file the command reads / writes."""
        if call.name == "bash" and not rule.covers_tool("bash"):
            return self._matches_command_files(rule, call)
        if not rule.covers_tool(call.name):
            return False
        if call.name == "bash":
            if rule.pattern is None:
                return True
            command = call.target.raw
            whole = {command, unicodedata.normalize("NFKC", command)}
            if any(rule.matches_command(c, for_deny=for_deny) for c in whole):
                return True
            return any(
                rule.matches_command(form, for_deny=for_deny)
                for analysis in call.analyses
                for part in analysis.parts
                for form in deny_forms(part) | _glob_forms(part, rule)
            )
        if call.target.is_path:
            return rule.matches_path(call.target, for_deny=for_deny)
        return rule.pattern is None

    def _matches_command_files(self, rule: Rule, call: _Call) -> bool:
        """``read(**/.env)`` against ``cat .env``; ``edit(secrets/**)`` against ``> secrets/x``."""
        if rule.tool == "mcp" or rule.pattern is None:
            return False
        reads, writes = call.command_paths()
        if rule.covers_tool("read") and any(rule.matches_path(t, for_deny=True) for t in reads):
            return True
        return rule.covers_tool("edit") and any(rule.matches_path(t, for_deny=True) for t in writes)

    def _first(self, action: RuleAction, call: _Call) -> Rule | None:
        return next((r for r in self.rules.of(action) if self._matches_any(r, call, for_deny=True)), None)

    def _allow_rules(self) -> list[Rule]:
        return [*self.rules.of("allow"), *self._session]

    def _allowing(self, call: _Call) -> list[Rule] | None:
        """Allow semantics: the rules that together allow the call, or None.

        For commands: one wildcard-free rule naming the whole command line, or a plain
        command (``ShellAnalysis.plain``: no parse problem, nothing computed or opaque)
        whose EVERY part matches an allow rule — a rule that also spells out each write
        or exec flag the part has (``effects``) — with no invisible characters and no
        non-ASCII executable names; redirections into files need an edit rule too.
        """
        rules = [r for r in self._allow_rules() if r.covers_tool(call.name)]
        if call.name != "bash":
            if call.target.is_path:
                return [r for r in rules if r.matches_path(call.target)][:1] or None
            return [r for r in rules if r.pattern is None][:1] or None
        command = call.target.raw
        if not command.strip() or has_unsafe_characters(command):
            return None
        analysis = call.analysis
        if analysis is None or not analysis.plain or not analysis.parts:
            return None
        exact = [r for r in rules if r.names_command_line(command)]
        if exact:
            return exact[:1]
        used: list[Rule] = []
        for part in analysis.parts:
            if part.assignments_only and not part.redirects:
                continue  # "X=1": sets a variable, runs nothing (its value is plain)
            if not _ascii_command(part.words, part.raw_words):
                return None
            rule = next((r for r in rules if self._rule_covers_part(r, part, call)), None)
            if rule is None:
                return None
            used.append(rule)
            for redirect in part.redirects:
                if ">" in (rule.pattern or "") and redirect.target in (rule.pattern or ""):
                    continue  # the rule itself names this redirection
                if not redirect.writes or redirect.target in _HARMLESS_SINKS:
                    continue  # nothing is written
                edit_rule = self._allowing_redirect(redirect)
                if edit_rule is None:
                    return None
                used.append(edit_rule)
        return _dedupe(used) or None

    def _rule_covers_part(self, rule: Rule, part: CommandPart, call: _Call) -> bool:
        """The rule matches the part as written or as typed plainly, and names every
        flag that makes the part write files or run other code."""
        forms = {part.text, render_words(part.words)}
        if part.redirects:
            tail = " ".join(_redirect_form(r) for r in part.redirects)
            forms.add(f"{render_words(part.words)} {tail}")
        first = part.words[0] if part.words else ""
        if "/" in first and rule.pattern:
            name = rule.pattern.split(" ", 1)[0]
            if name and "/" not in name and "*" not in name and call.workspace is not None and \
                    _same_program(first, name, call.workspace):
                forms.add(render_words((name, *part.words[1:])))  # /usr/bin/git is git
        if not any(rule.matches_command(form) for form in forms):
            return False
        literal = command_pattern_literal_text(rule.pattern or "").split()
        for link in command_chain(part.words):
            for flag in effects(link).flags:
                spelled = flag.split("=", 1)[0]
                if spelled not in literal and not any(w.startswith(spelled) for w in literal):
                    return False
        return True

    def _allowing_redirect(self, redirect: Redirect) -> Rule | None:
        """A command rule never covers writing a file: ``git status > src/main.py`` also
        needs an edit rule for ``src/main.py``; this is that rule, or None."""
        target = resolve_path(redirect.target, self.workspace)
        return next(
            (r for r in self._allow_rules() if r.covers_tool("edit") and r.matches_path(target)), None
        )

    def _may_approve_danger(self, rule: Rule) -> bool:
        """A workspace's own rules approve dangerous calls only once the user trusts it."""
        return self.repo_rules_trusted or is_user_rule_source(rule.source, self.user_settings_path)

    def _explicitly_allowing(
        self, call: _Call, dangers: list[Danger], *, untrusted_too: bool = False
    ) -> list[Rule] | None:
        """Rules that allow a dangerous call by naming it; catch-alls never do."""
        trusted = (lambda r: True) if untrusted_too else self._may_approve_danger
        rules = [r for r in self._allow_rules() if r.covers_tool(call.name) and trusted(r)]
        if call.name != "bash":
            return [r for r in rules if not r.is_catch_all and r.matches_path(call.target)][:1] or None
        allowing = self._allowing(call)
        if allowing is None:
            return None
        exact = [r for r in allowing if r.names_command_line(call.target.raw) and trusted(r)]
        if exact:
            return exact
        used: list[Rule] = []
        for danger in dangers:
            if danger.part is None:
                return None
            rule = next((r for r in rules if r.matches_command(danger.part) and r.names(danger.trigger)), None)
            if rule is None:
                return None
            used.append(rule)
        return _dedupe(used)

    def _by(self, rules: list[Rule]) -> str:
        return " + ".join("session" if r in self._session else r.decided_by for r in rules)

    def evaluate(self, request: PermissionRequest) -> Verdict:
        """The verdict of rules, dangerous checks and mode. Pure: no I/O, no waiting."""
        return self._sandbox_verdict(request, self._evaluate(request))

    def _sandbox_verdict(self, request: PermissionRequest, verdict: Verdict) -> Verdict:
        """What the command sandbox changes: a mode never grants the network, nor a
        command at all when there is no sandbox; rules (named by a person) still do."""
        if canonical_tool(request.tool) != "bash" or verdict.outcome == "deny":
            return verdict
        by_mode = verdict.decided_by.startswith("mode:")
        if bool((request.arguments or {}).get("network")) and not self.network_default:
            if verdict.outcome == "ask":
                by = "sandbox: needs network" if by_mode else verdict.decided_by
                return Verdict("ask", f"needs network; {verdict.reason}", by, verdict.dangers)
            if by_mode:
                reason = "needs network: the command asks to run with network access, which is off by default"
                return Verdict("ask", reason, "sandbox: needs network", verdict.dangers)
        if self.sandbox_unavailable and verdict.outcome == "allow" and by_mode:
            reason = f"commands run without a sandbox here ({self.sandbox_unavailable}), so each one needs approval"
            return Verdict("ask", reason, "sandbox: unavailable", verdict.dangers)
        return verdict

    def _evaluate(self, request: PermissionRequest) -> Verdict:
        call = self._prepare(request)
        kind = tool_kind(call.name)

        rule = self._first("deny", call)
        if rule is not None:
            where = f" ({rule.source})" if rule.source else ""
            return Verdict("deny", f"denied by rule {rule.display}{where}", rule.decided_by)
        if self._mode == "read-only" and kind not in ("read", "delegate"):
            return Verdict("deny", READ_ONLY_REASON, "mode:read-only")
        rule = self._first("ask", call)
        if rule is not None:
            return Verdict("ask", f"rule {rule.display} asks for approval", rule.decided_by)

        analysis = call.analysis
        dangers = find_dangers(call.name, request.arguments or {}, request.workspace, analysis)
        reasons = tuple(d.reason for d in dangers)
        if dangers:
            explicit = self._explicitly_allowing(call, dangers)
            summary = "; ".join(reasons)
            if explicit is None:
                reason = f"dangerous: {summary}"
                if not self.repo_rules_trusted and self._explicitly_allowing(call, dangers, untrusted_too=True):
                    reason += f" ({UNTRUSTED_RULE_HINT})"
                return Verdict("ask", reason, f"dangerous: {summary}", reasons)
            names = ", ".join(r.display for r in explicit)
            return Verdict("allow", f"dangerous ({summary}) but allowed by {names}", self._by(explicit), reasons)

        if call.name == "bash" and analysis is not None:
            opaque = _opaque_reasons(call.target.raw, analysis)
            if opaque:
                listed = "; ".join(opaque)
                reason = f"the command cannot be checked part by part ({listed}); no rule or mode approves it"
                return Verdict("ask", reason, f"parser: {opaque[0]}")

        allowing = self._allowing(call)
        if allowing is not None:
            names = ", ".join(r.display for r in allowing)
            return Verdict("allow", f"allowed by {names}", self._by(allowing))

        inside = call.target.inside if call.target.is_path else True
        outcome, reason = mode_outcome(self._mode, kind, inside)
        if outcome == "ask" and call.name == "bash":
            missed = self._why_rules_miss(call)
            if missed:
                reason = f"{reason}; allow rules cover only {missed}"
        if outcome == "allow" and call.name == "bash" and analysis is not None and not analysis.plain:
            listed = "; ".join(analysis.not_plain) or "it does not parse cleanly"
            reason = f"not a plain command ({listed}): a mode approves only plain commands"
            return Verdict("ask", reason, f"parser: {listed}")
        if outcome == "allow" and call.name == "bash" and self._hides_from_deny(call):
            reason = "the command's name is computed when it runs, so deny rules cannot check it"
            return Verdict("ask", reason, f"mode:{self._mode}")
        return Verdict(outcome, reason, f"mode:{self._mode}")

    def _why_rules_miss(self, call: _Call) -> str | None:
        """When an allow rule names the command but cannot cover it: say why."""
        analysis = call.analysis
        rules = [r for r in self._allow_rules() if r.covers_tool("bash") and r.pattern is not None]
        if analysis is None or not rules:
            return None
        named = [p for p in analysis.parts if any(r.matches_command(p.text) for r in rules)]
        if not named:
            return None
        if analysis.not_plain:
            return f"plain commands, and this one is not ({'; '.join(analysis.not_plain)})"
        for part in named:
            for link in command_chain(part.words):
                flags = effects(link).flags
                if flags:
                    return (f"commands without write or exec flags unless the rule spells them out "
                            f"({basename(link[0])} {', '.join(flags)})")
        return None

    def _hides_from_deny(self, call: _Call) -> bool:
        """A command run through ``$X``, ``$(...)`` or a glob (``/bin/r?``) while bash deny
        rules exist: no deny rule can know what it runs."""
        if not any(r.pattern is not None and r.covers_tool("bash") for r in self.rules.of("deny")):
            return False
        for analysis in call.analyses:
            for part in analysis.parts:
                for variant in word_variants(part):
                    for words in command_chain(variant):
                        if "$" in words[0] or "`" in words[0] or any(c in basename(words[0]) for c in "*?["):
                            return True
        return False

    def path_denied(self, tool: str, path: str) -> Rule | None:
        """The deny rule hiding ``path`` from ``tool`` (for glob/grep to filter results)."""
        target = resolve_path(path, self.workspace)
        name = canonical_tool(tool)
        return next(
            (r for r in self.rules.of("deny") if r.covers_tool(name) and r.matches_path(target, for_deny=True)), None
        )

    # ------------------------------------------------------------ deciding

    async def decide(self, request: PermissionRequest, approver: Approver) -> Decision:
        """Evaluate; for "ask", await the approver and apply the answer's scope."""
        verdict = self.evaluate(request)
        if verdict.outcome != "ask":
            by = verdict.decided_by
            scope: Scope = "session" if by == "session" else "mode" if by.startswith("mode:") else "rule"
            return Decision(verdict.outcome == "allow", scope, by, verdict.reason)
        answer = await approver.ask(request, verdict)
        return await self.apply_answer(request, verdict, answer)

    async def apply_answer(self, request: PermissionRequest, verdict: Verdict, answer: Answer) -> Decision:
        """Turn an answer into a decision (front ends that ask on their own call this)."""
        if answer.by != "person":
            allowed = answer.kind != "deny"
            return Decision(allowed, "policy", answer.by, answer.reason or ("allowed" if allowed else "denied"))
        if answer.kind == "deny":
            return Decision(False, "once", "person", answer.reason or "denied by the user")
        if answer.kind == "once":
            return Decision(True, "once", "person", answer.reason or "allowed once by the user")
        if verdict.from_ask_rule:
            return Decision(True, "once", "person", f"allowed this time only: {verdict.reason} every time")
        texts = [answer.rule] if answer.rule else self.suggest_rules(request)
        if not texts:
            return Decision(True, "once", "person", "allowed once (no rule can name this call)")
        try:
            rules = [parse_rule(text, "allow") for text in texts]
        except ConfigError as exc:
            return Decision(True, "once", "person", f"allowed once; {exc}")
        if answer.kind == "session":
            for rule in rules:
                self.allow_for_session(rule)
            return Decision(True, "session", "person", f"allowed for this session: {', '.join(r.text for r in rules)}")
        decision = None
        for rule in rules:
            decision = await self._allow_always(rule)
            if decision.scope != "always":
                return decision
        assert decision is not None
        if len(rules) > 1:
            names = ", ".join(r.text for r in rules)
            decision = Decision(
                True, "always", "person", f"allowed always: {names} saved to {decision.rule_file}", names,
                decision.rule_file,
            )
        return decision

    async def _allow_always(self, rule: Rule) -> Decision:
        path = self.project_settings_path
        if self._write_lock is None:
            self._write_lock = asyncio.Lock()
        async with self._write_lock:
            try:
                await asyncio.to_thread(append_allow_rule, path, rule.text)
            except ConfigError as exc:
                self.allow_for_session(rule)
                reason = f"allowed for this session only; could not save the rule: {exc}"
                return Decision(True, "session", "person", reason)
        saved = Rule("allow", rule.tool, rule.pattern, rule.mcp_server, rule.mcp_tool, source=path)
        if saved not in self.rules.rules:
            self.rules = self.rules.with_rule(saved)
        return Decision(True, "always", "person", f"allowed always: {rule.text} saved to {path}", rule.text, path)

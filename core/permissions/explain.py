"""``agentic-flow permissions explain "CMD"``: how the engine reads a command and why.

It prints the parse (the bash grammar's tree), each simple command bash would run (its
words, where it comes from, what it really runs, the flags that make it write or run
code, whether it is plain), the rule that matched each part and why, the dangers
found, and the verdict for the mode in force. Nothing runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentic_flow.core.permissions.dangerous import find_dangers
from agentic_flow.core.permissions.effects import effects
from agentic_flow.core.permissions.engine import PermissionEngine, PermissionRequest
from agentic_flow.core.permissions.shell import (
    _parser,
    basename,
    command_chain,
    deny_forms,
    render_words,
)

__all__ = ["Explanation", "PartExplanation", "explain_command"]


@dataclass
class PartExplanation:
    text: str
    origin: str
    depth: int
    words: list[str]
    runs: list[str]
    flags: list[str]
    plain: bool
    why_not_plain: list[str]
    deny: list[str] = field(default_factory=list)
    ask: list[str] = field(default_factory=list)
    allow: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Explanation:
    command: str
    mode: str
    tree: str
    plain: bool
    opaque: list[str]
    not_plain: list[str]
    problems: list[str]
    parts: list[PartExplanation]
    dangers: list[str]
    outcome: str
    reason: str
    decided_by: str

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["parts"] = [p.to_json() for p in self.parts]
        return data

    def render(self) -> str:
        lines = [f"command: {self.command}", f"parse:   {self.tree}"]
        if self.problems:
            lines.append("problems: " + "; ".join(self.problems))
        if self.plain:
            lines.append("plain:   yes (an allow rule may cover it)")
        else:
            lines.append("plain:   no")
            for reason in self.opaque:
                lines.append(f"  opaque (no rule or mode approves it): {reason}")
            for reason in self.not_plain:
                lines.append(f"  not plain (no allow rule covers it; a mode may): {reason}")
        lines.append("parts:")
        for i, part in enumerate(self.parts, 1):
            indent = "  " * (part.depth + 1)
            lines.append(f"{indent}{i}. {part.text}   [{part.origin}]")
            lines.append(f"{indent}   words: {' | '.join(part.words) or '-'}")
            if part.runs:
                lines.append(f"{indent}   runs:  {' -> '.join(part.runs)}")
            if part.flags:
                lines.append(f"{indent}   write/exec flags: {', '.join(part.flags)} (a rule must spell them out)")
            if not part.plain:
                lines.append(f"{indent}   not plain: {'; '.join(part.why_not_plain)}")
            for label, matched in (("deny", part.deny), ("ask", part.ask), ("allow", part.allow)):
                if matched:
                    lines.append(f"{indent}   {label} rule: {', '.join(matched)}")
            if not (part.deny or part.ask or part.allow):
                lines.append(f"{indent}   no rule matches this part")
        lines.append("dangers: " + ("; ".join(self.dangers) if self.dangers else "none"))
        lines.append(f"verdict ({self.mode} mode): {self.outcome.upper()} - {self.reason}")
        lines.append(f"decided by: {self.decided_by}")
        return "\n".join(lines)


def explain_command(engine: PermissionEngine, command: str, workspace: Path) -> Explanation:
    """Everything the engine sees in ``command`` (no I/O beyond path metadata, no run)."""
    request = PermissionRequest(call_id="explain", tool="bash", arguments={"command": command}, workspace=workspace)
    verdict = engine.evaluate(request)
    call = engine._prepare(request)
    analysis = call.analysis
    assert analysis is not None
    tree = _parser().parse(command.encode("utf-8")).root_node
    parts: list[PartExplanation] = []
    bash_rules = {action: [r for r in engine.rules.of(action) if r.covers_tool("bash")]
                  for action in ("deny", "ask")}
    allow_rules = [r for r in engine._allow_rules() if r.covers_tool("bash")]
    for part in analysis.parts:
        chain = command_chain(part.resolved or part.words)
        flags = [f"{basename(link[0])} {flag}" for link in chain for flag in effects(link).flags]
        forms = deny_forms(part)
        explained = PartExplanation(
            text=part.text,
            origin=part.origin,
            depth=part.depth,
            words=list(part.words),
            runs=[render_words(link[:1]) for link in chain],
            flags=flags,
            plain=part.plain,
            why_not_plain=[*part.opaque, *part.not_plain],
        )
        for action in ("deny", "ask"):
            for rule in bash_rules[action]:
                if rule.pattern is None or any(rule.matches_command(f, for_deny=True) for f in forms):
                    getattr(explained, action).append(rule.decided_by)
        for rule in allow_rules:
            if engine._rule_covers_part(rule, part, call):
                explained.allow.append(rule.decided_by + ("" if part.plain and analysis.plain else
                                                          " (matches, but the command is not plain)"))
            elif rule.pattern is not None and rule.matches_command(part.text):
                explained.allow.append(rule.decided_by + " (matches the text, but not a write/exec flag it has)")
        parts.append(explained)
    return Explanation(
        command=command,
        mode=engine.mode,
        tree=str(tree),
        plain=analysis.plain,
        opaque=list(analysis.opaque),
        not_plain=list(analysis.not_plain),
        problems=list(analysis.problems),
        parts=parts,
        dangers=[d.reason for d in find_dangers("bash", {"command": command}, workspace, analysis)],
        outcome=verdict.outcome,
        reason=verdict.reason,
        decided_by=verdict.decided_by,
    )

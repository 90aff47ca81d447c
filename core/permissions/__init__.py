"""The permission engine: rules, modes, dangerous operations, approvers.

Independent of any UI: the TUI, the headless CLI and tests all go through
``PermissionEngine.decide(request, approver)``. See ``engine`` for the order in which
deny rules, read-only mode, ask rules, dangerous checks, allow rules and the mode apply.
"""

from agentic_flow.core.permissions.approvers import (
    APPROVE_VALUES,
    Approver,
    PolicyApprover,
    TerminalApprover,
    choose_approver,
    example_rule,
    format_request,
    mode_and_approver_for,
)
from agentic_flow.core.permissions.dangerous import (
    Danger,
    dangerous_reason,
    find_dangers,
)
from agentic_flow.core.permissions.engine import (
    Answer,
    AnswerKind,
    Decision,
    Outcome,
    PermissionEngine,
    PermissionRequest,
    Scope,
    Verdict,
    exact_rule,
)
from agentic_flow.core.permissions.modes import MODES, Mode, parse_mode
from agentic_flow.core.permissions.rules import (
    Rule,
    RuleAction,
    RuleSet,
    claude_rule_to_ours,
    load_claude_rules,
    load_rule_sets,
    load_settings_rules,
    parse_rule,
)
from agentic_flow.core.permissions.settings_file import append_allow_rule
from agentic_flow.core.permissions.shell import (
    ShellAnalysis,
    analyze_command,
    split_command,
)
from agentic_flow.core.permissions.targets import ToolKind, tool_kind

__all__ = [
    "APPROVE_VALUES",
    "MODES",
    "Answer",
    "AnswerKind",
    "Approver",
    "Danger",
    "Decision",
    "Mode",
    "Outcome",
    "PermissionEngine",
    "PermissionRequest",
    "PolicyApprover",
    "Rule",
    "RuleAction",
    "RuleSet",
    "Scope",
    "ShellAnalysis",
    "TerminalApprover",
    "ToolKind",
    "Verdict",
    "analyze_command",
    "append_allow_rule",
    "choose_approver",
    "claude_rule_to_ours",
    "dangerous_reason",
    "exact_rule",
    "example_rule",
    "find_dangers",
    "format_request",
    "load_claude_rules",
    "load_rule_sets",
    "load_settings_rules",
    "mode_and_approver_for",
    "parse_mode",
    "parse_rule",
    "split_command",
    "tool_kind",
]

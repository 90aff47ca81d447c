"""Property-based fuzzing of the parsers that read untrusted input.

Bounded (``max_examples`` ~200, no deadline) so it runs in CI. The SSE decoder on
random bytes and random splits is fuzzed in ``test_sse.py``, agent files as raw bytes
in ``test_agents.py``; here:

* provider mapping — ``OpenAIProvider.map_event`` / ``AnthropicProvider.map_event`` fed
  sequences of events whose JSON has the right keys with the wrong shapes, then
  ``finish`` and the usage estimate; the only exception allowed is the documented
  ``core.errors.ProviderError`` (a fatal in-stream error);
* the agent loader on frontmatter whose *values* are arbitrary YAML (lists, maps,
  numbers, dates, nulls where strings belong), one file and a whole catalog folder;
* permission rules — ``parse_rule`` raises only ``ConfigError``, a parsed rule's
  canonical text parses back to the same rule, Claude Code rules map or are refused;
* the shell analyser, the dangerous-command finder and the engine on arbitrary
  command lines never raise.
"""

from __future__ import annotations

import json
import os
import string
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentic_flow.core import errors
from agentic_flow.core.agents.catalog import load_agent_file, load_catalog
from agentic_flow.core.events import Event, TextDelta, ToolCallReady
from agentic_flow.core.messages import ChatRequest, UserMessage
from agentic_flow.core.permissions import (
    PermissionEngine,
    PermissionRequest,
    RuleSet,
    analyze_command,
    claude_rule_to_ours,
    find_dangers,
    load_claude_rules,
    parse_rule,
    split_command,
)
from agentic_flow.core.permissions.shell import deny_forms
from agentic_flow.core.providers.anthropic import AnthropicProvider
from agentic_flow.core.providers.base import ProviderConfig, TurnState
from agentic_flow.core.providers.openai import OpenAIProvider
from agentic_flow.core.providers.sse import SSEEvent

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# --------------------------------------------------------------------------- providers

# Keys both wire formats use, so random documents reach deep into the mappers.
WIRE_KEYS = [
    "id", "model", "object", "choices", "index", "delta", "message", "content", "role", "text",
    "reasoning", "reasoning_content", "tool_calls", "function", "name", "arguments", "type",
    "finish_reason", "usage", "prompt_tokens", "completion_tokens", "prompt_tokens_details",
    "cached_tokens", "error", "code", "content_block", "input", "partial_json", "thinking",
    "signature", "stop_reason", "input_tokens", "output_tokens", "cache_read_input_tokens",
    "cache_creation_input_tokens", "text_delta", "input_json_delta", "tool_use",
]
WIRE_STRINGS = [
    "stop", "length", "tool_calls", "end_turn", "tool_use", "max_tokens", "text", "thinking",
    "text_delta", "thinking_delta", "signature_delta", "input_json_delta", "tool_use",
    "message_start", "content_block_start", "content_block_delta", "content_block_stop",
    "message_delta", "message_stop", "error", "overloaded_error", "rate_limit_error", "read",
    '{"path": "a.py"}', '{"pa', "", "call_1", "toolu_01",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(WIRE_STRINGS),
    st.text(max_size=8),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(WIRE_KEYS), inner, max_size=5),
    ),
    max_leaves=25,
)


def _dumps(doc: Any) -> str:
    try:
        return orjson.dumps(doc).decode()
    except orjson.JSONEncodeError:  # integers past 64 bits: the stdlib writes them
        return json.dumps(doc)


# Valid events of each wire (recorded shapes); the fuzzer replaces one value at a time
# with a random document, so the mappers see every field with every wrong shape.
OPENAI_TEMPLATES: list[tuple[str, Any]] = [
    ("message", {"id": "chatcmpl-1", "model": "m", "choices": [
        {"index": 0, "delta": {"role": "assistant", "content": "Hi"}, "finish_reason": None}]}),
    ("message", {"choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "id": "call_1", "type": "function", "function": {"name": "read", "arguments": '{"pa'}}]}}]}),
    ("message", {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": 'th": 1}'}}]}}]}),
    ("message", {"choices": [{"index": 0, "delta": {"reasoning": "hmm", "reasoning_content": "hm"}}]}),
    ("message", {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}],
                 "usage": {"prompt_tokens": 3, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 1}}}),
    ("message", {"error": {"message": "boom", "code": 500}}),
]
ANTHROPIC_TEMPLATES: list[tuple[str, Any]] = [
    ("message_start", {"type": "message_start", "message": {
        "id": "msg_1", "model": "m", "usage": {"input_tokens": 3, "output_tokens": 1, "cache_read_input_tokens": 0}}}),
    ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
    ("content_block_start", {"type": "content_block_start", "index": 1,
                             "content_block": {"type": "tool_use", "id": "toolu_1", "name": "read", "input": {}}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 1,
                             "delta": {"type": "input_json_delta", "partial_json": '{"path": "a"}'}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 2, "delta": {"type": "thinking_delta", "thinking": "t"}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 2, "delta": {"type": "signature_delta", "signature": "s"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 1}),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 5}}),
    ("message_stop", {"type": "message_stop"}),
    ("message", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "no event line"}}),
    ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}),
]


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, prefix + (key,))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += _paths(value, prefix + (i,))
    return out


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        return {k: (_replace(v, rest, value) if k == head else v) for k, v in doc.items()}
    return [(_replace(v, rest, value) if i == head else v) for i, v in enumerate(doc)]


@st.composite
def wire_events(draw: st.DrawFn, templates: list[tuple[str, Any]]) -> SSEEvent:
    name, doc = draw(st.sampled_from(templates))
    how = draw(st.sampled_from(["keep", "mutate", "mutate", "mutate", "raw"]))
    if how == "raw":
        return SSEEvent(draw(st.sampled_from([name, "message", "ping"])), draw(st.one_of(
            st.sampled_from(["[DONE]", "", "{", "null", "[]", '"text"', "{}", '{"type": 1}']), st.text(max_size=30))))
    if how == "mutate":
        path = draw(st.sampled_from(_paths(doc)))
        doc = _replace(doc, path, draw(documents))
    return SSEEvent(name, _dumps(doc))


REQUEST = ChatRequest(model="fuzz-model", messages=[UserMessage(content="hi")])


def _provider(cls: type) -> Any:
    return cls(ProviderConfig(name="fuzz", kind=cls.kind, base_url="http://127.0.0.1:9", needs_key=False))


def _check_mapping(provider: Any, events: list[SSEEvent]) -> None:
    state = TurnState()
    produced: list[Event] = []
    try:
        for sse in events:
            produced.extend(provider.map_event(sse, state, REQUEST))
            if state.done:
                break
        produced.extend(provider.finish(state, REQUEST))
        produced.extend(provider._usage_if_missing(state, REQUEST))
    except errors.ProviderError:
        return  # the documented way to end a stream (e.g. an in-stream "error" event)
    for event in produced:
        assert isinstance(event, Event)
        if isinstance(event, TextDelta):
            assert isinstance(event.text, str) and event.text
        if isinstance(event, ToolCallReady):
            assert (event.arguments is None) == (event.error is not None)


@FUZZ
@given(events=st.lists(wire_events(OPENAI_TEMPLATES), max_size=8))
def test_openai_map_event_raises_only_provider_errors(events: list[SSEEvent]) -> None:
    _check_mapping(_provider(OpenAIProvider), events)


@FUZZ
@given(events=st.lists(wire_events(ANTHROPIC_TEMPLATES), max_size=10))
def test_anthropic_map_event_raises_only_provider_errors(events: list[SSEEvent]) -> None:
    _check_mapping(_provider(AnthropicProvider), events)


# Junk a server may send between good events: invalid JSON, wrong shapes, empty data.
JUNK = st.one_of(
    st.sampled_from(["{", "", "null", "[]", '"text"', "{}", '{"choices": 5}', '{"choices": [{"delta": 7}]}',
                     '{"type": 1}', '{"type": "content_block_delta", "delta": []}', "\ufeff", '{"choices": [null]}']),
    st.text(max_size=20).filter(lambda s: s.strip() != "[DONE]"),
)


def _texts_survive(provider: Any, sse_for: Any, items: list[Any]) -> None:
    """Text already received is never lost or reordered by malformed events around it."""
    state = TurnState()
    produced: list[str] = []
    for item in items:
        sse = sse_for(item) if isinstance(item, tuple) else SSEEvent("message", item)
        for event in provider.map_event(sse, state, REQUEST):
            if isinstance(event, TextDelta):
                produced.append(event.text)
    for event in provider.finish(state, REQUEST):
        if isinstance(event, TextDelta):
            produced.append(event.text)
    assert "".join(produced) == "".join(item[0] for item in items if isinstance(item, tuple))


good_texts = st.text(min_size=1, max_size=12).map(lambda s: (s,))


@FUZZ
@given(items=st.lists(st.one_of(good_texts, JUNK), max_size=12))
def test_openai_text_survives_malformed_events(items: list[Any]) -> None:
    _texts_survive(
        _provider(OpenAIProvider),
        lambda item: SSEEvent("message", _dumps({"choices": [{"index": 0, "delta": {"content": item[0]}}]})),
        items,
    )


@FUZZ
@given(items=st.lists(st.one_of(good_texts, JUNK), max_size=12))
def test_anthropic_text_survives_malformed_events(items: list[Any]) -> None:
    start = (SSEEvent("content_block_start", _dumps(
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})))
    provider = _provider(AnthropicProvider)

    def delta(item: tuple[str]) -> SSEEvent:
        return SSEEvent("content_block_delta", _dumps(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": item[0]}}))

    state_items: list[Any] = [start, *items]
    state = TurnState()
    produced: list[str] = []
    for item in state_items:
        sse = item if isinstance(item, SSEEvent) else delta(item) if isinstance(item, tuple) else SSEEvent("message", item)
        produced += [e.text for e in provider.map_event(sse, state, REQUEST) if isinstance(e, TextDelta)]
    assert "".join(produced) == "".join(item[0] for item in items if isinstance(item, tuple))


# --------------------------------------------------------------------------- agents

yaml_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=20),
        st.dates(),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=10,
)
FRONTMATTER_KEYS = ["name", "description", "tools", "model", "color", "metadata", "permissionMode", "x"]
frontmatters = st.dictionaries(st.sampled_from(FRONTMATTER_KEYS), yaml_values, max_size=6)


def _agent_file(front: dict[str, Any], body: str) -> str:
    try:
        dumped = yaml.safe_dump(front, allow_unicode=True, sort_keys=False)
    except yaml.YAMLError:
        dumped = ""
    return f"---\n{dumped}---\n{body}"


@FUZZ
@given(front=frontmatters, body=st.text(max_size=80))
def test_agent_frontmatter_with_any_yaml_values(tmp_path: Path, front: dict[str, Any], body: str) -> None:
    path = tmp_path / "fuzz.md"
    path.write_text(_agent_file(front, body), encoding="utf-8", errors="surrogatepass")
    agent, problems = load_agent_file(path)
    if agent is not None:
        assert isinstance(agent.name, str) and agent.name
        assert isinstance(agent.description, str) and isinstance(agent.prompt, str)
        assert agent.tools is None or all(isinstance(t, str) for t in agent.tools)
        assert agent.model is None or isinstance(agent.model, str)
        assert agent.color is None or isinstance(agent.color, str)
    else:
        assert problems
    for problem in problems:
        assert problem.path == path and (problem.line is None or problem.line >= 1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    files=st.lists(
        st.one_of(
            st.tuples(frontmatters, st.text(max_size=40)).map(lambda fb: _agent_file(*fb).encode("utf-8", "replace")),
            st.binary(max_size=120),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_catalog_folder_of_random_files_never_raises(tmp_path_factory: pytest.TempPathFactory, files: list[bytes]) -> None:
    folder = tmp_path_factory.mktemp("agents")
    for i, content in enumerate(files):
        (folder / f"agent{i}.md").write_bytes(content)
    catalog = load_catalog(folder, cwd=folder)
    names = {p.stem for p in folder.iterdir()}
    loaded_here = {a.path.stem for a in catalog if a.path.parent == folder}
    with_problems = {p.path.stem for p in catalog.problems if p.path.parent == folder}
    # One bad file never hides the rest: each file is an agent, or it has a problem.
    assert names <= loaded_here | with_problems
    assert len(catalog) >= 1  # the bundled agents are still there


# --------------------------------------------------------------------------- rules

RULE_ALPHABET = string.ascii_letters + string.digits + "()*?[]{}/._-:~ \t\n\\'\"$`;|&<>!^#,=@"
rule_texts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=RULE_ALPHABET, max_size=40),
    st.tuples(
        st.sampled_from(["bash", "Bash", "read", "edit", "write", "glob", "grep", "ls", "*", "mcp:", "mcp__", "Read"]),
        st.text(alphabet=RULE_ALPHABET, max_size=25),
        st.sampled_from(["", "(", ")", "()"]),
    ).map(lambda t: f"{t[0]}({t[1]}{t[2]}" if t[2] != "()" else f"{t[0]}{t[1]}"),
)


@FUZZ
@given(text=rule_texts, action=st.sampled_from(["allow", "ask", "deny"]))
def test_parse_rule_raises_only_config_error_and_round_trips(text: str, action: str) -> None:
    try:
        rule = parse_rule(text, action)  # type: ignore[arg-type]
    except errors.ConfigError as exc:
        assert "invalid permission rule" in str(exc)
        return
    again = parse_rule(rule.text, action)  # type: ignore[arg-type]
    assert (again.tool, again.pattern, again.mcp_server, again.mcp_tool) == (
        rule.tool, rule.pattern, rule.mcp_server, rule.mcp_tool,
    )
    rule.covers_tool("bash")
    rule.matches_command("git status && x")
    assert isinstance(rule.is_catch_all, bool)


claude_entries = st.one_of(rule_texts, st.sampled_from(["mcp__", "mcp__(", "mcp__a__", "Bash(:*)", "Read(//)", "Edit()"]),
                           documents)


@FUZZ
@given(allow=st.lists(claude_entries, max_size=4), deny=st.lists(claude_entries, max_size=4),
       mode=st.one_of(st.none(), st.sampled_from(["default", "plan", "acceptEdits", "bypassPermissions", "yolo"])))
def test_claude_settings_map_to_rules_or_warnings(tmp_path: Path, allow: list[Any], deny: list[Any], mode: Any) -> None:
    (tmp_path / ".claude").mkdir(exist_ok=True)
    perms: dict[str, Any] = {"allow": allow, "deny": deny}
    if mode is not None:
        perms["defaultMode"] = mode
    (tmp_path / ".claude" / "settings.json").write_text(_dumps({"permissions": perms}))
    rules, warnings = load_claude_rules(tmp_path)  # a rule from another program never stops a run
    assert len(rules) + len(warnings) >= len(allow) + len(deny)
    for rule in rules:
        assert rule.action in ("allow", "deny")
        parse_rule(rule.text, rule.action)
    for entry in allow + deny:
        ours, problem = claude_rule_to_ours(entry)
        assert (ours is None) != (problem is None)


# --------------------------------------------------------------------------- shell

SHELL_ALPHABET = "ab rm-/.$(){}[]`'\"\\;|&<>\n\t*?!#~=%^,:+0123456789\u200bɡｒ"
commands = st.one_of(st.text(max_size=60), st.text(alphabet=SHELL_ALPHABET, max_size=60))
WS = Path("/work/ws/project")
ENGINE = PermissionEngine(
    "auto",
    RuleSet.from_lists(allow=("bash(git status*)", "edit(src/**)"), deny=("bash(rm *)", "read(**/.env)")),
    WS,
)


@FUZZ
@given(command=commands)
def test_shell_analysis_never_raises(command: str) -> None:
    analysis = analyze_command(command)
    assert analysis.command == command
    for part in analysis.parts:
        assert isinstance(part.text, str)
        deny_forms(part)
    assert len(split_command(command)) == len(analysis.parts)


@FUZZ
@given(command=commands)
def test_a_dangerous_command_is_never_allowed_by_auto_mode(command: str) -> None:
    dangers = find_dangers("bash", {"command": command}, WS)
    for danger in dangers:
        assert danger.reason
    verdict = ENGINE.evaluate(PermissionRequest(call_id="c", tool="bash", arguments={"command": command}, workspace=WS))
    assert verdict.outcome in ("allow", "ask", "deny") and verdict.reason
    if dangers:  # auto mode allows everything else; no rule here names a dangerous operation
        assert verdict.outcome != "allow", (command, [d.reason for d in dangers])


@FUZZ
@given(tool=st.sampled_from(["read", "write", "edit", "glob", "grep", "ls"]), path=commands)
def test_auto_mode_never_allows_a_write_outside_the_workspace(tool: str, path: str) -> None:
    arguments = {"path": path, "pattern": path, "content": "x"}
    verdict = ENGINE.evaluate(PermissionRequest(call_id="c", tool=tool, arguments=arguments, workspace=WS))
    assert verdict.outcome in ("allow", "ask", "deny")
    target = os.path.normpath(os.path.join(WS, os.path.expanduser(path))) if path else str(WS)
    inside = target == str(WS) or target.startswith(str(WS) + os.sep)
    if tool in ("write", "edit") and verdict.outcome == "allow":
        assert inside, (tool, path, verdict.reason)
    if tool == "read" and (target.endswith("/.env")):
        assert verdict.outcome == "deny", (path, verdict.reason)  # read(**/.env) is denied


# --------------------------------------------------------------------------- redaction

SECRETISH = st.sampled_from([
    "api_key=", "API-KEY: ", "ApiKey = ", "ſecret=", "api_\u212aey: ", "TOKEN=", "x_token: ", "password ", "passwd:",
    "credentials=", "private_key='", 'secret: "', "\\\"token\\\": \\\"", "monkey=", "key=", "tok=", "=", ": ", "\n", " ",
])
redactable = st.lists(st.one_of(SECRETISH, st.text(max_size=12)), max_size=12).map("".join)


@FUZZ
@given(text=redactable)
def test_redact_skips_the_assignment_pass_only_when_it_cannot_match(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import agentic_flow.core.redact as redact_module

    fast = redact_module.redact(text)
    with monkeypatch.context() as patched:
        patched.setattr(redact_module, "_SECRET_WORDS", ("",))  # "" is in every text: never skip
        slow = redact_module.redact(text)
    assert fast == slow

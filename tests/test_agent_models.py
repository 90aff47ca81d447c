"""Which model a (sub)agent runs on: aliases and the documented precedence.

    call argument > subagent_model setting > frontmatter model: (aliases via
    model_aliases) > the parent's model
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agentic_flow.core.agents.catalog import Agent
from agentic_flow.core.agents.models import DEFAULT_MODEL_ALIASES, agent_model, resolve_alias, subagent_model
from agentic_flow.core.config import LoadedSettings, Settings
from agentic_flow.core.errors import ConfigError, DelegationRefused
from agentic_flow.core.runtime import choose_model
from agentic_flow.core.tools.registry import ALL_AGENTS, tools_for_agent

PARENT = "llamacpp:big"


def agent(model: str | None = None, name: str = "reviewer") -> Agent:
    return Agent(name=name, description="d", prompt="p", path=Path("x.md"), source="bundled", model=model)


def settings(**kw) -> Settings:
    return Settings(**kw)


@pytest.mark.parametrize(
    ("argument", "setting", "frontmatter", "expected"),
    [
        (None, None, None, PARENT),  # nothing named: the parent's
        (None, None, "inherit", PARENT),
        (None, None, "llamacpp:front", "llamacpp:front"),
        (None, "llamacpp:forced", "llamacpp:front", "llamacpp:forced"),  # setting beats frontmatter
        ("llamacpp:arg", "llamacpp:forced", "llamacpp:front", "llamacpp:arg"),  # argument beats both
        ("inherit", "llamacpp:forced", "llamacpp:front", PARENT),  # inherit at the top level wins too
        (None, "inherit", "llamacpp:front", PARENT),
        ("fast", None, None, "llamacpp:fast-one"),  # aliases from model_aliases at every level
        (None, "fast", None, "llamacpp:fast-one"),
        (None, None, "fast", "llamacpp:fast-one"),
        ("auto", None, "llamacpp:front", "auto"),  # routed by the caller
    ],
)
def test_precedence(argument, setting, frontmatter, expected):
    s = settings(subagent_model=setting, model_aliases={"fast": "llamacpp:fast-one"})
    choice = subagent_model(argument=argument, agent=agent(frontmatter), settings=s, parent_model=PARENT)
    assert choice.model == expected


def test_reasons_name_the_level_that_decided():
    s = settings(subagent_model="llamacpp:forced")
    assert subagent_model(argument="llamacpp:a", agent=agent(), settings=s, parent_model=PARENT).reason.startswith(
        "the call's model argument"
    )
    assert subagent_model(argument=None, agent=agent("llamacpp:f"), settings=s, parent_model=PARENT).reason.startswith(
        "the subagent_model setting"
    )
    choice = subagent_model(argument=None, agent=agent("llamacpp:f"), settings=settings(), parent_model=PARENT)
    assert choice.reason == "agent reviewer's model: llamacpp:f"
    assert subagent_model(argument=None, agent=agent(), settings=settings(), parent_model=PARENT).reason.startswith(
        "inherited"
    )


def test_builtin_aliases_follow_the_parents_provider(monkeypatch):
    a = agent("haiku")
    for provider in ("anthropic", "openrouter"):
        parent = f"{provider}:whatever"
        choice = subagent_model(argument=None, agent=a, settings=settings(), parent_model=parent)
        assert choice.model == DEFAULT_MODEL_ALIASES[provider]["haiku"]
    assert DEFAULT_MODEL_ALIASES["openrouter"]["sonnet"] == "openrouter:anthropic/claude-sonnet-4.5"
    # a parent elsewhere: the first of anthropic, openrouter whose key is set
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-" + "b" * 40)
    assert resolve_alias("opus", settings(), "openai:gpt-4o")[0] == "openrouter:anthropic/claude-opus-4.1"
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-" + "c" * 40)
    assert resolve_alias("opus", settings(), "openai:gpt-4o")[0] == "anthropic:claude-opus-4-1"
    # model_aliases beats the built-in table
    assert resolve_alias("haiku", settings(model_aliases={"haiku": "openai:gpt-4.1-mini"}), "anthropic:x")[0] == (
        "openai:gpt-4.1-mini"
    )


def test_unresolvable_names():
    # no key, parent on a provider without built-in aliases
    with pytest.raises(DelegationRefused, match="alias 'haiku' has no model for provider llamacpp"):
        subagent_model(argument="haiku", agent=agent(), settings=settings(), parent_model=PARENT)
    with pytest.raises(DelegationRefused, match="subagent_model setting cannot be used"):
        subagent_model(argument=None, agent=agent(), settings=settings(subagent_model="gpt4"), parent_model=PARENT)
    with pytest.raises(DelegationRefused, match="'nonsense' is not a provider:model id"):
        subagent_model(argument="nonsense", agent=agent(), settings=settings(), parent_model=PARENT)
    # in frontmatter: the parent's model, with a note saying why
    choice = subagent_model(argument=None, agent=agent("opus"), settings=settings(), parent_model=PARENT)
    assert choice.model == PARENT and "alias 'opus'" in choice.notes[0]


def test_model_aliases_setting_is_checked():
    with pytest.raises(ValueError, match="not a provider:model id"):
        Settings(model_aliases={"fast": "gpt-4o"})
    with pytest.raises(ValueError, match="plain name"):
        Settings(model_aliases={"a:b": "openai:gpt-4o"})
    with pytest.raises(ValueError):
        Settings(max_parallel_agents=0)


def test_settings_files_merge_model_aliases(tmp_path, monkeypatch):
    from agentic_flow.core.config import load_settings
    from agentic_flow.core.paths import user_config_file

    user = user_config_file()
    user.parent.mkdir(parents=True, exist_ok=True)
    user.write_text("model_aliases:\n  a: openai:one\n  b: openai:two\n", encoding="utf-8")
    project = tmp_path / ".agentic-flow" / "settings.yaml"
    project.parent.mkdir()
    project.write_text("model_aliases:\n  b: openai:three\nmax_agent_depth: 3\n", encoding="utf-8")
    merged = load_settings(tmp_path).merged
    assert merged.model_aliases == {"a": "openai:one", "b": "openai:three"}
    assert merged.max_agent_depth == 3
    project.write_text("max_agent_depht: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="max_agent_depth"):
        load_settings(tmp_path)


def loaded(**kw) -> LoadedSettings:
    return LoadedSettings(merged=Settings(**kw), user=Settings(), project=Settings(), user_file=Path("u"),
                          project_file=Path("p"))


def test_main_agent_alias_resolves_near_the_default_model(monkeypatch):
    a = agent("haiku", name="researcher")
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-" + "d" * 40)
    # only openrouter's key: the openrouter haiku, not an anthropic model that has no key
    assert choose_model(None, a, loaded()) == ("openrouter:anthropic/claude-haiku-4.5", "agent researcher's model: haiku")
    assert choose_model("openai:x", a, loaded())[0] == "openai:x"  # --model wins
    monkeypatch.delenv("OPENROUTER_API_KEY")
    model, reason = choose_model(None, a, loaded(default_model="ollama:llama3.1:8b"))
    assert model == "ollama:llama3.1:8b" and "alias 'haiku' has no model for provider ollama" in reason
    assert agent_model(agent("auto"), Settings(), None) == ("auto", None)


def test_tools_list_names_the_agents_an_agent_may_call():
    tools, warnings = tools_for_agent(["read", "agent(reviewer, tester)", "agent(planner)"])
    assert list(tools) == ["read"] and tools.delegates == {"reviewer", "tester", "planner"} and warnings == []
    assert tools_for_agent(["Task"])[0].delegates == {ALL_AGENTS}
    assert tools_for_agent(["read"])[0].delegates is None
    assert tools_for_agent(None)[0].delegates is None  # all tools, but delegation is opt-in
    assert tools_for_agent(["*"])[0].delegates is None
    _, warnings = tools_for_agent(["agent()"])
    assert warnings == ["'agent()' names no agent; write agent for all, or agent(reviewer, tester)."]


def test_agent_file_tool_lists_keep_parenthesised_commas(tmp_path):
    from agentic_flow.core.agents.catalog import load_agent_file

    path = tmp_path / "lead.md"
    path.write_text("---\nname: lead\ndescription: d\ntools: Read, Task(coder, tester), Grep\n---\nbody\n")
    loaded_agent, problems = load_agent_file(path)
    assert problems == [] and loaded_agent is not None
    assert loaded_agent.tools == ["read", "agent(coder, tester)", "grep"]


def test_agent_rules():
    from agentic_flow.core.permissions import PermissionEngine, PermissionRequest, parse_rule
    from agentic_flow.core.permissions.rules import RuleSet

    with pytest.raises(ConfigError, match="'agent' rules take no pattern"):
        parse_rule("agent(reviewer)", "deny")
    request = PermissionRequest("c", "agent", {"subagent_type": "reviewer", "prompt": "p", "description": "d"}, Path("/w"))
    for mode in ("ask", "accept-edits", "auto", "read-only"):
        assert PermissionEngine(mode, workspace="/w").evaluate(request).outcome == "allow"
    engine = PermissionEngine("auto", RuleSet([parse_rule("agent", "deny")]), workspace="/w")
    assert engine.evaluate(request).outcome == "deny"


async def test_a_subagent_on_the_embedded_model_gets_what_it_can_take(tmp_path):
    """No tools and its own sampling for the embedded model, as for a main agent on it."""
    from agentic_flow.core.agents.catalog import load_catalog
    from agentic_flow.core.agents.delegation import Delegation, DelegationContext
    from agentic_flow.core.config import load_settings
    from agentic_flow.core.permissions import PermissionEngine, PolicyApprover
    from agentic_flow.core.runtime import LOCAL_DEFAULT_MODEL, _fit_subagent, default_temperature, make_provider
    from agentic_flow.core.session import AgentSession
    from agentic_flow.core.tools.agent import AgentArgs
    from agentic_flow.core.tools.registry import builtin_tools
    from tests.subagent_script import write_agents

    folder = write_agents(tmp_path / "agents")
    settings = load_settings(tmp_path)

    async def ready(model_id: str) -> None:  # the embedded server is not needed to make the child
        return None

    context = DelegationContext(
        agents=load_catalog(folder, cwd=tmp_path), settings=settings,
        # any server will do: the child is made, not run (the embedded one is not started)
        open_provider=lambda model_id: make_provider("llamacpp:" + model_id.split(":", 1)[1], settings),
        prepare_model=ready,
        route=lambda task, agent: ("unused", ""), temperature=default_temperature, fit=_fit_subagent,
    )
    parent = AgentSession(
        provider=make_provider("llamacpp:big", settings), model_id="llamacpp:big", workspace=tmp_path,
        engine=PermissionEngine(workspace=tmp_path), approver=PolicyApprover(), tools=builtin_tools(),
    )
    delegation = Delegation(context, allowed=frozenset({"*"}), path=("lead",))
    args = AgentArgs(description="d", prompt="p", subagent_type="tester", model=LOCAL_DEFAULT_MODEL)
    child, choice = await delegation.open_child(parent, args, "c1")
    assert child.model_id == LOCAL_DEFAULT_MODEL and child.tools == {}
    assert any(note.startswith("tester: ") and "cannot use tools" in note for note in choice.notes)
    assert child.temperature == default_temperature(LOCAL_DEFAULT_MODEL)
    args = AgentArgs(description="d", prompt="p", subagent_type="tester")
    other, _ = await delegation.open_child(parent, args, "c2")
    assert sorted(other.tools) == ["edit", "read", "write"] and other.lineage.agent_id == "main.2"


def test_agents_list_accepts_delegation_entries_and_flags_unknown_agents(tmp_path, capsys):
    from agentic_flow.core.cli import main

    folder = tmp_path / "my-agents"
    folder.mkdir()
    (folder / "boss.md").write_text("---\nname: boss\ndescription: x\ntools: read, agent(helper, ghost)\n---\nHi\n")
    (folder / "helper.md").write_text("---\nname: helper\ndescription: y\ntools: read, Task\n---\nHi\n")
    assert main(["agents", "list", "--agents-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    problems = out.split("problem(s)")[1] if "problem(s)" in out else ""
    assert f"{folder / 'boss.md'}:4: warning: 'agent(helper, ghost)': no agent named ghost in the catalog" in problems
    assert "Unknown tool" not in out and "helper.md" not in problems


def test_the_default_model_reason_names_the_file_that_set_it():
    user_set = LoadedSettings(merged=Settings(default_model="openai:a"), user=Settings(default_model="openai:a"),
                              project=Settings(), user_file=Path("u.yaml"), project_file=Path("p.yaml"))
    assert choose_model(None, None, user_set) == ("openai:a", "default_model in u.yaml")
    project_set = LoadedSettings(merged=Settings(default_model="openai:b"), user=Settings(default_model="openai:a"),
                                 project=Settings(default_model="openai:b"), user_file=Path("u.yaml"),
                                 project_file=Path("p.yaml"))
    assert choose_model(None, None, project_set) == ("openai:b", "default_model in p.yaml")

"""Agents that delegate: the ``agent`` tool end to end against the scripted model server.

Every test opens a real ``Runtime`` (llamacpp preset, no key) on ``tests/llm_server.py``
with a small agents folder. The server tells agents apart by their system prompt
(``I am LEAD.``, ``I am REVIEWER.``, ...) and answers each with a handler. Concurrency is
shown with events the handlers wait on (server side), never with sleeps.
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from agentic_flow.core import events as ev
from agentic_flow.core.cli import main
from agentic_flow.core.messages import ToolResultMessage
from agentic_flow.core.permissions import Answer
from agentic_flow.core.permissions.audit import AuditLog
from agentic_flow.core.runtime import RunOptions, Runtime
from agentic_flow.core.store.database import Store
from tests.llm_server import Reply, llm_server  # noqa: F401  (fixture)
from tests.subagent_script import delegate, who, write_agents

MODEL = "llamacpp:test-model"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "a.py").write_text("x = 1\n", encoding="utf-8")
    write_agents(tmp_path / "agents")
    return workspace


def opts(server: Any, ws: Path, agent: str = "lead", **kw: Any) -> RunOptions:
    return RunOptions(
        model=MODEL, agent=agent, agents_dir=str(ws.parent / "agents"), base_url=server.openai_url,
        workspace=str(ws), **kw,
    )


async def run(runtime: Runtime, task: str) -> list[ev.Event]:
    try:
        return [e async for e in runtime.send(task)]
    finally:
        await runtime.aclose()


def of(events: list[ev.Event], cls: type) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]


class Approve:
    """Stands in for a person: answers from a script, records what it was asked."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.seen: list[Any] = []

    async def ask(self, request: Any, verdict: Any) -> Answer:
        self.seen.append((request, verdict))
        return self.answers.pop(0)


# --------------------------------------------------------------------------- parallel


async def test_two_subagents_in_one_turn_run_at_once_on_their_own_models(llm_server, ws):
    arrived = {"reviewer": threading.Event(), "tester": threading.Event()}
    seen_other: dict[str, bool] = {}
    times: dict[str, tuple[float, float]] = {}
    clock = threading.Lock()
    import time

    def handler(req):
        agent = who(req)
        if agent == "lead":
            if req.tool_results():
                return Reply.text("Both reported.")
            return delegate(("c1", "reviewer", "review a.py"), ("c2", "tester", "test a.py"))
        if agent in arrived:
            start = time.monotonic()
            arrived[agent].set()
            other = "tester" if agent == "reviewer" else "reviewer"
            # Served concurrently, the other subagent's request arrives while this one
            # waits; served one after another, it cannot (and the wait times out).
            seen_other[agent] = arrived[other].wait(timeout=5)
            with clock:
                times[agent] = (start, time.monotonic())
            return Reply.text(f"{agent} report")
        return None

    llm_server.set_handler(handler)
    runtime = await Runtime.open(opts(llm_server, ws))
    events = await run(runtime, "review and test a.py")

    assert seen_other == {"reviewer": True, "tester": True}
    (r_start, r_end), (t_start, t_end) = times["reviewer"], times["tester"]
    assert max(r_start, t_start) < min(r_end, t_end)  # the two requests were in flight together
    models = {who(r): r.model for r in llm_server.requests}
    assert models == {"lead": "test-model", "reviewer": "model-b", "tester": "model-c"}
    started = {e.agent: e for e in of(events, ev.SubagentStarted)}
    assert started["reviewer"].model == "llamacpp:model-b" and started["tester"].model == "llamacpp:model-c"
    assert {e.parent_id for e in started.values()} == {"main"}
    assert {e.agent_id for e in started.values()} == {"main.1", "main.2"}
    assert started["reviewer"].path == "lead › reviewer"
    # only the final messages come back, one tool result per call
    results = {e.call_id: e.content for e in of(events, ev.ToolResult) if e.agent_id == "main"}
    assert results["c1"].startswith("reviewer report") and "[reviewer · llamacpp:model-b" in results["c1"]
    assert results["c2"].startswith("tester report")
    final = llm_server.requests[-1]
    assert who(final) == "lead" and {cid for cid, _ in final.tool_results()} == {"c1", "c2"}
    # the subagents' events carry their ids; the main agent's the defaults
    texts = {e.agent_id: "" for e in of(events, ev.TextDelta)}
    for e in of(events, ev.TextDelta):
        texts[e.agent_id] += e.text
    assert texts == {"main.1": "reviewer report", "main.2": "tester report", "main": "Both reported."}
    assert all(e.parent_id == "main" for e in events if e.agent_id != "main")
    # the run's totals include the subagents
    assert len(runtime.totals.turns) == 4 and len(runtime.session.totals.turns) == 2


async def test_max_parallel_agents_caps_how_many_run_at_once(llm_server, ws):
    settings = ws / ".agentic-flow" / "settings.yaml"
    settings.parent.mkdir()
    settings.write_text("max_parallel_agents: 1\n", encoding="utf-8")
    order: list[str] = []

    def handler(req):
        agent = who(req)
        if agent == "lead":
            return Reply.text("done") if req.tool_results() else delegate(("c1", "reviewer", "r"), ("c2", "tester", "t"))
        order.append(agent)
        return Reply.text(f"{agent} ok")

    llm_server.set_handler(handler)
    runtime = await Runtime.open(opts(llm_server, ws))
    events = await run(runtime, "go")
    # one at a time: the second starts only after the first finished
    kinds = [(type(e).__name__, e.agent_id) for e in events if isinstance(e, (ev.SubagentStarted, ev.SubagentFinished))]
    assert kinds == [
        ("SubagentStarted", "main.1"), ("SubagentFinished", "main.1"),
        ("SubagentStarted", "main.2"), ("SubagentFinished", "main.2"),
    ]


# --------------------------------------------------------------------------- context and tools


async def test_subagent_request_holds_none_of_the_parents_history(llm_server, ws):
    def handler(req):
        agent = who(req)
        if agent == "lead":
            if "second" not in req.last_user_text():
                return Reply.text("Noted the secret PARENT-SECRET-42.")
            return Reply.text("done") if req.tool_results() else delegate(("c1", "reviewer", "check a.py for bugs"))
        return Reply.text("looks fine")

    llm_server.set_handler(handler)
    runtime = await Runtime.open(opts(llm_server, ws))
    try:
        [e async for e in runtime.send("first message: PARENT-SECRET-42")]
        [e async for e in runtime.send("second: delegate the review")]
    finally:
        await runtime.aclose()
    (sub,) = [r for r in llm_server.requests if who(r) == "reviewer"]
    assert [m["role"] for m in sub.messages] == ["system", "user"]
    assert sub.messages[1]["content"] == "check a.py for bugs"
    assert b"PARENT-SECRET" not in sub.raw and b"first message" not in sub.raw
    assert "I am REVIEWER." in sub.messages[0]["content"]
    # its own tools, not the parent's
    assert sorted(t["function"]["name"] for t in sub.tools) == ["grep", "read"]


async def test_read_grep_subagent_cannot_write_even_in_auto_mode(llm_server, ws):
    def handler(req):
        agent = who(req)
        if agent == "lead":
            return Reply.text("done") if req.tool_results() else delegate(("c1", "reviewer", "fix a.py"))
        if req.tool_results():
            return Reply.text("could not write")
        return Reply.tool_calls([("w1", "write", {"path": "pwned.py", "content": "x"}),
                                 ("w2", "edit", {"path": "a.py", "old_string": "x = 1", "new_string": "x = 2"})])

    llm_server.set_handler(handler)
    runtime = await Runtime.open(opts(llm_server, ws, approve="auto"))
    events = await run(runtime, "go")
    assert not (ws / "pwned.py").exists() and (ws / "a.py").read_text() == "x = 1\n"
    sub_results = [e for e in of(events, ev.ToolResult) if e.agent_id == "main.1"]
    assert [e.is_error for e in sub_results] == [True, True]
    assert all("unknown tool" in e.content and "grep, read" in e.content for e in sub_results)
    # the lead itself may write, yet its subagent never got more than its own tools:
    assert "write" in runtime.session.tools


async def test_a_subagent_never_gets_a_tool_its_parent_lacks(llm_server, ws):
    def handler(req):
        agent = who(req)
        if agent == "lead":
            return Reply.text("done") if req.tool_results() else delegate(("c1", "looper", "x"))
        if agent == "looper":  # tools: read, agent
            return Reply.text("done") if req.tool_results() else delegate(("o1", "tester", "y"))
        return Reply.text("tester ok")  # tester lists read, write, edit

    llm_server.set_handler(handler)
    runtime = await Runtime.open(opts(llm_server, ws, approve="auto"))
    events = await run(runtime, "go")
    (tester,) = [r for r in llm_server.requests if who(r) == "tester"]
    assert [t["function"]["name"] for t in tester.tools] == ["read"]
    assert any("tester: write, edit left out of its tools (lead › looper may not use them)" in e.message
               for e in of(events, ev.Notice))


async def test_agent_tool_lists_callable_agents_and_is_opt_in(llm_server, ws):
    llm_server.set_handler(lambda req: Reply.text("ok"))
    runtime = await Runtime.open(opts(llm_server, ws))
    await run(runtime, "hi")
    (tool,) = [t for t in llm_server.requests[0].tools if t["function"]["name"] == "agent"]
    description = tool["function"]["description"]
    assert "- reviewer: the reviewer agent" in description and "- tester: the tester agent" in description
    assert "- deeper:" not in description and "- lead:" not in description  # not allowed / itself
    assert set(tool["function"]["parameters"]["required"]) == {"description", "prompt", "subagent_type"}
    # an agent whose tools: do not name agent is not offered it
    runtime = await Runtime.open(opts(llm_server, ws, agent="reviewer"))
    await run(runtime, "hi")
    assert "agent" not in [t["function"]["name"] for t in llm_server.requests[-1].tools]


# --------------------------------------------------------------------------- permissions


async def test_subagent_edit_in_ask_mode_reaches_the_approver_with_its_path_and_is_audited(llm_server, ws):
    def handler(req):
        agent = who(req)
        if agent == "lead":
            return Reply.text("done") if req.tool_results() else delegate(("c1", "tester", "bump x"))
        if req.tool_results():
            return Reply.text("bumped")
        return Reply.tool_calls([("e1", "edit", {"path": "a.py", "old_string": "x = 1", "new_string": "x = 2"})])

    llm_server.set_handler(handler)
    approver = Approve(Answer("once"))
    runtime = await Runtime.open(opts(llm_server, ws), approver=approver)
    events = await run(runtime, "go")
    (ws / "a.py").read_text() == "x = 2\n"
    ((request, verdict),) = approver.seen
    assert request.tool == "edit" and request.agent == "lead › tester" and request.agent_id == "main.1"
    assert verdict.decided_by == "mode:ask"
    asked = of(events, ev.PermissionRequested)
    assert [(e.agent_id, e.parent_id, e.tool) for e in asked] == [("main.1", "main", "edit")]
    log = AuditLog(Store())
    rows = log.query(session=runtime.session_id)
    assert [(r.agent, r.tool, r.decided_by) for r in rows] == [
        ("lead › tester", "edit", "person"),
        ("lead", "agent", "mode:ask"),
    ]
    assert rows[0].session_id != runtime.session_id  # the subagent's own stored session
    assert [r.tool for r in log.query(agent="tester")] == ["edit"]
    assert [r.tool for r in log.query(agent="lead")] == ["agent"]
    assert [r.tool for r in log.query(agent="lead › tester")] == ["edit"]
    assert [r.tool for r in log.query(agent="lead > tester")] == ["edit"]
    assert log.query(agent="est") == []


async def test_headless_subagent_is_denied_by_the_policy_like_the_main_agent(llm_server, ws):
    def handler(req):
        agent = who(req)
        if agent == "lead":
            return Reply.text("done") if req.tool_results() else delegate(("c1", "tester", "write t.py"))
        if req.tool_results():
            return Reply.text("denied")
        return Reply.tool_calls([("w1", "write", {"path": "t.py", "content": "x"})])

    llm_server.set_handler(handler)
    runtime = await Runtime.open(opts(llm_server, ws), interactive=False)
    events = await run(runtime, "go")
    assert not (ws / "t.py").exists()
    (decided,) = [e for e in of(events, ev.PermissionDecided) if e.agent_id == "main.1"]
    assert not decided.allowed and decided.decided_by == "policy:deny"


async def test_audit_cli_filters_by_agent(llm_server, ws, capsys, monkeypatch):
    await test_subagent_edit_in_ask_mode_reaches_the_approver_with_its_path_and_is_audited(llm_server, ws)
    capsys.readouterr()
    assert main(["audit", "--agent", "tester"]) == 0
    out = capsys.readouterr().out
    assert "lead › tester" in out and " edit " in out and " agent " not in out


# --------------------------------------------------------------------------- depth and cycles


async def test_depth_limit_and_cycle_refusal(llm_server, ws):
    def handler(req):
        agent = who(req)
        if req.tool_results():
            return Reply.text(f"{agent}: " + " | ".join(str(c) for _, c in req.tool_results()))
        if agent == "lead":
            return delegate(("l1", "looper", "loop"), ("l2", "deep", "go deep"))
        if agent == "looper":  # itself, then its parent: both cycles
            return delegate(("o1", "looper", "again"), ("o2", "lead", "back up"))
        if agent == "deep":
            return delegate(("d1", "deeper", "deeper"))
        if agent == "deeper":  # depth 2: may not delegate any further
            return delegate(("e1", "deepest", "deepest"))
        return Reply.text(f"{agent} did it")

    llm_server.set_handler(handler)
    runtime = await Runtime.open(opts(llm_server, ws))
    events = await run(runtime, "go")
    results = {e.call_id: e for e in of(events, ev.ToolResult)}
    assert results["o1"].is_error and "cannot delegate to itself" in results["o1"].content
    assert results["o2"].is_error and "cycle" in results["o2"].content and "lead › looper › lead" in results["o2"].content
    assert results["e1"].is_error and "depth limit" in results["e1"].content and "max_agent_depth is 2" in results["e1"].content
    assert not any(who(r) in ("deepest",) for r in llm_server.requests)
    # deeper (depth 2) was not even offered the tool
    (deeper_req,) = [r for r in llm_server.requests if who(r) == "deeper" and not r.tool_results()]
    assert "agent" not in [t["function"]["name"] for t in deeper_req.tools]
    paths = {e.path for e in of(events, ev.SubagentStarted)}
    assert paths == {"lead › looper", "lead › deep", "lead › deep › deeper"}
    ids = {e.path: (e.agent_id, e.parent_id) for e in of(events, ev.SubagentStarted)}
    assert ids["lead › deep › deeper"] == ("main.2.1", "main.2")


async def test_max_agent_depth_setting(llm_server, ws):
    settings = ws / ".agentic-flow" / "settings.yaml"
    settings.parent.mkdir()
    settings.write_text("max_agent_depth: 1\n", encoding="utf-8")

    def handler(req):
        agent = who(req)
        if req.tool_results():
            return Reply.text("ok")
        if agent == "lead":
            return delegate(("l1", "looper", "x"))
        if agent == "looper":
            return delegate(("o1", "reviewer", "y"))
        return Reply.text("should not run")

    llm_server.set_handler(handler)
    runtime = await Runtime.open(opts(llm_server, ws))
    events = await run(runtime, "go")
    (refused,) = [e for e in of(events, ev.ToolResult) if e.call_id == "o1"]
    assert "depth limit" in refused.content and "max_agent_depth is 1" in refused.content
    assert "reviewer" not in {who(r) for r in llm_server.requests}


async def test_unknown_and_uncallable_agents_are_refused_with_the_choices(llm_server, ws):
    def handler(req):
        if who(req) == "lead":
            return Reply.text("ok") if req.tool_results() else delegate(("c1", "nobody", "x"), ("c2", "deeper", "y"))
        return Reply.text("should not run")

    llm_server.set_handler(handler)
    runtime = await Runtime.open(opts(llm_server, ws))
    events = await run(runtime, "go")
    results = {e.call_id: e.content for e in of(events, ev.ToolResult)}
    assert "No agent named 'nobody'" in results["c1"]
    assert "Agents you can call: deep, looper, reviewer, tester" in results["c1"]
    assert "lead may not call deeper" in results["c2"]
    assert of(events, ev.SubagentStarted) == []


# --------------------------------------------------------------------------- cancel


async def test_cancel_stops_every_subagent_and_keeps_what_they_produced(llm_server, ws):
    def handler(req):
        agent = who(req)
        if agent == "lead":
            return delegate(("c1", "reviewer", "r"), ("c2", "tester", "t"))
        # a few words, then a stall far longer than the test (with keep-alives, so the
        # server notices a closed connection at once)
        return Reply.text(
            ["partial ", f"{agent} ", "work ", "never ", "sent"], stall_after=4, stall_seconds=60,
            keepalive_interval=0.05,
        )

    llm_server.set_handler(handler)
    runtime = await Runtime.open(opts(llm_server, ws))
    session = runtime.session
    seen: dict[str, str] = {}
    both_talking = asyncio.Event()

    async def consume() -> None:
        async for e in runtime.send("go"):
            if isinstance(e, ev.TextDelta) and e.agent_id != "main":
                seen[e.agent_id] = seen.get(e.agent_id, "") + e.text
                if len(seen) == 2 and all("work" in t for t in seen.values()):
                    both_talking.set()

    task = asyncio.create_task(consume())
    try:
        await asyncio.wait_for(both_talking.wait(), timeout=10)
        runtime.cancel()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
        # both children's streams were closed
        for _ in range(200):
            if llm_server.open_connections == 0:
                break
            await asyncio.sleep(0.02)
        assert llm_server.open_connections == 0
        results = {m.call_id: m for m in session.messages if isinstance(m, ToolResultMessage)}
        assert set(results) == {"c1", "c2"}
        for call_id, name in (("c1", "reviewer"), ("c2", "tester")):
            assert results[call_id].is_error and "stopped by the user" in results[call_id].content
            assert f"partial {name} work" in results[call_id].content
        store = Store()
        for child in session.children:
            stored = store.load_messages(child.session_id)
            assert [m.role for m in stored] == ["user", "assistant"]
            assert stored[1].content.startswith("partial ")
        stopped = [r for r in AuditLog(store).query(session=session.session_id) if r.tool == "agent"]
        assert len(stopped) == 2 and all(r.result_summary.startswith("stopped") for r in stopped)
    finally:
        await runtime.aclose()


# --------------------------------------------------------------------------- model precedence (end to end)


async def test_model_precedence_end_to_end(llm_server, ws):
    (ws.parent / "agents" / "aliased.md").write_text(
        "---\nname: aliased\ndescription: d\ntools: read\nmodel: fast\n---\nI am ALIASED.\n", encoding="utf-8"
    )
    (ws.parent / "agents" / "heir.md").write_text(
        "---\nname: heir\ndescription: d\ntools: read\nmodel: inherit\n---\nI am HEIR.\n", encoding="utf-8"
    )
    (ws.parent / "agents" / "boss.md").write_text(
        "---\nname: boss\ndescription: d\ntools: read, agent\n---\nI am BOSS.\n", encoding="utf-8"
    )
    settings = ws / ".agentic-flow" / "settings.yaml"
    settings.parent.mkdir()
    settings.write_text("model_aliases:\n  fast: llamacpp:model-fast\n", encoding="utf-8")

    def handler(req):
        if who(req) == "boss":
            if req.tool_results():
                return Reply.text("ok")
            return Reply.tool_calls([
                ("a", "agent", {"description": "d", "prompt": "p", "subagent_type": "aliased"}),
                ("b", "agent", {"description": "d", "prompt": "p", "subagent_type": "heir"}),
                ("c", "agent", {"description": "d", "prompt": "p", "subagent_type": "reviewer", "model": "fast"}),
                ("d", "agent", {"description": "d", "prompt": "p", "subagent_type": "tester", "model": "inherit"}),
            ])
        return Reply.text(f"{who(req)} ok")

    llm_server.set_handler(handler)
    runtime = await Runtime.open(opts(llm_server, ws, agent="boss"))
    events = await run(runtime, "go")
    models = {who(r): r.model for r in llm_server.requests if who(r) != "boss"}
    assert models == {
        "aliased": "model-fast",  # frontmatter alias via model_aliases
        "heir": "test-model",  # inherit: the parent's
        "reviewer": "model-fast",  # the call's argument beats reviewer's model: llamacpp:model-b
        "tester": "test-model",  # the argument inherit beats tester's model: too
    }
    reasons = {e.agent: e.model_reason for e in of(events, ev.SubagentStarted)}
    assert reasons["aliased"].startswith("agent aliased's model: fast = llamacpp:model-fast, model_aliases setting")
    assert reasons["reviewer"].startswith("the call's model argument")

    # the subagent_model setting beats every frontmatter, not a call's argument
    settings.write_text("model_aliases:\n  fast: llamacpp:model-fast\nsubagent_model: llamacpp:model-forced\n")
    llm_server.clear()
    llm_server.set_handler(handler)
    runtime = await Runtime.open(opts(llm_server, ws, agent="boss"))
    await run(runtime, "go")
    models = {who(r): r.model for r in llm_server.requests if who(r) != "boss"}
    assert models == {"aliased": "model-forced", "heir": "model-forced", "reviewer": "model-fast", "tester": "test-model"}


async def test_unresolvable_alias_argument_is_refused_and_frontmatter_falls_back(llm_server, ws):
    (ws.parent / "agents" / "cheap.md").write_text(
        "---\nname: cheap\ndescription: d\ntools: read\nmodel: haiku\n---\nI am CHEAP.\n", encoding="utf-8"
    )
    (ws.parent / "agents" / "boss.md").write_text(
        "---\nname: boss\ndescription: d\ntools: read, agent\n---\nI am BOSS.\n", encoding="utf-8"
    )

    def handler(req):
        if who(req) == "boss":
            if req.tool_results():
                return Reply.text("ok")
            return Reply.tool_calls([
                ("a", "agent", {"description": "d", "prompt": "p", "subagent_type": "cheap"}),
                ("b", "agent", {"description": "d", "prompt": "p", "subagent_type": "cheap", "model": "opus"}),
            ])
        return Reply.text("cheap ok")

    llm_server.set_handler(handler)
    runtime = await Runtime.open(opts(llm_server, ws, agent="boss"))
    events = await run(runtime, "go")  # no anthropic or openrouter key, parent on llamacpp
    results = {e.call_id: e for e in of(events, ev.ToolResult)}
    assert not results["a"].is_error  # frontmatter haiku: a notice, then the parent's model
    assert results["b"].is_error and "model 'opus' cannot be used" in results["b"].content
    notes = [e.message for e in of(events, ev.Notice)]
    assert any("alias 'haiku' has no model for provider llamacpp" in n for n in notes)
    assert [r.model for r in llm_server.requests if who(r) == "cheap"] == ["test-model"]


# --------------------------------------------------------------------------- stored, CLI


@pytest.fixture
def priced(monkeypatch, tmp_path):
    """Catalog models with prices, served by the scripted server (openrouter's preset, fake key)."""
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-" + "a" * 40)
    agents = write_agents(tmp_path / "priced-agents", {
        "lead": "tools: read, agent(reviewer)\nmodel: openrouter:anthropic/claude-sonnet-4.5\n",
        "reviewer": "tools: read\nmodel: openrouter:openai/gpt-4o-mini\n",
    })
    return agents


def priced_handler(req):
    if who(req) == "lead":
        if req.tool_results():
            return Reply.text("All reviewed.", input_tokens=20_000, output_tokens=1_000)
        return Reply.tool_calls([("c1", "agent", {"description": "review", "prompt": "review", "subagent_type": "reviewer"})],
                                input_tokens=10_000, output_tokens=500)
    return Reply.text("Reviewed: fine.", input_tokens=200_000, output_tokens=10_000)


def test_sessions_show_prints_the_tree_with_models_tokens_and_costs(llm_server, priced, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    llm_server.set_handler(priced_handler)
    code = main(["run", "--agent", "lead", "--agents-dir", str(priced), "--base-url", llm_server.openai_url,
                 "--task", "review please", "--json"])
    assert code == 0
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert {(x["agent_id"], x["parent_id"]) for x in lines} == {("main", None), ("main.1", "main")}
    started = next(x for x in lines if x["type"] == "subagent_started")
    assert started["model"] == "openrouter:openai/gpt-4o-mini" and started["subagent_session_id"]
    assert started["session_id"] == lines[0]["session_id"]  # every line: the run's own session
    session_id = err.strip().split("session ")[-1]
    assert "1 subagent" in err

    assert main(["sessions", "show", session_id[:6]]) == 0
    shown = capsys.readouterr().out
    # lead: 30k in, 1.5k out on sonnet 4.5 ($3/$15 per M) = $0.1125
    # reviewer: 200k in, 10k out on gpt-4o-mini ($0.15/$0.60 per M) = $0.036
    lead_row = next(line for line in shown.splitlines() if line.startswith("lead "))
    assert "openrouter:anthropic/claude-sonnet-4.5" in lead_row and "30,000" in lead_row and "$0.1125" in lead_row
    rev_row = next(line for line in shown.splitlines() if "reviewer" in line)
    assert rev_row.startswith("└─ reviewer") and "openrouter:openai/gpt-4o-mini" in rev_row and "$0.0360" in rev_row
    assert started["subagent_session_id"] in rev_row
    total = next(line for line in shown.splitlines() if line.startswith("total"))
    assert "230,000" in total and "11,500" in total and "$0.1485" in total

    assert main(["sessions", "show", session_id, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(n["depth"], n["session"]["agent"]) for n in data["tree"]] == [(0, "lead"), (1, "reviewer")]
    assert data["total"]["cost"] == pytest.approx(0.1485)

    assert main(["sessions"]) == 0
    listed = capsys.readouterr().out
    row = next(line for line in listed.splitlines() if line.startswith(session_id))
    assert " 1 " in row and "$0.1485" in row and started["subagent_session_id"] not in listed  # children are not listed

    assert main(["cost", "--from-history"]) == 0
    cost = capsys.readouterr().out
    assert "by agent and model" in cost
    sub_line = next(line for line in cost.splitlines() if line.startswith("reviewer (subagent)"))
    assert "openrouter:openai/gpt-4o-mini" in sub_line and "$0.036" in sub_line
    assert "as run: $0.15" in cost
    # all 241,500 tokens on the priciest model used (sonnet): 230k*3 + 11.5k*15 per M = $0.8625
    assert "the same tokens all on openrouter:anthropic/claude-sonnet-4.5: $0.86" in cost


async def test_bundled_lead_delegates_to_bundled_agents_with_their_aliases(llm_server, ws, monkeypatch):
    """The bundled lead on OpenRouter: researcher's haiku is OpenRouter's Haiku; coder inherits."""
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-" + "e" * 40)

    def first_line(req):
        return (next((m["content"] for m in req.messages if m["role"] == "system"), "") or "").splitlines()[0]

    def handler(req):
        line = first_line(req)
        if line.startswith("You are a technical lead"):
            if req.tool_results():
                return Reply.text("integrated")
            return Reply.tool_calls([
                ("c1", "agent", {"description": "find", "prompt": "where is x?", "subagent_type": "researcher"}),
                ("c2", "agent", {"description": "fix", "prompt": "set x = 2 in a.py", "subagent_type": "coder"}),
            ])
        return Reply.text("ok")

    llm_server.set_handler(handler)
    runtime = await Runtime.open(RunOptions(
        model="openrouter:deepseek/deepseek-chat", agent="lead", base_url=llm_server.openai_url, workspace=str(ws)
    ))
    events = await run(runtime, "go")
    models = {e.agent: e.model for e in of(events, ev.SubagentStarted)}
    assert models == {"researcher": "openrouter:anthropic/claude-haiku-4.5", "coder": "openrouter:deepseek/deepseek-chat"}
    sub_models = sorted(r.model for r in llm_server.requests if not first_line(r).startswith("You are a technical lead"))
    assert sub_models == ["anthropic/claude-haiku-4.5", "deepseek/deepseek-chat"]
    tools = {e.agent: e for e in of(events, ev.SubagentStarted)}
    assert tools["coder"].path == "lead › coder"
    lead_tools = [t["function"]["name"] for t in llm_server.requests[0].tools]
    assert "agent" in lead_tools and "bash" in lead_tools


def test_run_prints_only_the_main_answer_on_stdout_and_subagents_on_stderr(llm_server, ws, capsys, monkeypatch):
    monkeypatch.chdir(ws)

    def handler(req):
        agent = who(req)
        if agent == "lead":
            return Reply.text("Final answer.") if req.tool_results() else delegate(("c1", "reviewer", "review a.py"))
        if req.tool_results():
            return Reply.text("REVIEWER-WORDS")
        return Reply.tool_calls([("r1", "read", {"path": "a.py"})])

    llm_server.set_handler(handler)
    code = main(["run", "--model", MODEL, "--agent", "lead", "--agents-dir", str(ws.parent / "agents"),
                 "--base-url", llm_server.openai_url, "--task", "go"])
    out, err = capsys.readouterr()
    assert code == 0 and out == "Final answer.\n"
    lines = err.splitlines()
    assert any(line.startswith("⇢ [lead › reviewer] reviewer task · llamacpp:model-b") for line in lines)
    assert "  [lead › reviewer] → read(path='a.py')" in lines
    assert any(line.startswith("⇠ [lead › reviewer] end_turn · 2 turns") for line in lines)
    assert "1 subagent (counted in tokens and cost)" in lines[-1]

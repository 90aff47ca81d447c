"""Sessions that hold up for a day's work, headless: compaction (automatic, on demand,
after a provider refuses the length), checkpoints with undo and rewind, ``@path``
mentions, resuming on the session's own model, sessions never answered not kept,
settings read again mid-session, model fit, per-part rules for compound commands, tool
calls without ids, ``sessions show`` / ``rm`` and ``-c`` / ``-r``.

Against the scripted HTTP server (``tests/llm_server.py``), real stores in temp dirs.
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentic_flow.core import paths
from agentic_flow.core.cli import main
from agentic_flow.core.context.compaction import SUMMARY_HEADER, SUMMARY_SYSTEM, cut_index
from agentic_flow.core.events import ContextCompacted, Notice, ProviderFailed, ToolCallReady
from agentic_flow.core.messages import AssistantMessage, ToolCall, ToolResultMessage, UserMessage
from agentic_flow.core.permissions import Answer, PermissionEngine, PermissionRequest
from agentic_flow.core.runtime import RunOptions, Runtime
from agentic_flow.core.store.database import SessionNotFound, Store
from tests.llm_server import Reply, RecordedRequest, ScriptedLLMServer, llm_server  # noqa: F401

SMALL = [{"id": "small", "context": 2000, "price_in": 1.0, "price_out": 2.0, "tools": True}]


def write_user_settings(data: dict[str, Any]) -> Path:
    path = paths.user_config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


def lab(server: ScriptedLLMServer, models: list[dict[str, Any]] = SMALL, **extra: Any) -> dict[str, Any]:
    return {"providers": {"lab": {"kind": "openai", "base_url": server.openai_url, "models": models}}, **extra}


def opts(server: ScriptedLLMServer, workspace: Path, **kw: Any) -> RunOptions:
    if "resume" not in kw:
        kw.setdefault("model", "llamacpp:test-model")
    if (kw.get("model") or "llamacpp:").startswith("llamacpp:"):
        kw.setdefault("base_url", server.openai_url)
    return RunOptions(workspace=str(workspace), **kw)


async def drain(runtime: Runtime, text: str) -> list[Any]:
    return [event async for event in runtime.send(text)]


def is_summary_request(request: RecordedRequest) -> bool:
    return any(m.get("role") == "system" and m.get("content") == SUMMARY_SYSTEM for m in request.messages)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "notes.txt").write_text("alpha\nbeta\n", encoding="utf-8")
    return ws


# ---------------------------------------------------------------------------- compaction: where to cut


def _turn(prompt: str, answer: str) -> list[Any]:
    return [UserMessage(content=prompt), AssistantMessage(content=answer)]


def test_cut_keeps_the_last_turns_whole() -> None:
    history = _turn("one", "1") + _turn("two", "2") + _turn("three", "3")
    assert cut_index(history, 2) == 2  # "two" and "three" stay
    assert cut_index(history, 1) == 4
    assert cut_index(history, 3) == 2  # keeping all would free nothing: two are kept
    assert cut_index(_turn("only", "answer"), 2) is None  # a lone prompt: nothing to gain


def test_cut_never_separates_a_call_from_its_results_and_keeps_pending_ones() -> None:
    call = AssistantMessage(tool_calls=[ToolCall(id="c1", name="read", arguments={"path": "a"})])
    result = ToolResultMessage(call_id="c1", name="read", content="x" * 50)
    # One long turn still waiting for the model: cut inside it, before the last call.
    history = [UserMessage(content="do it"), AssistantMessage(content="first"), call, result]
    cut = cut_index(history, 2)
    assert cut == 2 and history[cut] is call  # the pending call and its result stay together
    # Never start the kept part with a result.
    history = _turn("one", "1") + [UserMessage(content="two"), call, result, AssistantMessage(content="done")]
    for keep in (0, 1, 2):
        cut = cut_index(history, keep)
        assert cut is None or cut == len(history) or not isinstance(history[cut], ToolResultMessage)
    # A summary alone is not summarised again.
    assert cut_index([UserMessage(content=f"{SUMMARY_HEADER}\n\nold"), *(_turn("x", "y"))], 1) is None


# ---------------------------------------------------------------------------- compaction: end to end


def _answer_or_summary(request: RecordedRequest) -> Reply:
    if is_summary_request(request):
        return Reply.text("SUMMARY: the user asked about topics 1 to 3; nothing else to keep.")
    return Reply.text(f"Answer {len(request.messages)}.")


async def test_a_small_context_model_compacts_on_its_own_and_keeps_the_recent_turns(
    llm_server: ScriptedLLMServer, workspace: Path
) -> None:
    write_user_settings(lab(llm_server, context={"keep_turns": 1}))
    llm_server.set_handler(_answer_or_summary)
    runtime = await Runtime.open(opts(llm_server, workspace, model="lab:small", no_tools=True))
    try:
        assert runtime.session.context_window == 2000
        seen: list[Any] = []
        for n in range(1, 6):
            seen += await drain(runtime, f"topic {n}: " + "words " * 250)
            if any(isinstance(e, ContextCompacted) for e in seen):
                break
        compacted = [e for e in seen if isinstance(e, ContextCompacted)]
        assert len(compacted) == 1 and compacted[0].trigger == "auto"
        event = compacted[0]
        assert event.tokens_after < event.tokens_before and event.model == "lab:small"
        summaries = [r for r in llm_server.requests if is_summary_request(r)]
        assert len(summaries) == 1
        # The next request starts with the summary and keeps the latest prompt as it was.
        after = llm_server.requests[llm_server.requests.index(summaries[0]) + 1]
        users = [m["content"] for m in after.messages if m["role"] == "user"]
        assert users[0].startswith(SUMMARY_HEADER) and "SUMMARY: the user asked" in users[0]
        assert users[-1].startswith(f"topic {n}:")
        assert not any(u.startswith("topic 1:") for u in users)
        assert runtime.context_usage().used < 0.8 * 2000
        # Stored: the compaction, and a resume continues from the compacted history.
        store = runtime.store
        sid = runtime.session_id
        assert store.compaction_count(sid) == 1
        assert store.history_start(sid) > 0
        assert len(store.load_messages(sid)) > len(runtime.session.messages)  # the whole transcript stays
    finally:
        await runtime.aclose()
    resumed = await Runtime.open(opts(llm_server, workspace, resume=sid, no_tools=True))
    try:
        assert resumed.model_id == "lab:small"
        history = resumed.history()
        assert isinstance(history[0], UserMessage) and history[0].content.startswith(SUMMARY_HEADER)
    finally:
        await resumed.aclose()


async def test_compact_on_request_and_when_there_is_nothing_to_compact(
    llm_server: ScriptedLLMServer, workspace: Path
) -> None:
    llm_server.set_handler(_answer_or_summary)
    runtime = await Runtime.open(opts(llm_server, workspace, no_tools=True))
    try:
        await drain(runtime, "only question")
        nothing = [e async for e in runtime.compact()]
        assert [type(e) for e in nothing] == [Notice] and "Nothing to compact" in nothing[0].message
        await drain(runtime, "second question")
        await drain(runtime, "third question")
        events = [e async for e in runtime.compact("keep the numbers")]
        (done,) = [e for e in events if isinstance(e, ContextCompacted)]
        assert done.trigger == "manual"
        summary_request = [r for r in llm_server.requests if is_summary_request(r)][-1]
        assert "keep the numbers" in summary_request.last_user_text()
        assert runtime.compactions == 1
    finally:
        await runtime.aclose()


async def _three_turns(server: ScriptedLLMServer, workspace: Path) -> Runtime:
    """A priced model (1 / 2 USD per million tokens) with three answered prompts."""
    priced = [{"id": "small", "context": 8000, "price_in": 1.0, "price_out": 2.0}]
    write_user_settings(lab(server, priced, context={"auto_compact": False}))
    server.enqueue(*(Reply.text(f"answer {n}", input_tokens=100, output_tokens=10) for n in range(3)))
    runtime = await Runtime.open(opts(server, workspace, model="lab:small", no_tools=True))
    for n in range(3):
        await drain(runtime, f"question {n}")
    return runtime


async def test_the_summary_request_counts_in_the_session_totals_and_the_store(
    llm_server: ScriptedLLMServer, workspace: Path
) -> None:
    runtime = await _three_turns(llm_server, workspace)
    try:
        before = runtime.totals
        tokens_in, tokens_out, cost = before.input_tokens, before.output_tokens, before.cost
        assert cost == pytest.approx(3 * (100 * 1.0 + 10 * 2.0) / 1e6)
        llm_server.enqueue(Reply.text("SUMMARY: three questions.", input_tokens=5000, output_tokens=700))
        events = [e async for e in runtime.compact()]
        (done,) = [e for e in events if isinstance(e, ContextCompacted)]
        totals = runtime.totals
        assert totals.input_tokens == tokens_in + 5000 and totals.output_tokens == tokens_out + 700
        summary_cost = (5000 * 1.0 + 700 * 2.0) / 1e6  # the model's own price, as for its turns
        # The event says it too (a `run --json` reader sees what the compaction cost).
        assert (done.input_tokens, done.output_tokens) == (5000, 700) and done.cost == pytest.approx(summary_cost)
        assert totals.cost == pytest.approx(cost + summary_cost)
        assert totals.turns[-1].model == "lab:small" and totals.turns[-1].cost == pytest.approx(summary_cost)
        row = runtime.store.get_session(runtime.session_id)
        assert (row.input_tokens, row.output_tokens) == (tokens_in + 5000, tokens_out + 700)
        assert row.cost == pytest.approx(cost + summary_cost) and row.unpriced_turns == 0
    finally:
        await runtime.aclose()


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (Reply.tool_calls([("c1", "read", {"path": "notes.txt"})], input_tokens=400, output_tokens=30), "tool call"),
        (Reply.text("SUMMARY: the user asked ab", finish_reason="length", input_tokens=400, output_tokens=30),
         "cut off at the token limit"),
        (Reply.text("SUMMARY: ...", finish_reason="content_filter", input_tokens=400, output_tokens=30),
         "did not finish (content_filter)"),
    ],
    ids=["tool-call", "cut-at-max-tokens", "content-filter"],
)
async def test_an_answer_that_is_no_summary_leaves_the_conversation_unchanged(
    llm_server: ScriptedLLMServer, workspace: Path, reply: Reply, why: str
) -> None:
    runtime = await _three_turns(llm_server, workspace)
    try:
        history = list(runtime.session.messages)
        tokens_in = runtime.totals.input_tokens
        llm_server.enqueue(reply)
        events = [e async for e in runtime.compact()]
        assert not any(isinstance(e, ContextCompacted) for e in events)
        (notice,) = [e for e in events if isinstance(e, Notice)]
        assert "Could not compact" in notice.message and why in notice.message and "unchanged" in notice.message
        assert runtime.session.messages == history and runtime.compactions == 0
        assert runtime.store.compaction_count(runtime.session_id) == 0
        assert runtime.totals.input_tokens == tokens_in + 400  # paid for all the same
    finally:
        await runtime.aclose()


OVERFLOW = "This model's maximum context length is 4096 tokens. However, your messages resulted in 5000 tokens."


async def test_a_context_length_refusal_compacts_and_retries_once(llm_server: ScriptedLLMServer, workspace: Path) -> None:
    llm_server.enqueue(Reply.text("one"), Reply.text("two"))
    runtime = await Runtime.open(opts(llm_server, workspace, no_tools=True))
    try:
        await drain(runtime, "first")
        await drain(runtime, "second")
        llm_server.enqueue(
            Reply.error(400, OVERFLOW, error_type="invalid_request_error", code="context_length_exceeded"),
            Reply.text("SUMMARY: first and second were asked."),
            Reply.text("Third answer, after the retry."),
        )
        events = await drain(runtime, "third")
        assert not any(isinstance(e, ProviderFailed) for e in events)  # the refusal was answered
        notices = [e.message for e in events if isinstance(e, Notice)]
        assert any("too long" in n and "retrying once" in n for n in notices)
        assert any(isinstance(e, ContextCompacted) and e.trigger == "overflow" for e in events)
        assert runtime.session.messages[-1].content == "Third answer, after the retry."
        # Refused again after compacting: shown, not retried a second time.
        llm_server.enqueue(
            Reply.error(400, OVERFLOW, error_type="invalid_request_error"),
            Reply.text("SUMMARY: again."),
            Reply.error(400, OVERFLOW, error_type="invalid_request_error"),
        )
        before = len(llm_server.requests)
        events = await drain(runtime, "fourth")
        failed = [e for e in events if isinstance(e, ProviderFailed)]
        assert len(failed) == 1 and "maximum context length" in failed[0].message
        assert len(llm_server.requests) - before == 3
    finally:
        await runtime.aclose()


# ---------------------------------------------------------------------------- checkpoints


def edits(server: ScriptedLLMServer) -> None:
    server.enqueue(
        Reply.tool_calls([("c1", "edit", {"path": "notes.txt", "old_string": "beta", "new_string": "gamma"})]),
        Reply.tool_calls([("c2", "write", {"path": "new.txt", "content": "brand new\n"})]),
        Reply.text("Changed notes.txt and wrote new.txt."),
    )


async def test_undo_restores_the_files_of_the_last_turn_and_tells_the_model(
    llm_server: ScriptedLLMServer, workspace: Path
) -> None:
    runtime = await Runtime.open(opts(llm_server, workspace, approve="accept-edits"))
    try:
        llm_server.enqueue(Reply.text("Nothing changed."))
        await drain(runtime, "just talk")
        edits(llm_server)
        await drain(runtime, "change things")
        assert (workspace / "notes.txt").read_text() == "alpha\ngamma\n" and (workspace / "new.txt").exists()
        turns = runtime.turns()
        assert [(t.number, t.files) for t in turns] == [(1, []), (2, ["notes.txt", "new.txt"])]
        done = runtime.undo()
        assert done is not None
        mark, result = done
        assert mark.number == 2 and result.restored == ["notes.txt"] and result.removed == ["new.txt"]
        assert (workspace / "notes.txt").read_text() == "alpha\nbeta\n" and not (workspace / "new.txt").exists()
        assert runtime.undo() is None  # nothing left to undo
        llm_server.enqueue(Reply.text("ok"))
        await drain(runtime, "next")
        assert "undid the file changes" in llm_server.requests[-1].last_user_text()
    finally:
        await runtime.aclose()


async def test_rewind_restores_code_and_conversation_also_after_a_resume(
    llm_server: ScriptedLLMServer, workspace: Path
) -> None:
    runtime = await Runtime.open(opts(llm_server, workspace, approve="accept-edits"))
    try:
        llm_server.enqueue(Reply.text("Hello."))
        await drain(runtime, "hello")
        edits(llm_server)
        await drain(runtime, "change things")
        llm_server.enqueue(
            Reply.tool_calls([("c3", "edit", {"path": "notes.txt", "old_string": "gamma", "new_string": "delta"})]),
            Reply.text("Again."),
        )
        await drain(runtime, "change again")
        sid = runtime.session_id
    finally:
        await runtime.aclose()
    assert (workspace / "notes.txt").read_text() == "alpha\ndelta\n"
    resumed = await Runtime.open(opts(llm_server, workspace, resume=sid, approve="accept-edits"))
    try:
        assert [t.number for t in resumed.turns()] == [1, 2, 3]
        result = resumed.rewind(2, code=True, conversation=True)
        assert sorted(result.changed) == ["new.txt", "notes.txt"]
        assert (workspace / "notes.txt").read_text() == "alpha\nbeta\n"  # the pre-image from turn 2, not 3
        assert not (workspace / "new.txt").exists()
        assert [m.content for m in resumed.history()] == ["hello", "Hello."]
        assert [m.content for m in resumed.store.load_messages(sid)] == ["hello", "Hello."]
        assert [t.number for t in resumed.turns()] == [1]
        with pytest.raises(Exception, match="no turn 2"):
            resumed.rewind(2, code=True, conversation=False)
    finally:
        await resumed.aclose()


async def test_the_note_after_an_undo_says_which_files_were_removed_and_goes_with_a_rewind(
    llm_server: ScriptedLLMServer, workspace: Path
) -> None:
    runtime = await Runtime.open(opts(llm_server, workspace, approve="accept-edits"))
    try:
        llm_server.enqueue(Reply.text("Hello."))
        await drain(runtime, "hello")
        edits(llm_server)
        await drain(runtime, "change things")
        runtime.undo()
        note = runtime.session.pending_note
        assert note and "notes.txt restored to their state before it" in note
        assert "new.txt removed (created since)" in note and "new.txt restored" not in note
        runtime.rewind(2, code=False, conversation=True)  # the undone turn is forgotten: so is its note
        assert runtime.session.pending_note is None
        llm_server.enqueue(Reply.text("Hi."))
        await drain(runtime, "hello again")
        assert "Note from the workbench" not in llm_server.requests[-1].last_user_text()
    finally:
        await runtime.aclose()


async def test_rewind_code_only_keeps_the_conversation(llm_server: ScriptedLLMServer, workspace: Path) -> None:
    runtime = await Runtime.open(opts(llm_server, workspace, approve="accept-edits"))
    try:
        edits(llm_server)
        await drain(runtime, "change things")
        length = len(runtime.history())
        result = runtime.rewind(1, code=True, conversation=False)
        assert result.restored == ["notes.txt"] and len(runtime.history()) == length
        assert (workspace / "notes.txt").read_text() == "alpha\nbeta\n"
        assert runtime.session.pending_note and "restored" in runtime.session.pending_note
    finally:
        await runtime.aclose()


# ---------------------------------------------------------------------------- mentions


async def test_mentions_attach_files_and_line_ranges_through_the_permission_engine(
    llm_server: ScriptedLLMServer, workspace: Path
) -> None:
    (workspace / "src").mkdir()
    (workspace / "src" / "app.py").write_text("".join(f"line {i}\n" for i in range(1, 61)))
    (workspace / ".env").write_text("SECRET=1\n")
    (workspace / ".agentic-flow").mkdir()
    (workspace / ".agentic-flow" / "settings.yaml").write_text("permissions:\n  deny: ['read(**/.env)']\n")
    llm_server.enqueue(Reply.text("Seen."))
    runtime = await Runtime.open(opts(llm_server, workspace, no_tools=True))
    try:
        text = "look at @src/app.py#L20-22 and @notes.txt and @.env, not @property or me@example.com"
        result = await runtime.attach_mentions(text)
        assert [a.label for a in result.attachments] == ["src/app.py#L20-22", "notes.txt"]
        assert len(result.problems) == 1 and "@.env was not attached" in result.problems[0]
        assert "line 20" in result.text and "line 22" in result.text and "line 23" not in result.text
        assert "SECRET" not in result.text
        await drain(runtime, result.text)
        sent = llm_server.requests[-1].last_user_text()
        assert '<attached-file path="src/app.py" lines="20-22" of="60">' in sent and "alpha" in sent
        rows = runtime.session.audit.query(session=runtime.session_id)
        assert {(r.tool, r.decision) for r in rows} == {("read", "allow"), ("read", "deny")}
        assert ".env" not in runtime.workspace_files() and "src/app.py" in runtime.workspace_files()
    finally:
        await runtime.aclose()


# ---------------------------------------------------------------------------- sessions


async def test_resume_continues_on_the_sessions_model_unless_another_is_given(
    llm_server: ScriptedLLMServer, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_user_settings(lab(llm_server, SMALL + [{"id": "other", "context": 8000}], default_model="lab:other"))
    llm_server.enqueue(Reply.text("first"))
    runtime = await Runtime.open(opts(llm_server, workspace, model="lab:small", agent="reviewer", no_tools=True))
    await drain(runtime, "hi")
    sid = runtime.session_id
    await runtime.aclose()
    llm_server.enqueue(Reply.text("second"))
    code = await asyncio.to_thread(main, ["run", "--resume", sid, "--task", "again", "--workspace", str(workspace), "--no-tools"])
    assert code == 0
    assert llm_server.requests[-1].model == "small"  # not the default_model
    assert f"session {sid}'s model" in capsys.readouterr().err
    resumed = await Runtime.open(opts(llm_server, workspace, resume=sid, no_tools=True))
    assert resumed.agent_name == "reviewer"
    await resumed.aclose()
    llm_server.enqueue(Reply.text("third"))
    argv = ["run", "--resume", sid, "--model", "lab:other", "--task", "x", "--workspace", str(workspace), "--no-tools"]
    code = await asyncio.to_thread(main, argv)
    assert code == 0 and llm_server.requests[-1].model == "other"


async def test_sessions_never_answered_are_not_kept(llm_server: ScriptedLLMServer, workspace: Path, monkeypatch) -> None:
    runtime = await Runtime.open(opts(llm_server, workspace, no_tools=True))
    sid = runtime.session_id
    await runtime.aclose()
    with Store() as store, pytest.raises(SessionNotFound):
        store.get_session(sid)
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    runtime = await Runtime.open(opts(llm_server, workspace, model="openrouter:some/model", no_tools=True))
    events = await drain(runtime, "hello")
    assert any(isinstance(e, ProviderFailed) and e.kind == "needs_key" for e in events)
    sid = runtime.session_id
    await runtime.aclose()
    with Store() as store:
        with pytest.raises(SessionNotFound):
            store.get_session(sid)
        assert store.list_sessions() == []
    llm_server.enqueue(Reply.text("kept"))
    runtime = await Runtime.open(opts(llm_server, workspace, no_tools=True))
    await drain(runtime, "hello")
    await runtime.aclose()
    with Store() as store:
        assert [r.id for r in store.list_sessions()] == [runtime.session_id]


async def test_sessions_show_and_rm(llm_server: ScriptedLLMServer, workspace: Path, capsys) -> None:
    llm_server.enqueue(Reply.tool_calls([("c1", "read", {"path": "notes.txt"})]), Reply.text("It says alpha."))
    runtime = await Runtime.open(opts(llm_server, workspace))
    await drain(runtime, "what is in notes.txt?")
    sid = runtime.session_id
    await runtime.aclose()
    assert main(["sessions", "show", sid[:6]]) == 0
    out = capsys.readouterr().out
    assert f"session {sid}" in out and "## You" in out and "what is in notes.txt?" in out
    assert "**read**" in out and "It says alpha." in out and f"run --resume {sid}" in out
    assert main(["sessions", "show", sid, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["session"]["id"] == sid and [m["role"] for m in data["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert main(["sessions", "rm", sid]) == 0
    assert f"deleted session {sid}" in capsys.readouterr().out
    assert main(["sessions", "rm", sid]) == 1
    assert "No session" in capsys.readouterr().err
    # The audit log keeps the deleted session's rows, and its filter still finds them.
    assert main(["audit", "list", "--session", sid[:8], "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["session_id"], r["tool"]) for r in rows] == [(sid, "read")]
    assert main(["audit", "list", "--session", "zzzz"]) == 1
    assert "No session 'zzzz'" in capsys.readouterr().err


async def test_continue_and_resume_flags_find_the_session_before_opening(
    llm_server: ScriptedLLMServer, workspace: Path, capsys
) -> None:
    opened: list[Any] = []

    def opener(args: Any) -> int:
        opened.append((args.resume, args.pick_session))
        return 0

    assert main(["-c", "--workspace", str(workspace)], open_workbench=opener) == 1
    assert "no session to continue in" in capsys.readouterr().err and opened == []
    assert main(["--workspace", str(workspace / "typo")], open_workbench=opener) == 2  # nothing opens, nothing made
    assert "is not a folder" in capsys.readouterr().err and not (workspace / "typo").exists() and opened == []
    assert main(["-r", "nope"], open_workbench=opener) == 1
    assert "No session 'nope'" in capsys.readouterr().err
    llm_server.enqueue(Reply.text("a"), Reply.text("b"))
    for task in ("older", "newer"):
        runtime = await Runtime.open(opts(llm_server, workspace, no_tools=True))
        await drain(runtime, task)
        await runtime.aclose()
    newest = Store().list_sessions(limit=1, workspace=workspace)[0]
    assert newest.title == "newer"
    # No terminal here: the flags are checked, then the workbench refuses to open.
    assert main(["-c", "--workspace", str(workspace)], open_workbench=opener) == 2
    assert "needs a terminal" in capsys.readouterr().err


def test_top_level_help_lists_every_workbench_option(capsys) -> None:
    """``agentic-flow --help`` tells the truth about the options the workbench takes."""
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "workbench options" in text
    for flag in ("-c, --continue", "-r [ID], --resume [ID]", "--workspace DIR", "--model MODEL, -m MODEL",
                 "--agent AGENT, -a AGENT", "--agents-dir DIR", "--base-url URL"):
        assert flag in text, flag


# ---------------------------------------------------------------------------- settings, fit, rules, ids


async def test_settings_edited_mid_session_apply_to_the_next_prompt(llm_server: ScriptedLLMServer, workspace: Path) -> None:
    runtime = await Runtime.open(opts(llm_server, workspace))  # ask mode, no person: denied
    try:
        call = {"path": "notes.txt", "old_string": "beta", "new_string": "gamma"}
        llm_server.enqueue(Reply.tool_calls([("c1", "edit", call)]), Reply.text("Denied, fine."))
        await drain(runtime, "edit it")
        assert (workspace / "notes.txt").read_text() == "alpha\nbeta\n"
        assert runtime.refresh_settings() == []  # nothing changed yet
        settings = workspace / ".agentic-flow" / "settings.yaml"
        settings.parent.mkdir(exist_ok=True)
        settings.write_text("permissions:\n  allow: ['edit(notes.txt)']\n")
        notices = runtime.refresh_settings()
        assert notices and "Settings reloaded" in notices[0] and str(settings) in notices[0]
        llm_server.enqueue(Reply.tool_calls([("c2", "edit", call)]), Reply.text("Done."))
        await drain(runtime, "edit it now")
        assert (workspace / "notes.txt").read_text() == "alpha\ngamma\n"
    finally:
        await runtime.aclose()


async def test_a_model_without_tools_gets_none_and_a_prompt_too_big_is_flagged(
    llm_server: ScriptedLLMServer, workspace: Path
) -> None:
    models = [{"id": "notools", "context": 8000, "tools": False}, {"id": "tiny", "context": 400, "tools": True}]
    write_user_settings(lab(llm_server, models))
    runtime = await Runtime.open(opts(llm_server, workspace, model="lab:notools", agent="coder"))
    try:
        assert runtime.session.tools == {}
        assert any("cannot use tools" in w and "not offered" in w for w in runtime.warnings)
        llm_server.enqueue(Reply.text("ok"))
        await drain(runtime, "hi")
        assert llm_server.requests[-1].tools == []
        warnings = runtime.switch_model("lab:tiny")
        assert runtime.session.tools  # this one takes tools
        assert any("larger than lab:tiny's context" in w for w in warnings)
    finally:
        await runtime.aclose()


async def test_always_on_a_compound_command_saves_a_rule_per_part(tmp_path: Path) -> None:
    engine = PermissionEngine("ask", workspace=tmp_path)
    request = PermissionRequest("c", "bash", {"command": "npm test && git status"}, tmp_path)
    assert engine.suggest_rules(request) == ["bash(npm test*)", "bash(git status*)"]
    risky = PermissionRequest("c", "bash", {"command": "rm -rf build && git push origin main && make"}, tmp_path)
    assert engine.suggest_rules(risky) == ["bash(rm -rf build)", "bash(git push origin main)", "bash(make*)"]
    decision = await engine.apply_answer(request, engine.evaluate(request), Answer("always"))
    assert decision.scope == "always" and decision.rule_written == "bash(npm test*), bash(git status*)"
    saved = (tmp_path / ".agentic-flow" / "settings.yaml").read_text()
    assert "bash(npm test*)" in saved and "bash(git status*)" in saved and "&&" not in saved
    later = PermissionRequest("c", "bash", {"command": "npm test -- -k unit && git status --short"}, tmp_path)
    assert engine.evaluate(later).outcome == "allow"


async def test_tool_calls_without_ids_get_ids_no_other_turn_has(llm_server: ScriptedLLMServer, workspace: Path) -> None:
    llm_server.enqueue(
        Reply.tool_calls([("", "read", {"path": "notes.txt"})]),
        Reply.tool_calls([("", "read", {"path": "notes.txt"})]),
        Reply.text("Read it twice."),
    )
    runtime = await Runtime.open(opts(llm_server, workspace))
    try:
        events = await drain(runtime, "read twice")
        ids = [e.call_id for e in events if isinstance(e, ToolCallReady)]
        assert len(ids) == 2 and len(set(ids)) == 2
        results = [m.call_id for m in runtime.history() if isinstance(m, ToolResultMessage)]
        assert results == ids
    finally:
        await runtime.aclose()


async def test_a_subagents_file_changes_belong_to_the_turn_and_are_undone(
    llm_server: ScriptedLLMServer, workspace: Path, tmp_path: Path
) -> None:
    from tests.subagent_script import delegate, who, write_agents

    write_agents(tmp_path / "agents")

    def handler(request: RecordedRequest) -> Reply:
        agent = who(request)
        done = request.messages and request.messages[-1].get("role") == "tool"
        if agent == "lead":
            return Reply.text("The tester changed notes.txt.") if done else delegate(("d1", "tester", "change notes"))
        if done:
            return Reply.text("changed")
        return Reply.tool_calls([("t1", "edit", {"path": "notes.txt", "old_string": "beta", "new_string": "omega"})])

    llm_server.set_handler(handler)
    runtime = await Runtime.open(
        opts(llm_server, workspace, agent="lead", agents_dir=str(tmp_path / "agents"), approve="auto")
    )
    try:
        await drain(runtime, "let the tester change notes")
        assert (workspace / "notes.txt").read_text() == "alpha\nomega\n"
        assert [(t.number, t.files) for t in runtime.turns()] == [(1, ["notes.txt"])]  # the lead's turn
        done = runtime.undo()
        assert done is not None and done[1].restored == ["notes.txt"]
        assert (workspace / "notes.txt").read_text() == "alpha\nbeta\n"
    finally:
        await runtime.aclose()


async def test_a_resumed_session_counts_its_earlier_turns(llm_server: ScriptedLLMServer, workspace: Path) -> None:
    priced = [{"id": "small", "context": 8000, "price_in": 1.0, "price_out": 2.0}]
    write_user_settings(lab(llm_server, priced))
    llm_server.enqueue(Reply.text("first", input_tokens=1000, output_tokens=500))
    runtime = await Runtime.open(opts(llm_server, workspace, model="lab:small", no_tools=True))
    await drain(runtime, "hi")
    sid, first_cost = runtime.session_id, runtime.totals.cost
    await runtime.aclose()
    assert first_cost and first_cost > 0

    llm_server.enqueue(Reply.text("second", input_tokens=3000, output_tokens=100))
    resumed = await Runtime.open(opts(llm_server, workspace, resume=sid, no_tools=True))
    assert len(resumed.session_totals.turns) == 1 and resumed.totals.turns == []
    await drain(resumed, "again")
    whole, run = resumed.session_totals, resumed.totals
    assert len(run.turns) == 1 and len(whole.turns) == 2  # this run vs. the stored session
    assert whole.input_tokens == 1000 + run.input_tokens and whole.output_tokens == 500 + run.output_tokens
    assert whole.cost == pytest.approx(first_cost + run.cost)
    resumed.new_conversation()  # /clear: a new session starts from nothing
    assert resumed.session_totals.turns == []
    await resumed.aclose()


def test_the_export_says_where_a_prompt_got_no_answer() -> None:
    from agentic_flow.core.context.export import Entry, to_markdown
    from agentic_flow.core.messages import AssistantMessage, UserMessage

    entries = [
        Entry("message", UserMessage(content="first"), 1),
        Entry("message", UserMessage(content="second"), 2),  # the first failed
        Entry("message", AssistantMessage(content="answer"), 3),
        Entry("message", UserMessage(content="third"), 4),  # the last was stopped
    ]
    md = to_markdown(entries)
    marker = "*(no answer to the prompt above: the turn failed or was stopped)*"
    assert md.count(marker) == 2
    assert md.index("first") < md.index(marker) < md.index("second")
    assert md.rstrip().endswith(marker)
    answered = to_markdown(entries[1:3])
    assert marker not in answered

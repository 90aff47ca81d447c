"""Both provider kinds against a real HTTP server on 127.0.0.1 speaking the wire formats."""

from __future__ import annotations

import socket

import pytest

from agentic_flow.core import events as ev
from agentic_flow.core.http import Timeouts
from agentic_flow.core.messages import AssistantMessage, ChatRequest, ToolCall, ToolResultMessage, ToolSpec, UserMessage
from agentic_flow.core.providers.base import ProviderConfig, RetryPolicy
from agentic_flow.core.providers.registry import create_provider, resolve_provider_config
from tests.llm_server import Reply, llm_server  # noqa: F401  (fixture)

FAST_RETRY = RetryPolicy(retries=2, base_delay=0.01, max_delay=0.05)
READ_TOOL = ToolSpec(
    name="read",
    description="Read a file",
    input_schema={"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)


def provider(server, kind="openai", *, name=None, key="test-key", timeouts=Timeouts(connect=2, read=5), retry=FAST_RETRY):
    url = server.openai_url if kind == "openai" else server.anthropic_url
    config = ProviderConfig(name=name or kind, kind=kind, base_url=url, api_key=key, key_env="TEST_API_KEY")
    return create_provider(config, timeouts=timeouts, retry=retry)


def request(model="test-model", text="hi", **kw):
    return ChatRequest(model=model, messages=[UserMessage(content=text)], **kw)


async def collect(prov, req):
    return [e async for e in prov.stream(req)]


def text_of(events):
    return "".join(e.text for e in events if isinstance(e, ev.TextDelta))


def of(events, cls):
    return [e for e in events if isinstance(e, cls)]


KINDS = ["openai", "anthropic"]


@pytest.mark.parametrize("kind", KINDS)
async def test_text_streams_with_reported_usage_and_model(llm_server, kind):
    llm_server.enqueue(Reply.text("Hello there, world!", chunks=5, input_tokens=11, output_tokens=4, model="served-id"))
    events = await collect(provider(llm_server, kind), request(model="my-model"))
    assert text_of(events) == "Hello there, world!"
    assert llm_server.requests[0].model == "my-model"  # the model called is the model chosen
    started = of(events, ev.MessageStarted)[0]
    assert started.model == "served-id" and started.requested_model == "my-model"
    (usage,) = of(events, ev.Usage)
    assert (usage.input_tokens, usage.output_tokens, usage.estimated) == (11, 4, False)
    assert events[-1] == ev.TurnEnded(stop_reason="end_turn", model="served-id")


@pytest.mark.parametrize("kind", KINDS)
async def test_every_byte_split_gives_same_text(llm_server, kind):
    text = "Ünïcödé → 世界 🎉 and more"
    llm_server.enqueue(Reply.text(text, chunks=6, split="every-byte", crlf=True))
    events = await collect(provider(llm_server, kind), request())
    assert text_of(events) == text
    assert events[-1].stop_reason == "end_turn"


async def test_openai_request_body_and_headers(llm_server):
    llm_server.enqueue(Reply.text("ok"))
    await collect(provider(llm_server, "openai"), request(max_tokens=77, temperature=0.3, tools=[READ_TOOL]))
    req = llm_server.requests[0]
    body = req.json
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["max_completion_tokens"] == 77 and body["temperature"] == 0.3  # OpenAI's own API
    assert "max_tokens" not in body
    assert body["tools"][0] == {
        "type": "function",
        "function": {"name": "read", "description": "Read a file", "parameters": READ_TOOL.input_schema},
    }
    assert req.headers["authorization"] == "Bearer test-key"


async def test_compatible_servers_get_max_tokens(llm_server):
    llm_server.enqueue(Reply.text("ok"))
    await collect(provider(llm_server, "openai", name="vllm"), request(max_tokens=12))
    assert llm_server.requests[0].json["max_tokens"] == 12


async def test_anthropic_request_body_and_headers(llm_server):
    llm_server.enqueue(Reply.text("ok"))
    await collect(provider(llm_server, "anthropic"), request(system="be brief", tools=[READ_TOOL]))
    req = llm_server.requests[0]
    body = req.json
    assert body["system"] == "be brief" and body["max_tokens"] == 4096
    assert body["tools"][0] == {"name": "read", "description": "Read a file", "input_schema": READ_TOOL.input_schema}
    assert req.headers["x-api-key"] == "test-key"
    assert req.headers["anthropic-version"] == "2023-06-01"


@pytest.mark.parametrize("kind", KINDS)
async def test_parallel_tool_calls_streamed_in_pieces(llm_server, kind):
    llm_server.enqueue(
        Reply.tool_calls(
            [("call_1", "read", {"path": "a.py"}), ("call_2", "read", {"path": "b/c.py"})],
            text_before="Let me look.",
            args_chunks=4,
        )
    )
    events = await collect(provider(llm_server, kind), request(tools=[READ_TOOL]))
    ready = of(events, ev.ToolCallReady)
    assert [(r.call_id, r.name, r.arguments, r.error) for r in ready] == [
        ("call_1", "read", {"path": "a.py"}, None),
        ("call_2", "read", {"path": "b/c.py"}, None),
    ]
    assert len(of(events, ev.ToolCallArgsDelta)) >= 4
    assert events[-1].stop_reason == "tool_use"


@pytest.mark.parametrize("kind", KINDS)
async def test_tool_results_go_back_in_the_next_request(llm_server, kind):
    llm_server.enqueue(Reply.text("The file says hello."))
    history = [
        UserMessage(content="read a.py"),
        AssistantMessage(content="Reading.", tool_calls=[ToolCall(id="call_1", name="read", arguments={"path": "a.py"})]),
        ToolResultMessage(call_id="call_1", name="read", content="hello"),
    ]
    await collect(provider(llm_server, kind), ChatRequest(model="m", messages=history, tools=[READ_TOOL]))
    msgs = llm_server.requests[0].json["messages"]
    if kind == "openai":
        assert msgs[1]["tool_calls"][0]["function"] == {"name": "read", "arguments": '{"path":"a.py"}'}
        assert msgs[2] == {"role": "tool", "tool_call_id": "call_1", "content": "hello"}
    else:
        assert msgs[1]["content"][1] == {"type": "tool_use", "id": "call_1", "name": "read", "input": {"path": "a.py"}}
        assert msgs[2]["role"] == "user"
        assert msgs[2]["content"][0] == {"type": "tool_result", "tool_use_id": "call_1", "content": "hello", "is_error": False}
    assert llm_server.requests[0].tool_results() == [("call_1", "hello")]


async def test_anthropic_thinking_with_signature(llm_server):
    llm_server.enqueue(Reply.thinking("Let me think.", "Answer.", signature="sig-abc"))
    events = await collect(provider(llm_server, "anthropic"), request())
    thinking = of(events, ev.ThinkingDelta)
    assert "".join(t.text for t in thinking) == "Let me think."
    assert any(t.signature == "sig-abc" for t in thinking)
    assert text_of(events) == "Answer."


async def test_openrouter_keepalives_and_usage(llm_server):
    llm_server.enqueue(Reply.text("fine", flavor="openrouter", keepalive_comments=3, input_tokens=3, output_tokens=1))
    events = await collect(provider(llm_server, "openai", name="openrouter"), request())
    assert text_of(events) == "fine"
    assert of(events, ev.Usage)[0].estimated is False


async def test_ollama_whole_tool_call_no_usage_is_estimated(llm_server):
    llm_server.enqueue(Reply.tool_calls([("c1", "read", {"path": "x"})], flavor="ollama"))
    events = await collect(provider(llm_server, "openai", name="ollama"), request(tools=[READ_TOOL]))
    assert of(events, ev.ToolCallReady)[0].arguments == {"path": "x"}
    assert events[-1].stop_reason == "tool_use"  # ollama says "stop"
    usage = of(events, ev.Usage)[0]
    assert usage.estimated and usage.input_tokens > 0 and usage.output_tokens > 0


async def test_llamacpp_usage_on_finish_chunk(llm_server):
    llm_server.enqueue(Reply.text("done", flavor="llamacpp", input_tokens=9, output_tokens=2))
    events = await collect(provider(llm_server, "openai", name="llamacpp"), request())
    usage = of(events, ev.Usage)[0]
    assert (usage.input_tokens, usage.output_tokens, usage.estimated) == (9, 2, False)


@pytest.mark.parametrize("kind", KINDS)
async def test_429_with_retry_after_then_success(llm_server, kind):
    llm_server.enqueue(Reply.error(429, "slow down", retry_after=0.2), Reply.text("ok now"))
    events = await collect(provider(llm_server, kind), request())
    (retry,) = of(events, ev.Retrying)
    assert retry.delay == pytest.approx(0.2) and retry.attempt == 1
    assert text_of(events) == "ok now"
    assert len(llm_server.requests) == 2


def test_retry_after_as_an_http_date():
    import email.utils
    import time

    from agentic_flow.core.providers.base import parse_retry_after

    in_30s = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert parse_retry_after(in_30s) == pytest.approx(30, abs=1.5)
    assert parse_retry_after(email.utils.formatdate(time.time() - 60, usegmt=True)) == 0.0
    assert parse_retry_after("12") == 12.0 and parse_retry_after("soon") is None


@pytest.mark.parametrize("kind", KINDS)
async def test_429_with_retry_after_as_a_date_is_honoured(llm_server, kind):
    import email.utils
    import time

    # A date that has passed means "retry now"; our own backoff would wait 0.5-1 s.
    passed = email.utils.formatdate(time.time() - 5, usegmt=True)
    llm_server.enqueue(Reply.error(429, "slow down", retry_after=passed), Reply.text("ok now"))
    events = await collect(provider(llm_server, kind), request())
    (retry,) = of(events, ev.Retrying)
    assert retry.delay == 0.0
    assert text_of(events) == "ok now"


@pytest.mark.parametrize("status", [401, 403])
async def test_401_and_403_are_auth_failures(llm_server, status):
    llm_server.enqueue(Reply.error(status, "key not allowed"))
    events = await collect(provider(llm_server, "openai"), request())
    err = of(events, ev.ProviderFailed)[0]
    assert err.kind == "auth_failed" and err.status == status and not err.retryable
    assert not of(events, ev.Retrying) and len(llm_server.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_500_then_success(llm_server, kind):
    llm_server.enqueue(Reply.error(500, "boom"), Reply.text("recovered"))
    events = await collect(provider(llm_server, kind), request())
    assert len(of(events, ev.Retrying)) == 1 and text_of(events) == "recovered"


async def test_retries_exhausted_reports_error(llm_server):
    llm_server.enqueue(*[Reply.error(503, "down")] * 3)
    prov = provider(llm_server, "openai", retry=RetryPolicy(retries=2, base_delay=0.01))
    events = await collect(prov, request())
    assert len(of(events, ev.Retrying)) == 2
    err = of(events, ev.ProviderFailed)[0]
    assert err.status == 503 and "down" in err.message and err.provider == "openai"
    # Provider, model and status are fields; the message does not repeat them (one line, named once).
    assert "openai" not in err.message and "503" not in err.message and "test-model" not in err.message
    assert events[-1].stop_reason == "error"


@pytest.mark.parametrize("retries", [0, 1])
async def test_retry_count_is_honoured(llm_server, retries):
    llm_server.enqueue(*[Reply.error(500, "x")] * 3)
    await collect(provider(llm_server, retry=RetryPolicy(retries=retries, base_delay=0.01)), request())
    assert len(llm_server.requests) == retries + 1


@pytest.mark.parametrize("kind", KINDS)
async def test_connection_dropped_mid_stream_keeps_partial_text(llm_server, kind):
    llm_server.enqueue(Reply.text("one two three four five six", chunks=6, cut_after=4, split="events"))
    events = await collect(provider(llm_server, kind), request())
    assert text_of(events)  # the partial text is kept
    assert of(events, ev.ProviderFailed)[0].kind == "cut_off"
    assert events[-1].stop_reason == "cut_off"
    assert len(llm_server.requests) == 1  # never retried once text arrived


@pytest.mark.parametrize("kind", KINDS)
async def test_stream_without_final_event_is_cut_off(llm_server, kind):
    llm_server.enqueue(Reply.text("partial answer", no_final=True))
    events = await collect(provider(llm_server, kind), request())
    assert text_of(events) == "partial answer"
    err = of(events, ev.ProviderFailed)[0]
    assert err.kind == "cut_off" and "no finish reason" in err.message
    assert "the text received so far is kept" in err.message
    assert events[-1].stop_reason == "cut_off"
    assert of(events, ev.Usage)[0].estimated  # usage still accounted


@pytest.mark.parametrize("kind", KINDS)
async def test_a_stream_that_ends_before_any_text_does_not_say_text_was_kept(llm_server, kind):
    llm_server.enqueue(Reply.text("", no_final=True))
    events = await collect(provider(llm_server, kind), request())
    failures = of(events, ev.ProviderFailed)
    assert failures and "nothing had arrived yet" in failures[-1].message
    assert "received so far is kept" not in failures[-1].message


@pytest.mark.parametrize("kind", KINDS)
async def test_invalid_json_event_is_named_and_skipped(llm_server, kind):
    llm_server.enqueue(Reply.text(["a", "b", "c", "d"], invalid_json_at=2))
    events = await collect(provider(llm_server, kind), request())
    err = of(events, ev.ProviderFailed)[0]
    assert err.kind == "malformed_stream" and "could not parse" in err.message
    assert events[-1].stop_reason == "end_turn"


@pytest.mark.parametrize("kind", KINDS)
async def test_401_says_which_key(llm_server, kind):
    llm_server.enqueue(Reply.error(401, "invalid x-api-key"))
    events = await collect(provider(llm_server, kind), request())
    err = of(events, ev.ProviderFailed)[0]
    assert err.kind == "auth_failed" and err.status == 401 and "TEST_API_KEY" in err.message
    assert len(llm_server.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_unknown_model(llm_server, kind):
    llm_server.enqueue(Reply.error(404, "model 'nope' not found"))
    events = await collect(provider(llm_server, kind), request(model="nope"))
    err = of(events, ev.ProviderFailed)[0]
    assert err.kind == "model_not_found" and "model not found on this server" in err.message


async def test_read_timeout_mid_stream_keeps_text(llm_server):
    llm_server.enqueue(Reply.text(["first ", "second ", "third"], split="events", stall_after=2, stall_seconds=3))
    prov = provider(llm_server, timeouts=Timeouts(connect=2, read=0.4))
    events = await collect(prov, request())
    assert text_of(events).startswith("first")
    err = of(events, ev.ProviderFailed)[0]
    assert err.kind == "timeout" and "read timeout" in err.message
    assert events[-1].stop_reason == "cut_off"


async def test_timeout_before_first_byte_is_retried(llm_server):
    llm_server.enqueue(Reply.text("late", delay_headers=2), Reply.text("quick"))
    prov = provider(llm_server, timeouts=Timeouts(connect=2, read=0.4))
    events = await collect(prov, request())
    assert len(of(events, ev.Retrying)) == 1 and text_of(events) == "quick"


async def test_html_instead_of_stream(llm_server):
    llm_server.enqueue(Reply.raw(b"<html><body>Welcome</body></html>", content_type="text/html"))
    events = await collect(provider(llm_server), request())
    err = of(events, ev.ProviderFailed)[0]
    assert "instead of an event stream" in err.message
    assert events[-1].stop_reason == "error"


async def test_server_down_is_retried_then_explained():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    config = ProviderConfig(name="vllm", kind="openai", base_url=f"http://127.0.0.1:{port}/v1", needs_key=False)
    prov = create_provider(config, retry=RetryPolicy(retries=1, base_delay=0.01))
    events = await collect(prov, request())
    assert len(of(events, ev.Retrying)) == 1
    err = of(events, ev.ProviderFailed)[0]
    assert err.kind == "connect_error" and "server is running" in err.message


async def test_missing_key_names_the_variable():
    config = resolve_provider_config("openrouter")
    events = await collect(create_provider(config), request())
    err = of(events, ev.ProviderFailed)[0]
    assert err.kind == "needs_key" and "OPENROUTER_API_KEY is not set" in err.message


@pytest.mark.parametrize("kind", KINDS)
async def test_tool_call_cut_by_max_tokens_is_not_executable(llm_server, kind):
    llm_server.enqueue(Reply.tool_calls([("c1", "read", '{"path": "a.p')], finish_reason="length"))
    events = await collect(provider(llm_server, kind), request(tools=[READ_TOOL]))
    ready = of(events, ev.ToolCallReady)[0]
    assert ready.arguments is None and "cut off" in ready.error
    assert events[-1].stop_reason == "max_tokens"


async def test_invalid_json_tool_arguments_are_reported(llm_server):
    llm_server.enqueue(Reply.tool_calls([("c1", "read", '{"path": oops}')]))
    events = await collect(provider(llm_server), request(tools=[READ_TOOL]))
    ready = of(events, ev.ToolCallReady)[0]
    assert ready.arguments is None and "not valid JSON" in ready.error


async def test_cancellation_closes_the_stream(llm_server):
    import asyncio

    # 200 chunks 50 ms apart: the server is still sending for ~10 s after we cancel.
    llm_server.enqueue(Reply.text(["a"] * 200, split="events", delay_per_chunk=0.05))
    prov = provider(llm_server)
    seen: list[str] = []
    three = asyncio.Event()

    async def consume():
        async for e in prov.stream(request()):
            if isinstance(e, ev.TextDelta):
                seen.append(e.text)
                if len(seen) == 3:
                    three.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(three.wait(), 10)
    assert llm_server.open_connections == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert 3 <= len(seen) < 200
    # The connection is closed, not parked in the pool with the response unread: the
    # server notices at its next write, long before its 200 chunks would have ended.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 3
    while llm_server.open_connections and loop.time() < deadline:
        await asyncio.sleep(0.02)
    assert llm_server.open_connections == 0



async def test_http_client_is_built_off_the_event_loop_and_shared(llm_server, monkeypatch):
    # Building httpx's client (imports, SSL context) took ~100 ms: never in the loop's thread.
    import threading

    from agentic_flow.core.http import HttpClient

    built_in: list[int] = []
    build = HttpClient._build

    def recording_build():
        built_in.append(threading.get_ident())
        return build()

    monkeypatch.setattr(HttpClient, "_build", staticmethod(recording_build))
    prov = provider(llm_server, "openai")
    for _ in range(2):
        llm_server.enqueue(Reply.text("ok"))
        assert text_of(await collect(prov, request())) == "ok"
    assert len(built_in) == 1  # one pooled client for both requests
    assert built_in[0] != threading.get_ident()

"""The SSE decoder: WHATWG rules, and any chunking of the bytes gives the same events."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agentic_flow.core.providers.sse import SSEDecoder, SSEEvent


def decode(chunks: list[bytes]) -> list[SSEEvent]:
    dec = SSEDecoder()
    out: list[SSEEvent] = []
    for c in chunks:
        out.extend(dec.feed(c))
    out.extend(dec.flush())
    return out


def every_byte(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def test_basic_events_and_default_type():
    evs = decode([b"data: hello\n\nevent: ping\ndata: {}\n\n"])
    assert evs == [SSEEvent("message", "hello"), SSEEvent("ping", "{}")]


def test_multiline_data_joined_with_newline():
    assert decode([b"data: a\ndata: b\ndata\n\n"]) == [SSEEvent("message", "a\nb\n")]


def test_comments_are_counted_not_dispatched():
    dec = SSEDecoder()
    evs = dec.feed(b": OPENROUTER PROCESSING\n\n: keep-alive\ndata: x\n\n")
    assert evs == [SSEEvent("message", "x")]
    assert dec.comments == 2


def test_crlf_and_cr_line_endings():
    assert decode([b"data: a\r\n\r\ndata: b\r\rdata: c\n\n"]) == [
        SSEEvent("message", "a"),
        SSEEvent("message", "b"),
        SSEEvent("message", "c"),
    ]


def test_crlf_split_between_chunks_is_one_line_ending():
    # "data: a\r" | "\ndata: b\n\n": the CR and the LF that arrives in the next chunk are one
    # line ending, so both data lines belong to one event; read as two endings, the blank
    # line between them would dispatch "a" on its own.
    assert decode([b"data: a\r", b"\ndata: b\n\n"]) == [SSEEvent("message", "a\nb")]
    assert decode([b"data: a\r", b"\n\r", b"\n"]) == [SSEEvent("message", "a")]


def test_cr_then_cr_is_two_line_endings():
    assert decode([b"data: a\r", b"\rdata: b\r\r"]) == [SSEEvent("message", "a"), SSEEvent("message", "b")]


def test_utf8_character_split_between_chunks():
    data = "data: héllo → 世界 🎉\n\n".encode()
    assert decode(every_byte(data)) == [SSEEvent("message", "héllo → 世界 🎉")]


def test_bom_stripped_only_at_start_even_when_split():
    data = b"\xef\xbb\xbfdata: x\n\n"
    assert decode(every_byte(data)) == [SSEEvent("message", "x")]
    # Only the first BOM is stripped: later, it makes the field name unknown.
    assert decode([b"data: x\n\n\xef\xbb\xbfdata: y\n\n"]) == [SSEEvent("message", "x")]


def test_missing_final_newline_still_dispatches_last_event():
    assert decode([b"data: one\n\ndata: two"]) == [SSEEvent("message", "one"), SSEEvent("message", "two")]


def test_id_and_retry_fields():
    dec = SSEDecoder()
    evs = dec.feed(b"id: 7\nretry: 1500\ndata: x\n\nretry: soon\nid: a\x00b\ndata: y\n\n")
    assert [e.id for e in evs] == ["7", "7"]  # id with NUL ignored
    assert dec.retry == 1500  # non-digit retry ignored
    assert dec.last_event_id == "7"


def test_event_without_data_is_not_dispatched_and_type_resets():
    assert decode([b"event: foo\n\ndata: x\n\n"]) == [SSEEvent("message", "x")]


def test_field_without_space_and_unknown_fields():
    assert decode([b"data:tight\nfoo: bar\n\n"]) == [SSEEvent("message", "tight")]


def test_invalid_utf8_is_replaced_not_raised():
    evs = decode([b"data: \xff\xfe ok\n\n"])
    assert evs[0].data == "\ufffd\ufffd ok"


STREAM_PIECES = st.lists(
    st.sampled_from(
        [
            b"data: {\"a\": 1}\n",
            b"data: line\r\n",
            b"event: delta\n",
            b": keep-alive\n",
            b"\n",
            b"\r\n",
            b"\r",
            b"id: 42\n",
            b"retry: 10\n",
            "data: ünï 世\n".encode(),
            b"data\n",
        ]
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(pieces=STREAM_PIECES, cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=30))
def test_any_chunking_gives_the_same_events(pieces, cuts):
    data = b"".join(pieces)
    whole = decode([data])
    points = sorted({c % (len(data) + 1) for c in cuts})
    chunks, prev = [], 0
    for p in points:
        chunks.append(data[prev:p])
        prev = p
    chunks.append(data[prev:])
    assert decode(chunks) == whole
    assert decode(every_byte(data)) == whole


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=500), cut=st.integers(min_value=0, max_value=500))
def test_random_bytes_never_raise_and_split_is_stable(data, cut):
    whole = decode([data])
    cut %= len(data) + 1
    assert decode([data[:cut], data[cut:]]) == whole


def test_a_long_line_in_many_chunks_is_one_event() -> None:
    """A multi-megabyte data line (a long tool argument, a big JSON chunk) arriving in many
    reads, with a UTF-8 character and a CRLF torn between them, is one event, intact."""
    text = ("é" + "x" * 997 + "\u20ac") * 3000  # ~3 MB of UTF-8, each 3-byte "€" and 2-byte "é"
    body = b"event: big\r\ndata: " + text.encode() + b"\r\ndata: tail\r\n\r\n"
    dec = SSEDecoder()
    events = []
    size = 4093  # odd, so chunk edges fall inside multi-byte characters and the CRLF
    for i in range(0, len(body), size):
        events += dec.feed(body[i : i + size])
    events += dec.flush()
    assert len(events) == 1
    assert events[0].event == "big" and events[0].data == text + "\ntail"

"""Incremental Server-Sent Events decoder (WHATWG "event stream" rules).

Fed raw network chunks in any split: a CRLF torn between two chunks, a UTF-8 character
torn between two chunks, a BOM at the start, comments and keep-alives, multi-line
``data:``. Works on bytes and splits on newlines with ``bytes.split`` (C speed); a line
is only decoded once it is complete, so a torn UTF-8 sequence is never decoded early.

Linear in the size of a line however it is split: the unfinished line is kept as a
list of chunks (joined once, when its newline arrives) and only each new chunk is
searched for a newline — a 50 MB line arriving in 64 KiB reads costs what splitting
it in one piece does (``benchmarks/stream_decode.py``).

One deliberate leniency: at end of stream, an event whose blank line never came is
still dispatched (the spec drops it). Servers that forget the final newline are common,
and dropping the last event would lose the finish reason or usage.
"""

from __future__ import annotations

__all__ = ["SSEEvent", "SSEDecoder"]

_BOM = b"\xef\xbb\xbf"
_BIG = 1 << 16  # a data line past this size is decoded through a memoryview (no slice copy)


class SSEEvent:
    """One dispatched event. ``event`` defaults to ``"message"`` per the spec."""

    __slots__ = ("event", "data", "id", "retry")

    def __init__(self, event: str, data: str, id: str | None = None, retry: int | None = None) -> None:
        self.event = event
        self.data = data
        self.id = id
        self.retry = retry

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SSEEvent):
            return NotImplemented
        return (self.event, self.data, self.id, self.retry) == (other.event, other.data, other.id, other.retry)

    def __repr__(self) -> str:
        return f"SSEEvent(event={self.event!r}, data={self.data!r}, id={self.id!r}, retry={self.retry!r})"


class SSEDecoder:
    """Turns chunks of bytes into :class:`SSEEvent` objects.

    Usage: ``for ev in decoder.feed(chunk): ...`` for every chunk, then
    ``decoder.flush()`` once the stream has ended.

    ``last_event_id`` keeps the id for reconnection; ``comments`` counts comment lines
    (keep-alives) so callers can tell a live-but-quiet server from a dead one.
    """

    __slots__ = ("_parts", "_started", "_pending_cr", "_event", "_data", "_has_data", "last_event_id", "retry", "comments")

    def __init__(self) -> None:
        self._parts: list[bytes] = []  # the unfinished line, as it arrived
        self._started = False
        self._pending_cr = False
        self._event = ""
        self._data: list[str] = []
        self._has_data = False
        self.last_event_id: str | None = None
        self.retry: int | None = None
        self.comments = 0

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if not chunk:
            return []
        if not self._started:
            chunk = b"".join(self._parts) + chunk
            self._parts = []
            if len(chunk) < 3 and _BOM.startswith(chunk):
                self._parts = [chunk]  # could still be a BOM torn across chunks
                return []
            if chunk.startswith(_BOM):
                chunk = chunk[3:]
            self._started = True
            if not chunk:
                return []
        if self._pending_cr:
            # The previous chunk ended in CR: a LF starting this chunk belongs to it.
            self._pending_cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
                if not chunk:
                    return []
        if b"\r" in chunk:
            if chunk[-1:] == b"\r":
                self._pending_cr = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if b"\n" not in chunk:  # only the new bytes are searched
            self._parts.append(chunk)
            return []
        lines = chunk.split(b"\n")
        parts = self._parts
        payload: bytes | None = None
        if parts:
            parts.append(lines[0])
            first = parts[0]
            # A data line that spanned chunks (a long one) is joined without its field
            # name, so the payload starts the buffer and decodes at the speed of an
            # aligned copy (from offset 6 it is ~45% slower). Only when the first part
            # shows whether a space follows the colon.
            start = 6 if first.startswith(b"data: ") else 5 if first.startswith(b"data:") and len(first) > 5 else 0
            if start:
                parts[0] = first[start:]
                payload = b"".join(parts)
                del lines[0]
            else:
                lines[0] = b"".join(parts)
            parts.clear()
        tail = lines.pop()
        if tail:
            parts.append(tail)
        if payload is None:
            return self._process(lines)
        self._data.append(payload.decode("utf-8", "replace"))
        self._has_data = True
        return self._process(lines)

    def flush(self) -> list[SSEEvent]:
        """End of stream: process a last unterminated line and dispatch what is pending."""
        buf = b"".join(self._parts)
        self._parts = []
        if not self._started:
            self._started = True
            if _BOM.startswith(buf):
                buf = b""
        self._pending_cr = False
        events = self._process([buf]) if buf else []
        if self._has_data:
            events.extend(self._process([b""]))
        return events

    def _process(self, lines: list[bytes]) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        data = self._data
        for raw in lines:
            if not raw:
                if self._has_data:
                    out.append(SSEEvent(self._event or "message", "\n".join(data), self.last_event_id, None))
                    data.clear()
                    self._has_data = False
                self._event = ""
                continue
            if raw.startswith(b"data:"):
                start = 6 if raw.startswith(b"data: ") else 5
                if len(raw) > _BIG:  # no copy of a long line before decoding it
                    data.append(str(memoryview(raw)[start:], "utf-8", "replace"))
                else:
                    data.append(raw[start:].decode("utf-8", "replace"))
                self._has_data = True
                continue
            if raw[:1] == b":":
                self.comments += 1
                continue
            line = raw.decode("utf-8", "replace")
            name, sep, value = line.partition(":")
            if sep and value[:1] == " ":
                value = value[1:]
            if name == "data":  # "data" with no colon: an empty data line
                data.append(value)
                self._has_data = True
            elif name == "event":
                self._event = value
            elif name == "id":
                if "\x00" not in value:
                    self.last_event_id = value
            elif name == "retry":
                if value.isascii() and value.isdigit():
                    self.retry = int(value)
            # any other field is ignored, as the spec says
        return out

"""Incremental Server-Sent Events decoder (WHATWG "event stream" rules).

Fed raw network chunks in any split: a CRLF torn between two chunks, a UTF-8 character
torn between two chunks, a BOM at the start, comments and keep-alives, multi-line
``data:``. Works on bytes and splits on newlines with ``bytes.split`` (C speed); a line
is only decoded once it is complete, so a torn UTF-8 sequence is never decoded early.

One deliberate leniency: at end of stream, an event whose blank line never came is
still dispatched (the spec drops it). Servers that forget the final newline are common,
and dropping the last event would lose the finish reason or usage.
"""

from __future__ import annotations

__all__ = ["SSEEvent", "SSEDecoder"]

_BOM = b"\xef\xbb\xbf"


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

    __slots__ = ("_buf", "_started", "_pending_cr", "_event", "_data", "_has_data", "last_event_id", "retry", "comments")

    def __init__(self) -> None:
        self._buf = b""
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
            chunk = self._buf + chunk
            self._buf = b""
            if len(chunk) < 3 and _BOM.startswith(chunk):
                self._buf = chunk  # could still be a BOM torn across chunks
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
        if b"\r" in chunk:
            if chunk[-1:] == b"\r":
                self._pending_cr = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buf = self._buf + chunk if self._buf else chunk
        if b"\n" not in buf:
            self._buf = buf
            return []
        lines = buf.split(b"\n")
        self._buf = lines.pop()
        return self._process(lines)

    def flush(self) -> list[SSEEvent]:
        """End of stream: process a last unterminated line and dispatch what is pending."""
        buf, self._buf = self._buf, b""
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
            if raw[:5] == b"data:":
                payload = raw[6:] if raw[5:6] == b" " else raw[5:]
                data.append(payload.decode("utf-8", "replace"))
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

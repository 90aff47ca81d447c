"""One message of the transcript: a user prompt, an answer, reasoning, a notice or an error.

Streaming design (see DESIGN.md, "The TUI"): a Textual ``Markdown`` widget costs about
1 ms of layout per mounted block on every append, and a large one stalls the event loop
for hundreds of milliseconds. So an answer being streamed is split into *pieces*:

- the tail is one live ``Markdown`` fed through ``Markdown.get_stream()``, written once
  per frame with everything that arrived since the last frame (:meth:`MessageView.flush`),
  at most :attr:`MessageView.FRAME_BUDGET` characters per frame;
- once the tail holds ~1,200 characters, the part before the last safe block boundary
  (a blank line outside a code fence, see :class:`Segmenter`) is *frozen*: appended to
  the message's one :class:`FrozenMarkdown` — a leaf widget that renders each piece once
  with Rich and paints from cached lines — and the live widget keeps only the rest.

So the live document stays a few blocks however long the answer gets, the number of
widgets does not grow with it, and a finished message holds no live Markdown at all
(:meth:`MessageView.finish`). ``benchmarks/tui_stream.py`` measures the result.

The text lives on a :class:`MessageItem` (the transcript's history), not on the widget:
a finished message can be unmounted and built again from its item, pieces and all.
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_right
from collections import OrderedDict, deque
from typing import Literal

from rich.console import Console
from rich.markdown import Markdown as RichMarkdown
from rich.segment import Segment
from rich.style import Style
from textual.app import ComposeResult
from textual.content import Content
from textual.geometry import Size
from textual.highlight import highlight
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream

from agentic_flow.tui.widgets.render_caches import drop_render_caches, subtree
from agentic_flow.tui.widgets.transcript_item import TranscriptItem

__all__ = ["MessageView", "MessageItem", "FrozenMarkdown", "Role", "Segmenter", "warm_up_renderers"]

Role = Literal["user", "assistant", "thinking", "notice", "warning", "error"]

_LABELS: dict[str, str] = {
    "user": "you",
    "assistant": "",
    "thinking": "thinking",
    "notice": "",
    "warning": "",
    "error": "",
}


class Segmenter:
    """Finds where a streamed Markdown text can be cut into independent pieces.

    A cut is safe after a blank line that is not inside a fenced code block. A fence
    longer than ``hard`` characters is cut at a line end, closing the fence in the first
    piece and reopening it (same info string) in the rest, so neither piece is broken.

    Each character is scanned once however the text is cut (a whole answer given to
    :meth:`add` at once, then cut into hundreds of pieces, costs what its length does).

    Args:
        soft: cut at the last safe place once the text is at least this long.
        hard: cut even without a blank line once the text is this long.
    """

    COMPACT = 1 << 16

    def __init__(self, soft: int = 3000, hard: int = 8000) -> None:
        self.soft = soft
        self.hard = hard
        self._buf = ""
        self._start = 0  # where the unfinished text begins in _buf
        self._prefix = ""  # a code fence reopened by a hard cut, shown before it
        self._scanned = 0  # first character of the first unscanned (incomplete) line
        self._fence: str | None = None  # the opening fence line while inside one
        self._cuts: deque[int] = deque()  # safe cuts past _start, in _buf

    @property
    def text(self) -> str:
        """The unfinished text (what no piece has taken yet)."""
        return self._prefix + self._buf[self._start :]

    @property
    def source_text(self) -> str:
        """:attr:`text` as it was added (without a code fence reopened by a cut)."""
        return self._buf[self._start :]

    def add(self, fragment: str) -> None:
        self._buf += fragment
        text = self._buf
        start = self._scanned
        while True:
            end = text.find("\n", start)
            if end < 0:
                break
            line = text[start:end]
            self._scan_line(line)
            start = end + 1
            if self._fence is None and not line.strip():
                self._cuts.append(start)
        self._scanned = start

    def _scan_line(self, line: str) -> None:
        stripped = line.strip()
        if self._fence is None:
            if stripped.startswith("```") or stripped.startswith("~~~"):
                self._fence = stripped
        else:
            char = self._fence[0]
            width = len(self._fence) - len(self._fence.lstrip(char))
            if stripped.startswith(char * width) and not stripped.strip(char):
                self._fence = None

    def take(self) -> str | None:
        """The next finished piece, removed from :attr:`text`; None when none is ready."""
        size = len(self._prefix) + len(self._buf) - self._start
        if size < self.soft:
            return None
        if self._cuts:
            # The first cut past ``soft`` keeps pieces small even when a burst of text
            # arrives at once; else the last cut there is, if it is within ``hard``.
            least = self._start + self.soft - len(self._prefix)
            best = None
            for cut in self._cuts:
                if cut - self._start > self.hard:
                    break
                best = cut
                if cut >= least:
                    break
            if best is not None:
                return self._split(best)
            # The nearest safe cut is past ``hard`` (a long code block): cut harder.
        if size < self.hard:
            return None
        line_end = self._scanned
        if line_end - self._start > self.hard:  # a burst: cut near ``hard``, not at its end
            near = self._buf.rfind("\n", self._start, self._start + self.hard) + 1
            if near > self._start:
                return self._hard_cut(near)
        if self._fence is not None and line_end > self._start:
            char = self._fence[0]
            width = len(self._fence) - len(self._fence.lstrip(char))
            piece = self._prefix + self._buf[self._start : line_end] + char * width + "\n"
            self._advance(line_end)
            self._prefix = self._fence + "\n"
            return piece
        # One endless paragraph: cut at a line end, else at a space, else anywhere.
        if line_end > self._start:
            at = line_end
        else:
            at = self._buf.rfind(" ", self._start) + 1 or len(self._buf)
        return self._split(at)

    def _hard_cut(self, at: int) -> str:
        """Cut at line end ``at`` with no blank line before it: inside a code fence the
        fence is closed in the piece and reopened in the rest."""
        fence = self._fence_at(at)
        if fence is None:
            return self._split(at)
        char = fence[0]
        width = len(fence) - len(fence.lstrip(char))
        piece = self._prefix + self._buf[self._start : at] + char * width + "\n"
        self._advance(at)
        self._prefix = fence + "\n"
        return piece

    def _fence_at(self, at: int) -> str | None:
        """The code fence open at line end ``at`` (scanning from the piece's start)."""
        fence = self._prefix.rstrip("\n") or None
        for line in self._buf[self._start : at].splitlines():
            stripped = line.strip()
            if fence is None:
                if stripped.startswith("```") or stripped.startswith("~~~"):
                    fence = stripped
            else:
                char = fence[0]
                width = len(fence) - len(fence.lstrip(char))
                if stripped.startswith(char * width) and not stripped.strip(char):
                    fence = None
        return fence

    def _split(self, at: int) -> str:
        piece = self._prefix + self._buf[self._start : at]
        self._prefix = ""
        self._advance(at)
        return piece

    def _advance(self, at: int) -> None:
        self._start = at
        cuts = self._cuts
        while cuts and cuts[0] <= at:
            cuts.popleft()
        if at > self.COMPACT and at * 2 > len(self._buf):  # drop what was taken, now and then
            self._buf = self._buf[at:]
            self._scanned -= at
            self._cuts = deque(c - at for c in cuts)
            self._start = 0


class FrozenMarkdown(Widget):
    """Finished Markdown of one message, painted from a small cache of rendered lines.

    A ``Static`` holding a Rich renderable re-renders all of it on every paint, and one
    widget per piece makes every relayout and restyle walk them all. This is one leaf
    widget per message that keeps, per piece of text, only its height at the current
    width; the rendered lines of the last few pieces painted are kept in a small LRU
    cache. So memory and the number of long-lived objects (which every full garbage
    collection — an event-loop stall — has to walk) do not grow with the answer's
    length. :meth:`append` renders only the new piece; a width change (a resize)
    measures every piece again.
    """

    DEFAULT_CSS = """
    FrozenMarkdown {
        height: auto;
    }
    """

    CACHED_PIECES = 8
    MAX_LINES = 5000
    """Past this height the oldest pieces leave the screen (the session keeps them): the
    compositor's cost per frame grows with the height of what is mounted."""

    def __init__(self, pieces: list[str] | None = None, *, classes: str | None = None, width_hint: int = -1) -> None:
        super().__init__(classes=classes)
        self.pieces: list[str] = list(pieces or [])
        self.hidden_pieces = 0  # the first pieces, no longer shown
        self.width_hint = width_hint
        """The width this widget will most likely be laid out at (a continued message's
        is its predecessor's): pieces appended before the first layout are rendered at
        it there and then, not all at once in the first layout (a frame-long stall)."""
        self._width = -1
        self._heights: list[int] = []  # of the shown pieces, at ``_width``
        self._starts: list[int] = []  # first line of each shown piece
        self._height = 0
        self._cache: OrderedDict[int, list[list[Segment]]] = OrderedDict()
        self._style_key: tuple[object, ...] = ()

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def line_count(self) -> int:
        """Lines shown at the last known width (0 before the first layout)."""
        return self._height

    def _render_piece(self, index: int, width: int) -> list[list[Segment]]:
        """Lines of piece ``index`` (a blank gap line first, except for the very first)."""
        lines = self._cache.get(index)
        if lines is not None:
            self._cache.move_to_end(index)
            return lines
        console = self.app.console
        options = console.options.update(width=max(1, width), height=None, highlight=False)
        renderable = RichMarkdown(self.pieces[index], code_theme="ansi_dark", hyperlinks=False)
        lines = console.render_lines(renderable, options, style=self.rich_style, pad=True)
        while lines and not any(seg.text.strip() for seg in lines[-1]):
            lines.pop()
        if index > 0 and lines:
            lines.insert(0, [Segment(" " * width, self.rich_style)])
        self._cache[index] = lines
        while len(self._cache) > self.CACHED_PIECES:
            self._cache.popitem(last=False)
        return lines

    def _relayout(self) -> None:
        """Hide the oldest pieces past :attr:`MAX_LINES`; place the rest."""
        total = sum(self._heights)
        while total > self.MAX_LINES and len(self._heights) > 1:
            total -= self._heights.pop(0)
            self.hidden_pieces += 1
        y = 1 if self.hidden_pieces else 0  # a line saying what is hidden
        starts: list[int] = []
        for height in self._heights:
            starts.append(y)
            y += height
        self._starts = starts
        self._height = y

    def _layout_at(self, width: int) -> None:
        if width != self._width:
            self._width = width
            self._style_key = self._current_style_key()
            self._cache.clear()
            self._heights = [len(self._render_piece(i, width)) for i in range(self.hidden_pieces, len(self.pieces))]
            self._relayout()

    def drop_caches(self) -> None:
        """Removed: let go of the rendered pieces (see :mod:`tui.widgets.render_caches`)."""
        self._cache.clear()

    @property
    def width(self) -> int:
        """The width the pieces are rendered at (-1: not known yet)."""
        return self._width

    def append(self, text: str) -> None:
        """Add a finished piece; only it is rendered."""
        if self._width <= 0 and self.width_hint > 0 and self.is_mounted:
            self._layout_at(self.width_hint)  # the pieces so far; a layout at another width renders again
        self.pieces.append(text)
        if self._width > 0:
            self._heights.append(len(self._render_piece(len(self.pieces) - 1, self._width)))
            self._relayout()
        self.refresh(layout=True)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        self._layout_at(width)
        return self._height

    def notify_style_update(self) -> None:
        super().notify_style_update()
        # A theme change alters the base style: render again. Other restyles (a class
        # toggled on an ancestor) must not re-render every piece.
        if self._style_key != self._current_style_key():
            self._width = -1

    def _current_style_key(self) -> tuple[object, ...]:
        return (self.rich_style, self.app.current_theme.name if self.is_attached else None)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        self._layout_at(width)
        if y == 0 and self.hidden_pieces:
            hidden = sum(len(piece) for piece in self.pieces[: self.hidden_pieces])
            note = f"… {hidden:,} earlier characters not shown (the session keeps them)"
            style = self.rich_style + Style(italic=True, dim=True)
            return Strip([Segment(note[:width].ljust(width), style)], width)
        if 0 <= y < self._height and self._starts:
            shown = bisect_right(self._starts, y) - 1
            if shown >= 0:
                lines = self._render_piece(self.hidden_pieces + shown, width)
                offset = y - self._starts[shown]
                if offset < len(lines):
                    return Strip(lines[offset], width)
        return Strip.blank(width, self.rich_style)


def warm_up_renderers(console: object) -> None:
    """Load what the first streamed answer would otherwise load mid-stream.

    Rich's Markdown and Pygments' lexers (code fences) import and compile on first use,
    a 100 ms stall in the first answer; the session screen calls this while it opens.
    """

    sample = "# t\n\n**b** `c`\n\n- i\n\n```python\ndef f(x):\n    return x\n```\n"
    if isinstance(console, Console):
        console.render_lines(RichMarkdown(sample, code_theme="ansi_dark"), console.options.update_width(40))
    highlight("def f(x):\n    return x\n", language="python")


class MessageItem(TranscriptItem):
    """A message of the transcript's history: who speaks and what was said.

    Args:
        role: who or what speaks (``user``, ``assistant``, ``thinking``, ``notice``...).
        text: the full text of a message that does not stream.
        streaming: the text arrives later, through a :class:`MessageView` (``feed``).
        markdown: render as Markdown (default for answers and reasoning) or as plain text.
    """

    kind = "message"

    def __init__(
        self,
        role: Role,
        text: str = "",
        *,
        streaming: bool = False,
        markdown: bool | None = None,
        continues: bool = False,
    ) -> None:
        super().__init__()
        self.role: Role = role
        self.continues = continues
        """This item carries on the message of the item before it (a long answer is split
        into items of at most about :attr:`MessageView.MAX_VIEW_CHARS` characters, so its beginning
        can be unmounted and mounted again like any other item)."""
        self.markdown = markdown if markdown is not None else role in ("assistant", "thinking")
        self.chunks: list[str] = [text] if text else []
        """Everything received, in order."""
        self.pieces: list[str] = [text] if text and not streaming else []
        """The finished text cut at block boundaries, as :class:`FrozenMarkdown` shows it."""
        self.finished = not streaming
        self.stopped = False
        """The user stopped the answer: the text is partial."""
        self.folded = role == "thinking"
        """Finished reasoning shows its first lines only, until clicked."""

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    @property
    def live(self) -> bool:
        return not self.finished

    def build(self) -> "MessageView":
        return MessageView(self.role, item=self)


class MessageView(Widget):
    """A message in the transcript; an ``assistant`` or ``thinking`` one can stream.

    Args:
        role: who or what speaks; also a CSS class (``-user``, ``-assistant``...).
        text: the full text of a message that does not stream.
        streaming: start empty and grow with :meth:`feed` / :meth:`flush`.
        markdown: render ``text`` as Markdown (answers) or as plain text (prompts, notices).
        item: show this history item instead (``role``, ``text``... are then taken from it);
            a finished item is shown static, an unfinished one streams.
    """

    # Horizontal padding sits on the leaves, not on this container: a container's
    # padding moves its children's edges, and every edge is a cut the compositor splits
    # each painted line at — measurably slower frames while an answer streams.
    DEFAULT_CSS = """
    MessageView {
        height: auto;
        margin: 0 0 1 0;
    }
    MessageView > .label {
        color: $text-muted;
        text-style: bold;
        padding: 0 1;
    }
    MessageView.-user {
        background: $boost;
        border-left: thick $primary;
    }
    MessageView.-user > .label {
        color: $primary;
    }
    MessageView.-thinking {
        color: $text-muted;
        text-style: italic;
        border-left: thick $secondary 50%;
    }
    MessageView.-notice {
        color: $text-muted;
        margin: 0;
    }
    MessageView.-warning {
        color: $warning;
        border-left: thick $warning;
    }
    MessageView.-error {
        color: $error;
        background: $error 10%;
        border-left: thick $error;
    }
    MessageView > Markdown {
        margin: 0;
        padding: 0 1;
        background: transparent;
    }
    MessageView > Markdown > MarkdownBlock:last-child {
        margin-bottom: 0;
    }
    MessageView > .segment {
        margin: 0;
        padding: 0 1;
    }
    MessageView.-stopped {
        border-bottom: hkey $warning;
    }
    MessageView.-folded {
        max-height: 4;
        overflow: hidden;
    }
    """

    # Measured with benchmarks/tui_stream.py and tui_session.py: writing a big batch
    # into the live Markdown (parse + mount of many blocks, each restyled, laid out and
    # later garbage) costs far more than rendering it frozen. So the live widget keeps
    # only the unfinished tail: a backlog bypasses it, a trickle (real network speed)
    # streams through it and is frozen paragraph by paragraph.
    SOFT_LIMIT = 1200
    """Freeze the live text at a block boundary once it holds this many characters."""
    HARD_LIMIT = 8000
    """Cut one growing block (a huge code fence) at a line end past this size."""
    FRAME_BUDGET = 3000
    SLICE_SECONDS = 0.02
    """Finishing a long backlog yields to the event loop after this much work."""
    MAX_VIEW_CHARS = 24_000
    """A streamed message holding this much frozen text (~400 lines) is continued in a
    new item (see :attr:`full`): Textual's layout costs grow with the height of one
    widget (its spatial map: ~100 ms a frame for a 5,000-line answer), and items,
    unlike the lines of one widget, can leave the screen and come back."""
    """Most characters one frame takes on; a burst beyond it is spread over frames."""

    def __init__(
        self,
        role: Role,
        text: str = "",
        *,
        streaming: bool = False,
        markdown: bool | None = None,
        id: str | None = None,
        item: MessageItem | None = None,
    ) -> None:
        if item is None:
            item = MessageItem(role, text, streaming=streaming, markdown=markdown)
        super().__init__(id=id, classes=f"-{item.role}" + (" -continues" if item.continues else ""))
        self.item = item
        self.role = item.role
        self.streaming = not item.finished
        self.markdown = item.markdown
        self._pending: list[str] = []  # received since the last frame
        self._live: Markdown | None = None
        self._stream: MarkdownStream | None = None
        self._segmenter = Segmenter(soft=self.SOFT_LIMIT, hard=self.HARD_LIMIT)  # the live text
        self._frozen_view: FrozenMarkdown | None = None
        self._behind = False  # the live widget shows less than the segmenter holds
        self._frozen_chars = 0
        self._width_hint = -1  # for the frozen view (a continued message: its predecessor's width)
        self._lock = asyncio.Lock()
        self._finished = item.finished
        if self.streaming and item.chunks:
            self._pending.append(item.text)  # built again mid-stream: show what came so far
        if item.stopped:
            self.add_class("-stopped")
        if item.finished and item.folded:
            self.add_class("-folded")

    # -- composition ------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        label = _LABELS.get(self.role, "") if not self.item.continues else ""
        if label and self.role == "thinking" and self.item.finished:
            label = _fold_label(self.item)
        if label:
            yield Static(label, classes="label", markup=False)
        item = self.item
        if self.streaming:
            self._live = Markdown("", classes="live")
            yield self._live
        elif item.chunks:
            if self.markdown:
                self._frozen_view = FrozenMarkdown(item.pieces or [item.text], classes="segment")
                yield self._frozen_view
            else:
                yield Static(Content(item.text), classes="segment")
        if item.stopped:
            yield _stopped_label()

    async def _freeze(self, piece: str) -> None:
        """Move a finished piece into the message's one static widget."""
        self._frozen_chars += len(piece)
        if self._frozen_view is None:
            self._frozen_view = FrozenMarkdown([piece], classes="segment", width_hint=self._width_hint)
            if self._live is not None:
                await self.mount(self._frozen_view, before=self._live)
            else:
                await self.mount(self._frozen_view)
        else:
            self._frozen_view.append(piece)

    # -- streaming --------------------------------------------------------------------
    @property
    def text(self) -> str:
        """Everything this message holds so far, pending text included."""
        return self.item.text

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def has_live_markdown(self) -> bool:
        return self._live is not None

    def feed(self, text: str) -> None:
        """Queue text; it is shown on the next :meth:`flush` (once per frame)."""
        if self._finished:
            raise RuntimeError("this message is finished")
        if text:
            self._pending.append(text)
            self.item.chunks.append(text)

    @property
    def has_pending(self) -> bool:
        return bool(self._pending)

    @property
    def full(self) -> bool:
        """The frozen part reached :attr:`MAX_VIEW_CHARS`: continue in a new message."""
        return not self._finished and self._frozen_chars >= self.MAX_VIEW_CHARS

    def split_off(self) -> "MessageView":
        """Stop taking text here: what was received and not frozen yet moves to a new,
        unmounted message that continues this one (call :meth:`finish` on this one next).

        The items of a continued message hold its text exactly once, in order.
        """
        shown = self._segmenter.text + "".join(self._pending)
        source = self._segmenter.source_text + "".join(self._pending)
        self._segmenter = Segmenter(soft=self.SOFT_LIMIT, hard=self.HARD_LIMIT)
        self._pending.clear()
        if source:
            text = self.item.text
            self.item.chunks = [text[: len(text) - len(source)]]
        item = MessageItem(self.role, source, streaming=True, markdown=self.markdown, continues=True)
        view = MessageView(self.role, item=item)
        view._pending = [shown] if shown else []
        frozen = self._frozen_view
        view._width_hint = frozen.width if frozen is not None and frozen.width > 0 else self._width_hint
        return view

    async def flush(self) -> None:
        """Write what arrived since the last frame to the live Markdown (one append)."""
        async with self._lock:
            await self._flush_locked()

    async def _flush_locked(self) -> None:
        if not self._pending or self._finished or self._live is None:
            return
        batch = "".join(self._pending)
        self._pending.clear()
        if len(batch) > self.FRAME_BUDGET:
            # More arrived than one frame should take on: the rest waits a frame, so
            # a burst never turns into one long stall.
            batch, rest = batch[: self.FRAME_BUDGET], batch[self.FRAME_BUDGET :]
            self._pending.append(rest)
        self._segmenter.add(batch)
        pieces: list[str] = []
        while (piece := self._segmenter.take()) is not None:
            pieces.append(piece)
        if not pieces:
            if self._behind:  # the live widget was emptied: show the whole unfinished text
                self._behind = False
                await self._live.update(self._segmenter.text)
                return
            if self._stream is None:
                self._stream = Markdown.get_stream(self._live)
            await self._stream.write(batch)
            return
        # Finished pieces go straight to the static widget (never mounted as live
        # blocks). The unfinished rest (less than a paragraph) is shown from the next
        # frame that cuts nothing: while text arrives faster than frames, every frame
        # cuts, and mounting the rest only to remove it a frame later was most of the
        # cost of a fast stream.
        for piece in pieces:
            await self._freeze(piece)
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        if self._live.children:
            await self._live.update("")
        self._behind = bool(self._segmenter.text)

    def on_click(self) -> None:
        """Finished reasoning folds and unfolds on a click."""
        item = self.item
        if self.role != "thinking" or not self._finished:
            return
        item.folded = not item.folded
        self.set_class(item.folded, "-folded")
        labels = self.query(".label")
        if labels:
            labels.first(Static).update(_fold_label(item))

    async def finish(self, *, stopped: bool = False) -> "MessageView | None":
        """Flush, then turn the live Markdown into a cheap static renderable.

        Returns None, or, when a long backlog did not fit (past :attr:`MAX_VIEW_CHARS`),
        an unmounted message holding the rest (see :meth:`split_off`): the caller mounts
        it and finishes it in turn.
        """
        async with self._lock:
            if self._finished:
                return None
            if self._stream is not None:
                await self._stream.stop()
                self._stream = None
            # What is still pending goes straight to the static widget, cut into
            # pieces as a stream would have been: never through the live widget.
            self._segmenter.add("".join(self._pending))
            self._pending.clear()
            slice_start = time.perf_counter()
            overflow: MessageView | None = None
            while (piece := self._segmenter.take()) is not None:
                await self._freeze(piece)
                if self._frozen_chars >= self.MAX_VIEW_CHARS and self._segmenter.text:
                    overflow = self.split_off()
                    break
                if time.perf_counter() - slice_start > self.SLICE_SECONDS:
                    await asyncio.sleep(0)  # a long backlog: let frames and keys in between
                    slice_start = time.perf_counter()
            rest = self._segmenter.text
            self._segmenter = Segmenter()
            if rest.strip() or (rest and self._frozen_view is not None):
                await self._freeze(rest)
            live, self._live = self._live, None
            if live is not None:
                nodes = subtree([live])
                await live.remove()
                drop_render_caches(nodes)
            self._finished = True
            item = self.item
            if item.folded:
                self.add_class("-folded")
                labels = self.query(".label")
                if labels:
                    labels.first(Static).update(_fold_label(item))
            item.pieces = list(self._frozen_view.pieces) if self._frozen_view is not None else []
            item.chunks = [item.text] if item.chunks else []  # one string, not one per token
            item.finished = True
            if stopped and not overflow:
                item.stopped = True
                self.add_class("-stopped")
                await self.mount(_stopped_label())
            return overflow


def _fold_label(item: MessageItem) -> str:
    lines = item.text.count("\n") + 1
    if item.folded:
        return f"thinking ({lines} lines) · click to show all"
    return "thinking · click to fold"


def _stopped_label() -> Static:
    return Static(Content.from_markup("[b]stopped[/b] — the text above is kept"), classes="label")

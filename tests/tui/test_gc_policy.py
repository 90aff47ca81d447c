"""When the session screen lets full garbage collections run (``GcPolicy``).

Full collections are counted (``gc.collect`` is replaced by a counter) and the clock is
the test's: behaviour only — which turn collects, what a hold does to the thresholds.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from agentic_flow.tui.screens import session as session_module
from agentic_flow.tui.screens.session import GcPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def policy(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[list[int], Clock]]:
    """A fresh policy (its state is class-wide), a counter of full collections, a clock."""
    collections: list[int] = []
    clock = Clock()
    monkeypatch.setattr(session_module.gc, "collect", lambda *args: collections.append(1) or 0)
    monkeypatch.setattr(session_module, "time", SimpleNamespace(monotonic=clock.monotonic))
    for name, value in (("_holds", 0), ("_saved", None), ("_turns", 0), ("_last_collection", clock.now)):
        monkeypatch.setattr(GcPolicy, name, value)
    thresholds = gc.get_threshold()
    try:
        yield collections, clock
    finally:
        gc.set_threshold(*thresholds)


def test_a_hold_stops_the_collectors_own_full_collections_until_the_last_release(policy: tuple[list[int], Clock]) -> None:
    before = gc.get_threshold()
    GcPolicy.hold()
    GcPolicy.hold()  # two panes stream at once
    assert gc.get_threshold()[:2] == before[:2] and gc.get_threshold()[2] >= 1_000_000
    GcPolicy.release()
    assert gc.get_threshold()[2] >= 1_000_000  # the other pane still streams
    GcPolicy.release()
    assert gc.get_threshold() == before
    GcPolicy.release()  # one release too many changes nothing
    assert gc.get_threshold() == before


def test_a_full_collection_every_so_many_turns_and_never_while_held(policy: tuple[list[int], Clock]) -> None:
    collections, clock = policy
    for _ in range(GcPolicy.TURNS_PER_COLLECTION - 1):
        clock.now += 0.1
        assert not GcPolicy.collection_due()
        GcPolicy.turn_ended()
    assert collections == []
    assert GcPolicy.collection_due()
    GcPolicy.hold()  # another pane is streaming: not now...
    GcPolicy.turn_ended()
    assert collections == []
    GcPolicy.release()
    GcPolicy.turn_ended()  # ...but at the next turn's end
    assert collections == [1]
    assert not GcPolicy.collection_due()  # counted afresh


def test_a_long_turn_collects_once_per_slice_of_time(policy: tuple[list[int], Clock]) -> None:
    collections, clock = policy
    GcPolicy.hold()
    clock.now += GcPolicy.SLICE_SECONDS / 2
    GcPolicy.collect_if_due()
    assert collections == []
    clock.now += GcPolicy.SLICE_SECONDS
    GcPolicy.collect_if_due()  # explicit, while the turn streams
    GcPolicy.collect_if_due()
    assert collections == [1]
    assert not GcPolicy.collection_due()  # the turn's end need not collect again at once
    clock.now += GcPolicy.SLICE_SECONDS + 1
    assert GcPolicy.collection_due()  # a long turn: its end collects, whatever the count

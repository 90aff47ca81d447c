"""Concurrency per provider, lowered on 429 and raised again as cells succeed.

Each provider has a cap on cells running at once (``--max-concurrency``, default 4).
When a provider answers 429 — seen as a ``Retrying`` event with status 429 during a
run, or a run that ends rate limited — the cap is halved (at most once per cool-down,
so a burst of 429s from requests already in flight counts once), and no new cell of
that provider starts until its ``Retry-After`` has passed. After ``recover_after``
cells in a row finish without a 429, the cap goes up by one, back to the maximum
(additive increase, multiplicative decrease). Every change is kept in :attr:`history`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

__all__ = ["AdaptiveLimiter", "LimitChange", "DEFAULT_MAX_CONCURRENCY"]

DEFAULT_MAX_CONCURRENCY = 4
MIN_COOLDOWN = 1.0


@dataclass(frozen=True)
class LimitChange:
    provider: str
    old: int
    new: int
    reason: str
    at: float


@dataclass
class _Lane:
    cap: int
    running: int = 0
    paused_until: float = 0.0
    cooldown_until: float = 0.0
    clean_streak: int = 0
    peak_after_lowering: int = 0
    lowered: bool = False


@dataclass
class AdaptiveLimiter:
    """Per-provider slots; ``async with limiter.slot(provider):`` around each cell."""

    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    recover_after: int = 5
    history: list[LimitChange] = field(default_factory=list)
    _lanes: dict[str, _Lane] = field(default_factory=dict)
    _changed: asyncio.Condition | None = None

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise ValueError("--max-concurrency must be 1 or more")

    def _lane(self, provider: str) -> _Lane:
        lane = self._lanes.get(provider)
        if lane is None:
            lane = self._lanes[provider] = _Lane(cap=self.max_concurrency)
        return lane

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    def cap(self, provider: str) -> int:
        return self._lane(provider).cap

    def running(self, provider: str) -> int:
        return self._lane(provider).running

    def peak_after_lowering(self, provider: str) -> int:
        """Most cells of ``provider`` started and running at once since its cap was first lowered."""
        return self._lane(provider).peak_after_lowering

    async def acquire(self, provider: str) -> None:
        cond = self._condition()
        async with cond:
            while True:
                lane = self._lane(provider)
                wait = lane.paused_until - time.monotonic()
                if wait <= 0 and lane.running < lane.cap:
                    lane.running += 1
                    if lane.lowered:
                        lane.peak_after_lowering = max(lane.peak_after_lowering, lane.running)
                    return
                try:
                    await asyncio.wait_for(cond.wait(), timeout=wait if wait > 0 else None)
                except TimeoutError:
                    pass

    async def release(self, provider: str, *, rate_limited: bool = False) -> None:
        cond = self._condition()
        async with cond:
            lane = self._lane(provider)
            lane.running = max(0, lane.running - 1)
            if rate_limited:
                lane.clean_streak = 0
            else:
                lane.clean_streak += 1
                if lane.clean_streak >= self.recover_after and lane.cap < self.max_concurrency:
                    self._change(provider, lane, lane.cap + 1, f"{lane.clean_streak} cells without a 429")
                    lane.clean_streak = 0
            cond.notify_all()

    async def rate_limited(self, provider: str, retry_after: float | None) -> None:
        """``provider`` answered 429: halve its cap (once per cool-down) and pause its new cells."""
        cond = self._condition()
        async with cond:
            lane = self._lane(provider)
            now = time.monotonic()
            pause = max(retry_after or 0.0, 0.0)
            lane.paused_until = max(lane.paused_until, now + pause)
            lane.clean_streak = 0
            if now >= lane.cooldown_until and lane.cap > 1:
                self._change(provider, lane, max(1, lane.cap // 2), f"429 (Retry-After {pause:g} s)")
                lane.lowered = True
            elif not lane.lowered:
                lane.lowered = True
            lane.cooldown_until = now + max(pause, MIN_COOLDOWN)
            cond.notify_all()

    def _change(self, provider: str, lane: _Lane, new: int, reason: str) -> None:
        self.history.append(LimitChange(provider, lane.cap, new, reason, time.monotonic()))
        lane.cap = new

    def slot(self, provider: str) -> _Slot:
        return _Slot(self, provider)


class _Slot:
    def __init__(self, limiter: AdaptiveLimiter, provider: str) -> None:
        self.limiter = limiter
        self.provider = provider
        self.rate_limited = False

    async def __aenter__(self) -> _Slot:
        await self.limiter.acquire(self.provider)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.shield(self.limiter.release(self.provider, rate_limited=self.rate_limited))

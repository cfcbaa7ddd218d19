"""Approximate-time synchronisation of several streams (cameras + joint_states).

Like message_filters' ApproximateTimeSynchronizer, but small and deterministic: a set is
one message per stream whose stamps all lie within `max_skew` seconds. The policy needs
an image and the joint state of (nearly) the same instant; pairing a fresh image with a
stale state teaches and executes the wrong action.

Rule: the *pivot* is the newest of the oldest queued messages (no set can be older than
it). Messages of other streams that are older than `pivot - max_skew` can never match and
are dropped (counted as unsynced); otherwise each stream contributes the queued message
nearest the pivot (or, where that would spread the set wider than `max_skew`, the
latest one at or before the pivot), the set is emitted, and every message up to the chosen
ones is consumed. Stamps of one stream are expected in order; an out-of-order one is dropped.
`prune(now)` drops messages older than `max_age` (counted as stale).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vla_ros.perception.errors import PerceptionError


@dataclass(frozen=True)
class Stamped:
    stamp: float
    item: Any


class ApproximateSync:
    """Match messages of `streams` whose stamps lie within `max_skew` of each other."""

    def __init__(self, streams: Sequence[str], max_skew: float, queue_size: int = 30,
                 max_age: float | None = None) -> None:
        if not streams or len(set(streams)) != len(streams):
            raise PerceptionError(f"sync needs distinct stream names, got {list(streams)}")
        if max_skew < 0:
            raise PerceptionError(f"max_skew must be >= 0, got {max_skew}")
        if queue_size < 1:
            raise PerceptionError(f"queue_size must be >= 1, got {queue_size}")
        self.streams = list(streams)
        self.max_skew = float(max_skew)
        self.max_age = max_age
        self._queues: dict[str, deque[Stamped]] = {s: deque() for s in streams}
        self._last: dict[str, float] = {}
        self._queue_size = queue_size
        self.dropped_unsynced: Counter[str] = Counter()
        self.dropped_stale: Counter[str] = Counter()
        self.dropped_overflow: Counter[str] = Counter()
        self.dropped_out_of_order: Counter[str] = Counter()
        self.matched = 0

    def add(self, stream: str, stamp: float, item: Any) -> list[dict[str, Stamped]]:
        """Queue one message; return the sets (stream → Stamped) it completes, oldest first."""
        queue = self._queues.get(stream)
        if queue is None:
            raise PerceptionError(f"unknown sync stream '{stream}'; streams: {self.streams}")
        if stream in self._last and stamp < self._last[stream]:
            self.dropped_out_of_order[stream] += 1
            return []
        self._last[stream] = stamp
        queue.append(Stamped(float(stamp), item))
        if len(queue) > self._queue_size:
            queue.popleft()
            self.dropped_overflow[stream] += 1
        return self._match()

    def prune(self, now: float) -> int:
        """Drop queued messages older than `now - max_age`; returns how many."""
        if self.max_age is None:
            return 0
        dropped = 0
        for stream, queue in self._queues.items():
            while queue and now - queue[0].stamp > self.max_age:
                queue.popleft()
                self.dropped_stale[stream] += 1
                dropped += 1
        return dropped

    def pending(self, stream: str) -> int:
        return len(self._queues[stream])

    def _match(self) -> list[dict[str, Stamped]]:
        out: list[dict[str, Stamped]] = []
        while all(self._queues.values()):
            pivot = max(q[0].stamp for q in self._queues.values())
            dropped = False
            for stream, queue in self._queues.items():
                while queue and queue[0].stamp < pivot - self.max_skew:
                    queue.popleft()
                    self.dropped_unsynced[stream] += 1
                    dropped = True
            if dropped:
                continue  # a queue may be empty or the pivot may have moved
            picks = {s: _nearest(q, pivot) for s, q in self._queues.items()}
            stamps = [self._queues[s][i].stamp for s, i in picks.items()]
            if max(stamps) - min(stamps) > self.max_skew:
                # nearest-from-either-side spreads too far: take the latest at/before pivot
                picks = {s: _latest_before(q, pivot) for s, q in self._queues.items()}
            chosen: dict[str, Stamped] = {}
            for stream, best in picks.items():
                queue = self._queues[stream]
                chosen[stream] = queue[best]
                for _ in range(best):  # older ones are passed over for a better match
                    queue.popleft()
                    self.dropped_unsynced[stream] += 1
                queue.popleft()
            out.append(chosen)
            self.matched += 1
        return out


def _nearest(queue: deque[Stamped], pivot: float) -> int:
    return min(range(len(queue)), key=lambda i: abs(queue[i].stamp - pivot))


def _latest_before(queue: deque[Stamped], pivot: float) -> int:
    best = 0
    for i, entry in enumerate(queue):
        if entry.stamp > pivot:
            break
        best = i
    return best

"""A deterministic discrete-time rehearsal of chunk execution with inference latency.

Used to compare strategies (tests, `bench/policy_strategies.py`, the table in
docs/remote_policy.md) without threads or wall-clock noise: every tick, chunks whose
inference has finished are pushed, a new inference starts when the executor asks for one
(taking `latency` seconds, one at a time, like one GPU), and the executor is read.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vla_ros.policy.strategies import ChunkExecutor, ChunkLike, ExecutionStats


@dataclass
class SyntheticChunks:
    """A chunked "policy" tracking sinusoids, with an error that differs between chunks.

    Chunk predicted at time s: ref(s + (k + 1) dt) + offset_s + drift * k * slope_s, where
    offset_s and slope_s are random per chunk (reproducible from `seed` and s). The
    per-chunk error is what makes seams jump, as real policies' chunks disagree.
    """

    dims: int = 3
    horizon: int = 20
    dt: float = 0.05
    offset: float = 0.05
    drift: float = 0.002
    seed: int = 0

    def reference(self, t: float | np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)[..., None]
        freq = 0.5 + 0.25 * np.arange(self.dims)
        return np.sin(2 * np.pi * freq * t * 0.2 + np.arange(self.dims))

    def __call__(self, stamp: float) -> ChunkLike:
        rng = np.random.default_rng([self.seed, int(round(stamp * 1e6))])
        times = stamp + (np.arange(self.horizon) + 1) * self.dt
        error = (rng.normal(0.0, self.offset, self.dims)
                 + self.drift * np.arange(self.horizon)[:, None]
                 * rng.normal(0.0, 1.0, self.dims))
        return self.reference(times) + error, stamp, self.dt


@dataclass
class Rehearsal:
    """Outcome of `rehearse`: executed actions (NaN rows where the executor held)."""

    times: np.ndarray
    actions: np.ndarray
    stats: ExecutionStats
    inferences: int


def rehearse(executor: ChunkExecutor, source: Callable[[float], ChunkLike], *,
             duration: float, control_dt: float, latency: float) -> Rehearsal:
    """Tick `executor` for `duration` s at `control_dt` with inference taking `latency` s."""
    if control_dt <= 0 or latency < 0 or duration <= 0:
        raise ValueError(f"need control_dt > 0, latency >= 0, duration > 0; got "
                         f"{control_dt}, {latency}, {duration}")
    ticks = int(math.floor(duration / control_dt + 1e-9)) + 1
    in_flight: tuple[float, ChunkLike] | None = None  # (ready time, chunk)
    times = np.arange(ticks) * control_dt
    rows: list[np.ndarray | None] = []
    inferences = 0
    for t in times:
        t = float(t)
        if in_flight is not None and in_flight[0] <= t + 1e-9:
            executor.push(in_flight[1], now=t)
            in_flight = None
        if in_flight is None and executor.should_infer(t):
            executor.inference_started(t)
            inferences += 1
            if latency == 0.0:
                executor.push(source(t), now=t)
            else:
                in_flight = (t + latency, source(t))
        rows.append(executor.action_at(t))
    width = next((len(r) for r in rows if r is not None), 0)
    actions = np.full((ticks, width), np.nan)
    for i, row in enumerate(rows):
        if row is not None:
            actions[i] = row
    return Rehearsal(times, actions, executor.stats, inferences)

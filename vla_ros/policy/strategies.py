"""Ways to turn a stream of action chunks into one action per control tick.

A chunked policy predicts H future actions from one observation, but the controller needs
one setpoint per tick, and inference takes time. How chunks are stitched together decides
how often the robot waits (idle time) and how hard it jerks when one chunk replaces another
(seam discontinuity). Four strategies, one interface:

- ``open_loop``: execute the first k steps of the newest chunk, then hold until the next one.
- ``temporal_ensemble`` (ACT): every tick averages all chunks that predict that tick with
  weights w_i = exp(-m * i), i = 0 for the oldest chunk, normalised.
- ``async``: inference runs while the current chunk executes; the new chunk is blended in
  linearly over a window starting when it arrives.
- ``rtc`` (real-time chunking): steps already committed when the chunk arrives are frozen to
  the old plan, the next steps are blended with RTC's exponentially decaying soft mask.

Time is explicit everywhere: action k of a chunk stamped s (the observation time) is the
setpoint for time s + (k + 1) * dt, so a chunk that arrives late is time-aligned and the
steps that already passed are skipped. Pure numpy; thread-safe so a worker thread may push
while the control loop reads (see `strategies_worker.InferenceWorker`).
"""

from __future__ import annotations

import abc
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from vla_ros.policy.interface import ActionChunk, PolicyMetadata

ChunkLike = ActionChunk | tuple[np.ndarray, float, float]

# Tolerance, in steps, when mapping a time onto a step index (float time stamps drift).
_STEP_EPS = 1e-6


class ChunkError(ValueError):
    """A chunk the executor cannot use: wrong shape, non-finite values, a bad dt or stamp."""


@dataclass(frozen=True)
class TimedChunk:
    """A chunk normalised for execution: actions [H, D] with their time base."""

    actions: np.ndarray
    stamp: float
    dt: float

    @property
    def horizon(self) -> int:
        return int(self.actions.shape[0])

    @property
    def end_time(self) -> float:
        """Time of the last action's setpoint."""
        return self.stamp + self.horizon * self.dt

    def raw_index(self, t: float) -> int:
        """Step whose setpoint time is the latest one <= t (may be < 0 or >= H)."""
        return math.floor((t - self.stamp) / self.dt + _STEP_EPS) - 1

    def index(self, t: float) -> int | None:
        """Step to execute at time t, or None once the chunk has run out.

        Before the first setpoint time the robot already heads for action 0.
        """
        k = max(self.raw_index(t), 0)
        return k if k < self.horizon else None

    def at(self, t: float) -> np.ndarray | None:
        k = self.index(t)
        return None if k is None else self.actions[k]

    def at_hold(self, t: float) -> np.ndarray:
        """Like `at`, but past the end the last action is held (for blending only)."""
        k = min(max(self.raw_index(t), 0), self.horizon - 1)
        return self.actions[k]

    def step_time(self, k: int | np.ndarray) -> float | np.ndarray:
        return self.stamp + (np.asarray(k) + 1) * self.dt

    def remaining(self, t: float) -> int:
        """Actions left after the one executed at t."""
        return max(self.horizon - max(self.raw_index(t), 0) - 1, 0)


def as_timed_chunk(chunk: ChunkLike, action_dim: int | None = None) -> TimedChunk:
    """Validate an `ActionChunk` or an ``(actions, stamp, dt)`` tuple into a TimedChunk."""
    if isinstance(chunk, ActionChunk):
        actions, stamp, dt = chunk.actions, chunk.stamp, chunk.dt
    elif isinstance(chunk, tuple) and len(chunk) == 3:
        actions, stamp, dt = chunk
    else:
        raise ChunkError(
            f"push() takes an ActionChunk or an (actions, stamp, dt) tuple, "
            f"got {type(chunk).__name__}"
        )
    actions = np.array(actions, dtype=np.float64)  # a private copy: the caller may reuse theirs
    if actions.ndim != 2 or actions.shape[0] == 0 or actions.shape[1] == 0:
        raise ChunkError(f"chunk actions must be a non-empty [H, D] array, got {actions.shape}")
    if action_dim is not None and actions.shape[1] != action_dim:
        raise ChunkError(
            f"chunk has {actions.shape[1]} action dimensions, earlier chunks had {action_dim}"
        )
    bad = np.argwhere(~np.isfinite(actions))
    if bad.size:
        step, dim = bad[0]
        raise ChunkError(f"chunk action[{step}, {dim}] is {actions[step, dim]} (not finite)")
    if not (isinstance(dt, (int, float, np.floating)) and math.isfinite(dt) and dt > 0):
        raise ChunkError(f"chunk dt must be a finite number of seconds > 0, got {dt!r}")
    if not (isinstance(stamp, (int, float, np.floating)) and math.isfinite(stamp)):
        raise ChunkError(f"chunk stamp must be a finite time in seconds, got {stamp!r}")
    actions.setflags(write=False)
    return TimedChunk(actions, float(stamp), float(dt))


@dataclass
class ExecutionStats:
    """What stitching cost: seam jumps and time spent waiting for inference."""

    steps: int = 0  # action_at calls that returned an action
    idle_steps: int = 0  # action_at calls that returned None (caller held)
    idle_time: float = 0.0  # seconds between a None answer and the next call
    chunks: int = 0  # chunks pushed
    seam_jumps: list[float] = field(default_factory=list)  # one per chunk boundary
    max_step_change: float = 0.0  # largest per-dimension change between consecutive actions

    @property
    def max_seam_jump(self) -> float:
        return max(self.seam_jumps, default=0.0)

    @property
    def mean_seam_jump(self) -> float:
        return float(np.mean(self.seam_jumps)) if self.seam_jumps else 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "steps": self.steps, "idle_steps": self.idle_steps, "idle_time": self.idle_time,
            "chunks": self.chunks, "seams": len(self.seam_jumps),
            "max_seam_jump": self.max_seam_jump, "mean_seam_jump": self.mean_seam_jump,
            "max_step_change": self.max_step_change,
        }


class ChunkExecutor(abc.ABC):
    """push() chunks as they arrive, action_at(t) once per control tick.

    `action_at` returns None when no chunk covers t (none yet, or all expired): the caller
    holds its last command rather than inventing one. `should_infer(t)` says when this
    strategy wants a new chunk; call `inference_started(t)` when a request goes out so the
    executor does not ask twice.

    Seam discontinuity is measured the same way for every strategy: for each pushed chunk
    that replaces or joins another, over the `seam_window` ticks it first influences, the
    largest per-dimension change between consecutive executed actions *beyond* the change
    the previous plan would have made on its own. Motion the old plan already intended is
    not a jump; a hard switch scores exactly |new(t) - old(t)|.
    """

    name: ClassVar[str] = ""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.stats = ExecutionStats()
        self._action_dim: int | None = None
        self._pending_since: float | None = None
        self._last_t: float | None = None
        self._last_action: np.ndarray | None = None
        self._last_was_none = False
        self._seam_left = 0
        self._seam_max = 0.0
        self._seam_steps = 0
        self._seam_armed = False
        self._seam_reference: Callable[[float], np.ndarray | None] | None = None
        self._last_action_t = 0.0

    # -- public API ------------------------------------------------------------------
    def push(self, chunk: ChunkLike, now: float | None = None) -> None:
        """Hand over a new chunk; `now` is its arrival time (default: the next action_at)."""
        with self._lock:
            timed = as_timed_chunk(chunk, self._action_dim)
            self._action_dim = timed.actions.shape[1]
            self.stats.chunks += 1
            self._pending_since = None
            self._finish_seam()
            self._seam_reference = self._snapshot()
            self._seam_armed = self._last_action is not None and self._seam_reference is not None
            self._accept(timed, now)

    def action_at(self, t: float) -> np.ndarray | None:
        """The action for time t, or None when nothing valid covers t (caller holds)."""
        t = float(t)
        with self._lock:
            action = self._select(t)
            self._record(t, action)
            return None if action is None else np.array(action)

    def peek(self, t: float) -> np.ndarray | None:
        """What `action_at(t)` would return, without counting it in the statistics."""
        with self._lock:
            action = self._select(float(t))
            return None if action is None else np.array(action)

    def should_infer(self, t: float) -> bool:
        """Whether a new inference should start now (never while one is outstanding)."""
        with self._lock:
            return self._pending_since is None and self._wants_chunk(float(t))

    def inference_started(self, t: float) -> None:
        """Note that a request went out at t; cleared by the next push or by `reset`."""
        with self._lock:
            self._pending_since = float(t)

    def inference_failed(self) -> None:
        """Forget the outstanding request (it timed out or raised) so a new one may start."""
        with self._lock:
            self._pending_since = None

    @property
    def inference_pending(self) -> bool:
        with self._lock:
            return self._pending_since is not None

    def reset(self) -> None:
        """Drop every chunk and statistic (new episode)."""
        with self._lock:
            self.__init__(**self._config())  # type: ignore[misc]

    # -- for subclasses -----------------------------------------------------------------
    @property
    def seam_window(self) -> int:
        """Ticks over which a new chunk changes the output (1 for a hard switch)."""
        return 1

    @abc.abstractmethod
    def _accept(self, chunk: TimedChunk, now: float | None) -> None: ...

    @abc.abstractmethod
    def _select(self, t: float) -> np.ndarray | None: ...

    @abc.abstractmethod
    def _wants_chunk(self, t: float) -> bool: ...

    @abc.abstractmethod
    def _config(self) -> dict[str, object]: ...

    @abc.abstractmethod
    def _snapshot(self) -> Callable[[float], np.ndarray | None] | None:
        """What the executor would output from now on if no chunk came (None where it would
        hold); None before the first chunk. The reference for seam jumps."""

    # -- bookkeeping --------------------------------------------------------------------
    def _record(self, t: float, action: np.ndarray | None) -> None:
        if self._last_was_none and self._last_t is not None:
            self.stats.idle_time += max(t - self._last_t, 0.0)
        self._last_t = t
        self._last_was_none = action is None
        if action is None:
            self.stats.idle_steps += 1
            return
        self.stats.steps += 1
        if self._last_action is not None:
            step = action - self._last_action
            self.stats.max_step_change = max(self.stats.max_step_change,
                                             float(np.max(np.abs(step))))
            if self._seam_armed:
                self._seam_armed = False
                self._seam_left = self.seam_window
                self._seam_max, self._seam_steps = 0.0, 0
            if self._seam_left > 0 and self._seam_reference is not None:
                self._seam_step(t, step)
        self._last_action = np.array(action)
        self._last_action_t = t

    def _seam_step(self, t: float, step: np.ndarray) -> None:
        ref = self._seam_reference
        now, before = ref(t), ref(self._last_action_t)
        if now is None or before is None:
            if self._seam_steps:  # the old plan ran out: no intended motion to compare with
                self._finish_seam()
                return
            intended = 0.0  # the robot was holding when the chunk took over
        else:
            intended = now - before
        self._seam_max = max(self._seam_max, float(np.max(np.abs(step - intended))))
        self._seam_steps += 1
        self._seam_left -= 1
        if self._seam_left == 0:
            self._finish_seam()

    def _finish_seam(self) -> None:
        if self._seam_steps:
            self.stats.seam_jumps.append(self._seam_max)
        self._seam_left, self._seam_max, self._seam_steps = 0, 0.0, 0


class OpenLoopExecutor(ChunkExecutor):
    """Execute `steps` actions of the newest chunk, then hold (None) until the next arrives.

    A new chunk replaces the old one at once (naive switching), time-aligned by its stamp.
    """

    name = "open_loop"

    def __init__(self, steps: int | None = None) -> None:
        if steps is not None and steps < 1:
            raise ValueError(f"open_loop steps must be >= 1, got {steps}")
        self.steps = steps
        super().__init__()
        self._chunk: TimedChunk | None = None

    def _config(self) -> dict[str, object]:
        return {"steps": self.steps}

    def _limit(self, chunk: TimedChunk) -> int:
        return chunk.horizon if self.steps is None else min(self.steps, chunk.horizon)

    def _accept(self, chunk: TimedChunk, now: float | None) -> None:
        self._chunk = chunk

    def _snapshot(self) -> Callable[[float], np.ndarray | None] | None:
        chunk = self._chunk
        if chunk is None:
            return None
        limit = self._limit(chunk)

        def plan(t: float) -> np.ndarray | None:
            k = chunk.index(t)
            return None if k is None or k >= limit else chunk.actions[k]
        return plan

    def _select(self, t: float) -> np.ndarray | None:
        if self._chunk is None:
            return None
        k = self._chunk.index(t)
        return None if k is None or k >= self._limit(self._chunk) else self._chunk.actions[k]

    def _wants_chunk(self, t: float) -> bool:
        return self._select(t) is None


def ensemble_weights(count: int, m: float) -> np.ndarray:
    """ACT's temporal-ensemble weights exp(-m * i), i = 0 for the oldest chunk, summing to 1."""
    if count < 1:
        raise ValueError(f"need at least one chunk to ensemble, got {count}")
    w = np.exp(-float(m) * np.arange(count))
    return w / w.sum()


class TemporalEnsembleExecutor(ChunkExecutor):
    """ACT temporal ensembling: each tick averages every chunk that predicts it.

    m > 0 favours older chunks (ACT's choice: smoother), m < 0 newer ones (more reactive).
    A new chunk is requested every `interval` ticks of the newest chunk's dt.
    """

    name = "temporal_ensemble"

    def __init__(self, m: float = 0.01, interval: int = 1) -> None:
        if interval < 1:
            raise ValueError(f"temporal_ensemble interval must be >= 1 step, got {interval}")
        if not math.isfinite(m):
            raise ValueError(f"temporal_ensemble m must be finite, got {m}")
        self.m, self.interval = float(m), int(interval)
        super().__init__()
        self._chunks: list[TimedChunk] = []  # oldest first

    def _config(self) -> dict[str, object]:
        return {"m": self.m, "interval": self.interval}

    def _accept(self, chunk: TimedChunk, now: float | None) -> None:
        self._chunks.append(chunk)
        self._chunks.sort(key=lambda c: c.stamp)  # a late arrival still counts as older

    def _select(self, t: float) -> np.ndarray | None:
        self._chunks = [c for c in self._chunks if c.index(t) is not None]
        return self._ensemble(self._chunks, t) if self._chunks else None

    def _ensemble(self, chunks: list[TimedChunk], t: float) -> np.ndarray:
        predictions = np.stack([c.at(t) for c in chunks])
        return ensemble_weights(len(predictions), self.m) @ predictions

    def _snapshot(self) -> Callable[[float], np.ndarray | None] | None:
        chunks = list(self._chunks)
        if not chunks:
            return None

        def plan(t: float) -> np.ndarray | None:
            live = [c for c in chunks if c.index(t) is not None]
            return self._ensemble(live, t) if live else None
        return plan

    def _wants_chunk(self, t: float) -> bool:
        if not self._chunks:
            return True
        newest = self._chunks[-1]
        return t >= newest.stamp + self.interval * newest.dt - _STEP_EPS * newest.dt


class _SeamBlendingExecutor(ChunkExecutor):
    """Shared by `async` and `rtc`: one current plan, a new chunk folded in at arrival."""

    def __init__(self, blend_steps: int, threshold: float) -> None:
        if blend_steps < 0:
            raise ValueError(f"blend_steps must be >= 0, got {blend_steps}")
        if not 0.0 <= threshold < 1.0:
            raise ValueError(f"threshold (fraction of the chunk left) must be in [0, 1), "
                             f"got {threshold}")
        self.blend_steps, self.threshold = int(blend_steps), float(threshold)
        super().__init__()
        self._current: TimedChunk | None = None
        self._incoming: TimedChunk | None = None  # pushed, not yet folded in (no arrival time)

    def _config(self) -> dict[str, object]:
        return {"blend_steps": self.blend_steps, "threshold": self.threshold}

    @property
    def seam_window(self) -> int:
        return self.blend_steps + 1

    def _accept(self, chunk: TimedChunk, now: float | None) -> None:
        if self._incoming is not None:  # two arrivals before a tick: the older one is moot
            self._fold(self._incoming, chunk.stamp)
        self._incoming = chunk
        if now is not None:
            self._fold(chunk, float(now))
            self._incoming = None

    def _select(self, t: float) -> np.ndarray | None:
        if self._incoming is not None:
            self._fold(self._incoming, t)
            self._incoming = None
        return self._output(t)

    def _wants_chunk(self, t: float) -> bool:
        plan = self._incoming or self._current
        if plan is None or plan.index(t) is None:
            return True
        return plan.remaining(t) <= self.threshold * plan.horizon

    @abc.abstractmethod
    def _fold(self, chunk: TimedChunk, arrival: float) -> None: ...

    @abc.abstractmethod
    def _output(self, t: float) -> np.ndarray | None: ...


class AsyncExecutor(_SeamBlendingExecutor):
    """Asynchronous inference with chunk blending (LeRobot-style async client).

    Inference for the next chunk runs (see `InferenceWorker`) once at most `threshold` of
    the current chunk is left. When it arrives at time t_a, the output over the next
    `blend_steps` ticks is (1 - a) * old(t) + a * new(t) with a ramping linearly to 1;
    both chunks are read at the same absolute time, so the steps the new chunk planned for
    the time inference took are skipped.
    """

    name = "async"

    def __init__(self, blend_steps: int = 5, threshold: float = 0.5) -> None:
        super().__init__(blend_steps, threshold)
        self._previous: TimedChunk | None = None
        self._arrival = 0.0
        self._window = 0  # blend ticks of the last seam: blend_steps cut to the overlap

    @property
    def seam_window(self) -> int:
        return self._window + 1

    def _fold(self, chunk: TimedChunk, arrival: float) -> None:
        self._previous = self._current
        self._current = chunk
        self._arrival = arrival
        overlap = 0 if self._previous is None else overlap_steps(self._previous, arrival,
                                                                 chunk.dt)
        self._window = min(self.blend_steps, overlap)

    def _blend(self, previous: TimedChunk | None, current: TimedChunk, arrival: float,
               window: int, t: float) -> np.ndarray:
        new = current.at_hold(t)
        if previous is None or window == 0:
            return new
        k = math.floor((t - arrival) / current.dt + _STEP_EPS)
        if k >= window:
            return new
        alpha = (max(k, 0) + 1) / (window + 1)
        return (1.0 - alpha) * previous.at_hold(t) + alpha * new

    def _output(self, t: float) -> np.ndarray | None:
        if self._current is None or self._current.index(t) is None:
            return None
        return self._blend(self._previous, self._current, self._arrival, self._window, t)

    def _snapshot(self) -> Callable[[float], np.ndarray | None] | None:
        previous, current = self._previous, self._current
        arrival, window = self._arrival, self._window
        if current is None:
            return None

        def plan(t: float) -> np.ndarray | None:
            if current.index(t) is None:
                return None
            return self._blend(previous, current, arrival, window, t)
        return plan


def rtc_soft_mask(blend_steps: int) -> np.ndarray:
    """RTC's guidance weights for the steps after the frozen prefix, decaying from ~1 to ~0.

    Real-time chunking (Black et al., 2025) weights step j of the overlap by
    c * (e^c - 1) / (e - 1) with c = (n - j) / (n + 1): close to 1 next to the frozen
    steps, exponentially smaller towards the end of the overlap of n steps.
    """
    j = np.arange(blend_steps, dtype=np.float64)
    c = (blend_steps - j) / (blend_steps + 1)
    return c * np.expm1(c) / math.expm1(1.0)


class RtcExecutor(_SeamBlendingExecutor):
    """Real-time chunking: freeze what is committed, softly inpaint the rest.

    When a chunk arrives at t_a, every step of it whose setpoint time is before
    t_a + `commit_steps` * dt (already executed or already handed to the controller) is
    replaced by the current plan's action exactly; the following `blend_steps` steps are
    pulled towards the current plan with `rtc_soft_mask` weights. The merged chunk becomes
    the plan, so there is no jump at the seam. A policy that can inpaint (flow matching)
    may also take `guidance()` as its prefix so the chunk it returns already agrees.
    """

    name = "rtc"

    def __init__(self, blend_steps: int = 8, commit_steps: int = 1,
                 threshold: float = 0.5) -> None:
        if commit_steps < 0:
            raise ValueError(f"commit_steps must be >= 0, got {commit_steps}")
        self.commit_steps = int(commit_steps)
        super().__init__(blend_steps, threshold)
        self.last_frozen_steps = 0  # frozen prefix length of the last merge
        self._window = 0  # soft-masked steps of the last merge
        self._latency_steps: float | None = None  # running estimate of inference delay

    def _config(self) -> dict[str, object]:
        return {**super()._config(), "commit_steps": self.commit_steps}

    def _fold(self, chunk: TimedChunk, arrival: float) -> None:
        delay = (arrival - chunk.stamp) / chunk.dt
        self._latency_steps = delay if self._latency_steps is None else (
            0.7 * self._latency_steps + 0.3 * delay)
        if self._current is None:
            self._current, self.last_frozen_steps, self._window = chunk, 0, 0
            return
        self._current, self.last_frozen_steps, self._window = merge_rtc(
            self._current, chunk, arrival, self.commit_steps, self.blend_steps)

    @property
    def seam_window(self) -> int:
        return self._window + 1

    def _output(self, t: float) -> np.ndarray | None:
        return None if self._current is None else self._current.at(t)

    def _snapshot(self) -> Callable[[float], np.ndarray | None] | None:
        return None if self._current is None else self._current.at

    def guidance(self, stamp: float, horizon: int, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """Prefix actions and weights [H] for a chunk about to be requested at `stamp`.

        Weights are 1 for the steps expected to pass while inference runs (from the running
        latency estimate), then the soft mask, then 0; actions come from the current plan
        (its last action held). An inpainting policy steers its sampling towards these.
        """
        with self._lock:
            plan = self._incoming or self._current
            if plan is None:
                raise ChunkError("no plan yet: guidance needs at least one chunk pushed")
            times = stamp + (np.arange(horizon) + 1) * dt
            prefix = np.stack([plan.at_hold(float(s)) for s in times])
            frozen = min(int(math.ceil(self._latency_steps or 0.0)) + self.commit_steps,
                         horizon)
            weights = np.zeros(horizon)
            weights[:frozen] = 1.0
            mask = rtc_soft_mask(min(self.blend_steps, horizon - frozen))
            weights[frozen:frozen + len(mask)] = mask
            return prefix, weights


def overlap_steps(old: TimedChunk, start: float, dt: float) -> int:
    """Ticks of spacing dt from `start` (inclusive) at which `old` still has an action."""
    if old.end_time < start - _STEP_EPS * dt:
        return 0
    return math.floor((old.end_time - start) / dt + _STEP_EPS) + 1


def merge_rtc(old: TimedChunk, new: TimedChunk, arrival: float, commit_steps: int,
              blend_steps: int) -> tuple[TimedChunk, int, int]:
    """The RTC merge of `new` into `old` at `arrival`.

    Returns (merged chunk on new's time base, frozen steps, soft-masked steps). The mask
    spans `blend_steps` cut to where `old` still has actions, so it decays to 0 before the
    old plan runs out instead of blending towards a held value.
    """
    times = new.step_time(np.arange(new.horizon))
    committed_until = arrival + commit_steps * new.dt - _STEP_EPS * new.dt
    frozen = int(np.count_nonzero(times < committed_until))
    merged = np.array(new.actions)
    old_at = np.stack([old.at_hold(float(s)) for s in times])
    merged[:frozen] = old_at[:frozen]
    overlap = 0
    if frozen < new.horizon:
        overlap = overlap_steps(old, float(times[frozen]), new.dt)
    blend = min(blend_steps, overlap, new.horizon - frozen)
    mask = rtc_soft_mask(blend)[:, None]
    window = slice(frozen, frozen + blend)
    merged[window] = mask * old_at[window] + (1.0 - mask) * merged[window]
    merged.setflags(write=False)
    return TimedChunk(merged, new.stamp, new.dt), frozen, blend


STRATEGIES: dict[str, Callable[..., ChunkExecutor]] = {
    OpenLoopExecutor.name: OpenLoopExecutor,
    TemporalEnsembleExecutor.name: TemporalEnsembleExecutor,
    AsyncExecutor.name: AsyncExecutor,
    RtcExecutor.name: RtcExecutor,
}


def make_executor(name: str, **options: object) -> ChunkExecutor:
    """Build an executor by strategy name; unknown names and options are clear errors."""
    try:
        factory = STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown execution strategy {name!r}; "
                         f"choose one of {sorted(STRATEGIES)}") from None
    try:
        return factory(**options)
    except TypeError as err:
        raise ValueError(f"strategy {name!r}: bad options {sorted(options)}: {err}") from None


class ChunkHook:
    """Applies a strategy to whole chunks, for a node that publishes chunks downstream.

    Each chunk is pushed at its arrival time `now` (default: its own stamp, i.e. no
    latency) and replaced by the executor's plan sampled at the chunk's own step times,
    cut where the plan runs out; steps already past at `now` stay in the chunk, aligned by
    its stamp. Returns None when nothing remains to execute.
    """

    def __init__(self, executor: ChunkExecutor) -> None:
        self.executor = executor

    def __call__(self, chunk: ActionChunk, now: float | None = None) -> ActionChunk | None:
        self.executor.push(chunk, now=chunk.stamp if now is None else now)
        rows = []
        for t in chunk.stamp + chunk.times:
            action = self.executor.peek(float(t))
            if action is None:
                break
            rows.append(action)
        if not rows:
            return None
        return ActionChunk(actions=np.stack(rows), names=list(chunk.names), dt=chunk.dt,
                           features=chunk.features, stamp=chunk.stamp)

    def reset(self) -> None:
        self.executor.reset()


def chunk_hook(name: str, metadata: PolicyMetadata | None = None,
               **options: object) -> ChunkHook:
    """The policy node's `execution_strategy` hook for strategy `name` (see ChunkHook)."""
    del metadata  # strategies work on any action dimension; kept for the node's call shape
    return ChunkHook(make_executor(name, **options))

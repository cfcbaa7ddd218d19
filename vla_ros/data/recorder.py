"""EpisodeRecorder: timestamped observation streams -> dataset frames on the 1/fps grid.

Sensors publish at their own rates and with their own latencies, but a LeRobot v3 episode
must have frame i at exactly i/fps (the video is looked up by timestamp). So the recorder
does not write messages as they come: it keeps a short history per stream and, for each
tick of the episode's grid (start + k/fps), takes every stream's newest sample stamped at
or before the tick ("latest before tick"). Commanded set-points (`hold_streams`) hold
until replaced; observations go stale. A tick is resolved only `latency_s` after it
passed, so samples that arrive a little late still count. A stream whose newest sample is
older than `max_age_s` at a tick makes that tick *stale*: the frame is skipped and counted
per stream. Too many skipped frames (a fraction of the episode, or a gap longer than
`max_gap_s`) discard the episode instead of saving a demonstration with holes in it.

Plain numpy in, `DatasetWriter` out; the ROS wiring lives in `vla_ros.nodes.recorder_node`.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from vla_ros.data.errors import DatasetError

STATE = "state"


def image_stream(camera: str) -> str:
    """Stream name of a camera's images."""
    return f"image/{camera}"


class RecorderError(DatasetError):
    """The recorder was used out of order (no episode, no task) or fed a bad sample."""


class FrameSink(Protocol):
    """What the recorder writes to (DatasetWriter satisfies it)."""

    def add_frame(self, state: Any, action: Any, images: Any = None, task: str = "",
                  timestamp: float | None = None, **extra: Any) -> None: ...

    def save_episode(self) -> int: ...

    def discard_episode(self) -> int: ...


@dataclass(frozen=True)
class RecorderConfig:
    """Sampling rules. Times are seconds of whatever clock stamps the samples."""

    fps: int
    cameras: tuple[str, ...] = ()
    action_streams: tuple[str, ...] = ("action",)  # concatenated in this order
    max_age_s: float | None = None  # default: 3 frame periods
    latency_s: float = 0.05  # how long after a tick it is resolved
    max_skip_fraction: float = 0.1  # more skipped ticks than this -> discard at stop
    max_gap_s: float = 1.0  # this long without a complete frame -> discard at once
    history_s: float = 2.0  # samples kept per stream (bounds memory; >= max_age + latency)
    # Streams whose last sample holds until replaced, however old (commanded set-points:
    # a controller keeps its last target, so an idle operator is not a stale stream).
    hold_streams: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if int(self.fps) != self.fps or self.fps <= 0:
            raise ValueError(f"fps must be a positive integer, got {self.fps}")
        if not self.action_streams:
            raise ValueError("at least one action stream is needed")
        clash = {STATE, *map(image_stream, self.cameras)} & set(self.action_streams)
        if clash:
            raise ValueError(f"action streams {sorted(clash)} clash with state/image streams")
        if self.latency_s < 0 or self.max_gap_s <= 0 or not 0 <= self.max_skip_fraction <= 1:
            raise ValueError("latency_s >= 0, max_gap_s > 0 and max_skip_fraction in [0, 1]")
        unknown = set(self.hold_streams) - set(self.streams)
        if unknown:
            raise ValueError(f"hold_streams {sorted(unknown)} are not streams {self.streams}")
        if self.age_limit <= 0:
            raise ValueError(f"max_age_s must be > 0, got {self.max_age_s}")

    @property
    def period(self) -> float:
        return 1.0 / self.fps

    @property
    def age_limit(self) -> float:
        return 3.0 / self.fps if self.max_age_s is None else float(self.max_age_s)

    @property
    def streams(self) -> tuple[str, ...]:
        return (STATE, *map(image_stream, self.cameras), *self.action_streams)


@dataclass
class EpisodeResult:
    """What became of one episode: saved (with its index) or discarded (with the reason)."""

    saved: bool
    index: int | None
    frames: int
    skipped: dict[str, int]  # stream -> ticks skipped because it was stale or missing
    task: str
    reason: str = ""

    @property
    def skipped_ticks(self) -> int:
        return self.skipped.get("_ticks", 0)


class _History:
    """Samples of one stream in stamp order, trimmed to a time window."""

    def __init__(self) -> None:
        self.stamps: deque[float] = deque()
        self.values: deque[Any] = deque()

    def push(self, stamp: float, value: Any) -> bool:
        """Insert in stamp order; returns False for an exact duplicate stamp (kept: the newer)."""
        if not self.stamps or stamp > self.stamps[-1]:
            self.stamps.append(stamp)
            self.values.append(value)
            return True
        i = bisect_right(self.stamps, stamp)
        if i and self.stamps[i - 1] == stamp:
            self.values[i - 1] = value
            return False
        self.stamps.insert(i, stamp)
        self.values.insert(i, value)
        return True

    def latest_before(self, t: float) -> tuple[float, Any] | None:
        i = bisect_right(self.stamps, t + 1e-9)
        return (self.stamps[i - 1], self.values[i - 1]) if i else None

    def trim(self, before: float) -> None:
        """Drop samples older than `before`, keeping the newest of them (it may still serve)."""
        while len(self.stamps) > 1 and self.stamps[1] <= before:
            self.stamps.popleft()
            self.values.popleft()

    def clear(self) -> None:
        self.stamps.clear()
        self.values.clear()


@dataclass
class _Active:
    task: str
    start: float
    next_tick: int = 0  # index of the first unresolved tick
    frames: int = 0
    last_frame_t: float = 0.0
    skipped: Counter = field(default_factory=Counter)


class EpisodeRecorder:
    """Sample streams on the fps grid and write episodes through a `FrameSink`.

    `sink` is a DatasetWriter, or a callable returning one, called when the first frame is
    about to be written (so a node can learn joint names from the first messages first).
    Typical use: `push(...)` as samples arrive, `start(task, now)`, `advance(now)` on a
    timer, `stop(now)` to save or `discard(reason)`.
    """

    def __init__(self, sink: FrameSink | Callable[[], FrameSink], config: RecorderConfig):
        self.config = config
        self._sink = sink if hasattr(sink, "add_frame") else None
        self._open_sink = None if self._sink is not None else sink
        self._history = {s: _History() for s in config.streams}
        self._active: _Active | None = None
        self.results: list[EpisodeResult] = []
        self.rejected: Counter = Counter()

    # ------------------------------------------------------------------ input
    @property
    def streams(self) -> tuple[str, ...]:
        return self.config.streams

    def push(self, stream: str, stamp: float, value: Any) -> None:
        """Add one sample; `value` is a vector (state/action) or an HxWx3 uint8 image."""
        history = self._history.get(stream)
        if history is None:
            raise RecorderError(f"unknown stream {stream!r}; streams are {list(self.streams)}")
        if not math.isfinite(stamp):
            raise RecorderError(f"stream {stream!r}: sample stamp is {stamp}")
        history.push(float(stamp), value)
        oldest = stamp - max(self.config.history_s,
                             self.config.age_limit + self.config.latency_s + self.config.period)
        if self._active is not None:
            oldest = min(oldest, self._tick_time(self._active.next_tick) - self.config.age_limit)
        history.trim(oldest)

    def has_sample(self, stream: str) -> bool:
        return bool(self._history[stream].stamps)

    # -------------------------------------------------------------- episodes
    @property
    def recording(self) -> bool:
        return self._active is not None

    @property
    def task(self) -> str | None:
        return self._active.task if self._active else None

    @property
    def frames(self) -> int:
        return self._active.frames if self._active else 0

    def start(self, task: str, now: float) -> None:
        """Begin an episode whose frame 0 is sampled at `now`."""
        if self._active is not None:
            raise RecorderError(f"an episode ({self._active.task!r}, {self._active.frames} "
                                "frames) is already being recorded; stop or discard it first")
        if not isinstance(task, str) or not task.strip():
            raise RecorderError("no task for the episode: set the `task` parameter or publish "
                                "an instruction first")
        self._active = _Active(task=task, start=float(now), last_frame_t=float(now))

    def set_task(self, task: str) -> None:
        """Change the task text of the episode in progress (frames from now on)."""
        if self._active is not None and task.strip():
            self._active.task = task

    def _tick_time(self, k: int) -> float:
        assert self._active is not None
        return self._active.start + k * self.config.period

    def advance(self, now: float) -> EpisodeResult | None:
        """Resolve every tick that is at least `latency_s` old; returns a result only when
        the episode had to be discarded (a gap longer than `max_gap_s`)."""
        ep = self._active
        if ep is None:
            return None
        while self._tick_time(ep.next_tick) <= now - self.config.latency_s + 1e-9:
            t = self._tick_time(ep.next_tick)
            ep.next_tick += 1
            self._resolve(ep, t)
            if t - ep.last_frame_t > self.config.max_gap_s + 1e-9:
                return self.discard(f"no complete frame for {t - ep.last_frame_t:.2f} s "
                                    f"(> max_gap_s {self.config.max_gap_s}); stale: "
                                    f"{self._stale_summary(ep)}")
        return None

    def _resolve(self, ep: _Active, t: float) -> None:
        samples: dict[str, Any] = {}
        stale = []
        hold = self.config.hold_streams
        for stream, history in self._history.items():
            got = history.latest_before(t)
            limit = math.inf if stream in hold else self.config.age_limit
            if got is None or t - got[0] > limit + 1e-9:
                stale.append(stream)
            else:
                samples[stream] = got[1]
        if stale:
            ep.skipped["_ticks"] += 1
            for stream in stale:
                ep.skipped[stream] += 1
            return
        cams = {c: samples[image_stream(c)] for c in self.config.cameras}
        action = np.concatenate([np.atleast_1d(np.asarray(samples[s], dtype=np.float64))
                                 for s in self.config.action_streams])
        self._writer().add_frame(samples[STATE], action, cams or None, task=ep.task)
        ep.frames += 1
        ep.last_frame_t = t

    def _writer(self) -> FrameSink:
        if self._sink is None:
            assert self._open_sink is not None
            self._sink = self._open_sink()
        return self._sink

    @staticmethod
    def _stale_summary(ep: _Active) -> str:
        return ", ".join(f"{s} x{n}" for s, n in sorted(ep.skipped.items())
                         if s != "_ticks") or "none"

    def stop(self, now: float) -> EpisodeResult:
        """Resolve the remaining ticks up to `now` and save the episode, unless it has no
        frames or skipped more than `max_skip_fraction` of its ticks (then it is discarded)."""
        ep = self._active
        if ep is None:
            raise RecorderError("no episode is being recorded; start one first")
        while self._tick_time(ep.next_tick) <= now + 1e-9:
            t = self._tick_time(ep.next_tick)
            ep.next_tick += 1
            self._resolve(ep, t)
        ticks = ep.next_tick
        skipped = ep.skipped["_ticks"]
        if not ep.frames:
            return self.discard(f"no complete frame in {ticks} ticks; stale: "
                                f"{self._stale_summary(ep)}")
        if skipped > self.config.max_skip_fraction * ticks:
            limit = self.config.max_skip_fraction
            return self.discard(f"{skipped} of {ticks} ticks skipped (> {limit:.0%}); "
                                f"stale: {self._stale_summary(ep)}")
        self._active = None
        index = self._writer().save_episode()
        result = EpisodeResult(True, index, ep.frames, dict(ep.skipped), ep.task)
        self.results.append(result)
        return result

    def discard(self, reason: str = "discarded") -> EpisodeResult:
        """Drop the episode in progress (nothing reaches the dataset)."""
        ep = self._active
        if ep is None:
            raise RecorderError("no episode is being recorded; nothing to discard")
        self._active = None
        if self._sink is not None:
            self._sink.discard_episode()
        result = EpisodeResult(False, None, ep.frames, dict(ep.skipped), ep.task, reason)
        self.results.append(result)
        return result


# ------------------------------------------------------------------ helpers for nodes
def check_dataset_folder(root: str | Path) -> bool:
    """True if `root` already holds a dataset, False if it is missing or empty; raises
    NotADatasetError if it holds something else (so a recorder fails at startup, not at
    its first episode)."""
    from vla_ros.data.errors import NotADatasetError
    from vla_ros.data.layout import INFO_PATH, WORK_DIR

    root = Path(root)
    if root.exists() and not root.is_dir():
        raise NotADatasetError(f"{root} is a file, not a dataset folder")
    if not root.exists():
        return False
    if (root / INFO_PATH).is_file():
        return True
    entries = sorted(p.name for p in root.iterdir() if p.name != WORK_DIR)
    if entries:
        shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
        raise NotADatasetError(f"{root} is not empty and holds no {INFO_PATH} (found: {shown}); "
                               "refusing to record into it. Choose a new or empty folder.")
    return False


def select(names: Sequence[str], values: Sequence[float], wanted: Sequence[str],
           where: str) -> np.ndarray:
    """`values` of `wanted` names, in that order; a missing name is a RecorderError."""
    index = {n: i for i, n in enumerate(names)}
    missing = [n for n in wanted if n not in index]
    if missing:
        raise RecorderError(f"{where}: lacks {missing} (has {list(names)})")
    return np.asarray([values[index[n]] for n in wanted], dtype=np.float64)

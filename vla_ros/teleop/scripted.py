"""A scripted operator: a list of timed twist segments standing in for a person, so demos,
recordings and tests can run teleop end to end without hands on a device."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from vla_ros.teleop.command import TeleopCommand
from vla_ros.teleop.errors import TeleopConfigError


@dataclass(frozen=True)
class Segment:
    """Hold one twist (m/s, rad/s) and gripper for `duration` seconds."""

    duration: float
    linear: tuple[float, float, float] = (0.0, 0.0, 0.0)
    angular: tuple[float, float, float] = (0.0, 0.0, 0.0)
    gripper: float | None = None


# a small square in the xy plane with a grasp in the middle: the default demo script
DEFAULT_SCRIPT = (
    Segment(1.0, (0.05, 0, 0), gripper=0.0),
    Segment(1.0, (0, 0.05, 0)),
    Segment(0.5, gripper=1.0),
    Segment(1.0, (-0.05, 0, 0)),
    Segment(1.0, (0, -0.05, 0)),
    Segment(0.5, gripper=0.0),
)


class ScriptedTeleop:
    """Plays `segments` from the first poll on; after the end: zero twist (or loop)."""

    def __init__(self, segments: Sequence[Segment] = DEFAULT_SCRIPT, loop: bool = False
                 ) -> None:
        if not segments:
            raise TeleopConfigError("a teleop script needs at least one segment")
        for i, seg in enumerate(segments):
            if seg.duration <= 0:
                raise TeleopConfigError(f"script segment {i}: duration must be > 0, "
                                        f"got {seg.duration}")
        self.segments = list(segments)
        self.loop = loop
        self.total = float(sum(s.duration for s in segments))
        self._start: float | None = None
        self._gripper: float | None = None

    def segment_at(self, elapsed: float) -> Segment | None:
        if self.loop:
            elapsed %= self.total
        for seg in self.segments:
            if elapsed < seg.duration:
                return seg
            elapsed -= seg.duration
        return None

    def poll(self, t: float) -> TeleopCommand:
        if self._start is None:
            self._start = t
        seg = self.segment_at(t - self._start)
        if seg is None:
            return TeleopCommand(gripper=self._gripper)
        if seg.gripper is not None:
            self._gripper = seg.gripper
        return TeleopCommand(np.array(seg.linear, float), np.array(seg.angular, float),
                             self._gripper)

    def close(self) -> None:
        pass


def load_script(path: str | Path) -> list[Segment]:
    """YAML list of {duration, linear: [x,y,z], angular: [x,y,z], gripper} → segments."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise TeleopConfigError(f"cannot read teleop script {path}: {err}") from None
    if not isinstance(raw, list):
        raise TeleopConfigError(f"{path}: a teleop script is a YAML list of segments")
    segments = []
    for i, item in enumerate(raw):
        try:
            segments.append(Segment(
                float(item["duration"]),
                tuple(float(v) for v in item.get("linear", (0, 0, 0))),
                tuple(float(v) for v in item.get("angular", (0, 0, 0))),
                None if item.get("gripper") is None else float(item["gripper"])))
        except (KeyError, TypeError, ValueError) as err:
            raise TeleopConfigError(f"{path}: segment {i} is malformed ({err})") from None
        if len(segments[-1].linear) != 3 or len(segments[-1].angular) != 3:
            raise TeleopConfigError(f"{path}: segment {i}: linear and angular need 3 values")
    return segments

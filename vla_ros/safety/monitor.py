"""The streaming monitor: detector + conformal band + a latched alarm, one step at a time.

This is what the `failure_detector` node runs per feature message (and what tests drive
directly): the node only converts messages and publishes. The alarm latches: once raised
it stays until `reset()` (a new episode), so a score that dips back under the band after
an alarm does not silently resume the robot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vla_ros.safety.conformal import ConformalBand
from vla_ros.safety.detector import Detector


@dataclass
class MonitorStep:
    step: int  # index of this step in the episode (0-based)
    score: float
    threshold: float  # upper_t of the band (inf without a band)
    alarm: bool  # the alarm is raised (latched)
    new_alarm: bool  # this step raised it


class FailureMonitor:
    def __init__(self, detector: Detector, band: ConformalBand | None) -> None:
        self.detector = detector
        self.band = band
        self.reset()

    def reset(self) -> None:
        """Start a new episode: detector state, step count and alarm are cleared."""
        self.detector.reset()
        self.step_index = -1
        self.alarm = False
        self.alarm_step: int | None = None

    def step(self, feature: np.ndarray, action_chunk: np.ndarray | None = None) -> MonitorStep:
        """Score one step (raises DetectorInputError for bad input; state then unchanged)."""
        score = self.detector.update(feature, action_chunk)
        self.step_index += 1
        t = self.step_index
        threshold = self.band.upper(t) if self.band is not None else float("inf")
        new = not self.alarm and score > threshold
        if new:
            self.alarm = True
            self.alarm_step = t
        return MonitorStep(t, score, threshold, self.alarm, new)

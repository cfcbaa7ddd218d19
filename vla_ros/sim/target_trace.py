"""What happened to the task's target during a closed-loop episode.

A success rate says how often a policy fails, not how. Three numbers per episode tell the
usual failures apart: how close the gripper came to the target (never reached it: the
policy went for the wrong object, or nowhere), how far the target ever got from where it
started (reached it but never grasped, pushed or turned it), and where it ended relative
to the goal (moved it, but the wrong way or the wrong length). `vla-ros eval` writes them
per episode and counts the failures by phase in eval.md.

For a fixture (the drawer and door cabinets) "the target" is its handle (the geom named
`*_knob`, which the experts grasp) and "moved" is the travel of its joint (m or rad).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REACH_M = 0.05  # TCP closer than this (horizontally) to the target: reached
MOVED = 0.02  # target moved more than this (m, or joint m / rad): moved (not a nudge)

PHASES = ("not reached", "reached, not moved", "moved, not solved")


@dataclass(frozen=True)
class TargetTrace:
    closest_approach: float  # m: smallest horizontal TCP-target distance in the episode
    target_travel: float  # m the target's centre got from its start, at most (fixture: joint)
    goal_distance: float | None  # m from the target to the goal at the end (no goal: None)

    def phase(self) -> str:
        """Which of `PHASES` a failed episode ended in."""
        if self.closest_approach > REACH_M:
            return PHASES[0]
        if self.target_travel <= MOVED:
            return PHASES[1]
        return PHASES[2]

    def to_json(self) -> dict[str, float | None]:
        return {"closest_approach_m": round(self.closest_approach, 4),
                "target_travel": round(self.target_travel, 4),
                "goal_distance_m": (None if self.goal_distance is None
                                    else round(self.goal_distance, 4))}


class TargetTracker:
    """Call `update()` after every simulator step of an episode, `trace()` at its end."""

    def __init__(self, env, target: str, goal: str | None = None) -> None:
        self.env, self.target, self.goal = env, target, goal
        self.joint = env.scene.fixture_joints.get(target)
        knobs = [g for g in env.scene.objects[target].color_geoms if g.endswith("_knob")] \
            if self.joint else []
        self.handle = knobs[0] if knobs else None
        self.start = self._measure()[1]
        self.closest = np.inf
        self.travel = 0.0
        self.update()

    def _measure(self) -> tuple[np.ndarray, np.ndarray]:
        """(the point the gripper must reach, the coordinate whose change is travel), from
        one read of the object's pose."""
        pos = self.env.object_pose(self.target)[0]
        if self.joint is None:
            return pos, pos
        point = self.env.geom_position(self.handle) if self.handle is not None else pos
        return point, np.array([self.env.joint_value(self.joint)])

    def update(self) -> None:
        point, coordinate = self._measure()
        tcp = self.env.ee_pose()[:2, 3]
        self.closest = min(self.closest, float(np.linalg.norm(tcp - point[:2])))
        self.travel = max(self.travel, float(np.linalg.norm(coordinate - self.start)))

    def trace(self) -> TargetTrace:
        goal = None
        if self.goal is not None and self.goal != self.target:
            target_xy = self.env.object_pose(self.target)[0][:2]
            goal = float(np.linalg.norm(target_xy - self.env.object_pose(self.goal)[0][:2]))
        return TargetTrace(self.closest, self.travel, goal)


def phase_counts(traces: list[TargetTrace]) -> dict[str, int]:
    """Failed episodes per phase (pass the traces of the failures)."""
    counts = dict.fromkeys(PHASES, 0)
    for t in traces:
        counts[t.phase()] += 1
    return counts

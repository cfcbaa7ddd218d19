"""Failure injection: make scripted rollouts go wrong in realistic ways.

Each mode changes what the expert perceives or does (or what the world does to it) at an
onset time; the rollout's label is still the task's success predicate at the end, so an
injected rollout that happens to succeed is labelled a success - labels are never
assumed. Modes:

- `wrong_target`: the expert goes for a distractor (or, without one, misses the goal by
  10-18 cm / opens the drawer or door only partly);
- `early_release`: the gripper opens while carrying (push: the push stops early);
- `perturbation`: a 0.2 s shove (20-40 N) on the held/pushed object, or on the hand for
  drawers and doors;
- `camera_noise`: noisy images, and object positions estimated with 2-4 cm noise;
- `occlusion`: a patch hides part of the images and the target is mislocalised by 4-8 cm
  while hidden;
- `action_delay`: arm joint targets reach the robot 0.3-0.6 s late while the gripper
  acts on time, so it closes before the arm gets there.

`FailureInjector` drives the scripted experts (it can make the expert itself err);
`SimFault` is what the world does to a *policy's* rollout, in the mujoco_sim node and in
the direct evaluation runner alike: corrupted camera frames or a shove, from an onset on.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

FAILURE_MODES = (
    "wrong_target", "early_release", "perturbation", "camera_noise", "occlusion", "action_delay",
)  # fmt: skip

_HOLDING_PHASES = {"lift", "carry", "lower", "pull", "push", "swing"}


class FailureModeError(ValueError):
    """Unknown failure mode name."""


def add_image_noise(image: np.ndarray, rng: np.random.Generator, std: float) -> np.ndarray:
    """Gaussian pixel noise of `std` grey levels, clipped back to uint8."""
    noise = rng.normal(0, std, image.shape)
    return np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def occlude(image: np.ndarray, rows: slice, cols: slice) -> np.ndarray:
    """A copy of `image` with a dark grey patch over `rows` x `cols`."""
    out = image.copy()
    out[rows, cols] = (40, 40, 40)
    return out


def check_mode(mode: str | None) -> str | None:
    if mode is not None and mode not in FAILURE_MODES:
        raise FailureModeError(f"unknown failure mode '{mode}'; modes are {FAILURE_MODES}")
    return mode


@dataclass
class FailureInjector:
    """Drives one failure mode during one rollout (create a fresh one per episode)."""

    mode: str
    rng: np.random.Generator
    onset: float | None = None  # sim time the failure took effect (None: not yet)
    params: dict[str, float] = field(default_factory=dict)
    _delay: deque = field(default_factory=deque)
    _trigger_at: float | None = None

    def __post_init__(self) -> None:
        check_mode(self.mode)

    # Called once, before the first step.
    def setup(self, env, expert) -> None:
        rng, inst = self.rng, expert.inst
        if self.mode == "wrong_target":
            graspable = [d for d in inst.distractors
                         if env.scene.objects[d].kind in ("cube", "cylinder")]  # fmt: skip
            if graspable and inst.skill in ("pick", "pick_place", "push"):
                expert.target = str(rng.choice(graspable))
                self.params["swapped"] = 1.0
            elif inst.skill in ("pick_place", "push"):
                angle = rng.uniform(0, 2 * np.pi)
                dist = rng.uniform(0.1, 0.18) * env.robot.object_scale
                expert.goal_offset = dist * np.array([np.cos(angle), np.sin(angle)])
            elif inst.skill == "pick":
                angle = rng.uniform(0, 2 * np.pi)
                expert.observer.offsets[expert.target] = 0.06 * np.array(
                    [np.cos(angle), np.sin(angle), 0.0]
                )
            else:  # drawer / door: stop a third of the way
                expert.partial = float(rng.uniform(0.15, 0.35))
            self.onset = env.time
        elif self.mode == "camera_noise":
            expert.observer.pos_noise = float(rng.uniform(0.02, 0.04))
            self.params["image_std"] = float(rng.uniform(15, 40))
            self.onset = env.time
        elif self.mode == "occlusion":
            angle = rng.uniform(0, 2 * np.pi)
            offset = rng.uniform(0.04, 0.08) * env.robot.object_scale
            expert.observer.offsets[expert.target] = offset * np.array(
                [np.cos(angle), np.sin(angle), 0.0]
            )
            self.params.update(
                x0=float(rng.uniform(0.1, 0.5)), y0=float(rng.uniform(0.2, 0.5)),
                w=float(rng.uniform(0.3, 0.5)), h=float(rng.uniform(0.3, 0.5)),
            )  # fmt: skip
            self.onset = env.time
        elif self.mode == "action_delay":
            self.params["delay_s"] = float(rng.uniform(0.3, 0.6))
            self.onset = env.time
        else:  # early_release, perturbation: triggered once the object is held
            self.params["wait_s"] = float(rng.uniform(0.2, 0.8))

    # Called every control step, after the expert acted, before the sim steps.
    def before_step(self, env, expert, action, control_dt: float):
        """May rewrite `action` (returns the action to apply)."""
        if self.mode == "action_delay":
            k = max(1, int(round(self.params["delay_s"] / control_dt)))
            arm = len(env.robot.arm_joints)
            self._delay.append(action.joint_targets[:arm].copy())
            if len(self._delay) > k:
                delayed = self._delay.popleft()
            else:
                delayed = env.position_targets()[env.joint_indices(env.robot.arm_joints)]
            action.joint_targets = np.concatenate([delayed, action.joint_targets[arm:]])
            return action
        if self.mode in ("early_release", "perturbation") and self.onset is None:
            if self._trigger_at is None and expert.phase in _HOLDING_PHASES:
                self._trigger_at = env.time + self.params["wait_s"]
            if self._trigger_at is not None and env.time >= self._trigger_at:
                self._fire(env, expert)
        return action

    def _fire(self, env, expert) -> None:
        self.onset = env.time
        skill = expert.inst.skill
        if self.mode == "early_release":
            if skill == "push":
                expert.abort()
            else:
                expert.release_at = expert.elapsed
            return
        angle = self.rng.uniform(0, 2 * np.pi)
        magnitude = self.rng.uniform(20, 40)
        force = magnitude * np.array([np.cos(angle), np.sin(angle), 0.3])
        body = expert.target if skill in ("pick", "pick_place", "push") else env.robot.ee_body
        if body == env.robot.ee_body:
            force *= 4  # the arm is far heavier than a cube
        env.apply_perturbation(body, force, 0.2)
        self.params["force_n"] = float(np.linalg.norm(force))

    # Applied to every rendered frame of the rollout.
    def corrupt_image(self, image: np.ndarray) -> np.ndarray:
        if self.mode == "camera_noise":
            return add_image_noise(image, self.rng, self.params["image_std"])
        if self.mode == "occlusion":
            h, w = image.shape[:2]
            p = self.params
            y0, x0 = int(p["y0"] * h), int(p["x0"] * w)
            return occlude(image, slice(y0, y0 + int(p["h"] * h)),
                           slice(x0, x0 + int(p["w"] * w)))
        return image


class SimFault:
    """One fault injected into a policy rollout, from `onset_s` of episode time on.

    `camera_noise` and `occlusion` corrupt every camera frame; `perturbation` shoves the
    task's target object (or the hand) once. The episode's label stays the task predicate.
    The fixed parameters (noise std 30, a centred patch, a 20-40 N shove) keep the demo
    reproducible; `randomize` draws them per episode (noise std 15-40, a patch of 30-50 %
    of each side anywhere in the frame) so that a detector's training data varies.
    """

    MODES = ("camera_noise", "occlusion", "perturbation")

    def __init__(self, mode: str, onset_s: float, seed: int, randomize: bool = False) -> None:
        if mode not in self.MODES:
            raise FailureModeError(f"unknown fault '{mode}'; faults: {', '.join(self.MODES)}")
        self.mode, self.onset_s = mode, float(onset_s)
        self.rng = np.random.default_rng([seed, 7])
        self.fired_at: float | None = None  # episode time the fault took effect
        self.noise_std = float(self.rng.uniform(15, 40)) if randomize else 30.0
        if randomize:
            w, h = self.rng.uniform(0.3, 0.5, 2)
            x0, y0 = self.rng.uniform(0.0, 1.0 - w), self.rng.uniform(0.0, 1.0 - h)
            self.patch = (float(x0), float(y0), float(w), float(h))
        else:
            self.patch = (0.2, 0.25, 0.6, 0.5)  # x0, y0, w, h as fractions of the frame

    @property
    def fired(self) -> bool:
        return self.fired_at is not None

    def active(self, t: float) -> bool:
        return t >= self.onset_s

    def update(self, env, target: str | None, t: float) -> bool:
        """Call every control step with the episode time `t`; True when the fault fires."""
        if self.fired or not self.active(t):
            return False
        self.fired_at = float(t)
        if self.mode == "perturbation":
            angle = self.rng.uniform(0, 2 * np.pi)
            force = self.rng.uniform(20, 40) * np.array([np.cos(angle), np.sin(angle), 0.3])
            env.apply_perturbation(target or env.robot.ee_body, force, 0.2)
        return True

    def corrupt(self, frame: np.ndarray, t: float) -> np.ndarray:
        """The camera frame as the fault makes it at episode time `t`."""
        if not self.active(t):
            return frame
        if self.mode == "camera_noise":
            return add_image_noise(frame, self.rng, self.noise_std)
        if self.mode == "occlusion":
            h, w = frame.shape[:2]
            x0, y0, pw, ph = self.patch
            return occlude(frame, slice(int(y0 * h), int((y0 + ph) * h)),
                           slice(int(x0 * w), int((x0 + pw) * w)))
        return frame

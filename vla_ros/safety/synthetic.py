"""SYNTHETIC rollouts for testing detectors -- not produced by any policy.

Why: detectors, the conformal band and metrics must be testable before a trained policy
exists, and tests need ground truth with known structure. The generator mimics what SAFE
assumes of real VLA features:

- every task has its own feature offset (tasks live in different parts of feature space,
  mostly -- `offset_suppression` -- away from the failure direction) and a smooth
  task-specific trajectory over the episode;
- a failing rollout starts to drift at a random onset, in a direction *shared by all
  tasks* plus a smaller task-specific component, with per-step noise on top -- so a
  detector trained on seen tasks can transfer to unseen ones;
- failing rollouts tend to run longer (until a time limit) than successes, so length leaks
  the label unless metrics truncate to the shortest rollout;
- with `with_actions`, each step carries an action chunk [H, A]; after the onset the
  chunks of a failing rollout disagree more with their predecessors (what STAC reads).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vla_ros.safety.rollouts import Rollout, RolloutSet


@dataclass(frozen=True)
class SyntheticConfig:
    feature_dim: int = 32
    seen_tasks: int = 8
    unseen_tasks: int = 4
    rollouts_per_task: int = 24
    failure_rate: float = 0.4
    min_length: int = 40
    max_length: int = 80
    failure_extra_length: int = 20  # failures may run this much longer (time limit)
    drift: float = 6.0  # length of the failure drift at the episode end (in noise units)
    ramp_steps: int = 15  # steps from the onset until the drift is complete
    task_specific_drift: float = 0.5  # relative size of the per-task part of the drift
    noise: float = 1.0
    offset_suppression: float = 0.8  # how much of a task's offset along the shared drift
    # direction is removed (SAFE's premise: tasks differ mostly elsewhere in feature space)
    horizon: int = 8
    action_dim: int = 4
    with_actions: bool = True
    dt: float = 0.1


def generate_rollouts(config: SyntheticConfig = SyntheticConfig(), seed: int = 0,
                      policy_id: str = "synthetic") -> RolloutSet:
    """A labelled, SYNTHETIC rollout set with seen and unseen tasks (see module doc)."""
    rng = np.random.default_rng(seed)
    c = config
    d = c.feature_dim
    shared = _unit(rng.normal(size=d))
    n_tasks = c.seen_tasks + c.unseen_tasks
    rollouts: list[Rollout] = []
    for k in range(n_tasks):
        split = "seen" if k < c.seen_tasks else "unseen"
        offset = rng.normal(scale=1.5, size=d)
        offset -= c.offset_suppression * (offset @ shared) * shared
        path_dirs = rng.normal(scale=1.0, size=(2, d))
        own = _unit(rng.normal(size=d))
        direction = _unit(shared + c.task_specific_drift * own)
        mix = rng.normal(size=(d, c.action_dim)) / np.sqrt(d)
        for j in range(c.rollouts_per_task):
            fail = rng.random() < c.failure_rate
            length = int(rng.integers(c.min_length, c.max_length + 1))
            if fail:
                length += int(rng.integers(0, c.failure_extra_length + 1))
            rollouts.append(_one(rng, c, f"synth_task_{k:02d}", split, fail, length, offset,
                                 path_dirs, direction, mix, f"synth-{k:02d}-{j:03d}"))
    return RolloutSet(rollouts, policy_id, f"synthetic(seed={seed})")


def _one(rng, c: SyntheticConfig, task: str, split: str, fail: bool, length: int,
         offset, path_dirs, direction, mix, rid: str) -> Rollout:
    phase = np.linspace(0.0, 1.0, length)[:, None]
    base = offset + np.sin(np.pi * phase) * path_dirs[0] + phase * path_dirs[1]
    feats = base + c.noise * rng.normal(size=(length, c.feature_dim))
    ramp = np.zeros(length)
    if fail:
        onset = int(rng.uniform(0.1, 0.4) * length)
        ramp[onset:] = np.minimum(1.0, np.arange(length - onset) / c.ramp_steps)
        feats += c.drift * c.noise * ramp[:, None] * direction
    actions = None
    if c.with_actions:
        steps = np.arange(length)[:, None] + np.arange(1, c.horizon + 1)[None, :]
        target = np.sin(steps[..., None] * c.dt + np.arange(c.action_dim))  # (T, H, A)
        latent = feats @ mix * 0.05
        wobble = (0.05 + 0.05 * ramp)[:, None, None] * rng.normal(size=target.shape)
        actions = (target + latent[:, None, :] + wobble).astype(np.float32)
    return Rollout(task, split, not fail, feats.astype(np.float32),
                   np.arange(length) * c.dt, actions, "synthetic_drift" if fail else "",
                   rid, {"synthetic": True})


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)

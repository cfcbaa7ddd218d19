"""Failure injection: every mode yields rollouts labelled as failed, with the mode and onset.

The SO-101 is used because its episodes simulate fastest. Labels are the task predicate
at the end of the episode, never assumed: the clean expert solves the same seeds.
"""

import numpy as np
import pytest

from vla_ros.sim.env import SimEnv
from vla_ros.sim.failures import FAILURE_MODES, FailureInjector
from vla_ros.sim.rollout import run_expert_episode

# mode -> task where the mode is meaningful (perturbation: a pushed object is not held).
TASK = {m: "cube_in_bowl" for m in FAILURE_MODES} | {"perturbation": "push_cube_to_pad"}
CAMERA_MODES = ("camera_noise", "occlusion")


@pytest.fixture(scope="module")
def env():
    env = SimEnv("so101")
    yield env
    env.close()


@pytest.mark.parametrize("task", sorted(set(TASK.values())))
def test_clean_expert_solves_the_seed(env, task):
    rollout = run_expert_episode(env, task, 0)
    assert rollout.success and rollout.label == "success"
    assert rollout.failure_mode is None and rollout.failure_onset is None


@pytest.mark.parametrize("mode", FAILURE_MODES)
def test_mode_yields_a_labelled_failed_rollout(env, mode):
    cameras = ("wrist",) if mode in CAMERA_MODES else ()
    rollout = run_expert_episode(env, TASK[mode], 0, failure=mode, cameras=cameras,
                                 image_size=(16, 16))
    assert rollout.failure_mode == mode
    assert rollout.failure_onset is not None and 0 <= rollout.failure_onset <= rollout.times[-1]
    assert not rollout.success and rollout.label == "failure"
    assert len(rollout.times) == len(rollout.action_joints) == len(rollout.phases)
    if cameras:
        assert rollout.images["wrist"].shape == (len(rollout.times), 16, 16, 3)


def test_image_corruption():
    img = np.full((20, 20, 3), 128, np.uint8)
    noisy = FailureInjector("camera_noise", np.random.default_rng(0), params={"image_std": 20.0})
    assert noisy.corrupt_image(img).std() > 5
    occ = FailureInjector("occlusion", np.random.default_rng(0),
                          params={"x0": 0.1, "y0": 0.2, "w": 0.5, "h": 0.5})
    out = occ.corrupt_image(img)
    assert (out == 40).all(axis=2).sum() == 100  # a 10x10 dark patch
    assert (img == 128).all()  # input untouched

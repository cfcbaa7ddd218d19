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


# --- SimFault: what the world does to a policy's rollout (mujoco_sim and the eval runner) ---


def test_sim_fault_corrupts_frames_only_from_its_onset():
    from vla_ros.sim.failures import SimFault

    frame = np.full((128, 128, 3), 200, np.uint8)
    occlusion = SimFault("occlusion", 1.0, seed=3)
    assert occlusion.corrupt(frame, 0.99) is frame
    out = occlusion.corrupt(frame, 1.0)
    # the fixed patch (the demo's): rows h/4..3h/4, columns w/5..4w/5
    assert (out[32:96, 25:102] == 40).all()
    assert (out[:32] == 200).all() and (out[:, :25] == 200).all() and (out[:, 102:] == 200).all()
    noisy = SimFault("camera_noise", 0.0, seed=3).corrupt(frame, 0.5)
    assert noisy.dtype == np.uint8 and 20 < np.abs(noisy.astype(int) - 200).mean() < 40


def test_randomized_sim_faults_vary_per_seed_and_stay_in_the_frame():
    from vla_ros.sim.failures import SimFault

    frame = np.full((64, 96, 3), 200, np.uint8)
    patches, stds = set(), set()
    for seed in range(20):
        fault = SimFault("occlusion", 0.0, seed, randomize=True)
        x0, y0, w, h = fault.patch
        assert x0 >= 0 and x0 + w <= 1 and y0 >= 0 and y0 + h <= 1 and 0.3 <= w <= 0.5
        hidden = (fault.corrupt(frame, 0.0) == 40).all(axis=2).mean()
        assert 0.3 * 0.3 - 0.03 <= hidden <= 0.5 * 0.5 + 0.03
        patches.add(fault.patch)
        stds.add(SimFault("camera_noise", 0.0, seed, randomize=True).noise_std)
    assert len(patches) == 20 and min(stds) >= 15 and max(stds) <= 40 and len(stds) == 20
    # the same seed draws the same fault
    assert SimFault("occlusion", 0.0, 5, randomize=True).patch == SimFault(
        "occlusion", 0.0, 5, randomize=True).patch


def test_perturbation_fault_shoves_the_target_once(env):
    from vla_ros.sim.failures import FailureModeError, SimFault

    inst = env.reset(seed=0, task="pick_cube")
    fault = SimFault("perturbation", 0.2, seed=0)
    body = env.model.body(inst.target).id
    start = env.data.xpos[body].copy()
    assert not fault.update(env, inst.target, 0.1) and not fault.fired
    assert fault.update(env, inst.target, 0.2) and fault.fired_at == pytest.approx(0.2)
    env.step(100)
    assert not fault.update(env, inst.target, 0.3)  # fires once
    assert np.linalg.norm(env.data.xpos[body][:2] - start[:2]) > 0.02
    with pytest.raises(FailureModeError, match="unknown fault 'meteor'"):
        SimFault("meteor", 0.0, 0)

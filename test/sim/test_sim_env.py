"""SimEnv: scenes for every robot, joints, cameras, perturbations and bad-input errors."""

import numpy as np
import pytest

from vla_ros.sim.env import SimEnv, SimError
from vla_ros.sim.failures import FailureModeError
from vla_ros.sim.meshes import decimate
from vla_ros.sim.robots import UnknownRobotError
from vla_ros.sim.rollout import run_expert_episode
from vla_ros.sim.tasks import TaskNotSupportedError, UnknownTaskError, tasks_for_robot


@pytest.fixture(scope="module")
def panda(panda_env):
    return panda_env


def test_unknown_robot_lists_the_known_ones():
    with pytest.raises(UnknownRobotError, match="unknown robot 'ur5'.*panda.*so101"):
        SimEnv("ur5")


def test_unknown_task_on_reset_lists_the_tasks(panda):
    with pytest.raises(UnknownTaskError, match="unknown task 'fly'.*pick_cube"):
        panda.reset(seed=0, task="fly")


def test_unknown_joint_camera_and_sizes_are_named(panda):
    with pytest.raises(SimError, match="unknown joint 'elbow'"):
        panda.set_position_targets(["elbow"], [0.0])
    with pytest.raises(SimError, match="2 joint names but 1 targets"):
        panda.set_position_targets(["panda_joint1", "panda_joint2"], [0.0])
    with pytest.raises(SimError, match="non-finite targets.*panda_joint1"):
        panda.set_position_targets(["panda_joint1"], [np.nan])
    with pytest.raises(SimError, match="no camera 'top'.*scene"):
        panda.render("top", 32, 32)
    with pytest.raises(SimError, match="image size 0x32"):
        panda.render("scene", 0, 32)
    with pytest.raises(SimError, match="no body 'ghost'"):
        panda.apply_perturbation("ghost", [1, 0, 0], 0.1)


def test_unknown_failure_mode_and_unsupported_robot_task():
    env = SimEnv("panda")
    with pytest.raises(FailureModeError, match="unknown failure mode 'gremlins'"):
        run_expert_episode(env, "pick_cube", 0, failure="gremlins")
    g1 = SimEnv("g1")
    assert tasks_for_robot("g1") == []
    with pytest.raises(TaskNotSupportedError, match="'pick_cube'.*'g1'"):
        run_expert_episode(g1, "pick_cube", 0)
    assert "cube_in_drawer" not in tasks_for_robot("so101")
    assert len(tasks_for_robot("so101", "seen")) == len(tasks_for_robot("panda", "seen"))
    with pytest.raises(TaskNotSupportedError, match="does not fit"):
        run_expert_episode(SimEnv("so101"), "cube_in_drawer", 0)


def test_position_targets_are_tracked_and_clamped(panda):
    panda.reset()
    arm = [f"panda_joint{i}" for i in range(1, 8)]
    idx = panda.joint_indices(arm)
    goal = panda.home[idx] + 0.2
    panda.set_position_targets(arm, goal)
    panda.step(500)  # 1 s
    assert np.allclose(panda.joint_positions()[idx], goal, atol=0.02)
    panda.set_position_targets(["panda_joint4"], [5.0])  # beyond the upper limit
    assert panda.position_targets()[panda.joint_indices(["panda_joint4"])[0]] == pytest.approx(
        panda.upper[panda.joint_indices(["panda_joint4"])[0]])
    assert panda.time == pytest.approx(1.0)


def test_mimic_finger_follows_its_leader(panda):
    panda.reset()
    names, targets = panda.gripper_targets(1.0)
    panda.set_position_targets(names, targets)
    panda.step(300)
    q = panda.joint_positions()[panda.joint_indices(["panda_finger_joint1",
                                                     "panda_finger_joint2"])]  # fmt: skip
    assert q[0] == pytest.approx(q[1], abs=2e-3)
    assert panda.gripper_opening() < 0.01


def test_render_and_intrinsics(panda):
    panda.reset(seed=1, task="cube_in_bowl")
    for camera in ("scene", "wrist"):
        img = panda.render(camera, 40, 30)
        assert img.shape == (30, 40, 3) and img.dtype == np.uint8
        assert img.std() > 5  # not a blank frame
    k = panda.camera_intrinsics("scene", 40, 30)
    fovy = np.deg2rad(panda.model.cam_fovy[panda.model.camera("scene").id])
    assert k.fy == pytest.approx(15 / np.tan(fovy / 2))
    assert k.cx == pytest.approx(19.5) and k.K.shape == (3, 3) and k.P.shape == (3, 4)


def test_scene_camera_sees_the_workspace(panda):
    """Project the target object with the camera pose + intrinsics: it lands in the image."""
    inst = panda.reset(seed=2, task="pick_cube")
    p = panda.object_pose(inst.target)[0]
    T = panda.camera_pose("scene")
    pc = T[:3, :3].T @ (p - T[:3, 3])
    k = panda.camera_intrinsics("scene", 64, 48)
    u, v = k.fx * pc[0] / pc[2] + k.cx, k.fy * pc[1] / pc[2] + k.cy
    assert pc[2] > 0 and 0 <= u < 64 and 0 <= v < 48


def test_perturbation_pushes_an_object_for_its_duration(panda):
    inst = panda.reset(seed=0, task="pick_cube")
    before = panda.object_pose(inst.target)[0]
    panda.apply_perturbation(inst.target, [3.0, 0.0, 0.0], duration=0.1)
    panda.step(20)
    assert panda.data.xfrc_applied.any()
    panda.step(200)
    assert not panda.data.xfrc_applied.any()  # expired
    assert panda.object_pose(inst.target)[0][0] - before[0] > 0.01


def test_reset_is_reproducible(panda):
    a = panda.reset(seed=5, task="stack_cubes")
    pa = {n: panda.object_pose(n)[0] for n in a.active}
    b = panda.reset(seed=5, task="stack_cubes")
    assert a.instruction == b.instruction and a.active == b.active
    for n in b.active:
        assert np.allclose(pa[n], panda.object_pose(n)[0])


def test_so101_scene():
    env = SimEnv("so101")
    assert set(env.robot.arm_joints) | {"gripper"} == set(env.joint_names)
    env.reset(seed=0, task="pick_cube")
    assert env.render("wrist", 32, 32).shape == (32, 32, 3)


def test_g1_with_hands_loads_as_a_fixed_base_scene():
    env = SimEnv("g1")
    hand = [n for n in env.joint_names if "hand" in n]
    assert len(hand) == 14 and len(env.joint_names) == 43
    pelvis = env.object_pose("pelvis")[0].copy()
    idx = env.joint_indices(env.robot.arm_joints)
    goal = env.home[idx] + np.array([0.3, -0.2, 0.2, 0.3, 0.3, 0.2, 0.2])  # clear of the table
    env.set_position_targets(env.robot.arm_joints, goal)
    names, q = env.gripper_targets(1.0)
    env.set_position_targets(names, q)
    env.step(500)
    assert np.allclose(env.object_pose("pelvis")[0], pelvis)  # fixed base
    assert np.all(np.isfinite(env.joint_positions()))
    assert np.allclose(env.joint_positions()[idx], goal, atol=0.05)
    assert env.render("scene", 32, 32).std() > 5


def test_decimate_keeps_the_shape_within_a_cell():
    # A finely tessellated unit sphere (latitude-longitude grid, 14k triangles).
    n_u, n_v = 60, 120
    u, v = np.meshgrid(np.linspace(0, np.pi, n_u), np.linspace(0, 2 * np.pi, n_v),
                       indexing="ij")  # fmt: skip
    pts = np.stack([np.sin(u) * np.cos(v), np.sin(u) * np.sin(v), np.cos(u)], -1).reshape(-1, 3)
    i, j = np.meshgrid(np.arange(n_u - 1), np.arange(n_v - 1), indexing="ij")
    a, b, c, d = (i * n_v + j), (i * n_v + j + 1), ((i + 1) * n_v + j), ((i + 1) * n_v + j + 1)
    faces = np.concatenate([np.stack([a, b, c], -1), np.stack([b, d, c], -1)]).reshape(-1, 3)
    verts, small = decimate(pts, faces, 800)
    assert 100 < len(small) <= 800 and small.max() < len(verts)
    radius = np.linalg.norm(verts, axis=1)
    assert np.all(np.abs(radius - 1) < 0.2)
    assert np.allclose(verts.min(0), -1, atol=0.2) and np.allclose(verts.max(0), 1, atol=0.2)

"""Acceptance tests of the G1 whole-body IK (vla_ros.retarget.wholebody)."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.retarget.errors import IKError
from vla_ros.retarget.robot_model import RobotModel
from vla_ros.retarget.wholebody import WholeBodyIK

LEG = ("hip_pitch", "knee", "ankle_pitch")


@pytest.fixture(scope="module")
def wb() -> WholeBodyIK:
    return WholeBodyIK("g1")


def _moved(T: np.ndarray, offset) -> np.ndarray:
    T = T.copy()
    T[:3, 3] += offset
    return T


def _joint(robot: RobotModel, q: np.ndarray, name: str) -> float:
    return float(robot.joints_from_q(q)[robot.joint_names.index(name)])


def _check_acceptance(wb: WholeBodyIK, q0: np.ndarray, result, targets) -> None:
    """Hands within 5 mm (checked by FK, not by the solver's report), feet within 1 mm,
    CoM inside the support polygon, every joint within its limits."""
    robot = wb.robot
    assert result.converged, result
    for frame, target in zip(("left_hand_tcp", "right_hand_tcp"), targets, strict=True):
        reached = robot.fk(result.q, frame)
        assert np.linalg.norm(reached[:3, 3] - target[:3, 3]) < 5e-3
    for foot in robot.config.feet.values():
        before, after = robot.fk(q0, foot.frame), robot.fk(result.q, foot.frame)
        assert np.linalg.norm(after[:3, 3] - before[:3, 3]) < 1e-3
        assert np.linalg.norm(after[:3, :3] - before[:3, :3]) < 1e-2
    com = robot.com(result.q)
    assert result.com_inside and wb.support.contains(com[:2])
    joints = robot.joints_from_q(result.q)
    assert np.all(joints >= robot.lower) and np.all(joints <= robot.upper)
    assert result.limits_ok


def test_standing_reach(wb):
    q0 = wb.robot.q_neutral
    left, right = wb.hand_poses_at(q0)
    targets = (_moved(left, [0.15, 0.05, 0.05]), _moved(right, [0.20, -0.05, -0.10]))
    result = wb.solve(q0, *targets)
    _check_acceptance(wb, q0, result, targets)
    assert result.steps <= 30


def test_squat_30cm_comes_from_knees_and_hips(wb):
    robot, q0 = wb.robot, wb.robot.q_neutral
    h0 = wb.pelvis_height_at(q0)
    left, right = wb.hand_poses_at(q0)
    targets = (_moved(left, [0.1, 0.0, -0.3]), _moved(right, [0.1, 0.0, -0.3]))
    result = wb.solve(q0, *targets, pelvis_height=h0 - 0.30)
    _check_acceptance(wb, q0, result, targets)
    assert wb.pelvis_height_at(result.q) == pytest.approx(h0 - 0.30, abs=2e-3)
    for side in ("left", "right"):
        knee0, knee = (_joint(robot, q, f"{side}_knee_joint") for q in (q0, result.q))
        hip0, hip = (_joint(robot, q, f"{side}_hip_pitch_joint") for q in (q0, result.q))
        assert knee - knee0 > 1.0  # the knees bend a lot ...
        assert hip0 - hip > 0.5  # ... and the hips flex
    # pelvis stays level (a squat, not a bow)
    assert np.linalg.norm(robot.fk(result.q, "pelvis")[:3, :3] - np.eye(3)) < 0.05


@pytest.mark.parametrize("height", [0.4, 0.25])
def test_reaching_low_bends_the_legs(wb, height):
    """Hands near the floor with the pelvis height free: the legs, not the limits, give."""
    robot, q0 = wb.robot, wb.robot.q_neutral
    left, right = wb.hand_poses_at(q0)
    left[:3, 3] = [0.3, 0.15, height]
    right[:3, 3] = [0.3, -0.15, height]
    result = wb.solve(q0, left, right)
    _check_acceptance(wb, q0, result, (left, right))
    assert wb.pelvis_height_at(result.q) < wb.pelvis_height_at(q0) - 0.1
    assert _joint(robot, result.q, "left_knee_joint") > _joint(robot, q0, "left_knee_joint") + 0.5


def test_com_limit_holds_for_a_far_reach(wb):
    """A target out of reach forward: the CoM stays inside the polygon (the hands fall
    short instead of the robot tipping over), feet stay put."""
    robot, q0 = wb.robot, wb.robot.q_neutral
    left, right = wb.hand_poses_at(q0)
    targets = (_moved(left, [0.8, 0.0, -0.2]), _moved(right, [0.8, 0.0, -0.2]))
    result = wb.solve(q0, *targets, max_steps=60)
    assert not result.converged
    assert result.com_inside
    assert wb.support.contains(robot.com(result.q)[:2])
    assert result.foot_pos_err < 1e-3
    assert result.limits_ok


def test_without_the_com_limit_the_far_reach_tips_the_com_out(wb):
    """com_limit=False (the like-for-like comparison with pink) really drops the rows:
    the same far reach then leaves the CoM outside the polygon."""
    free = WholeBodyIK(wb.robot, com_limit=False)
    q0 = wb.robot.q_neutral
    left, right = free.hand_poses_at(q0)
    targets = (_moved(left, [0.8, 0.0, -0.2]), _moved(right, [0.8, 0.0, -0.2]))
    result = free.solve(q0, *targets, max_steps=60)
    assert not result.com_inside and result.foot_pos_err < 1e-3


def test_streaming_steps_respect_velocity_limits(wb):
    robot, q = wb.robot, wb.robot.q_neutral.copy()
    left, right = wb.hand_poses_at(q)
    targets = (_moved(left, [0.1, 0.0, -0.1]), _moved(right, [0.1, 0.0, -0.1]))
    wb.hold_feet(q)
    dt = 0.02
    for _ in range(50):
        q_next = wb.step(q, *targets, dt=dt)
        moved = np.abs(robot.joints_from_q(q_next) - robot.joints_from_q(q))
        assert np.all(moved <= robot.velocity_limit * dt + 1e-9)
        q = q_next
    reached = robot.fk(q, "left_hand_tcp")
    assert np.linalg.norm(reached[:3, 3] - targets[0][:3, 3]) < 5e-3


def test_support_polygon_is_both_soles(wb):
    wb.hold_feet(wb.robot.q_neutral)
    poly = wb.support_polygon
    assert len(poly) >= 4
    # feet ~0.24 m apart, soles 17 cm long: the polygon spans both
    assert np.ptp(poly[:, 1]) > 0.2 and np.ptp(poly[:, 0]) > 0.15
    com = wb.robot.com(wb.robot.q_neutral)
    assert wb.support.contains(com[:2])
    assert not wb.support.contains(com[:2] + [0.5, 0.0])


def test_bad_input(wb):
    q0 = wb.robot.q_neutral
    left, right = wb.hand_poses_at(q0)
    bad = left.copy()
    bad[0, 3] = np.nan
    with pytest.raises(IKError, match="finite 4x4"):
        wb.solve(q0, bad, right)
    with pytest.raises(IKError, match="36 values"):
        wb.solve(q0[:-1], left, right)
    with pytest.raises(IKError, match="pelvis_height"):
        wb.solve(q0, left, right, pelvis_height=-0.2)
    with pytest.raises(IKError, match="feet"):
        WholeBodyIK("panda")
    with pytest.raises(IKError, match="no end effector"):
        WholeBodyIK(wb.robot, hands=("left_hand", "left_foot"))

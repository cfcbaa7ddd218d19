"""Acceptance tests of the QP IK (vla_ros.retarget.ik) on the Franka Panda.

Targets are forward kinematics of random configurations inside the joint limits, so every
target is reachable; the random generator is seeded, so a failure reproduces exactly.
"""

from __future__ import annotations

import numpy as np
import pinocchio as pin
import pytest

from vla_ros.retarget.errors import IKError, RetargetError, UnknownRobotError
from vla_ros.retarget.ik import IKProblem, PoseIK, integrate, solve_ik
from vla_ros.retarget.ik_limits import (
    AccelerationLimit,
    JointPositionLimit,
    VelocityLimit,
)
from vla_ros.retarget.ik_tasks import ElbowSwivelTask, FrameTask, JointPinTask, PostureTask
from vla_ros.retarget.robot_model import RobotModel


@pytest.fixture(scope="module")
def panda() -> RobotModel:
    return RobotModel.load("panda")


def _random_joints(robot: RobotModel, rng: np.random.Generator, span: float = 1.0):
    mid, half = (robot.upper + robot.lower) / 2, (robot.upper - robot.lower) / 2
    return rng.uniform(mid - span * half, mid + span * half)


def _within_limits(robot: RobotModel, q: np.ndarray) -> bool:
    joints = robot.joints_from_q(q)
    return bool(np.all(joints >= robot.lower) and np.all(joints <= robot.upper))


def test_panda_200_random_targets_converge_within_limits(panda):
    """< 1 mm and < 0.01 rad within 50 steps from the neutral pose, limits never crossed
    (every configuration the solver evaluates is checked, not only the result)."""
    ik = PoseIK(panda)
    visited_outside = []
    cost = ik.problem.cost

    def checked_cost(q):
        if not _within_limits(panda, q):
            visited_outside.append(q.copy())
        return cost(q)

    ik.problem.cost = checked_cost
    rng = np.random.default_rng(0)
    failures, steps = [], []
    for i in range(200):
        target = panda.fk(panda.q_from_joints(_random_joints(panda, rng)))
        result = ik.solve(panda.q_neutral, target, max_steps=50, tol_pos=1e-3, tol_rot=1e-2)
        steps.append(result.steps)
        # check the errors independently of the solver's own report
        reached = panda.fk(result.q)
        pos_err = np.linalg.norm(reached[:3, 3] - target[:3, 3])
        rot_err = np.linalg.norm(pin.log3(reached[:3, :3] @ target[:3, :3].T))
        if not (result.converged and pos_err < 1e-3 and rot_err < 1e-2 and result.steps <= 50):
            failures.append((i, result.steps, pos_err, rot_err))
        assert _within_limits(panda, result.q)
    assert not failures, f"{len(failures)} of 200 targets not reached: {failures[:5]}"
    assert not visited_outside
    assert np.median(steps) <= 15  # most targets need a handful of steps


def test_step_respects_velocity_and_position_limits(panda):
    ik = PoseIK(panda)
    rng = np.random.default_rng(7)
    dt = 0.01
    q = panda.q_neutral.copy()
    for _ in range(5):
        target = panda.fk(panda.q_from_joints(_random_joints(panda, rng)))
        for _ in range(40):
            q_next = ik.step(q, target, dt)
            moved = np.abs(panda.joints_from_q(q_next) - panda.joints_from_q(q))
            assert np.all(moved <= panda.velocity_limit * dt + 1e-9)
            assert _within_limits(panda, q_next)
            q = q_next


def test_acceleration_limit_bounds_change_of_step(panda):
    a_max = 5.0
    task = FrameTask(panda.ee_frame)
    problem = IKProblem(panda, [task], [VelocityLimit(), AccelerationLimit(a_max),
                                        JointPositionLimit()])
    target = panda.fk(panda.q_neutral)
    target[:3, 3] += [0.2, -0.1, 0.1]
    task.set_target(target)
    dt, q, prev = 0.01, panda.q_neutral.copy(), np.zeros(panda.nv)
    for _ in range(30):
        dq = problem.solve(q, dt).copy()
        assert np.all(np.abs(dq - prev) <= a_max * dt * dt + 1e-9)
        q, prev = integrate(panda, q, dq), dq


def test_joint_position_limit_margin_is_kept(panda):
    margin = 0.1
    task = FrameTask(panda.ee_frame)
    problem = IKProblem(panda, [task], [JointPositionLimit(margin=margin)])
    target = panda.fk(panda.q_neutral)
    target[:3, 3] += [0.6, 0.0, -0.3]  # far: drives joints towards their limits
    task.set_target(target)
    q = panda.q_neutral.copy()
    for _ in range(30):
        q = integrate(panda, q, problem.solve(q))
        joints = panda.joints_from_q(q)
        assert np.all(joints >= panda.lower + margin - 1e-9)
        assert np.all(joints <= panda.upper - margin + 1e-9)


def _self_motion(robot: RobotModel, q: np.ndarray, distance: float) -> np.ndarray:
    """Walk `distance` (rad, joint-space arc length) along the 7-DoF arm's self-motion
    manifold from q: the same end-effector pose, another arm configuration. Gives pinned
    joint values and swivel angles that are reachable by construction."""
    model, data = robot.model, robot.model.createData()
    fid = robot.frame_id(robot.ee_frame)
    target = robot.fk(q)
    q = q.copy()
    direction = None
    for _ in range(int(abs(distance) / 0.01)):
        J = pin.computeFrameJacobian(model, data, q, fid, pin.LOCAL_WORLD_ALIGNED)
        n = np.linalg.svd(J)[2][-1]
        if direction is None:
            n *= np.sign(distance)
        elif n @ direction < 0:
            n = -n
        direction = n
        q = q + 0.01 * n
        for _ in range(3):  # project back onto the pose
            T = robot.fk(q)
            err = np.concatenate((T[:3, 3] - target[:3, 3], pin.log3(T[:3, :3] @ target[:3, :3].T)))
            J = pin.computeFrameJacobian(model, data, q, fid, pin.LOCAL_WORLD_ALIGNED)
            q = q - np.linalg.pinv(J) @ err
    return q


def _central_pairs(robot: RobotModel, seed: int, count: int, distance: float = 0.3):
    """(q_a, q_b) pairs: same end-effector pose, both well inside the limits."""
    rng = np.random.default_rng(seed)
    pairs = []
    while len(pairs) < count:
        qa = robot.q_from_joints(_random_joints(robot, rng, span=0.5))
        qb = _self_motion(robot, qa, distance)
        if _within_limits(robot, qb):
            pairs.append((qa, qb))
    return pairs


def test_erj_pinned_joint_holds_and_two_values_give_two_arms(panda):
    """ERJ (EE pose + one joint): the pinned joint within 1e-3 rad while the EE reaches
    the target; two pinned values -> two configurations with the same EE pose."""
    pinned = JointPinTask("panda_joint3", weight=10.0)
    ik = PoseIK(panda, extra_tasks=[pinned])
    j = panda.joint_names.index("panda_joint3")
    for qa, qb in _central_pairs(panda, seed=11, count=10):
        target = panda.fk(qa)
        values = (panda.joints_from_q(qa)[j], panda.joints_from_q(qb)[j])
        solutions = []
        for value in values:
            pinned.value = value
            result = ik.solve(panda.q_neutral, target)
            assert result.converged, result
            assert abs(panda.joints_from_q(result.q)[j] - value) <= 1e-3
            reached = panda.fk(result.q)
            assert np.linalg.norm(reached[:3, 3] - target[:3, 3]) < 1e-3
            assert np.linalg.norm(pin.log3(reached[:3, :3] @ target[:3, :3].T)) < 1e-2
            solutions.append(panda.joints_from_q(result.q))
        diff = np.abs(solutions[0] - solutions[1])
        assert diff[j] == pytest.approx(abs(values[1] - values[0]), abs=2e-3)
        assert diff[j] > 0.02  # two different arm configurations, one EE pose
        assert np.max(np.delete(diff, j)) > 0.01


def test_era_swivel_angle_is_reached(panda):
    """ERA (EE pose + elbow swivel): the commanded swivel within 0.02 rad."""
    swivel = ElbowSwivelTask.from_robot(panda)
    ik = PoseIK(panda, extra_tasks=[swivel])
    used = 0
    for qa, qb in _central_pairs(panda, seed=7, count=10):
        target = panda.fk(qa)
        angles = []
        for q_ref in (qa, qb):
            ik.problem.update_kinematics(q_ref)
            angles.append(swivel.measure(ik.problem))
        if abs(angles[1] - angles[0]) < 0.05:  # the walk turned the wrist, not the elbow
            continue
        used += 1
        q = panda.q_neutral  # first from neutral, then a new swivel warm-started (teleop)
        for angle in angles:
            swivel.angle = angle
            result = ik.solve(q, target)
            q = result.q
            assert result.converged, result
            ik.problem.update_kinematics(result.q)
            err = (swivel.measure(ik.problem) - angle + np.pi) % (2 * np.pi) - np.pi
            assert abs(err) <= 0.02
            assert result.pos_err < 1e-3 and result.rot_err < 1e-2
    assert used >= 5


def test_swivel_jacobian_matches_finite_differences(panda):
    swivel = ElbowSwivelTask.from_robot(panda)
    frame = FrameTask(panda.ee_frame)
    problem = IKProblem(panda, [frame, swivel])
    rng = np.random.default_rng(3)
    for _ in range(3):
        q = panda.q_from_joints(_random_joints(panda, rng, span=0.8))
        frame.set_target(panda.fk(panda.q_from_joints(_random_joints(panda, rng))))
        problem.update_kinematics(q)
        J, e = np.zeros((1, panda.nv)), np.zeros(1)
        swivel.compute(problem, J, e)
        J_frame, e_frame = np.zeros((6, panda.nv)), np.zeros(6)
        frame.compute(problem, J_frame, e_frame)
        numeric = np.zeros((7, panda.nv))
        for i in range(panda.nv):
            d = np.zeros(panda.nv)
            d[i] = 1e-6
            problem.update_kinematics(q + d)
            plus = np.concatenate((frame.error(problem), swivel.error(problem)))
            problem.update_kinematics(q - d)
            minus = np.concatenate((frame.error(problem), swivel.error(problem)))
            numeric[:, i] = (plus - minus) / 2e-6
        np.testing.assert_allclose(J_frame, numeric[:6], atol=1e-6)
        np.testing.assert_allclose(J, numeric[6:], atol=1e-6)


def test_pose_ik_is_deterministic(panda):
    rng = np.random.default_rng(1)
    targets = [panda.fk(panda.q_from_joints(_random_joints(panda, rng))) for _ in range(20)]
    a = [PoseIK(panda).solve(panda.q_neutral, T).q for T in targets]
    b = [PoseIK(panda).solve(panda.q_neutral, T).q for T in targets]
    np.testing.assert_array_equal(np.array(a), np.array(b))


@pytest.mark.parametrize("solver", ["daqp", "proxsuite", "quadprog"])
def test_qp_backends_agree(panda, solver):
    task = FrameTask(panda.ee_frame)
    posture = PostureTask(1e-3)
    limits = [VelocityLimit(), JointPositionLimit()]
    target = panda.fk(panda.q_neutral)
    target[:3, 3] += [0.1, 0.2, -0.1]
    task.set_target(target)
    reference = IKProblem(panda, [task, posture], limits, solver="daqp")
    other = IKProblem(panda, [task, posture], limits, solver=solver)
    q = panda.q_neutral
    np.testing.assert_allclose(other.solve(q, 0.02), reference.solve(q, 0.02), atol=1e-6)


def test_solve_ik_function_matches_problem(panda):
    task = FrameTask(panda.ee_frame)
    target = panda.fk(panda.q_neutral)
    target[:3, 3] += [0.05, 0.0, 0.05]
    task.set_target(target)
    dq = solve_ik(panda, panda.q_neutral, [task], 0.01, limits=[VelocityLimit()])
    problem = IKProblem(panda, [task], [VelocityLimit()])
    np.testing.assert_allclose(dq, problem.solve(panda.q_neutral, 0.01), atol=1e-9)
    # the cached problem is reused and still gives a fresh result
    dq2 = solve_ik(panda, panda.q_neutral, [task], 0.01, limits=[VelocityLimit()])
    np.testing.assert_array_equal(dq, dq2)


# --- bad input -----------------------------------------------------------------------------
def test_nan_target_is_refused(panda):
    target = panda.fk(panda.q_neutral)
    target[0, 3] = np.nan
    with pytest.raises(IKError, match="finite 4x4"):
        PoseIK(panda).solve(panda.q_neutral, target)


def test_wrong_target_shape_is_refused(panda):
    with pytest.raises(IKError, match="4x4"):
        PoseIK(panda).step(panda.q_neutral, np.eye(3), 0.01)


def test_wrong_q_dimension_names_the_sizes(panda):
    target = panda.fk(panda.q_neutral)
    with pytest.raises(IKError, match="7 values"):
        PoseIK(panda).solve(np.zeros(6), target)


def test_nan_configuration_names_the_index(panda):
    q = panda.q_neutral.copy()
    q[3] = np.inf
    with pytest.raises(IKError, match=r"non-finite values at indices \[3\]"):
        PoseIK(panda).step(q, panda.fk(panda.q_neutral), 0.01)


def test_unknown_robot_frame_joint_and_solver(panda):
    with pytest.raises(UnknownRobotError, match="no_such_robot"):
        RobotModel.load("no_such_robot")
    with pytest.raises(IKError, match="no frame 'no_such_frame'"):
        PoseIK(panda, frame="no_such_frame")
    with pytest.raises(IKError, match="'elbow_joint' is not a commanded joint"):
        PoseIK(panda, extra_tasks=[JointPinTask("elbow_joint")])
    with pytest.raises(IKError, match="unknown QP solver 'cplex'"):
        PoseIK(panda, solver="cplex")


def test_bad_weights_and_limits_are_refused():
    with pytest.raises(IKError, match="position weight"):
        FrameTask("panda_hand_tcp", position_weight=-1.0)
    with pytest.raises(IKError, match="margin"):
        JointPositionLimit(margin=-0.1)
    with pytest.raises(IKError, match="scale"):
        VelocityLimit(scale=0.0)
    assert issubclass(IKError, RetargetError)


def test_frame_task_without_target_is_an_error(panda):
    problem = IKProblem(panda, [FrameTask(panda.ee_frame)])
    with pytest.raises(IKError, match="no target set"):
        problem.solve(panda.q_neutral)


def test_diagonal_tasks_match_dense_rows(panda):
    """Posture and pinned-joint tasks are added to the diagonal of H; stacked as dense rows
    they must give the same step."""

    class DensePosture(PostureTask):
        def bind(self, robot):
            super().bind(robot)
            self.diagonal_index = None

    class DensePin(JointPinTask):
        def bind(self, robot):
            super().bind(robot)
            self.diagonal_index = None

    target = panda.fk(panda.q_neutral)
    target[:3, 3] += [0.1, -0.1, 0.05]
    steps = []
    for posture, pinned in ((PostureTask(1e-2), JointPinTask("panda_joint3", 0.3, 2.0)),
                            (DensePosture(1e-2), DensePin("panda_joint3", 0.3, 2.0))):
        task = FrameTask(panda.ee_frame, 1.0, 0.5)
        task.set_target(target)
        problem = IKProblem(panda, [task, posture, pinned], [VelocityLimit()])
        assert (problem.J_cost.shape[0] == 6) is (posture.diagonal_index is not None)
        steps.append(problem.solve(panda.q_neutral, 0.05).copy())
    np.testing.assert_allclose(steps[0], steps[1], atol=1e-10)

"""IK benchmark: vla_ros.retarget QP IK against pink (pin-pink) on the same problems, same run.

Cases (both solvers get the same model, targets, task weights, limits and QP back-end):
- panda_pose: Panda TCP pose, targets = FK of random configurations, from the neutral pose;
- panda_erj:  the same plus joint 3 pinned (ERJ), pinned value reachable by construction;
- g1_wholebody: G1 (free-flyer + 29 joints) both hands + pelvis height, feet as equality
  constraints. Pink has no CoM limit, so ours runs twice: "no CoM limit" is the same QP
  as pink's (the like-for-like speed ratio), "step" also keeps the CoM inside the support
  polygon (8 more inequality rows: the QP whole-body retargeting actually solves).

A step = kinematics update + one QP + integration, i.e. what a control loop pays per
cycle; targets are set once per problem, outside the timed step, for both solvers. Both
run the same plain loop (full steps, no line search or restarts; joint-limit gain 0.5 as
pink's default) so steps and errors compare the formulations; the `ours solve()` rows show
PoseIK.solve / WholeBodyIK.solve (line search, LM damping, restarts, limit gain 1) for the
success rate a caller gets.

    nice .venv/bin/python bench/ik.py [--targets 100] [--solver daqp]
Goals: ours >= 3x faster than pink per step; median <= 40 us (Panda), <= 150 us (G1).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # tiny matrices: threads only cost
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from functools import partial  # noqa: E402

import numpy as np  # noqa: E402
import pinocchio as pin  # noqa: E402

from vla_ros.retarget.ik import IKProblem, PoseIK, integrate  # noqa: E402
from vla_ros.retarget.ik_tasks import JointPinTask  # noqa: E402
from vla_ros.retarget.robot_model import RobotModel  # noqa: E402
from vla_ros.retarget.wholebody import (  # noqa: E402
    HAND_ORIENTATION_WEIGHT,
    PELVIS_HEIGHT_WEIGHT,
    PELVIS_TILT_WEIGHT,
    POSTURE_WEIGHT,
    WholeBodyIK,
)

TOL_POS, TOL_ROT = 1e-3, 1e-2
PINK_LIMIT_GAIN = 0.5
"""pink's ConfigurationLimit closes half the distance to a joint limit per step; the plain
loop of ours uses the same gain so both run the same formulation."""


def pose_error(T: pin.SE3 | np.ndarray, target: np.ndarray) -> tuple[float, float]:
    if isinstance(T, pin.SE3):
        p, R = T.translation, T.rotation
    else:
        p, R = T[:3, 3], T[:3, :3]
    return float(np.linalg.norm(p - target[:3, 3])), float(
        np.linalg.norm(pin.log3(R @ target[:3, :3].T))
    )


class Run:
    """Per-step times (ns), steps to converge and final errors of one solver on one case."""

    def __init__(self) -> None:
        self.times: list[int] = []
        self.steps: list[int] = []
        self.converged = 0
        self.pos_err: list[float] = []
        self.rot_err: list[float] = []
        self.extra_err: list[float] = []

    def row(self, name: str, reference: Run | None = None) -> str:
        t = np.array(self.times) / 1e3
        median = float(np.median(t)) if len(t) else float("nan")
        ratio = ""
        if reference is not None and reference.times:
            ratio = f"{np.median(np.array(reference.times) / 1e3) / median:5.1f}x"
        n = len(self.pos_err)
        steps = f"{np.median(self.steps):4.0f}" if self.steps else "   -"
        extra = f"{np.max(self.extra_err):.1e}" if self.extra_err else "-"
        time_cols = f"{median:8.1f} {np.percentile(t, 90):8.1f}" if len(t) else f"{'-':>8} {'-':>8}"
        return (
            f"{name:<34} {time_cols} {ratio:>7} {steps:>6} "
            f"{self.converged:>4}/{n:<4} {np.median(self.pos_err) * 1e3:8.3f} "
            f"{np.median(self.rot_err):8.4f} {extra:>8}"
        )


HEADER = (
    f"{'case / solver':<34} {'med us':>8} {'p90 us':>8} {'speedup':>7} {'steps':>6} "
    f"{'conv':>9} {'pos mm':>8} {'rot rad':>8} {'extra':>8}"
)


def plain_loop(
    run: Run,
    step: Callable[[np.ndarray], np.ndarray],
    q0: np.ndarray,
    errors: Callable[[np.ndarray], tuple[float, float, float]],
    max_steps: int,
    extra_tol: float = 1e-3,
) -> None:
    """Full QP steps from q0 until converged or max_steps; every step is timed."""
    q = q0.copy()
    clock = time.perf_counter_ns
    for k in range(max_steps + 1):
        pos, rot, extra = errors(q)
        if (pos <= TOL_POS and rot <= TOL_ROT and extra <= extra_tol) or k == max_steps:
            break
        t0 = clock()
        q = step(q)
        run.times.append(clock() - t0)
    done = pos <= TOL_POS and rot <= TOL_ROT and extra <= extra_tol
    run.converged += done
    if done:
        run.steps.append(k)
    run.pos_err.append(pos)
    run.rot_err.append(rot)
    run.extra_err.append(extra)


def ours_stepper(problem: IKProblem, dt: float = 1.0) -> Callable[[np.ndarray], np.ndarray]:
    """One step of ours with the targets already set, like pink's step below: kinematics
    update + QP (`IKProblem.solve`) + integration."""
    robot = problem.robot

    def step(q: np.ndarray) -> np.ndarray:
        return integrate(robot, q, problem.solve(q, dt))

    return step


# --- pink side ---------------------------------------------------------------------------
def pink_setup(robot: RobotModel):
    import pink

    data = robot.model.createData()
    return pink, pink.Configuration(robot.model, data, robot.q_neutral.copy())


def pink_stepper(pink_mod, configuration, tasks, solver, constraints=(), dt=1.0):
    model = configuration.model
    limits = [
        pink_mod.limits.ConfigurationLimit(model),
        pink_mod.limits.VelocityLimit(model),
    ]

    def step(q: np.ndarray) -> np.ndarray:
        if q is not configuration.q:
            configuration.update(q)
        v = pink_mod.solve_ik(
            configuration, tasks, dt, solver=solver, damping=1e-6, limits=limits,
            constraints=list(constraints) or None, safety_break=False,
        )
        q_next = pin.integrate(model, configuration.q, v * dt)
        configuration.update(q_next)
        return configuration.q

    return step


# --- cases -------------------------------------------------------------------------------
def random_targets(robot: RobotModel, n: int, seed: int, span: float = 1.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    mid, half = (robot.upper + robot.lower) / 2, (robot.upper - robot.lower) / 2
    return [
        robot.q_from_joints(rng.uniform(mid - span * half, mid + span * half)) for _ in range(n)
    ]


def case_panda_pose(n: int, solver: str, max_steps: int) -> list[str]:
    robot = RobotModel.load("panda")
    frame = robot.ee_frame
    configs = random_targets(robot, n, seed=0)
    targets = [robot.fk(q, frame) for q in configs]

    ours, ours_solve, theirs = Run(), Run(), Run()
    ik = PoseIK(robot, solver=solver)
    plain = PoseIK(robot, solver=solver, position_limit_gain=PINK_LIMIT_GAIN)
    data = robot.model.createData()
    fid = robot.frame_id(frame)

    def err_of(q, target):
        pin.forwardKinematics(robot.model, data, q)
        return (*pose_error(pin.updateFramePlacement(robot.model, data, fid), target), 0.0)

    for target in targets:
        plain.task.set_target(target)
        plain_loop(ours, ours_stepper(plain.problem), robot.q_neutral,
                   lambda q, T=target: err_of(q, T), max_steps)  # fmt: skip
        result = ik.solve(robot.q_neutral, target, max_steps=max_steps)
        ours_solve.converged += result.converged
        if result.converged:
            ours_solve.steps.append(result.steps)
        ours_solve.pos_err.append(result.pos_err)
        ours_solve.rot_err.append(result.rot_err)

    pink_mod, configuration = pink_setup(robot)
    task = pink_mod.tasks.FrameTask(frame, position_cost=1.0, orientation_cost=1.0)
    step = pink_stepper(pink_mod, configuration, [task], solver)
    for target in targets:
        task.set_target(pin.SE3(target[:3, :3], target[:3, 3]))
        configuration.update(robot.q_neutral.copy())
        plain_loop(theirs, step, configuration.q, lambda q, T=target: err_of(q, T), max_steps)
    return [
        theirs.row("panda_pose  pink"),
        ours.row("panda_pose  ours (step)", theirs),
        ours_solve.row("panda_pose  ours solve()"),
    ]


def case_panda_erj(n: int, solver: str, max_steps: int) -> list[str]:
    robot = RobotModel.load("panda")
    frame, joint = robot.ee_frame, "panda_joint3"
    j = robot.joint_names.index(joint)
    configs = random_targets(robot, n, seed=1, span=0.5)
    targets = [robot.fk(q, frame) for q in configs]
    values = [float(robot.joints_from_q(q)[j]) for q in configs]
    weight = 10.0

    pinned = JointPinTask(joint, weight=weight)
    ik = PoseIK(robot, solver=solver, extra_tasks=[pinned])
    plain = PoseIK(robot, solver=solver, extra_tasks=[pinned], position_limit_gain=PINK_LIMIT_GAIN)
    data = robot.model.createData()
    fid = robot.frame_id(frame)

    def err_of(q, target, value):
        pin.forwardKinematics(robot.model, data, q)
        pose = pose_error(pin.updateFramePlacement(robot.model, data, fid), target)
        return (*pose, abs(q[robot.joint_q_index[j]] - value))

    ours, ours_solve, theirs = Run(), Run(), Run()
    for target, value in zip(targets, values, strict=True):
        pinned.value = value
        plain.task.set_target(target)
        plain_loop(ours, ours_stepper(plain.problem), robot.q_neutral,
                   lambda q, T=target, v=value: err_of(q, T, v), max_steps)  # fmt: skip
        result = ik.solve(robot.q_neutral, target, max_steps=max_steps)
        ours_solve.converged += result.converged
        if result.converged:
            ours_solve.steps.append(result.steps)
        ours_solve.pos_err.append(result.pos_err)
        ours_solve.rot_err.append(result.rot_err)
        ours_solve.extra_err.append(abs(result.q[robot.joint_q_index[j]] - value))

    pink_mod, configuration = pink_setup(robot)
    task = pink_mod.tasks.FrameTask(frame, position_cost=1.0, orientation_cost=1.0)
    A = np.zeros((1, robot.nv))
    A[0, robot.joint_v_index[j]] = 1.0
    q_ref = robot.q_neutral.copy()
    for target, value in zip(targets, values, strict=True):
        task.set_target(pin.SE3(target[:3, :3], target[:3, 3]))
        pin_task = pink_mod.tasks.LinearHolonomicTask(
            A, np.array([value - q_ref[robot.joint_q_index[j]]]), q_ref, cost=np.sqrt(weight)
        )
        step = pink_stepper(pink_mod, configuration, [task, pin_task], solver)
        configuration.update(robot.q_neutral.copy())
        plain_loop(theirs, step, configuration.q,
                   lambda q, T=target, v=value: err_of(q, T, v), max_steps)  # fmt: skip
    return [
        theirs.row("panda_erj   pink"),
        ours.row("panda_erj   ours (step)", theirs),
        ours_solve.row("panda_erj   ours solve()"),
    ]


def case_g1(n: int, solver: str, max_steps: int) -> list[str]:
    """Standing reaches and squats (pelvis 0-30 cm lower, hands forward and down)."""
    wb = WholeBodyIK("g1", solver=solver)
    plain = WholeBodyIK(wb.robot, solver=solver, position_limit_gain=PINK_LIMIT_GAIN)
    # the problem pink solves: the same tasks and limits, without the CoM inequality rows
    same = WholeBodyIK(wb.robot, solver=solver, position_limit_gain=PINK_LIMIT_GAIN,
                       com_limit=False)
    robot = wb.robot
    q0 = robot.q_neutral
    h0 = wb.pelvis_height_at(q0)
    left0, right0 = wb.hand_poses_at(q0)
    rng = np.random.default_rng(2)
    problems = []
    # Reachable by construction: the targets are the hands and pelvis of a configuration our
    # solver found for a random squat + reach request (feet on the ground, CoM inside).
    while len(problems) < n:
        drop = float(rng.uniform(0.0, 0.3))
        offset = rng.uniform([0.0, -0.05, -0.1], [0.2, 0.05, 0.05]) + [0, 0, -drop]
        left, right = left0.copy(), right0.copy()
        left[:3, 3] += offset
        right[:3, 3] += offset * [1, -1, 1]
        found = wb.solve(q0, left, right, h0 - drop, max_steps=200)
        inside = wb.support.contains(found.com[:2], wb.support.margin)  # with the margin
        if found.converged and inside and found.limits_ok and found.foot_pos_err < 1e-6:
            problems.append((*wb.hand_poses_at(found.q), wb.pelvis_height_at(found.q)))

    frames = [wb.hands[h].frame for h in wb.hand_names]
    feet = [t.frame for t in wb.feet.values()]
    data = robot.model.createData()
    fids = [robot.frame_id(f) for f in (*frames, *feet, wb.pelvis.frame)]
    wb.hold_feet(q0)
    feet0 = [robot.fk(q0, f) for f in feet]

    def err_of(q, left, right, height):
        pin.forwardKinematics(robot.model, data, q)
        poses = [pin.updateFramePlacement(robot.model, data, f) for f in fids]
        hands = [pose_error(poses[i], T) for i, T in enumerate((left, right))]
        foot = max(pose_error(poses[2 + i], T)[0] for i, T in enumerate(feet0))
        pelvis = abs(poses[4].translation[2] - height)
        return (max(h[0] for h in hands), max(h[1] for h in hands), max(foot, pelvis))

    ours, ours_same, ours_solve, theirs = Run(), Run(), Run(), Run()
    for left, right, height in problems:
        for ik, run in ((plain, ours), (same, ours_same)):
            ik.hold_feet(q0)
            ik.set_targets(left, right, height)
            plain_loop(run, ours_stepper(ik.problem), q0,
                       partial(err_of, left=left, right=right, height=height), max_steps)
        result = wb.solve(q0, left, right, height, max_steps=max_steps)
        ours_solve.converged += result.converged
        if result.converged:
            ours_solve.steps.append(result.steps)
        ours_solve.pos_err.append(max(result.hand_pos_err.values()))
        ours_solve.rot_err.append(max(result.hand_rot_err.values()))
        ours_solve.extra_err.append(result.foot_pos_err)

    pink_mod, configuration = pink_setup(robot)
    T = pink_mod.tasks
    hand_tasks = [
        T.FrameTask(f, position_cost=1.0, orientation_cost=np.sqrt(HAND_ORIENTATION_WEIGHT))
        for f in frames
    ]
    tilt = np.sqrt(PELVIS_TILT_WEIGHT)
    pelvis = T.FrameTask(wb.pelvis.frame, position_cost=[0.0, 0.0, np.sqrt(PELVIS_HEIGHT_WEIGHT)],
                         orientation_cost=[tilt, tilt, 0.0])  # fmt: skip
    posture = T.PostureTask(cost=np.sqrt(POSTURE_WEIGHT))
    posture.set_target(q0)
    foot_tasks = [T.FrameTask(f, position_cost=1.0, orientation_cost=1.0) for f in feet]
    for task, pose in zip(foot_tasks, feet0, strict=True):
        task.set_target(pin.SE3(pose[:3, :3], pose[:3, 3]))
    step = pink_stepper(pink_mod, configuration, [*hand_tasks, pelvis, posture], solver,
                        constraints=foot_tasks)  # fmt: skip
    for left, right, height in problems:
        for task, target in zip(hand_tasks, (left, right), strict=True):
            task.set_target(pin.SE3(target[:3, :3], target[:3, 3]))
        level = pin.SE3.Identity()
        level.translation[2] = height
        pelvis.set_target(level)
        configuration.update(q0.copy())
        plain_loop(theirs, step, configuration.q,
                   lambda q, a=left, b=right, h=height: err_of(q, a, b, h), max_steps)  # fmt: skip
    return [
        theirs.row("g1_wholebody pink (no CoM limit)"),
        ours_same.row("g1_wholebody ours (no CoM limit)", theirs),
        ours.row("g1_wholebody ours (step)", theirs),
        ours_solve.row("g1_wholebody ours solve()"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", type=int, default=100, help="problems per case")
    parser.add_argument("--solver", default="daqp", help="QP back-end for both (daqp|quadprog)")
    parser.add_argument("--max-steps", type=int, default=50)
    parser.add_argument("--cases", default="panda_pose,panda_erj,g1_wholebody")
    args = parser.parse_args()
    cases = {"panda_pose": case_panda_pose, "panda_erj": case_panda_erj, "g1_wholebody": case_g1}
    gc.disable()  # collections inside timed steps would only add noise
    print(
        f"QP back-end: {args.solver}; {args.targets} problems per case; converged = "
        f"< {TOL_POS * 1e3:.0f} mm and < {TOL_ROT} rad (extra: pinned joint / feet, pelvis)"
    )
    print(HEADER)
    for name in args.cases.split(","):
        for line in cases[name](args.targets, args.solver, args.max_steps):
            print(line, flush=True)
        gc.collect()


if __name__ == "__main__":
    main()

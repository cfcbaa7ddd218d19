"""Arm IK for the simulator's experts: the shared QP IK of `vla_ros.retarget`.

Experts think in tool-centre-point (TCP) poses in the world frame, which is the robot
base frame (the sim puts the base at the origin, as the pinocchio model does).
`ArmIK.solve(q_arm, T_tcp)` returns arm joint values in `RobotSpec.arm_joints` order.

The retarget model's IK frame and the sim's TCP site are both defined on the same link;
any constant offset between them (checked at construction) is composed into the target,
so a small disagreement in the two robot descriptions cannot silently bias the experts.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class ArmIKError(RuntimeError):
    """The shared IK model does not match the simulated robot (names, frames)."""


class ArmIK(Protocol):
    def solve(self, q_arm: np.ndarray, T_tcp: np.ndarray, allow_jump: bool = True
              ) -> np.ndarray:  # fmt: skip
        """Arm joint values reaching world pose `T_tcp` (4x4), warm-started at `q_arm`;
        without `allow_jump` the result stays on q_arm's IK branch."""
        ...


class SharedArmIK:
    """`vla_ros.retarget.ik.PoseIK` on the robot's retarget model, seen from the sim."""

    def __init__(self, env, posture_weight: float | None = None, tol_pos: float = 2e-4,
                 tol_rot: float = 2e-3, max_steps: int = 30,
                 max_jump: float = 0.5):  # fmt: skip
        from vla_ros.retarget.ik import PoseIK
        from vla_ros.retarget.robot_model import RobotModel

        self.robot = RobotModel.load(env.robot.name)
        if list(self.robot.joint_names) != list(env.robot.arm_joints):
            raise ArmIKError(
                f"robot '{env.robot.name}': retarget IK joints {self.robot.joint_names} differ "
                f"from the sim's arm joints {list(env.robot.arm_joints)}"
            )
        if posture_weight is None:
            # A posture pull only helps redundant arms (it picks a point of the null
            # space). A 6-or-fewer-DoF arm has no null space: there the pull trades TCP
            # position against joint posture (2-3 cm on the small SO-101), so it is off.
            posture_weight = 1e-4 if len(env.robot.arm_joints) > 6 else 0.0
        self.ik = PoseIK(self.robot, posture_weight=posture_weight)
        self.tol_pos, self.tol_rot, self.max_steps = tol_pos, tol_rot, max_steps
        # Constant transform from the sim TCP to the IK frame, measured at the current q.
        q_arm = env.joint_positions()[env.joint_indices(env.robot.arm_joints)]
        T_ik = self.robot.fk(self.robot.q_from_joints(q_arm))
        self.tcp_to_frame = np.linalg.inv(env.ee_pose()) @ T_ik
        if np.linalg.norm(self.tcp_to_frame[:3, 3]) > 0.05:
            raise ArmIKError(
                f"robot '{env.robot.name}': IK frame '{self.ik.frame}' is "
                f"{np.linalg.norm(self.tcp_to_frame[:3, 3]):.3f} m from the sim TCP; "
                "the two robot descriptions disagree"
            )
        self.max_jump = max_jump
        # A redundant arm (the Panda) reaches every workspace pose on its current branch
        # and a jump swings it wildly through the scene; a 5-DoF arm (the SO-101) must
        # sometimes switch branch (flip its wrist) to reach the next pose at all.
        self.branch_jumps = len(env.robot.arm_joints) <= 6
        self.last = None  # IKResult of the latest solve, for diagnostics

    def solve(self, q_arm: np.ndarray, T_tcp: np.ndarray, allow_jump: bool = True
              ) -> np.ndarray:  # fmt: skip
        q0 = self.robot.q_from_joints(np.asarray(q_arm, float))
        T = T_tcp @ self.tcp_to_frame
        kw = dict(max_steps=self.max_steps, tol_pos=self.tol_pos, tol_rot=self.tol_rot)
        # Random restarts (inside PoseIK) find the pose when a warm-started solve stalls
        # against a limit, but may land on another IK branch. Moving there is allowed
        # for an empty hand that reaches the pose (and only for non-redundant arms),
        # never while holding something (the arm would swing round in one tick and
        # fling it): then the warm-started local solution is kept, even if short.
        result = self.ik.solve(q0, T, restarts=True, **kw)
        jump = np.max(np.abs(self.robot.joints_from_q(result.q) - q_arm))
        if jump > self.max_jump and not (allow_jump and self.branch_jumps
                                         and result.converged):
            result = self.ik.solve(q0, T, restarts=False, **kw)
        self.last = result
        return self.robot.joints_from_q(result.q)

    def reach(self, q_arm: np.ndarray, T_tcp: np.ndarray, any_branch: bool
              ) -> tuple[np.ndarray, float]:  # fmt: skip
        """(arm joints, position error m) of the best solution for `T_tcp`: from any IK
        branch (is the pose reachable at all?) or only by moving on from q_arm (can the
        arm get there continuously?). Leaves no state behind but `last`."""
        q0 = self.robot.q_from_joints(np.asarray(q_arm, float))
        self.last = self.ik.solve(q0, T_tcp @ self.tcp_to_frame, max_steps=self.max_steps,
                                  tol_pos=self.tol_pos, tol_rot=self.tol_rot,
                                  restarts=any_branch)  # fmt: skip
        return self.robot.joints_from_q(self.last.q), float(self.last.pos_err)


def make_arm_ik(env) -> ArmIK:
    """IK for `env`'s robot (the shared `vla_ros.retarget` QP IK)."""
    return SharedArmIK(env)

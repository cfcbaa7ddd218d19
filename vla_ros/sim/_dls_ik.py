"""Stop-gap damped-least-squares IK on MuJoCo's own Jacobians.

Used only while the shared QP IK (`vla_ros.retarget.ik.PoseIK`) is not available; the
experts talk to IK through `vla_ros.sim.ik.ArmIK`, so swapping is one line.
"""

from __future__ import annotations

import numpy as np

from vla_ros.sim.scene import TCP_SITE, mujoco


class MujocoDlsIK:
    """Pose IK for the TCP site over the robot's arm joints, with a posture pull."""

    def __init__(self, env, damping: float = 1e-2, posture_gain: float = 0.1):
        self.env = env
        self.model = env.model
        self.data = mujoco.MjData(env.model)  # scratch copy: never disturbs the sim
        self.arm = env.joint_indices(env.robot.arm_joints)
        self.qadr = env._qadr[self.arm]
        self.dadr = env._dadr[self.arm]
        self.site = env.model.site(TCP_SITE).id
        self.lower = env.lower[self.arm]
        self.upper = env.upper[self.arm]
        self.home = env.home[self.arm]
        self.damping = damping
        self.posture_gain = posture_gain

    def solve(self, q0: np.ndarray, T: np.ndarray, iters: int = 30, tol: float = 1e-4):
        q = np.array(q0, float)
        jacp = np.zeros((3, self.model.nv))
        jacr = np.zeros((3, self.model.nv))
        for _ in range(iters):
            self.data.qpos[self.qadr] = q
            mujoco.mj_kinematics(self.model, self.data)
            mujoco.mj_comPos(self.model, self.data)
            pos = self.data.site_xpos[self.site]
            R = self.data.site_xmat[self.site].reshape(3, 3)
            e_pos = T[:3, 3] - pos
            e_rot = _rot_error(T[:3, :3], R)
            err = np.concatenate([e_pos, e_rot])
            if np.linalg.norm(e_pos) < tol and np.linalg.norm(e_rot) < 10 * tol:
                break
            mujoco.mj_jacSite(self.model, self.data, jacp, jacr, self.site)
            J = np.vstack([jacp[:, self.dadr], jacr[:, self.dadr]])
            JJt = J @ J.T + self.damping**2 * np.eye(6)
            dq = J.T @ np.linalg.solve(JJt, err)
            N = np.eye(len(q)) - np.linalg.pinv(J) @ J
            dq += N @ (self.posture_gain * (self.home - q))
            q = np.clip(q + dq, self.lower, self.upper)
        return q


def _rot_error(R_target: np.ndarray, R: np.ndarray) -> np.ndarray:
    """World-frame rotation vector taking R to R_target."""
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, (R_target @ R.T).flatten())
    vel = np.zeros(3)
    mujoco.mju_quat2Vel(vel, quat, 1.0)
    return vel

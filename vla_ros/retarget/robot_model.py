"""A robot's kinematics for retargeting: pinocchio models built from `config/robots/<name>.yaml`.

Two pinocchio models are kept:
- `full_model`: every URDF joint (hand/gripper joints too), free-flyer root if floating;
- `model`: the IK model, reduced to the free-flyer (if any) plus the commanded `joints`;
  every other joint is locked at its neutral value. IK runs on this smaller model, which
  is what makes a step cheap, and its configuration vector `q` follows pinocchio's
  convention (free-flyer `[x, y, z, qx, qy, qz, qw]` first for a floating base).

Only kinematics are needed, so meshes are never loaded.
"""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np
import pinocchio as pin

from vla_ros.retarget.errors import IKError, RobotConfigError
from vla_ros.retarget.robot_config import RobotConfig, load_robot_config


class RobotModel:
    """Kinematic model of one configured robot.

    Public vectors (`lower`, `upper`, `velocity_limit`) follow `joint_names` (the
    commanded joints, in the config's order); `q_neutral` and every `q` given to `fk` or IK
    are configurations of the IK `model` (use `joints_from_q` / `q_from_joints` to convert).
    """

    def __init__(self, config: RobotConfig) -> None:
        self.config = config
        path = config.urdf_path()
        try:
            if config.floating_base:
                full = pin.buildModelFromUrdf(str(path), pin.JointModelFreeFlyer())
            else:
                full = pin.buildModelFromUrdf(str(path))
        except (RuntimeError, ValueError) as exc:
            raise RobotConfigError(
                config.path, "urdf", f"pinocchio cannot load {path}: {exc}"
            ) from exc
        self._add_frames(full)
        self._check_names(full)
        self.full_model = full
        self.q_full_neutral = self._full_neutral(full)
        keep = set(config.joints)
        lock = [
            jid
            for jid in range(1, full.njoints)
            if full.names[jid] not in keep and full.names[jid] != "root_joint"
        ]
        self.model = pin.buildReducedModel(full, lock, self.q_full_neutral)
        self.data = self.model.createData()
        self.full_data = full.createData()
        self.floating_base = config.floating_base
        self.joint_names: list[str] = list(config.joints)
        self.hand_joint_names: list[str] = list(config.hand.joints)
        self.joint_q_index = np.array(
            [self.model.joints[self.model.getJointId(n)].idx_q for n in self.joint_names],
            dtype=int,
        )
        self.joint_v_index = np.array(
            [self.model.joints[self.model.getJointId(n)].idx_v for n in self.joint_names],
            dtype=int,
        )
        self.lower = self.model.lowerPositionLimit[self.joint_q_index].copy()
        self.upper = self.model.upperPositionLimit[self.joint_q_index].copy()
        self.velocity_limit = self._velocity_limits()
        self.q_neutral = self._reduced_neutral()
        hand_q = [full.joints[full.getJointId(n)].idx_q for n in self.hand_joint_names]
        self.hand_lower = full.lowerPositionLimit[hand_q].copy()
        self.hand_upper = full.upperPositionLimit[hand_q].copy()
        self.hand_neutral = self.q_full_neutral[hand_q].copy()
        self.ee_frame = config.default_end_effector

    @classmethod
    def load(cls, name: str) -> RobotModel:
        """Read `config/robots/<name>.yaml` (or a YAML path) and build the models."""
        return cls(load_robot_config(name))

    # --- sizes and conversions -------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.config.name

    @property
    def nq(self) -> int:
        return self.model.nq

    @property
    def nv(self) -> int:
        return self.model.nv

    @cached_property
    def q_is_joint_vector(self) -> bool:
        """True when a model configuration *is* the joint vector in `joint_names` order
        (fixed base, config order = kinematic-tree order): no conversion needed."""
        return not self.floating_base and np.array_equal(
            self.joint_q_index, np.arange(self.model.nq)
        )

    @cached_property
    def joint_limits_q(self) -> tuple[np.ndarray, np.ndarray, slice | np.ndarray]:
        """(lower, upper, index) of the commanded joints in q order; the index is a slice
        when they are contiguous (a view: clipping in place needs no scatter)."""
        qi = np.sort(self.joint_q_index)
        lo = self.model.lowerPositionLimit[qi].copy()
        hi = self.model.upperPositionLimit[qi].copy()
        if np.array_equal(qi, np.arange(qi[0], qi[0] + len(qi))):
            return lo, hi, slice(int(qi[0]), int(qi[0]) + len(qi))
        return lo, hi, qi

    def joints_from_q(self, q: np.ndarray) -> np.ndarray:
        """Commanded joint values (in `joint_names` order) of a model configuration."""
        return np.asarray(q, dtype=float)[self.joint_q_index]

    def q_from_joints(self, joints: np.ndarray, base: np.ndarray | None = None) -> np.ndarray:
        """Model configuration from joint values (and the free-flyer pose for a floating
        base; default: the neutral base pose)."""
        joints = np.asarray(joints, dtype=float)
        if joints.shape != (len(self.joint_names),):
            raise IKError(
                f"{self.name}: expected {len(self.joint_names)} joint values "
                f"({', '.join(self.joint_names)}), got shape {joints.shape}"
            )
        q = self.q_neutral.copy()
        q[self.joint_q_index] = joints
        if self.floating_base and base is not None:
            q[:7] = np.asarray(base, dtype=float)
        return q

    def frame_id(self, frame: str) -> int:
        """Index of a frame of the IK model; unknown names list a few known ones."""
        if not self.model.existFrame(frame):
            names = [f.name for f in self.model.frames if f.type != pin.FrameType.JOINT]
            raise IKError(
                f"{self.name}: no frame '{frame}' in the model (frames include: "
                f"{', '.join(names[:12])}{', ...' if len(names) > 12 else ''})"
            )
        return self.model.getFrameId(frame)

    def check_q(self, q: np.ndarray, what: str = "q") -> np.ndarray:
        """`q` as a float vector of the model's size, finite, or a clear `IKError`."""
        if type(q) is not np.ndarray or q.dtype != np.float64:
            q = np.asarray(q, dtype=float)
        if q.shape != (self.model.nq,):
            raise IKError(
                f"{self.name}: {what} must have {self.model.nq} values "
                f"({'free-flyer + ' if self.floating_base else ''}{len(self.joint_names)} "
                f"joints), got shape {q.shape}"
            )
        if not math.isfinite(q @ q):  # one dot product: NaN and inf both propagate
            bad = np.flatnonzero(~np.isfinite(q))
            raise IKError(f"{self.name}: {what} has non-finite values at indices {bad.tolist()}")
        return q

    # --- kinematics ----------------------------------------------------------------------
    def fk(self, q: np.ndarray, frame: str | None = None) -> np.ndarray:
        """4x4 pose of `frame` (default: the first end effector) in the world/base frame."""
        q = self.check_q(q)
        fid = self.frame_id(frame or self.ee_frame)
        pin.forwardKinematics(self.model, self.data, q)
        return pin.updateFramePlacement(self.model, self.data, fid).homogeneous.copy()

    def com(self, q: np.ndarray) -> np.ndarray:
        """Centre of mass of the whole robot (locked joints included) in the world frame."""
        return pin.centerOfMass(self.model, self.data, self.check_q(q)).copy()

    def clip(self, q: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """`q` with commanded joints clipped into their limits, and the joints that were."""
        q = np.array(q, dtype=float)
        vals = q[self.joint_q_index]
        clipped = np.clip(vals, self.lower, self.upper)
        moved = np.flatnonzero(clipped != vals)
        q[self.joint_q_index] = clipped
        return q, [self.joint_names[i] for i in moved]

    # --- construction helpers ------------------------------------------------------------
    def _add_frames(self, full: pin.Model) -> None:
        for name, spec in self.config.frames.items():
            if full.existFrame(name):
                raise RobotConfigError(
                    self.config.path, f"frames.{name}", "a frame of that name is in the URDF"
                )
            if not full.existFrame(spec.parent):
                raise RobotConfigError(
                    self.config.path,
                    f"frames.{name}.parent",
                    f"no frame '{spec.parent}' in the URDF",
                )
            parent = full.frames[full.getFrameId(spec.parent)]
            offset = pin.SE3(pin.rpy.rpyToMatrix(np.array(spec.rpy)), np.array(spec.xyz))
            full.addFrame(
                pin.Frame(
                    name,
                    parent.parentJoint,
                    full.getFrameId(spec.parent),
                    parent.placement * offset,
                    pin.FrameType.OP_FRAME,
                ),
                False,
            )

    def _check_names(self, full: pin.Model) -> None:
        cfg = self.config
        joints_in_urdf = [n for n in full.names[1:] if n != "root_joint"]

        def check_joint(name: str, item: str) -> None:
            if not full.existJointName(name):
                raise RobotConfigError(
                    cfg.path,
                    item,
                    f"no joint '{name}' in {cfg.urdf_path().name} "
                    f"(joints: {', '.join(joints_in_urdf)})",
                )
            joint = full.joints[full.getJointId(name)]
            if joint.nq != 1 or joint.nv != 1:
                raise RobotConfigError(
                    cfg.path, item, f"joint '{name}' is not a 1-DoF revolute/prismatic joint"
                )

        def check_frame(name: str, item: str) -> None:
            if not full.existFrame(name):
                raise RobotConfigError(
                    cfg.path, item, f"no frame '{name}' in {cfg.urdf_path().name}"
                )

        for name in cfg.joints:
            check_joint(name, "joints")
        for name in cfg.hand.joints:
            check_joint(name, "hand.joints")
        both = sorted(set(cfg.joints) & set(cfg.hand.joints))
        if both and cfg.hand.type == "parallel_gripper":
            raise RobotConfigError(cfg.path, "hand.joints", f"also listed in joints: {both}")
        for name in cfg.neutral:
            check_joint(name, f"neutral.{name}")
        for name in cfg.velocity_limits:
            check_joint(name, f"velocity_limits.{name}")
        for key, frame in cfg.end_effectors.items():
            check_frame(frame, f"end_effectors.{key}")
        if cfg.base_frame:
            check_frame(cfg.base_frame, "base_frame")
        if cfg.swivel is not None:
            for key in ("shoulder", "elbow", "wrist"):
                check_frame(getattr(cfg.swivel, key), f"swivel.{key}")
        for key, foot in cfg.feet.items():
            check_frame(foot.frame, f"feet.{key}.frame")
        if cfg.pelvis_frame:
            check_frame(cfg.pelvis_frame, "pelvis_frame")
        if cfg.feet and not cfg.floating_base:
            raise RobotConfigError(cfg.path, "feet", "feet need floating_base: true")
        for key, value in cfg.velocity_limits.items():
            if value <= 0:
                raise RobotConfigError(cfg.path, f"velocity_limits.{key}", "must be > 0")

    def _full_neutral(self, full: pin.Model) -> np.ndarray:
        """Neutral of the full model: config values, others 0 clipped into their limits."""
        q = pin.neutral(full)
        for jid in range(1, full.njoints):
            joint = full.joints[jid]
            if joint.nq == 1:
                i = joint.idx_q
                q[i] = min(max(0.0, full.lowerPositionLimit[i]), full.upperPositionLimit[i])
        hand = self.config.hand
        if hand.open:
            for name, value in zip(hand.joints, hand.open, strict=True):
                q[full.joints[full.getJointId(name)].idx_q] = value
        for name, value in self.config.neutral.items():
            i = full.joints[full.getJointId(name)].idx_q
            lo, hi = full.lowerPositionLimit[i], full.upperPositionLimit[i]
            if not lo <= value <= hi:
                raise RobotConfigError(
                    self.config.path,
                    f"neutral.{name}",
                    f"{value} is outside the joint limits [{lo:.4g}, {hi:.4g}]",
                )
            q[i] = value
        if self.config.floating_base:
            if self.config.neutral_base is not None:
                q[:7] = self.config.neutral_base
            elif self.config.feet:
                q[2] -= self._lowest_sole_z(full, q)
        return q

    def _lowest_sole_z(self, full: pin.Model, q: np.ndarray) -> float:
        """Height of the lowest foot sole point: used to stand the robot on z = 0."""
        data = full.createData()
        pin.framesForwardKinematics(full, data, q)
        heights = []
        for foot in self.config.feet.values():
            pose = data.oMf[full.getFrameId(foot.frame)]
            for x, y in foot.sole:
                heights.append(pose.act(np.array([x, y, foot.sole_z]))[2])
        return float(min(heights))

    def _reduced_neutral(self) -> np.ndarray:
        q = pin.neutral(self.model)
        full = self.full_model
        for jid in range(1, self.model.njoints):
            name = self.model.names[jid]
            joint = self.model.joints[jid]
            src = full.joints[full.getJointId(name)]
            q[joint.idx_q : joint.idx_q + joint.nq] = self.q_full_neutral[
                src.idx_q : src.idx_q + src.nq
            ]
        return q

    def _velocity_limits(self) -> np.ndarray:
        limits = self.model.velocityLimit[self.joint_v_index].copy()
        for i, name in enumerate(self.joint_names):
            if name in self.config.velocity_limits:
                limits[i] = self.config.velocity_limits[name]
        if np.any(limits <= 0):
            bad = [n for n, v in zip(self.joint_names, limits, strict=True) if v <= 0]
            raise RobotConfigError(
                self.config.path,
                "velocity_limits",
                f"URDF gives no positive velocity limit for {bad}: set them here",
            )
        return limits

    def __repr__(self) -> str:
        return (
            f"RobotModel({self.name!r}, nq={self.nq}, nv={self.nv}, "
            f"joints={len(self.joint_names)}, hand={self.config.hand.type})"
        )

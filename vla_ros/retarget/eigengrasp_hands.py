"""Robot hands for eigengrasp retargeting: specs, pinocchio models, fingertip least squares.

Each hand is a pinocchio model reduced to its finger joints (every other joint locked at the
neutral posture), with operational frames at the fingertip contact points. Retargeting puts
the robot fingertips where the human ones are, relative to the palm centre and scaled to the
robot's finger length, by a sequence of small box-constrained QPs (Gauss-Newton with damping,
daqp), so joint limits hold exactly. URDF <mimic> joints are followed (the Panda's second
finger) by solving over the independent joints only.

Human frame used by the human model: x distal, y ulnar, z volar. `human_to_palm` says where
those axes point in the robot's palm frame.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import daqp
import numpy as np
import pinocchio as pin

from vla_ros.assets import example_robot_urdf
from vla_ros.retarget.eigengrasp_human import FINGERS, HumanHand

PALM_DEPTH = 0.04
"""Human palm centre lies this far (m) proximal of the MCP centroid; scaled per robot."""


class HandSpecError(ValueError):
    """A hand spec names a joint or frame its URDF does not have."""


@dataclass(frozen=True)
class Fingertip:
    """A robot fingertip: contact point `offset` (m) in `frame`, driven by `human` fingers
    (their mean tip position)."""

    name: str
    frame: str
    offset: tuple[float, float, float]
    human: tuple[str, ...]
    base_frame: str  # the finger's first flexion joint: defines the palm centre and finger length


@dataclass(frozen=True)
class HandSpec:
    """Everything needed to retarget onto one hand; kept in code, recorded into the map files."""

    name: str
    urdf: str  # relative to example-robot-data's robots/ folder
    joints: tuple[str, ...]
    palm_frame: str
    human_to_palm: tuple[tuple[float, ...], ...]  # columns: human x, y, z in the palm frame
    tips: tuple[Fingertip, ...]
    scale_finger: str  # tip whose length (base joint -> tip, at q = 0) sets the scale
    human_scale_finger: str = "middle"
    mode: str = "positions"  # "positions": palm->tip and thumb->tip vectors; "aperture"
    aperture_pad: float = 0.015  # for "aperture": human tip-centre gap minus two finger pads
    pair_weight: float = 0.3  # thumb->finger vectors relative to palm->tip vectors ...
    pinch_weight: float = 3.0  # ... plus this much when the human tips are close ...
    pinch_distance: float = 0.03  # ... (m, Gaussian width on the unscaled human distance)
    rest_weight: float = 1e-6  # pull towards mid-range (m^2/rad^2): resolves redundancy only
    description: str = ""
    notes: dict = field(default_factory=dict)


HAND_SPECS: dict[str, HandSpec] = {
    "panda_gripper": HandSpec(
        name="panda_gripper",
        urdf="panda_description/urdf/panda.urdf",
        joints=("panda_finger_joint1", "panda_finger_joint2"),
        palm_frame="panda_hand",
        human_to_palm=((0, 0, 1), (0, -1, 0), (1, 0, 0)),
        tips=(
            # Finger pad centre: 45 mm along the finger (the TCP height), see panda_hand_tcp.
            Fingertip("left", "panda_leftfinger", (0, 0, 0.045), ("thumb",), "panda_leftfinger"),
            Fingertip(
                "right", "panda_rightfinger", (0, 0, 0.045), ("index", "middle"),
                "panda_rightfinger",
            ),
        ),
        scale_finger="left",
        mode="aperture",
        description="Franka Panda parallel gripper; finger_joint2 mimics finger_joint1. "
        "The gap between the pads follows the human thumb-to-(index, middle) aperture.",
    ),
    "allegro": HandSpec(
        name="allegro",
        urdf="allegro_hand_description/urdf/allegro_right_hand.urdf",
        joints=tuple(f"joint_{i}.0" for i in range(16)),
        palm_frame="palm_link",
        human_to_palm=((0, 0, 1), (0, -1, 0), (1, 0, 0)),
        tips=(
            Fingertip("thumb", "link_15.0_tip", (0, 0, 0), ("thumb",), "link_13.0"),
            Fingertip("index", "link_3.0_tip", (0, 0, 0), ("index",), "link_1.0"),
            Fingertip("middle", "link_7.0_tip", (0, 0, 0), ("middle",), "link_5.0"),
            Fingertip("ring", "link_11.0_tip", (0, 0, 0), ("ring", "little"), "link_9.0"),
        ),
        scale_finger="middle",
        description="Wonik Allegro right hand, 4 fingers x 4 joints; the human little finger "
        "is averaged into the ring finger.",
    ),
    "g1_hand": HandSpec(
        name="g1_hand",
        urdf="g1_description/urdf/g1_29dof_with_hand_rev_1_0.urdf",
        joints=(
            "right_hand_thumb_0_joint", "right_hand_thumb_1_joint", "right_hand_thumb_2_joint",
            "right_hand_index_0_joint", "right_hand_index_1_joint",
            "right_hand_middle_0_joint", "right_hand_middle_1_joint",
        ),  # fmt: skip
        palm_frame="right_hand_palm_link",
        human_to_palm=((1, 0, 0), (0, 0, -1), (0, 1, 0)),
        tips=(
            # Contact points 46 mm along the distal links (mesh tip at 52 mm minus pad radius).
            Fingertip(
                "thumb", "right_hand_thumb_2_link", (0, 0.046, 0), ("thumb",),
                "right_hand_thumb_1_link",
            ),
            Fingertip(
                "index", "right_hand_index_1_link", (0.046, 0, 0), ("index",),
                "right_hand_index_0_link",
            ),
            Fingertip(
                "middle", "right_hand_middle_1_link", (0.046, 0, 0), ("middle", "ring", "little"),
                "right_hand_middle_0_link",
            ),
        ),
        scale_finger="middle",
        description="Unitree G1 Dex3-1 right hand (3 fingers, 7 joints) on the 29-DoF G1; all "
        "other joints locked at zero. The human middle, ring and little fingers drive its "
        "second finger.",
    ),
}

HAND_NAMES: tuple[str, ...] = tuple(HAND_SPECS)


def _mimic_map(urdf: Path, joints: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """q = M @ z + b over the independent joints z, from the URDF's <mimic> tags."""
    mimics: dict[str, tuple[str, float, float]] = {}
    for joint in ET.parse(urdf).getroot().iter("joint"):
        tag = joint.find("mimic")
        if tag is not None and joint.get("name") in joints:
            mimics[joint.get("name")] = (
                tag.get("joint"),
                float(tag.get("multiplier", 1.0)),
                float(tag.get("offset", 0.0)),
            )
    free = [j for j in joints if j not in mimics]
    mat, off = np.zeros((len(joints), len(free))), np.zeros(len(joints))
    for i, name in enumerate(joints):
        if name in mimics:
            leader, mult, offset = mimics[name]
            if leader not in free:
                raise HandSpecError(f"{urdf}: joint '{name}' mimics '{leader}', not a free joint")
            mat[i, free.index(leader)], off[i] = mult, offset
        else:
            mat[i, free.index(name)] = 1.0
    return mat, off, free


class RobotHand:
    """A hand's reduced pinocchio model with fingertip frames, in its palm frame."""

    def __init__(self, spec: HandSpec, human: HumanHand | None = None):
        self.spec = spec
        self.human = human or HumanHand()
        self.urdf_path = example_robot_urdf(spec.urdf)
        full = pin.buildModelFromUrdf(str(self.urdf_path))
        missing = [j for j in spec.joints if not full.existJointName(j)]
        if missing:
            raise HandSpecError(f"{spec.urdf}: no joint(s) {missing} for hand '{spec.name}'")
        lock = [i for i in range(1, full.njoints) if full.names[i] not in spec.joints]
        self.model = pin.buildReducedModel(full, lock, pin.neutral(full)) if lock else full
        order = [self.model.getJointId(j) for j in spec.joints]
        if [self.model.joints[i].nq for i in order] != [1] * len(order):
            raise HandSpecError(f"{spec.urdf}: hand '{spec.name}' joints must be 1-DoF")
        self.q_index = np.array([self.model.joints[i].idx_q for i in order])
        for tip in spec.tips:
            for frame in (tip.frame, tip.base_frame):
                if not self.model.existFrame(frame):
                    raise HandSpecError(f"{spec.urdf}: no frame '{frame}' for hand '{spec.name}'")
            parent = self.model.frames[self.model.getFrameId(tip.frame)]
            placement = parent.placement * pin.SE3(np.eye(3), np.asarray(tip.offset, float))
            self.model.addFrame(
                pin.Frame(
                    f"eigengrasp_tip_{tip.name}", parent.parentJoint,
                    self.model.getFrameId(tip.frame), placement, pin.FrameType.OP_FRAME,
                )  # fmt: skip
            )
        self.data = self.model.createData()
        self.tip_ids = [self.model.getFrameId(f"eigengrasp_tip_{t.name}") for t in spec.tips]
        self.lower = self.model.lowerPositionLimit[self.q_index].copy()
        self.upper = self.model.upperPositionLimit[self.q_index].copy()
        self.mimic, self.mimic_offset, self.free_joints = _mimic_map(self.urdf_path, spec.joints)
        free_idx = [spec.joints.index(j) for j in self.free_joints]
        self.z_lower, self.z_upper = self.lower[free_idx], self.upper[free_idx]
        # Palm placement in the reduced model's world is constant (everything else is locked).
        pin.framesForwardKinematics(self.model, self.data, pin.neutral(self.model))
        palm = self.data.oMf[self.model.getFrameId(spec.palm_frame)]
        self._palm_rot, self._palm_pos = palm.rotation.copy(), palm.translation.copy()
        self.human_to_palm = np.asarray(spec.human_to_palm, dtype=float).T
        if not np.allclose(self.human_to_palm.T @ self.human_to_palm, np.eye(3)):
            raise HandSpecError(f"hand '{spec.name}': human_to_palm is not a rotation")

    @property
    def joint_names(self) -> list[str]:
        return list(self.spec.joints)

    def full_q(self, q_hand: np.ndarray) -> np.ndarray:
        q = pin.neutral(self.model)
        q[self.q_index] = q_hand
        return q

    def fingertips(self, q_hand: np.ndarray) -> np.ndarray:
        """Fingertip contact points (n_tips, 3) in the palm frame."""
        pin.framesForwardKinematics(self.model, self.data, self.full_q(q_hand))
        world = np.array([self.data.oMf[i].translation for i in self.tip_ids])
        return (world - self._palm_pos) @ self._palm_rot

    def _tips_and_jacobians(self, q_hand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = self.full_q(q_hand)
        pin.computeJointJacobians(self.model, self.data, q)
        pin.updateFramePlacements(self.model, self.data)
        tips, jacs = [], []
        for fid in self.tip_ids:
            tips.append(self.data.oMf[fid].translation)
            jac = pin.getFrameJacobian(self.model, self.data, fid, pin.LOCAL_WORLD_ALIGNED)
            jacs.append(self._palm_rot.T @ jac[:3, self.q_index])
        return (np.array(tips) - self._palm_pos) @ self._palm_rot, np.array(jacs)

    @cached_property
    def rest(self) -> np.ndarray:
        return 0.5 * (self.lower + self.upper)

    @cached_property
    def scale(self) -> float:
        """Robot / human finger length (base flexion joint to tip, straight fingers)."""
        tip = self.spec.tips[[t.name for t in self.spec.tips].index(self.spec.scale_finger)]
        if self.spec.mode == "aperture":
            return 1.0  # a gripper grips objects at their real size
        robot = np.linalg.norm(self._zero_tips()[self.spec.tips.index(tip)] - self._base(tip))
        human = float(np.sum(self.human.segment_lengths(self.spec.human_scale_finger)))
        return float(robot / human)

    def _zero_tips(self) -> np.ndarray:
        return self.fingertips(np.clip(np.zeros(len(self.lower)), self.lower, self.upper))

    def _base(self, tip: Fingertip) -> np.ndarray:
        pin.framesForwardKinematics(self.model, self.data, pin.neutral(self.model))
        world = self.data.oMf[self.model.getFrameId(tip.base_frame)].translation
        return (world - self._palm_pos) @ self._palm_rot

    @cached_property
    def palm_point(self) -> np.ndarray:
        """Palm centre in the palm frame: same construction as the human one, scaled."""
        bases = [self._base(t) for t in self.spec.tips if "thumb" not in t.human]
        distal = self.human_to_palm[:, 0]
        return np.mean(bases, axis=0) - PALM_DEPTH * self.scale * distal

    # ---------------------------------------------------------------- retargeting
    def targets(self, human_q: np.ndarray) -> np.ndarray:
        """What the robot should match for a human posture (20,).

        positions: (n_tips, 3) fingertip targets in the palm frame - each robot tip's human
        fingers averaged, relative to the human palm centre, rotated into the robot palm
        frame, scaled, and put on the robot palm centre.
        aperture: (1,) the pad gap - the human thumb-to-(index, middle) gap minus two pads.
        """
        if self.spec.mode == "aperture":
            gap = float(self.human.thumb_gap(human_q)) - self.spec.aperture_pad
            return np.array([np.clip(gap, 0.0, self.max_gap)])
        rel = self.human.fingertips(human_q) - self.human.palm_point()
        per_tip = np.stack(
            [rel[[FINGERS.index(f) for f in t.human]].mean(axis=0) for t in self.spec.tips]
        )
        return self.palm_point + self.scale * per_tip @ self.human_to_palm.T

    def aperture_fit_target(self, human_q: np.ndarray) -> np.ndarray:
        """Gripper joints for a human posture with the gap *not* clipped to the stroke.

        Why: the map is a smooth polynomial fitted to samples; fitting the clipped solver output
        makes it ring around the kink at "fully closed" (the fingers reopen a little as the
        hand closes further). Fitting the linear extrapolation and clipping at run time keeps
        the map monotone. Valid for prismatic fingers, where the gap is linear in the joints.
        """
        gap = float(self.human.thumb_gap(human_q)) - self.spec.aperture_pad
        gap_lo, gap_hi = self._stroke_gaps
        return self.lower + (gap - gap_lo) / (gap_hi - gap_lo) * (self.upper - self.lower)

    @cached_property
    def _stroke_gaps(self) -> tuple[float, float]:
        """Pad gap (m) at the lower and upper joint limits."""
        lo_tips, hi_tips = self.fingertips(self.lower), self.fingertips(self.upper)
        return (float(np.linalg.norm(lo_tips[0] - lo_tips[1])),
                float(np.linalg.norm(hi_tips[0] - hi_tips[1])))  # fmt: skip

    @cached_property
    def max_gap(self) -> float:
        tips = self.fingertips(self.upper)
        return float(np.linalg.norm(tips[0] - tips[1]))

    def _pair_weights(self, targets: np.ndarray) -> dict[tuple[int, int], float]:
        """Thumb-to-finger vector weights, DexPilot-style: strong when the human fingers are
        close (a pinch must stay a pinch), weak otherwise."""
        weights = {}
        thumbs = [i for i, t in enumerate(self.spec.tips) if "thumb" in t.human]
        for i in thumbs:
            for j in range(len(self.spec.tips)):
                if j != i:
                    d = np.linalg.norm(targets[j] - targets[i]) / self.scale
                    pinch = np.exp(-((d / self.spec.pinch_distance) ** 2))
                    weights[(i, j)] = self.spec.pair_weight + self.spec.pinch_weight * pinch
        return weights

    def _residual(self, q_hand: np.ndarray, targets: np.ndarray, pairs: dict):
        tips, jac = self._tips_and_jacobians(q_hand)
        if self.spec.mode == "aperture":
            diff = tips[0] - tips[1]
            dist = float(np.linalg.norm(diff))
            unit = diff / max(dist, 1e-9)
            return np.array([dist - targets[0]]), (unit @ (jac[0] - jac[1]))[None, :]
        res = [(tips - targets).ravel()]
        jacs = [jac.reshape(-1, jac.shape[-1])]
        for (i, j), weight in pairs.items():
            w = np.sqrt(weight)
            res.append(w * ((tips[j] - tips[i]) - (targets[j] - targets[i])))
            jacs.append(w * (jac[j] - jac[i]))
        return np.concatenate(res), np.concatenate(jacs)

    def _cost(self, q_hand: np.ndarray, targets: np.ndarray, pairs: dict) -> float:
        tips = self.fingertips(q_hand)
        if self.spec.mode == "aperture":
            return float((np.linalg.norm(tips[0] - tips[1]) - targets[0]) ** 2)
        cost = float(np.sum((tips - targets) ** 2))
        for (i, j), weight in pairs.items():
            cost += weight * float(np.sum(((tips[j] - tips[i]) - (targets[j] - targets[i])) ** 2))
        return cost

    def solve(
        self,
        human_q: np.ndarray,
        q_start: np.ndarray | None = None,
        iters: int = 100,
        tol: float = 1e-10,
    ) -> np.ndarray:
        """Joint positions (within limits) whose fingertips best match a human posture (20,).

        Levenberg-Marquardt over the independent joints: each step is a box-constrained QP
        (daqp), accepted only if the cost falls, so it never wanders; a local optimum from
        `q_start` (default mid-range).
        """
        targets = self.targets(human_q)
        pairs = {} if self.spec.mode == "aperture" else self._pair_weights(targets)
        mat, off = self.mimic, self.mimic_offset
        start = self.rest if q_start is None else np.clip(q_start, self.lower, self.upper)
        z = np.clip(np.linalg.lstsq(mat, start - off, rcond=None)[0], self.z_lower, self.z_upper)
        z_rest = np.linalg.lstsq(mat, self.rest - off, rcond=None)[0]
        n, rw, lam = len(z), self.spec.rest_weight, 1e-4

        def total(zz: np.ndarray) -> float:
            rest_cost = rw * float(np.sum((zz - z_rest) ** 2))
            return self._cost(mat @ zz + off, targets, pairs) + rest_cost

        cost = total(z)
        for _ in range(iters):
            res, jac = self._residual(mat @ z + off, targets, pairs)
            jz = jac @ mat
            grad = jz.T @ res + rw * (z - z_rest)
            while True:
                hess = jz.T @ jz + (lam + rw) * np.eye(n)
                step, _, flag, _ = daqp.solve(
                    hess, grad, np.zeros((0, n)), self.z_upper - z, self.z_lower - z
                )
                if flag < 1:
                    raise RuntimeError(f"hand '{self.spec.name}': QP step failed (daqp {flag})")
                z_new = np.clip(z + step, self.z_lower, self.z_upper)
                new_cost = total(z_new)
                if new_cost < cost or lam > 1e2:
                    break
                lam *= 10.0
            if new_cost >= cost:
                break
            improvement, z, cost = cost - new_cost, z_new, new_cost
            lam = max(lam * 0.3, 1e-9)
            if improvement < tol:
                break
        return np.clip(mat @ z + off, self.lower, self.upper)

    def tip_errors(self, q_hand: np.ndarray, human_q: np.ndarray) -> np.ndarray:
        """Per robot tip distance (m) to its target; for a gripper the gap error (1,)."""
        targets = self.targets(human_q)
        tips = self.fingertips(q_hand)
        if self.spec.mode == "aperture":
            return np.array([abs(np.linalg.norm(tips[0] - tips[1]) - targets[0])])
        return np.linalg.norm(tips - targets, axis=-1)

    def closure(self, q_hand: np.ndarray) -> float:
        """Mean fingertip-to-palm-centre distance (m): smaller = more closed."""
        return float(np.linalg.norm(self.fingertips(q_hand) - self.palm_point, axis=-1).mean())


def load_hand(name: str, human: HumanHand | None = None) -> RobotHand:
    if name not in HAND_SPECS:
        raise HandSpecError(f"unknown hand '{name}'; known hands: {', '.join(HAND_NAMES)}")
    return RobotHand(HAND_SPECS[name], human)

"""A kinematic model of an average adult right hand: 20 joint angles -> fingertip and palm points.

Why our own: eigengrasps live in human joint space, and the retargeting only needs fingertip
and palm positions, so a small batched forward kinematics in numpy is all that is required
(and lets the grasp generator evaluate thousands of postures at once).

Palm frame (right hand): origin at the wrist centre, x distal (wrist -> middle-finger MCP),
y ulnar (towards the little finger), z volar (out of the palm, where the fingers curl to).
Segment lengths are Buchholz et al. (1992) ratios times a 0.19 m hand length (average adult).
Angles in radians; flexion > 0 curls towards +z; finger abduction > 0 spreads away from the
middle finger (the middle finger's own abduction moves it ulnarly).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HAND_LENGTH = 0.19
"""Wrist crease to middle fingertip (m), average adult."""

FINGERS: tuple[str, ...] = ("thumb", "index", "middle", "ring", "little")

HUMAN_JOINT_NAMES: tuple[str, ...] = (
    "thumb_cmc_flex", "thumb_cmc_abd", "thumb_mcp_flex", "thumb_ip_flex",
    "index_mcp_flex", "index_mcp_abd", "index_pip_flex", "index_dip_flex",
    "middle_mcp_flex", "middle_mcp_abd", "middle_pip_flex", "middle_dip_flex",
    "ring_mcp_flex", "ring_mcp_abd", "ring_pip_flex", "ring_dip_flex",
    "little_mcp_flex", "little_mcp_abd", "little_pip_flex", "little_dip_flex",
)  # fmt: skip

_DEG = np.pi / 180.0
# Active range of motion (rounded textbook values), same order as HUMAN_JOINT_NAMES.
HUMAN_LOWER = _DEG * np.array(
    [-20, 0, -10, -20,  -20, -20, 0, -5,  -20, -20, 0, -5,  -20, -20, 0, -5,  -20, -20, 0, -5],
    dtype=float,
)  # fmt: skip
HUMAN_UPPER = _DEG * np.array(
    [60, 80, 60, 80,  90, 25, 110, 90,  90, 20, 110, 90,  90, 20, 110, 90,  90, 30, 110, 90],
    dtype=float,
)  # fmt: skip

# Finger MCP joint centres in the palm frame (m) and rest splay about z (rad, + = ulnar).
_MCP = {
    "index": (0.088, -0.024, 0.0),
    "middle": (0.092, -0.004, 0.0),
    "ring": (0.086, 0.014, 0.0),
    "little": (0.078, 0.030, 0.0),
}
_SPLAY = {"index": -5 * _DEG, "middle": 0.0, "ring": 5 * _DEG, "little": 10 * _DEG}
_ABD_SIGN = {"index": -1.0, "middle": 1.0, "ring": 1.0, "little": 1.0}
# Proximal, middle, distal phalanx (joint centre to joint centre / tip), Buchholz ratios.
_PHALANX_RATIOS = {
    "thumb": (0.251, 0.196, 0.158),  # metacarpal, proximal, distal
    "index": (0.265, 0.143, 0.097),
    "middle": (0.277, 0.170, 0.108),
    "ring": (0.259, 0.165, 0.107),
    "little": (0.206, 0.117, 0.093),
}
_THUMB_CMC = (0.025, -0.022, 0.010)
_THUMB_REST_ANGLE = 35 * _DEG  # metacarpal points distal-radial at rest
_THUMB_PAD_TILT = 30 * _DEG  # the thumb pad faces the index side, tilted volar


def _rot_z(angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    o, z = np.ones_like(angle), np.zeros_like(angle)
    rows = (np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1))
    return np.stack(rows, -2)


def _rot_axis(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rodrigues rotation about a fixed unit axis, batched over angles."""
    kx = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    a = np.asarray(angle)[..., None, None]
    return np.eye(3) + np.sin(a) * kx + (1 - np.cos(a)) * (kx @ kx)


def _thumb_abduction_axis() -> np.ndarray:
    """In the palm plane, perpendicular to the resting thumb: turning about it lifts the thumb
    straight out of the palm (palmar abduction)."""
    a = _THUMB_REST_ANGLE
    return np.array([-np.sin(a), -np.cos(a), 0.0])


def _thumb_rest_frame() -> np.ndarray:
    """Columns: thumb long axis, flexion axis, pad normal (direction the thumb curls to)."""
    a = _THUMB_REST_ANGLE
    x = np.array([np.cos(a), -np.sin(a), 0.0])
    towards_index = np.array([np.sin(a), np.cos(a), 0.0])
    z = np.cos(_THUMB_PAD_TILT) * towards_index + np.sin(_THUMB_PAD_TILT) * np.array([0, 0, 1.0])
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)


@dataclass(frozen=True)
class HumanHand:
    """Forward kinematics of the hand model, batched over postures of shape (..., 20)."""

    hand_length: float = HAND_LENGTH

    @property
    def joint_names(self) -> tuple[str, ...]:
        return HUMAN_JOINT_NAMES

    @property
    def lower(self) -> np.ndarray:
        return HUMAN_LOWER.copy()

    @property
    def upper(self) -> np.ndarray:
        return HUMAN_UPPER.copy()

    def segment_lengths(self, finger: str) -> np.ndarray:
        return self.hand_length * np.asarray(_PHALANX_RATIOS[finger])

    def mcp(self, finger: str) -> np.ndarray:
        """Base joint centre of a finger (the CMC for the thumb), palm frame."""
        scale = self.hand_length / HAND_LENGTH
        return scale * np.asarray(_THUMB_CMC if finger == "thumb" else _MCP[finger], dtype=float)

    def palm_point(self) -> np.ndarray:
        """Palm centre: centroid of the four finger MCPs moved 0.04 m (scaled) proximally."""
        centroid = np.mean([self.mcp(f) for f in FINGERS[1:]], axis=0)
        return centroid - np.array([0.04 * self.hand_length / HAND_LENGTH, 0.0, 0.0])

    def clip(self, q: np.ndarray) -> np.ndarray:
        return np.clip(q, HUMAN_LOWER, HUMAN_UPPER)

    def joint_points(self, q: np.ndarray) -> dict[str, np.ndarray]:
        """Per finger the base, two intermediate joints and the tip: shape (..., 4, 3)."""
        q = np.asarray(q, dtype=float)
        out: dict[str, np.ndarray] = {}
        # Thumb: CMC abduction lifts it out of the palm plane, CMC flexion swings it across.
        rest = _thumb_rest_frame()
        frame = _rot_z(q[..., 0]) @ _rot_axis(_thumb_abduction_axis(), q[..., 1]) @ rest
        no_spread = q[..., [0]] * 0.0
        out["thumb"] = self._chain(self.mcp("thumb"), frame, no_spread, q[..., 2:4], "thumb")
        for i, finger in enumerate(FINGERS[1:]):
            j = 4 + 4 * i
            yaw = _SPLAY[finger] + _ABD_SIGN[finger] * q[..., j + 1]
            # Local frame: x along the finger, y = flexion axis sign-flipped, z volar.
            frame = _rot_z(yaw)
            flex = q[..., [j, j + 2, j + 3]]
            out[finger] = self._chain(self.mcp(finger), frame, flex[..., :1], flex[..., 1:], finger)
        return out

    def _chain(
        self, base: np.ndarray, frame: np.ndarray, first: np.ndarray, rest: np.ndarray, finger: str
    ) -> np.ndarray:
        """Planar flexion chain in `frame`: segment k points along (cos phi_k, 0, sin phi_k)."""
        lengths = self.segment_lengths(finger)
        phis = np.cumsum(np.concatenate([first, rest], axis=-1), axis=-1)  # (..., 3)
        local = np.stack([np.cos(phis), np.zeros_like(phis), np.sin(phis)], axis=-1)
        segs = np.einsum("...ij,...kj->...ki", frame, local) * lengths[:, None]
        pts = base + np.cumsum(segs, axis=-2)
        base_b = np.broadcast_to(base, pts[..., :1, :].shape)
        return np.concatenate([base_b, pts], axis=-2)

    def fingertips(self, q: np.ndarray) -> np.ndarray:
        """Fingertip positions (..., 5, 3) in FINGERS order, palm frame."""
        pts = self.joint_points(q)
        return np.stack([pts[f][..., -1, :] for f in FINGERS], axis=-2)

    def pad_normals(self, q: np.ndarray) -> np.ndarray:
        """Unit normals of the four fingers' distal pads (..., 4, 3): where they press."""
        q = np.asarray(q, dtype=float)
        pts = self.joint_points(q)
        normals = []
        for i, finger in enumerate(FINGERS[1:]):
            yaw = _SPLAY[finger] + _ABD_SIGN[finger] * q[..., 4 + 4 * i + 1]
            axis = np.stack([-np.sin(yaw), np.cos(yaw), np.zeros_like(yaw)], axis=-1)
            distal = pts[finger][..., -1, :] - pts[finger][..., -2, :]
            n = np.cross(distal, axis)
            normals.append(n / np.linalg.norm(n, axis=-1, keepdims=True))
        return np.stack(normals, axis=-2)

    def thumb_gap(
        self, q: np.ndarray, fingers: tuple[str, ...] = ("index", "middle")
    ) -> np.ndarray:
        """Distance (m) from the thumb tip to the nearest phalanx of `fingers`: how wide the
        hand is open between thumb and fingers (tip centres; subtract pads for a free gap)."""
        pts = self.joint_points(q)
        thumb = pts["thumb"][..., -1, :]
        dists = []
        for finger in fingers:
            for k in range(3):
                a, b = pts[finger][..., k, :], pts[finger][..., k + 1, :]
                ab = b - a
                t = np.clip(np.sum((thumb - a) * ab, -1) / np.sum(ab * ab, -1), 0.0, 1.0)
                dists.append(np.linalg.norm(thumb - (a + t[..., None] * ab), axis=-1))
        return np.min(dists, axis=0)

    def closure(self, q: np.ndarray) -> np.ndarray:
        """Mean fingertip-to-palm-centre distance (m): smaller = more closed."""
        tips = self.fingertips(q)
        return np.linalg.norm(tips - self.palm_point(), axis=-1).mean(axis=-1)

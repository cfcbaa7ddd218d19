"""Synthetic, seeded human grasp postures: the data the eigengrasps are extracted from.

Why synthetic: no motion-capture data set ships with the project, and the synergy basis must
be rebuilt bit-for-bit from a seed. The generator follows a grasp taxonomy (Feix et al. 2016
families: power wraps, power sphere, precision pinch / tripod / sphere, lateral pinch, hook,
flat and relaxed hands) over objects of several sizes. Finger joints follow coupled rules
(DIP ~ 2/3 PIP, ulnar fingers more flexed in power grasps, spread grows with sphere size);
precision grasps place the thumb tip against the opposing finger pads by a small inverse
kinematics on the thumb, so thumb-finger contacts are geometric, not guessed. Independent
joint noise plus a shared per-grasp flexion offset (finger enslaving) make the cloud realistic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vla_ros.retarget.eigengrasp_human import FINGERS, HUMAN_JOINT_NAMES, HumanHand

_DEG = np.pi / 180.0
_PAD = 0.015  # two finger pads between tip centres in contact (m)

GRASP_TYPES: tuple[str, ...] = (
    "power_cylinder",
    "power_sphere",
    "tip_pinch",
    "tripod",
    "precision_sphere",
    "lateral_pinch",
    "hook",
    "flat",
    "relaxed",
)


@dataclass(frozen=True)
class PostureSet:
    """Postures (N, 20) in radians with their grasp type and object size (m)."""

    q: np.ndarray
    grasp: np.ndarray
    size: np.ndarray
    seed: int

    def __len__(self) -> int:
        return len(self.q)


def _u(rng: np.random.Generator, n: int, lo: float, hi: float) -> np.ndarray:
    return rng.uniform(lo, hi, n)


def _set_finger(q: np.ndarray, finger: str, mcp, abd, pip, dip) -> None:
    """Write one finger's angles (degrees, broadcastable to N)."""
    j = 4 + 4 * (FINGERS.index(finger) - 1)
    q[:, j] = _DEG * np.asarray(mcp)
    q[:, j + 1] = _DEG * np.asarray(abd)
    q[:, j + 2] = _DEG * np.asarray(pip)
    q[:, j + 3] = _DEG * np.asarray(dip)


def _set_thumb(q: np.ndarray, flex, abd, mcp, ip) -> None:
    q[:, 0] = _DEG * np.asarray(flex)
    q[:, 1] = _DEG * np.asarray(abd)
    q[:, 2] = _DEG * np.asarray(mcp)
    q[:, 3] = _DEG * np.asarray(ip)


_ULNAR_EXTRA = {"index": -8.0, "middle": 0.0, "ring": 5.0, "little": 10.0}


def _ulnar_fingers(q: np.ndarray, rng: np.random.Generator, fingers: tuple[str, ...]) -> None:
    """Fingers not taking part in a precision grasp: tucked into the palm or relaxed, per grasp."""
    n = len(q)
    tucked = rng.random(n) < 0.5
    for f in fingers:
        e = _ULNAR_EXTRA[f]
        mcp = np.where(tucked, _u(rng, n, 65, 85) + e, _u(rng, n, 15, 40) + e)
        pip = np.where(tucked, _u(rng, n, 85, 105), _u(rng, n, 25, 50))
        _set_finger(q, f, mcp, 0.0, pip, 0.65 * pip)


def thumb_ik(
    hand: HumanHand,
    q: np.ndarray,
    target: np.ndarray,
    iters: int = 60,
    pull: float = 1e-5,
    damping: float = 1e-4,
) -> np.ndarray:
    """Move the thumb (joints 0-3) so its tip reaches `target` (N, 3), staying near its start.

    Batched Levenberg-Marquardt with a finite-difference Jacobian, clipped to joint limits; a
    weak `pull` towards the grasp's nominal thumb posture picks among the redundant solutions
    (it biases the reached point by about pull / |J| * offset, i.e. well under a millimetre).
    """
    q = hand.clip(q.copy())
    nominal = q[:, :4].copy()
    lo, hi = hand.lower[:4], hand.upper[:4]
    eps = 1e-6
    for _ in range(iters):
        tip = hand.fingertips(q)[:, 0]
        err = target - tip
        jac = np.empty((len(q), 3, 4))
        for k in range(4):
            qk = q.copy()
            qk[:, k] += eps
            jac[:, :, k] = (hand.fingertips(qk)[:, 0] - tip) / eps
        jt = np.transpose(jac, (0, 2, 1))
        lhs = jt @ jac + (pull + damping) * np.eye(4)
        rhs = (jt @ err[..., None])[..., 0] - pull * (q[:, :4] - nominal)
        q[:, :4] = np.clip(q[:, :4] + np.linalg.solve(lhs, rhs[..., None])[..., 0], lo, hi)
    return q


def _power_cylinder(hand: HumanHand, rng: np.random.Generator, n: int):
    size = _u(rng, n, 0.02, 0.08)
    t = (size - 0.02) / 0.06
    q = np.zeros((n, 20))
    for f in FINGERS[1:]:
        e = _ULNAR_EXTRA[f]
        pip = 100 - 45 * t + e / 2
        _set_finger(q, f, 80 - 40 * t + e, rng.normal(0, 2, n), pip, 0.65 * pip)
    _set_thumb(q, 35 - 25 * t, 40 + 20 * t, 40 - 25 * t, 40 - 25 * t)
    return q, size


def _power_sphere(hand: HumanHand, rng: np.random.Generator, n: int):
    size = _u(rng, n, 0.04, 0.10)
    t = (size - 0.04) / 0.06
    q = np.zeros((n, 20))
    for f in FINGERS[1:]:
        e = _ULNAR_EXTRA[f]
        pip = 60 - 30 * t + e / 2
        _set_finger(q, f, 55 - 25 * t + e, 8 + 12 * t, pip, 0.6 * pip)
    _set_thumb(q, 25 - 15 * t, 50 + 15 * t, 25 - 10 * t, 25 - 10 * t)
    return q, size


def _pinch_like(hand, rng, n, lo, hi, active: tuple[str, ...]):
    size = _u(rng, n, lo, hi)
    t = (size - lo) / (hi - lo)
    q = np.zeros((n, 20))
    for f in active:
        _set_finger(q, f, 45 - 20 * t, rng.normal(0, 3, n), 55 - 25 * t, 35 - 20 * t)
    _ulnar_fingers(q, rng, tuple(f for f in FINGERS[1:] if f not in active))
    _set_thumb(q, 20, 45, 20, 15)
    idx = [FINGERS.index(f) for f in active]
    tips = hand.fingertips(q)[:, idx].mean(axis=1)
    normals = hand.pad_normals(q)[:, [i - 1 for i in idx]].mean(axis=1)
    return thumb_ik(hand, q, tips + (size + _PAD)[:, None] * normals), size


def _tip_pinch(hand, rng, n):
    return _pinch_like(hand, rng, n, 0.0, 0.06, ("index",))


def _tripod(hand, rng, n):
    return _pinch_like(hand, rng, n, 0.01, 0.06, ("index", "middle"))


def _precision_sphere(hand, rng, n):
    size = _u(rng, n, 0.03, 0.10)
    t = (size - 0.03) / 0.07
    q = np.zeros((n, 20))
    for f in FINGERS[1:]:
        e = _ULNAR_EXTRA[f]
        _set_finger(q, f, 35 - 15 * t + e, 5 + 15 * t, 40 - 20 * t, 25 - 10 * t)
    _set_thumb(q, 20, 55, 15, 10)
    tips = hand.fingertips(q)[:, 1:].mean(axis=1)
    normals = hand.pad_normals(q).mean(axis=1)
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    return thumb_ik(hand, q, tips + (size + _PAD)[:, None] * normals), size


def _lateral_pinch(hand, rng, n):
    size = _u(rng, n, 0.0, 0.02)
    q = np.zeros((n, 20))
    for f in FINGERS[1:]:
        e = _ULNAR_EXTRA[f]
        pip = _u(rng, n, 80, 100) + e
        _set_finger(q, f, _u(rng, n, 60, 80) + e, 0.0, pip, 0.55 * pip)
    _set_thumb(q, 10, 15, 10, 10)
    index = hand.joint_points(q)["index"]
    middle_phalanx = 0.5 * (index[:, 1] + index[:, 2])
    radial = np.array([0.0, -1.0, 0.0])
    return thumb_ik(hand, q, middle_phalanx + (size + _PAD)[:, None] * radial), size


def _hook(hand, rng, n):
    size = _u(rng, n, 0.01, 0.04)  # handle thickness
    t = (size - 0.01) / 0.03
    q = np.zeros((n, 20))
    for f in FINGERS[1:]:
        pip = 100 - 30 * t
        _set_finger(q, f, _u(rng, n, 0, 25), 0.0, pip, 0.65 * pip)
    _set_thumb(q, _u(rng, n, 0, 15), _u(rng, n, 10, 30), _u(rng, n, 0, 15), _u(rng, n, 0, 20))
    return q, size


def _flat(hand, rng, n):
    q = np.zeros((n, 20))
    spread = _u(rng, n, -5, 15)
    for f in FINGERS[1:]:
        _set_finger(q, f, _u(rng, n, -15, 15), spread, _u(rng, n, 0, 15), _u(rng, n, 0, 10))
    _set_thumb(q, _u(rng, n, -15, 15), _u(rng, n, 10, 60), _u(rng, n, 0, 15), _u(rng, n, -10, 15))
    return q, np.zeros(n)


def _relaxed(hand, rng, n):
    q = np.zeros((n, 20))
    level = _u(rng, n, 0.0, 1.0)
    for f in FINGERS[1:]:
        e = _ULNAR_EXTRA[f]
        pip = 30 + 20 * level + e
        _set_finger(q, f, 20 + 20 * level + e, _u(rng, n, -3, 8), pip, 0.6 * pip)
    _set_thumb(q, 10, 30, 15, 15)
    return q, np.zeros(n)


_GENERATORS: dict[str, Callable] = {
    "power_cylinder": _power_cylinder,
    "power_sphere": _power_sphere,
    "tip_pinch": _tip_pinch,
    "tripod": _tripod,
    "precision_sphere": _precision_sphere,
    "lateral_pinch": _lateral_pinch,
    "hook": _hook,
    "flat": _flat,
    "relaxed": _relaxed,
}


def generate_postures(
    per_type: int = 300,
    seed: int = 0,
    joint_noise_deg: float = 4.0,
    shared_flex_noise_deg: float = 5.0,
    hand: HumanHand | None = None,
) -> PostureSet:
    """`per_type` postures of every grasp type, noisy and clipped to the hand's joint limits."""
    if per_type < 1:
        raise ValueError(f"per_type must be >= 1, got {per_type}")
    hand = hand or HumanHand()
    rng = np.random.default_rng(seed)
    qs, grasps, sizes = [], [], []
    flex_cols = [i for i, name in enumerate(HUMAN_JOINT_NAMES) if "flex" in name and i >= 4]
    for name in GRASP_TYPES:
        q, size = _GENERATORS[name](hand, rng, per_type)
        q = q + _DEG * rng.normal(0.0, joint_noise_deg, q.shape)
        q[:, flex_cols] += _DEG * rng.normal(0.0, shared_flex_noise_deg, (per_type, 1))
        qs.append(hand.clip(q))
        grasps.extend([name] * per_type)
        sizes.append(size)
    return PostureSet(np.concatenate(qs), np.array(grasps), np.concatenate(sizes), seed)

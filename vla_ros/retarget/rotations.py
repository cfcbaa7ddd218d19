"""Rotation encodings used in action vectors: axis-angle (rotation vector) and 6-D.

The 6-D encoding (Zhou et al., CVPR 2019) is the first two columns of the rotation matrix;
it is continuous, which is why policies learn it more easily than axis-angle. Decoding
orthonormalises with Gram-Schmidt, so any two non-parallel vectors give a valid rotation.
"""

from __future__ import annotations

import numpy as np
import pinocchio as pin

from vla_ros.retarget.errors import RetargetError

ROTATION_DIMS = {"axis_angle": 3, "rot6d": 6}
"""Number of action values each rotation encoding takes."""

ROTATION_SUFFIXES = {
    "axis_angle": ("rx", "ry", "rz"),
    "rot6d": ("r11", "r21", "r31", "r12", "r22", "r32"),  # column-major, first two columns
}


def check_rotation_kind(kind: str) -> str:
    if kind not in ROTATION_DIMS:
        raise RetargetError(
            f"unknown rotation encoding '{kind}' (use one of {', '.join(ROTATION_DIMS)})"
        )
    return kind


def rot6d_to_matrix(r6: np.ndarray) -> np.ndarray:
    """Rotation matrix from the first two columns (a, b), orthonormalised."""
    a = np.asarray(r6[:3], dtype=float)
    b = np.asarray(r6[3:6], dtype=float)
    na = np.linalg.norm(a)
    if na < 1e-9:
        raise RetargetError(f"6-D rotation has a zero first column {a.tolist()}")
    x = a / na
    b = b - x * float(x @ b)
    nb = np.linalg.norm(b)
    if nb < 1e-9:
        raise RetargetError("6-D rotation columns are parallel: no rotation is defined")
    y = b / nb
    return np.column_stack((x, y, np.cross(x, y)))


def matrix_to_rot6d(R: np.ndarray) -> np.ndarray:
    return np.concatenate((R[:, 0], R[:, 1]))


def decode_rotation(values: np.ndarray, kind: str) -> np.ndarray:
    """3x3 rotation from an action's rotation part."""
    if kind == "axis_angle":
        return pin.exp3(np.asarray(values, dtype=float))
    return rot6d_to_matrix(values)


def encode_rotation(R: np.ndarray, kind: str) -> np.ndarray:
    """An action's rotation part from a 3x3 rotation."""
    if kind == "axis_angle":
        return pin.log3(np.asarray(R, dtype=float))
    return matrix_to_rot6d(R)


def pose_matrix(position: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = rotation
    T[:3, 3] = position
    return T

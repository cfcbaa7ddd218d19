"""Eigengrasp action space: K synergy coefficients -> joint targets of a robot hand.

One policy drives several hands through the same K numbers (coefficients of human grasp
synergies, Santello 1998). Offline, `scripts/make_eigengrasps.py` retargets sampled synergy
postures onto every hand (fingertip least squares with pinocchio) and fits a cubic polynomial
per hand; here only that polynomial is evaluated, so a call costs microseconds and needs
neither pinocchio nor the URDF.

Conventions: coefficients are in standard deviations of each synergy over the grasp set;
+c0 closes the hand; values outside [coeff_low, coeff_high] saturate at the bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from itertools import combinations_with_replacement
from pathlib import Path

import numpy as np
import yaml

from vla_ros.assets import share_dir
from vla_ros.retarget.errors import RetargetError

MAX_K = 9
HANDS: tuple[str, ...] = ("panda_gripper", "allegro", "g1_hand")


class EigengraspError(RetargetError):
    """Base class (a ValueError): an eigengrasp map could not be loaded or was called wrongly."""


class EigengraspInputError(EigengraspError):
    """Coefficients or joint positions with the wrong length or non-finite values."""


class EigengraspFileError(EigengraspError):
    """A map file under config/eigengrasps is missing or malformed."""


def config_dir() -> Path:
    return share_dir("vla_ros") / "config" / "eigengrasps"


def monomials(k: int, degree: int) -> np.ndarray:
    """All monomials of degree <= `degree` in k variables as (M, degree) index rows; index k
    stands for the constant 1, so row (k, k, k) is the intercept and (0, 0, k) is c0^2."""
    rows = combinations_with_replacement(range(k + 1), degree)
    return np.array(sorted(rows, key=lambda r: (sum(i < k for i in r), r)), dtype=np.intp)


def poly_features(coeffs: np.ndarray, terms: np.ndarray) -> np.ndarray:
    """Monomial features (..., M) of coefficients (..., k)."""
    padded = np.concatenate([coeffs, np.ones(coeffs.shape[:-1] + (1,))], axis=-1)
    out = padded[..., terms[:, 0]]
    for col in range(1, terms.shape[1]):
        out = out * padded[..., terms[:, col]]
    return out


def poly_jacobian(coeffs: np.ndarray, terms: np.ndarray) -> np.ndarray:
    """d features / d coeffs, shape (M, k), for one coefficient vector."""
    k = len(coeffs)
    padded = np.append(coeffs, 1.0)
    jac = np.zeros((len(terms), k + 1))
    rows = np.arange(len(terms))
    for col in range(terms.shape[1]):
        others = np.ones(len(terms))
        for other in range(terms.shape[1]):
            if other != col:
                others = others * padded[terms[:, other]]
        np.add.at(jac, (rows, terms[:, col]), others)
    return jac[:, :k]


@dataclass(frozen=True)
class _HandFile:
    meta: dict
    terms: np.ndarray  # (M, degree) over MAX_K coefficients
    weights: np.ndarray  # (M, n_free)
    mimic: np.ndarray  # (n_joints, n_free)
    mimic_offset: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    coeff_low: np.ndarray
    coeff_high: np.ndarray


@cache
def _read_hand(directory: Path, hand: str) -> _HandFile:
    meta_path, data_path = directory / f"{hand}.yaml", directory / f"{hand}.npz"
    for path in (meta_path, data_path):
        if not path.is_file():
            raise EigengraspFileError(
                f"no eigengrasp map file {path}; run `python scripts/make_eigengrasps.py`"
            )
    try:
        meta = yaml.safe_load(meta_path.read_text())
        with np.load(data_path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise EigengraspFileError(f"cannot read eigengrasp map for '{hand}': {exc}") from exc
    required = ("terms", "weights", "mimic", "mimic_offset", "lower", "upper", "coeff_low",
                "coeff_high")  # fmt: skip
    missing = [key for key in required if key not in arrays]
    if missing:
        raise EigengraspFileError(f"{data_path}: missing arrays {missing}")
    if not isinstance(meta, dict) or "joint_names" not in meta:
        raise EigengraspFileError(f"{meta_path}: missing field 'joint_names'")
    n_joints = len(meta["joint_names"])
    if arrays["mimic"].shape[0] != n_joints or arrays["lower"].shape != (n_joints,):
        raise EigengraspFileError(f"{data_path}: joint arrays do not match {n_joints} joint_names")
    if arrays["weights"].shape != (len(arrays["terms"]), arrays["mimic"].shape[1]):
        raise EigengraspFileError(f"{data_path}: 'weights' shape {arrays['weights'].shape} "
                                  f"does not match terms x free joints")  # fmt: skip
    return _HandFile(meta=meta, **{key: arrays[key] for key in required})


class EigengraspMap:
    """Synergy coefficients <-> joint positions of one hand, for the first k synergies."""

    def __init__(self, hand: str, k: int, source: _HandFile):
        self.hand = hand
        self.k = k
        self.joint_names: list[str] = list(source.meta["joint_names"])
        self.names: list[str] = [f"eigengrasp_{i}" for i in range(k)]
        self.lower = source.lower.astype(float)
        self.upper = source.upper.astype(float)
        self.coeff_low = source.coeff_low[:k].astype(float)
        self.coeff_high = source.coeff_high[:k].astype(float)
        self.meta = source.meta
        # Keep only monomials in the first k coefficients: the map with c_k.. = 0, exactly.
        keep = np.all((source.terms < k) | (source.terms == MAX_K), axis=1)
        self._terms = np.where(source.terms == MAX_K, k, source.terms)[keep]
        self._weights = source.weights[keep] @ source.mimic.T  # straight to all joints
        self._offset = source.mimic_offset.astype(float)
        self._term_columns = [np.ascontiguousarray(col) for col in self._terms.T]

    @classmethod
    def load(cls, hand: str, k: int = 5, directory: Path | None = None) -> EigengraspMap:
        """The map for `hand` (one of HANDS) using the first k synergies (1..9)."""
        if hand not in HANDS:
            raise EigengraspError(f"unknown hand '{hand}'; known hands: {', '.join(HANDS)}")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= MAX_K:
            raise EigengraspError(f"k must be an integer in 1..{MAX_K}, got {k!r}")
        directory = Path(directory) if directory is not None else config_dir()
        return cls(hand, int(k), _read_hand(directory.resolve(), hand))

    def __repr__(self) -> str:
        return f"EigengraspMap(hand={self.hand!r}, k={self.k}, joints={len(self.joint_names)})"

    def _check(self, values, width: int, what: str) -> np.ndarray:
        try:
            arr = np.asarray(values, dtype=float)
        except (TypeError, ValueError) as exc:
            raise EigengraspInputError(f"{self.hand}: {what} must be numbers: {exc}") from exc
        if arr.ndim == 0 or arr.shape[-1] != width:
            raise EigengraspInputError(
                f"{self.hand}: {what} must have length {width} (last axis), got shape {arr.shape}"
            )
        bad = ~np.isfinite(arr)
        if bad.any():
            idx = sorted({int(i) for i in np.nonzero(bad)[-1]})
            raise EigengraspInputError(f"{self.hand}: {what} has NaN/inf at index {idx}")
        return arr

    def to_joint_positions(self, coeffs: np.ndarray) -> np.ndarray:
        """Coefficients (k,) or (..., k) -> joint positions (n,) or (..., n), within limits."""
        if (
            type(coeffs) is np.ndarray
            and coeffs.shape == (self.k,)
            and coeffs.dtype == np.float64
            and np.isfinite(coeffs).all()
        ):
            # Fast path for the per-step call of a controller (about 3x fewer numpy calls).
            padded = self._padded_buffer()
            np.minimum(np.maximum(coeffs, self.coeff_low, out=padded[:-1]), self.coeff_high,
                       out=padded[:-1])  # fmt: skip
            t = self._term_columns
            feats = padded.take(t[0])
            for col in t[1:]:
                feats *= padded.take(col)
            q = feats @ self._weights
            q += self._offset
            return np.minimum(np.maximum(q, self.lower, out=q), self.upper, out=q)
        c = np.clip(self._check(coeffs, self.k, "coeffs"), self.coeff_low, self.coeff_high)
        q = poly_features(c, self._terms) @ self._weights + self._offset
        return np.clip(q, self.lower, self.upper)

    def _padded_buffer(self) -> np.ndarray:
        """[c_0 .. c_{k-1}, 1]: a fresh array per call, so calls from threads never share."""
        padded = np.empty(self.k + 1)
        padded[-1] = 1.0
        return padded

    def from_joint_positions(self, q: np.ndarray, iters: int = 30) -> np.ndarray:
        """Joint positions (n,) -> the coefficients (k,) whose map is nearest (least squares,
        joints weighted by 1/range, a little ridge towards 0 where the map is flat)."""
        q = self._check(q, len(self.joint_names), "joint positions")
        if q.ndim > 1:
            return np.stack([self.from_joint_positions(row, iters) for row in q])
        scale = 1.0 / np.maximum(self.upper - self.lower, 1e-9)
        ridge = 1e-4
        best_c, best_cost = np.zeros(self.k), np.inf
        for start in (np.zeros(self.k), 0.5 * (self.coeff_low + self.coeff_high)):
            c = start
            for _ in range(iters):
                pred = poly_features(c, self._terms) @ self._weights + self._offset
                res = (pred - q) * scale
                jac = (poly_jacobian(c, self._terms).T @ self._weights).T * scale[:, None]
                lhs = jac.T @ jac + ridge * np.eye(self.k)
                step = np.linalg.solve(lhs, -(jac.T @ res + ridge * c))
                c = np.clip(c + step, self.coeff_low, self.coeff_high)
                if float(step @ step) < 1e-16:
                    break
            pred = np.clip(
                poly_features(c, self._terms) @ self._weights + self._offset, self.lower, self.upper
            )
            cost = float(np.sum(((pred - q) * scale) ** 2) + ridge * c @ c)
            if cost < best_cost:
                best_c, best_cost = c, cost
        return best_c


def human_synergies_path() -> Path:
    return config_dir() / "human_synergies.yaml"

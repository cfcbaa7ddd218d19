"""Offline: retarget sampled synergy postures onto a hand and fit the fast polynomial map.

Why a fitted map: the fingertip least squares costs milliseconds per posture (pinocchio + a
few QPs) and can hop between local optima; a cubic polynomial in the coefficients, fitted to
thousands of solved samples, is smooth and costs microseconds. Samples cover every prefix
subspace (c_k.. = 0 for a random k in 1..9), so one 9-D fit serves every k exactly.
"""

from __future__ import annotations

import multiprocessing as mp
from dataclasses import dataclass

import numpy as np

from vla_ros.retarget.eigengrasp import MAX_K, monomials, poly_features
from vla_ros.retarget.eigengrasp_hands import RobotHand, load_hand
from vla_ros.retarget.eigengrasp_synergy import SynergyBasis


def sample_coefficients(
    basis: SynergyBasis, n: int, rng: np.random.Generator, k: int | None = None
) -> np.ndarray:
    """(n, MAX_K) coefficients uniform in the basis' box, zero beyond a per-sample prefix
    length (random in 1..MAX_K, or exactly k)."""
    lengths = rng.integers(1, MAX_K + 1, n) if k is None else np.full(n, k)
    coeffs = rng.uniform(basis.coeff_low[:MAX_K], basis.coeff_high[:MAX_K], (n, MAX_K))
    return np.where(np.arange(MAX_K) < lengths[:, None], coeffs, 0.0)


_worker: dict = {}


def _init_worker(hand_name: str, basis: SynergyBasis) -> None:
    _worker["hand"] = load_hand(hand_name)
    _worker["basis"] = basis


def _solve_chunk(coeffs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    hand: RobotHand = _worker["hand"]
    basis: SynergyBasis = _worker["basis"]
    qs, errs, fit_targets = [], [], []
    for c in coeffs:
        human = basis.posture(c)
        q = hand.solve(human)
        qs.append(q)
        errs.append(hand.tip_errors(q, human).mean())
        aperture = hand.spec.mode == "aperture"
        fit_targets.append(hand.aperture_fit_target(human) if aperture else q)
    return np.array(qs), np.array(errs), np.array(fit_targets)


def retarget(
    hand_name: str, basis: SynergyBasis, coeffs: np.ndarray, workers: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve the fingertip least squares for every coefficient row: (joint positions, mean
    fingertip error in m per sample, what to fit the map to - the solution, or for a gripper
    the unclipped gap, see `RobotHand.aperture_fit_target`). Deterministic: every solve starts
    from mid-range."""
    chunks = np.array_split(coeffs, max(1, workers * 4))
    if workers <= 1:
        _init_worker(hand_name, basis)
        results = [_solve_chunk(chunk) for chunk in chunks]
    else:
        ctx = mp.get_context("spawn")
        with ctx.Pool(workers, _init_worker, (hand_name, basis)) as pool:
            results = pool.map(_solve_chunk, chunks)
    return tuple(np.concatenate([r[i] for r in results]) for i in range(3))


@dataclass(frozen=True)
class PolyFit:
    terms: np.ndarray  # (M, degree) monomials over MAX_K coefficients
    weights: np.ndarray  # (M, n_free)

    def predict_free(self, coeffs: np.ndarray) -> np.ndarray:
        return poly_features(coeffs, self.terms) @ self.weights


def fit_polynomial(
    coeffs: np.ndarray, q: np.ndarray, hand: RobotHand, degree: int = 3, ridge: float = 1e-6
) -> PolyFit:
    """Ridge least squares of the free joints on all monomials of degree <= `degree`."""
    z = np.linalg.lstsq(hand.mimic, (q - hand.mimic_offset).T, rcond=None)[0].T
    terms = monomials(MAX_K, degree)
    feats = poly_features(coeffs, terms)
    lhs = feats.T @ feats + ridge * len(feats) * np.eye(feats.shape[1])
    weights = np.linalg.solve(lhs, feats.T @ z)
    return PolyFit(terms, weights)


def predict(fit: PolyFit, hand: RobotHand, coeffs: np.ndarray) -> np.ndarray:
    """What EigengraspMap.to_joint_positions returns, from the fit in memory."""
    q = fit.predict_free(coeffs) @ hand.mimic.T + hand.mimic_offset
    return np.clip(q, hand.lower, hand.upper)


def evaluate(
    fit: PolyFit, hand: RobotHand, basis: SynergyBasis, coeffs: np.ndarray, q_solved: np.ndarray
) -> dict[str, float]:
    """Fit error on held-out samples: joints (rad or m, RMS over joints, mean over samples),
    fingertips of map vs solver, and fingertips of the map vs the human targets (mm)."""
    q_map = predict(fit, hand, coeffs)
    joint = np.sqrt(np.mean((q_map - q_solved) ** 2, axis=1))
    tip_fit, tip_target = [], []
    for c, qm, qs in zip(coeffs, q_map, q_solved, strict=True):
        tip_fit.append(np.linalg.norm(hand.fingertips(qm) - hand.fingertips(qs), axis=-1).mean())
        tip_target.append(hand.tip_errors(qm, basis.posture(c)).mean())
    return {
        "joint_rms": float(joint.mean()),
        "joint_max": float(joint.max()),
        "tip_fit_mm": 1e3 * float(np.mean(tip_fit)),
        "tip_fit_p95_mm": 1e3 * float(np.percentile(tip_fit, 95)),
        "tip_target_mm": 1e3 * float(np.mean(tip_target)),
    }

#!/usr/bin/env python3
"""Build (or report on) the eigengrasp action space: human synergies + per-hand maps.

Pipeline, all seeded so the files are reproducible bit for bit on one machine:
  1. `generate_postures` - synthetic human grasp postures (9 grasp families x object sizes,
     coupled joints, noise), see vla_ros/retarget/eigengrasp_postures.py;
  2. PCA -> config/eigengrasps/human_synergies.yaml (mean + 9 components, std, coeff range);
  3. per hand: sample synergy coefficients, retarget each posture by fingertip least squares
     (pinocchio + box QP), fit a cubic polynomial coefficients -> joints, check it on held-out
     samples -> config/eigengrasps/<hand>.npz (arrays) + <hand>.yaml (joint names, source, fit).

Usage:
  python scripts/make_eigengrasps.py                  # rebuild everything (~2-4 min, 2 cores)
  python scripts/make_eigengrasps.py --hands allegro  # rebuild one hand map (keeps the basis)
  python scripts/make_eigengrasps.py --report         # tables from the stored files only

The report prints the variance explained per K = 1..9 and, per hand and K, the fingertip
reconstruction error on fresh postures (seed + 1, never used for PCA or the fit): the posture
projected onto K synergies, mapped through `EigengraspMap`, robot fingertips compared with the
targets of the original posture. The "solver" row is the floor - the direct least squares of
the original posture, no synergy truncation and no fitted map.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from vla_ros.retarget.eigengrasp import MAX_K, EigengraspMap, _read_hand, config_dir
from vla_ros.retarget.eigengrasp_fit import (
    evaluate,
    fit_polynomial,
    retarget,
    sample_coefficients,
)
from vla_ros.retarget.eigengrasp_hands import HAND_NAMES, HAND_SPECS, load_hand
from vla_ros.retarget.eigengrasp_human import HAND_LENGTH, HumanHand
from vla_ros.retarget.eigengrasp_postures import GRASP_TYPES, generate_postures
from vla_ros.retarget.eigengrasp_synergy import MAX_COMPONENTS, SynergyBasis, fit_synergies

SYNERGY_FILE = "human_synergies.yaml"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, default=config_dir(), help="output folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--per-type", type=int, default=300, help="postures per grasp type")
    p.add_argument("--samples", type=int, default=3000, help="fit samples per hand")
    p.add_argument("--holdout", type=int, default=400, help="held-out samples per hand")
    p.add_argument("--degree", type=int, default=3, help="polynomial degree of the maps")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--hands", nargs="+", choices=HAND_NAMES, default=list(HAND_NAMES))
    p.add_argument("--report", action="store_true", help="only print tables from stored files")
    p.add_argument("--report-postures", type=int, default=40, help="per grasp type, report")
    return p.parse_args(argv)


def build_basis(args: argparse.Namespace) -> SynergyBasis:
    t0 = time.perf_counter()
    postures = generate_postures(per_type=args.per_type, seed=args.seed)
    meta = {
        "source": "scripts/make_eigengrasps.py (synthetic postures, PCA)",
        "seed": args.seed,
        "postures": len(postures),
        "per_type": args.per_type,
        "grasp_types": list(GRASP_TYPES),
        "hand_length_m": HAND_LENGTH,
        "sign_convention": "+c0 closes the hand; other components: largest loading positive",
    }
    basis = fit_synergies(postures.q, k=MAX_COMPONENTS, meta=meta)
    basis.save(args.out / SYNERGY_FILE)
    print(f"synergies: {len(postures)} postures, PCA in {time.perf_counter() - t0:.1f} s "
          f"-> {args.out / SYNERGY_FILE}")  # fmt: skip
    return basis


def build_hand(name: str, basis: SynergyBasis, args: argparse.Namespace) -> dict:
    """Retarget samples onto one hand, fit the polynomial, write <hand>.npz/.yaml."""
    t0 = time.perf_counter()
    hand = load_hand(name)
    rng = np.random.default_rng([args.seed, HAND_NAMES.index(name)])
    train = sample_coefficients(basis, args.samples, rng)
    test = sample_coefficients(basis, args.holdout, rng)
    _, err_train, q_train = retarget(name, basis, train, args.workers)
    q_test, _, _ = retarget(name, basis, test, args.workers)
    t_solve = time.perf_counter() - t0
    fit = fit_polynomial(train, q_train, hand, degree=args.degree)
    stats = evaluate(fit, hand, basis, test, q_test)
    stats["solver_tip_mm"] = 1e3 * float(err_train.mean())
    spec = HAND_SPECS[name]
    np.savez_compressed(
        args.out / f"{name}.npz",
        terms=fit.terms,
        weights=fit.weights,
        mimic=hand.mimic,
        mimic_offset=hand.mimic_offset,
        lower=hand.lower,
        upper=hand.upper,
        coeff_low=basis.coeff_low[:MAX_K],
        coeff_high=basis.coeff_high[:MAX_K],
    )
    meta = {
        "hand": name,
        "description": spec.description,
        "joint_names": hand.joint_names,
        "free_joints": hand.free_joints,
        "source": {
            "urdf": f"example-robot-data robots/{spec.urdf}",
            "palm_frame": spec.palm_frame,
            "fingertips": {t.name: {"frame": t.frame, "offset_m": list(t.offset),
                                    "human_fingers": list(t.human)} for t in spec.tips},
            "mode": spec.mode,
            "scale_robot_over_human": round(hand.scale, 6),
            "synergies": SYNERGY_FILE,
            "generator": "scripts/make_eigengrasps.py",
            "seed": args.seed,
        },  # fmt: skip
        "map": {
            "form": "q = clip(poly(clip(c, coeff_low, coeff_high)) @ weights @ mimic.T "
            "+ mimic_offset, lower, upper); c beyond k is 0",
            "degree": args.degree,
            "samples": args.samples,
            "holdout": args.holdout,
        },
        "fit_error_holdout": {key: round(val, 5) for key, val in stats.items()},
    }
    header = f"# Eigengrasp map for '{name}' (arrays in {name}.npz). Generated, do not edit.\n"
    (args.out / f"{name}.yaml").write_text(header + yaml.safe_dump(meta, sort_keys=False))
    print(f"{name}: {args.samples}+{args.holdout} samples solved in {t_solve:.0f} s; held-out "
          f"joint RMS {stats['joint_rms']:.4f}, fingertips map-vs-solver "
          f"{stats['tip_fit_mm']:.2f} mm (p95 {stats['tip_fit_p95_mm']:.2f}), "
          f"map-vs-human-target {stats['tip_target_mm']:.1f} mm "
          f"(solver alone {stats['solver_tip_mm']:.1f} mm)")  # fmt: skip
    return stats


def report(args: argparse.Namespace) -> None:
    """Variance explained per K and fingertip reconstruction error per hand and K."""
    _read_hand.cache_clear()  # files may have just been rewritten
    basis = SynergyBasis.load(args.out / SYNERGY_FILE)
    seed = int(basis.meta.get("seed", args.seed)) + 1
    fresh = generate_postures(per_type=args.report_postures, seed=seed).q
    human = HumanHand()
    ks = range(1, MAX_K + 1)
    print(f"\nVariance explained ({basis.meta.get('postures', '?')} postures, "
          f"seed {basis.meta.get('seed', '?')}); human fingertip error on {len(fresh)} fresh "
          f"postures (seed {seed}) after projection onto K synergies")  # fmt: skip
    print("| K | variance explained | cumulative | human fingertip error (mm) |")
    print("|---|---|---|---|")
    tips = human.fingertips(fresh)
    for k in ks:
        rec = basis.posture(basis.project(fresh, k))
        err = 1e3 * np.linalg.norm(human.fingertips(rec) - tips, axis=-1).mean()
        print(f"| {k} | {basis.variance_ratio[k - 1]:.3f} | {basis.explained(k):.3f} "
              f"| {err:.1f} |")  # fmt: skip
    print("\nRobot fingertip error (mm, mean over tips and postures) vs the retargeting targets "
          "of the original posture;\npanda_gripper: pad-gap error. 'solver' = direct least "
          "squares of the original posture (floor).")  # fmt: skip
    print("| K | " + " | ".join(args.hands) + " |")
    print("|---|" + "---|" * len(args.hands))
    rows: dict[str, list[str]] = {str(k): [] for k in ks}
    rows["solver"] = []
    timing = []
    for name in args.hands:
        hand = load_hand(name)
        targets_q = list(fresh)
        for k in ks:
            emap = EigengraspMap.load(name, k, directory=args.out)
            qs = emap.to_joint_positions(basis.project(fresh, k))
            errs = [hand.tip_errors(q, h).mean() for q, h in zip(qs, targets_q, strict=True)]
            rows[str(k)].append(f"{1e3 * np.mean(errs):.1f}")
        solved = [hand.tip_errors(hand.solve(h), h).mean() for h in targets_q]
        rows["solver"].append(f"{1e3 * np.mean(solved):.1f}")
        emap = EigengraspMap.load(name, 5, directory=args.out)
        c = np.zeros(5)
        t0 = time.perf_counter()
        for _ in range(5000):
            emap.to_joint_positions(c)
        timing.append(f"{name} {1e6 * (time.perf_counter() - t0) / 5000:.1f} us")
    for key, vals in rows.items():
        print(f"| {key} | " + " | ".join(vals) + " |")
    print("\nto_joint_positions (k=5, one vector): " + ", ".join(timing))
    for name in args.hands:
        meta = yaml.safe_load((args.out / f"{name}.yaml").read_text())
        fit = meta["fit_error_holdout"]
        print(f"{name}: fit on held-out samples: joint RMS {fit['joint_rms']:.4f}, "
              f"fingertips map vs solver {fit['tip_fit_mm']:.2f} mm "
              f"(p95 {fit['tip_fit_p95_mm']:.2f})")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.report:
        basis_path = args.out / SYNERGY_FILE
        rebuild = set(args.hands) == set(HAND_NAMES) or not basis_path.is_file()
        basis = build_basis(args) if rebuild else SynergyBasis.load(basis_path)
        for name in args.hands:
            build_hand(name, basis, args)
    report(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

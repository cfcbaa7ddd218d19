"""`vla-ros safety train|eval`: SAFE failure detectors on recorded (or synthetic) rollouts.

train: split seen-task rollouts into train/calibration/test, train every detector for every
       seed, calibrate its conformal band, write checkpoints + train.json to --out.
eval:  load those checkpoints, score seen-test and unseen-task rollouts, print and write
       the markdown table (mean ± std over seeds) and the plots.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

INPUT_HELP = ("rollout dataset: a .npz written by vla_ros.safety.rollouts.save_rollouts "
              "(e.g. by `vla-ros eval`) or a directory of them")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "safety",
        help="train / evaluate SAFE failure detectors on policy rollouts",
        description="SAFE failure detection: train detectors on seen-task rollouts, calibrate "
        "a functional conformal band, evaluate on seen-test and unseen tasks (docs/safety.md).",
    )
    actions = p.add_subparsers(dest="safety_command", metavar="ACTION")
    actions.required = True

    t = actions.add_parser("train", help="train + calibrate detectors, write checkpoints")
    _add_input(t)
    t.add_argument("--out", type=Path, required=True, help="output folder")
    t.add_argument("--detectors", nargs="+", default=None,
                   help="detector names (default: all; see --list)")
    t.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                   help="training seeds (default 0 1 2)")
    t.add_argument("--alpha", type=float, default=0.2, help="conformal level (default 0.2)")
    t.add_argument("--split-seed", type=int, default=0, help="seed of the data split")
    t.add_argument("--calibration", choices=["tasks", "pooled"], default="tasks",
                   help="conformal quantile: tasks = every seen task weighs the same (for "
                        "new tasks; default), pooled = every calibration success alike")
    t.add_argument("--options", default="{}", metavar="JSON",
                   help='per-detector options, e.g. \'{"safe_lstm": {"epochs": 20}}\'')
    t.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=main_train)

    e = actions.add_parser("eval", help="evaluate trained detectors: table + plots")
    e.add_argument("--checkpoints", type=Path, required=True,
                   help="the --out folder of `vla-ros safety train`")
    _add_input(e, required=False)
    e.add_argument("--out", type=Path, help="where to write results (default: --checkpoints)")
    e.add_argument("--alpha", type=float, help="re-derive the bands at this level")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.set_defaults(func=main_eval)

    c = actions.add_parser(
        "collect", help="record rollouts of a VLA watching the scripted experts, failures "
        "injected (a policy's own rollouts: `vla-ros eval`)",
        description="Run the sim's scripted experts (failures injected into a share of "
        "episodes) and record the built-in VLA's features and action chunks on every real "
        "observation. The policy watches, it does not drive: see vla_ros/safety/collect.py.")
    c.add_argument("--out", type=Path, required=True, help=".npz file to write")
    c.add_argument("--robot", default="panda")
    c.add_argument("--tasks", nargs="+", help="task names (default: all of the robot's)")
    c.add_argument("--episodes", type=int, default=6, help="episodes per task (default 6)")
    c.add_argument("--failure-rate", type=float, default=0.5,
                   help="share of episodes with an injected failure (default 0.5)")
    c.add_argument("--checkpoint", type=Path,
                   help="built-in VLA checkpoint (default: an untrained one)")
    c.add_argument("--control-hz", type=float, default=10.0, help="inference rate")
    c.add_argument("--seed", type=int, default=0, help="episode/failure draw seed")
    c.add_argument("--policy-seed", type=int, default=0,
                   help="init seed of the untrained VLA (same seed = same policy)")
    c.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    c.set_defaults(func=main_collect)

    ls = actions.add_parser("list", help="list detector names")
    ls.set_defaults(func=main_list)


def _add_input(p: argparse.ArgumentParser, required: bool = True) -> None:
    g = p.add_mutually_exclusive_group(required=required)
    g.add_argument("--rollouts", type=Path, help=INPUT_HELP)
    g.add_argument("--synthetic", type=int, metavar="SEED", nargs="?", const=0,
                   help="use SYNTHETIC rollouts from vla_ros.safety.synthetic (for testing)")


def _load_input(rollouts: Path | None, synthetic: int | None):
    from vla_ros.safety.rollouts import load_rollouts
    from vla_ros.safety.synthetic import generate_rollouts

    if rollouts is not None:
        return load_rollouts(rollouts), {"rollouts": str(rollouts.resolve())}
    return generate_rollouts(seed=synthetic), {"synthetic": synthetic}


def main_collect(args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("MUJOCO_GL", "egl")
    import torch

    from vla_ros.safety.collect import collect
    from vla_ros.safety.rollouts import save_rollouts

    torch.set_num_threads(max(1, args.threads))
    data = collect(robot=args.robot, tasks=args.tasks, episodes=args.episodes,
                   failure_rate=args.failure_rate, checkpoint=args.checkpoint, seed=args.seed,
                   policy_seed=args.policy_seed,
                   control_hz=args.control_hz, progress=lambda m: print(m, flush=True))
    path = save_rollouts(args.out, data)
    fails = sum(r.label for r in data)
    print(f"wrote {len(data)} rollouts ({fails} failures) of policy {data.policy_id!r} to {path}")
    return 0


def main_list(args: argparse.Namespace) -> int:
    from vla_ros.safety.registry import DETECTORS

    for name, cls in DETECTORS.items():
        doc = ((cls.__doc__ or "").strip().splitlines() or [""])[0]
        print(f"{name:15s} {doc}")
    return 0


def main_train(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from vla_ros.safety.checkpoint import save_detector
    from vla_ros.safety.experiment import applicable, split_rollouts, train_one
    from vla_ros.safety.registry import detector_names

    torch.set_num_threads(max(1, args.threads))
    options = json.loads(args.options)
    data, source = _load_input(args.rollouts, args.synthetic)
    names = args.detectors or detector_names()
    unknown = sorted(set(names) - set(detector_names()))
    if unknown:
        raise ValueError(f"unknown detector(s) {unknown}; known: {detector_names()}")
    skipped = [n for n in names if not applicable(n, data)]
    names = [n for n in names if applicable(n, data)]
    splits = split_rollouts(data, args.split_seed)
    print(f"{len(data)} rollouts of policy {data.policy_id!r} (D={data.feature_dim}): "
          f"train {len(splits.train)}, calibration {len(splits.calibration)}, "
          f"seen-test {len(splits.seen_test)}, unseen {len(splits.unseen)}")
    if skipped:
        print(f"skipped (not applicable: no action chunks [T, H, A]): {skipped}")
    jobs = [(n, s) for n in names for s in args.seeds]
    made = []
    for name, seed in tqdm(jobs, desc="train", disable=args.quiet):
        trained = train_one(name, splits, data.feature_dim, seed, args.alpha, options.get(name),
                            args.calibration)
        path = save_detector(args.out / "detectors" / name / f"seed{seed}", trained.detector,
                             trained.band, data.policy_id, seed=seed, split_seed=args.split_seed,
                             calibration=args.calibration, source=source)
        made.append(str(path.relative_to(args.out)))
    manifest = {"source": source, "policy_id": data.policy_id, "feature_dim": data.feature_dim,
                "alpha": args.alpha, "calibration": args.calibration,
                "split_seed": args.split_seed, "seeds": args.seeds,
                "detectors": names, "skipped": skipped, "checkpoints": made,
                "splits": splits.ids(), "options": options}
    (args.out / "train.json").write_text(json.dumps(manifest, indent=1))
    print(f"wrote {len(made)} detector checkpoints under {args.out / 'detectors'}; next: "
          f"vla-ros safety eval --checkpoints {args.out}")
    return 0


def main_eval(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from vla_ros.safety.checkpoint import load_detector
    from vla_ros.safety.experiment import (
        EVAL_SETS,
        Trained,
        evaluate,
        failure_mode_table,
        results_table,
        split_rollouts,
    )
    from vla_ros.safety.plots import plot_roc, plot_score_curves

    manifest_path = args.checkpoints / "train.json"
    if not manifest_path.is_file():
        raise ValueError(f"{args.checkpoints}: no train.json; pass the --out folder of "
                         "`vla-ros safety train`")
    manifest = json.loads(manifest_path.read_text())
    if args.rollouts is None and args.synthetic is None:
        src = manifest["source"]
        rollouts = Path(src["rollouts"]) if "rollouts" in src else None
        data, _ = _load_input(rollouts, src.get("synthetic"))
    else:
        data, _ = _load_input(args.rollouts, args.synthetic)
    splits = split_rollouts(data, manifest["split_seed"])
    if splits.ids() != manifest["splits"]:
        print("warning: these rollouts split differently from the training data; seen-test "
              "rollouts may overlap the training/calibration ones", file=sys.stderr)
    out = args.out or args.checkpoints
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[dict[str, Any]]] = {}
    first: dict[str, Trained] = {}
    first_eval: dict[str, dict[str, Any]] = {}
    alpha = args.alpha or manifest["alpha"]
    for rel in tqdm(manifest["checkpoints"], desc="eval", disable=args.quiet):
        bundle = load_detector(args.checkpoints / rel, feature_dim=data.feature_dim,
                               policy_id=data.policy_id, alpha=args.alpha)
        trained = Trained(bundle.detector, bundle.band, int(bundle.meta.get("seed", 0)))
        res = {k: evaluate(trained, splits.test(k)) for k in EVAL_SETS}
        name = bundle.detector.name
        results.setdefault(name, []).append(res)
        if name not in first:
            first[name], first_eval[name] = trained, res
    table = results_table(results, alpha)
    header = (f"# SAFE detectors on {_describe(manifest['source'])}\n\n"
              f"policy `{data.policy_id}`, feature dim {data.feature_dim}; "
              f"seen-test {len(splits.seen_test)} rollouts "
              f"({sum(r.label for r in splits.seen_test)} failures), unseen "
              f"{len(splits.unseen)} rollouts ({sum(r.label for r in splits.unseen)} failures) "
              f"on {len(data.tasks('unseen'))} unseen tasks; mean ± std over seeds "
              f"{manifest['seeds']}.\n\n")
    modes = ("\n\n## Alarm rate by failure mode (seen-test + unseen, mean over seeds)\n\n"
             + failure_mode_table(results) + "\n\n'success' = false-alarm rate.")
    table = table + modes
    (out / "results.md").write_text(header + table + "\n")
    (out / "results.json").write_text(json.dumps(
        {name: [{k: _numbers(r[k]) for k in EVAL_SETS} for r in per_seed]
         for name, per_seed in results.items()}, indent=1))
    figs = []
    for which in EVAL_SETS:
        per = {n: (first_eval[n][which].curves, first_eval[n][which].labels) for n in first}
        if per and any(len(c) for c, _ in per.values()):
            figs.append(plot_roc(out / f"roc_{which}.png", f"ROC, {which} tasks (first seed)",
                                 per))
    for name, trained in first.items():
        res = first_eval[name]["unseen"]
        if res.curves:
            figs.append(plot_score_curves(out / f"scores_{name}.png",
                                          f"{name}: unseen-task rollouts (first seed)",
                                          res.curves, res.labels, trained.band))
    print(header + table)
    print(f"\nwrote {out / 'results.md'}, {out / 'results.json'} and {len(figs)} plots")
    return 0


def _describe(source: dict) -> str:
    if "synthetic" in source:
        return f"SYNTHETIC rollouts (vla_ros.safety.synthetic, seed {source['synthetic']})"
    return f"rollouts `{source['rollouts']}`"


def _numbers(result: Any) -> dict[str, float]:
    keys = ("auc", "tpr", "tnr", "balanced_accuracy", "detection_time", "n_success",
            "n_failure")
    return {k: (None if np.isnan(v) else float(v)) if isinstance(v, float) else v
            for k, v in ((k, getattr(result, k)) for k in keys)}

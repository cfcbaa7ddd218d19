"""`vla-ros train --dataset DIR --out DIR`: train the built-in VLA on a LeRobot v3 dataset."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vla_ros.commands import json_object_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train the built-in VLA policy on a recorded dataset",
        description="Behaviour-clone the built-in VLA on a LeRobotDataset v3 folder (as "
        "`vla-ros record` writes it). Writes a checkpoint folder (config.json, "
        "model.safetensors, normalization.json, train_info.json) and loss_curve.png to --out; "
        "run it with `vla-ros run policy_node --ros-args -p checkpoint:=OUT`.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", type=Path, nargs="+", metavar="DIR",
                        help="LeRobotDataset v3 folder(s); several are trained on as one "
                             "(same fps, cameras, state and action names)")
    source.add_argument("--synthetic", type=int, metavar="EPISODES",
                        help="train on N generated reaching episodes instead (smoke test)")
    p.add_argument("--out", type=Path, required=True, help="checkpoint folder to write")
    p.add_argument("--steps", type=int, default=2000, help="optimiser steps (default 2000)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--horizon", type=int, default=16, help="actions per chunk (default 16)")
    p.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"),
                   help="model image size (default: the dataset's, capped at 128 px)")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N | auto")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="wall-clock budget: stop by then, learning rate annealed to fit")
    p.add_argument("--preset", default="default",
                   help="architecture preset: default | small | tiny | transformer")
    p.add_argument("--model", default="{}", metavar="JSON",
                   help='architecture overrides, e.g. \'{"width": 128, "trunk": "transformer"}\'')
    p.add_argument("--text-encoder", default="minilm", choices=["minilm", "hash"],
                   help="instruction encoder (minilm: frozen all-MiniLM-L6-v2)")
    p.add_argument("--eval-every", type=int, default=100,
                   help="validation loss every N steps (on held-out episodes)")
    p.add_argument("--no-augment", action="store_true", help="turn image augmentation off")
    p.add_argument("--generic-object-prob", type=float, default=0.0, metavar="P",
                   help="share of training samples whose instruction says 'object' instead "
                        "of cube/cylinder/block, so objects are found by colour too "
                        "(default 0)")
    p.add_argument("--init", type=Path, metavar="CHECKPOINT",
                   help="fine-tune: start from this checkpoint's weights, architecture and "
                        "normalisation (--preset/--model/--image-size/--horizon are ignored)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0,
                   help="CPU threads for torch (0 = torch's default; 1 on a shared machine)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    import torch

    from vla_ros.policy.errors import PolicyConfigError
    from vla_ros.policy.samples import SyntheticEpisodes
    from vla_ros.policy.train import TrainConfig, train_policy
    from vla_ros.policy.vla_model import PRESETS

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.preset not in PRESETS:
        raise PolicyConfigError(f"unknown preset {args.preset!r}; choose from {sorted(PRESETS)}")
    overrides = json_object_option("--model", args.model)
    config = TrainConfig(
        steps=args.steps, batch_size=args.batch_size, lr=args.lr, horizon=args.horizon,
        image_size=tuple(args.image_size) if args.image_size else None, device=args.device,
        text_encoder=args.text_encoder, augment=not args.no_augment, seed=args.seed,
        generic_object_prob=args.generic_object_prob,
        eval_every=args.eval_every,
        time_budget_s=None if args.max_minutes is None else 60.0 * args.max_minutes,
        progress=not args.quiet, model={**PRESETS[args.preset], **overrides},
        init_from=None if args.init is None else str(args.init),
    )
    from vla_ros.data.errors import DatasetError

    try:
        if args.dataset is not None:
            from vla_ros.data.concat import open_datasets

            source = open_datasets(args.dataset)
            origin = ", ".join(str(d.resolve()) for d in args.dataset)
        else:
            source = SyntheticEpisodes(num_episodes=args.synthetic, image_size=(64, 64),
                                       seed=args.seed)
            origin = f"synthetic:{args.synthetic}"
        result = train_policy(source, args.out, config, extra_info={"dataset": origin})
    except KeyboardInterrupt as stop:
        print(f"vla-ros train: {stop}", file=sys.stderr)
        return 130
    except DatasetError as exc:  # the data layer's errors are not ValueErrors
        where = ", ".join(map(str, args.dataset))
        print(f"vla-ros train: error: dataset {where}: {exc}", file=sys.stderr)
        return 2
    summary = (f"trained {len(result.losses)} steps in {result.seconds:.1f} s: loss "
               f"{result.first_loss:.4f} -> {result.final_loss:.4f}")
    if result.val_losses:
        summary += f", validation {result.val_losses[-1][1]:.4f}"
    print(summary)
    print(f"checkpoint: {result.checkpoint}  (loss curve: {result.checkpoint / 'loss_curve.png'})")
    return 0

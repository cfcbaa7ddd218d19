"""`vla-ros average-weights`: one checkpoint from the weight average of several fine-tunes."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "average-weights",
        help="average the weights of fine-tunes of one checkpoint (a model soup)",
        description="Write a built-in VLA checkpoint whose weights are the (weighted) average "
        "of several checkpoints fine-tuned from the same starting checkpoint (`vla-ros train "
        "--init`). Config and normalisation must be identical; the result has the same "
        "architecture and speed, and train_info.json lists the ingredients with their "
        "sha256. See docs/policy.md, 'Weight averaging'.",
    )
    p.add_argument("checkpoints", type=Path, nargs="+", metavar="CHECKPOINT",
                   help="checkpoint folders (two or more)")
    p.add_argument("--out", type=Path, required=True, help="checkpoint folder to write")
    p.add_argument("--weights", type=float, nargs="+", metavar="W",
                   help="one non-negative weight per checkpoint (normalised; default equal)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from vla_ros.policy.checkpoint import weights_sha256
    from vla_ros.policy.weight_average import save_average

    out = save_average(args.checkpoints, args.out, args.weights)
    sha = weights_sha256(out)
    print(f"averaged {len(args.checkpoints)} checkpoints -> {out} (model.safetensors sha256 "
          f"{sha})")
    return 0

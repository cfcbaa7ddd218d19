"""Built-in VLA checkpoints: `config.json` + `model.safetensors` + `normalization.json`.

Loading never unpickles anything: weights come only from safetensors (a JSON header plus
raw tensor bytes, so a file cannot run code), and a folder that holds only pickle-based
weights (`.bin`, `.pt`, `.pth`, `.ckpt`) is refused with a message saying why. Every
mismatch between the files and the model — missing or unexpected tensors, wrong shapes,
stats of the wrong size — is a `CheckpointError` naming the file and the tensor.

Files are written through a temporary name and `os.replace`, so a crash mid-save leaves
the previous checkpoint intact rather than a torn one.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from vla_ros.policy.errors import CheckpointError, PolicyConfigError
from vla_ros.policy.normalize import Normalizer
from vla_ros.policy.vla_model import VLAConfig
from vla_ros.provenance import software_versions

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
STATS_FILE = "normalization.json"
INFO_FILE = "train_info.json"
CHECKPOINT_TYPE = "vla_ros/builtin_vla"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
MAX_HEADER_BYTES = 100 * 1024 * 1024  # safetensors' own limit on the JSON header


@dataclass
class Checkpoint:
    """A loaded checkpoint: configuration, weights (CPU tensors) and normalisation."""

    path: Path
    config: VLAConfig
    state_dict: dict[str, torch.Tensor]
    normalizer: Normalizer
    info: dict[str, Any] = field(default_factory=dict)  # training summary, if saved


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # some writers create 0600 files; checkpoints are shared
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_json(path: Path, data: Any) -> None:
    _write_atomic(path, lambda tmp: tmp.write_text(json.dumps(data, indent=1) + "\n"))


def save_checkpoint(folder: str | Path, config: VLAConfig,
                    state_dict: Mapping[str, torch.Tensor], normalizer: Normalizer,
                    info: Mapping[str, Any] | None = None) -> Path:
    """Write a checkpoint folder (created if needed); returns its path."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    normalizer.check_dims(config.state_dim, config.action_dim)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    # One metadata key: safetensors writes several in hash order, so equal weights would not
    # always give byte-equal files (and equal sha256). config.json carries the type.
    _write_atomic(folder / WEIGHTS_FILE,
                  lambda tmp: save_file(tensors, str(tmp), metadata={"format": "pt"}))
    _write_json(folder / STATS_FILE, normalizer.to_json())
    if info is not None:  # a checkpoint with an info file says which software wrote it
        _write_json(folder / INFO_FILE, {**info, "versions": software_versions()})
    # config last: a folder with a config.json is a complete checkpoint
    _write_json(folder / CONFIG_FILE, {"type": CHECKPOINT_TYPE, **config.to_json()})
    return folder


def weights_sha256(folder: str | Path) -> str:
    """sha256 of a checkpoint folder's model.safetensors: what identifies its weights
    (failure-detector policy ids, averaging ingredients, reproduce commands)."""
    digest = hashlib.sha256()
    with (Path(folder) / WEIGHTS_FILE).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and check a checkpoint folder (or its model.safetensors path)."""
    folder = Path(path)
    if folder.is_file():
        if folder.suffix in PICKLE_SUFFIXES:
            raise CheckpointError(folder, _PICKLE_REFUSAL)
        folder = folder.parent
    if not folder.is_dir():
        raise CheckpointError(folder, "no such checkpoint folder")
    weights_path = folder / WEIGHTS_FILE
    if not weights_path.is_file():
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
        if pickles:
            raise CheckpointError(folder, f"holds {pickles} but no {WEIGHTS_FILE}; "
                                          + _PICKLE_REFUSAL)
        raise CheckpointError(folder, f"no {WEIGHTS_FILE} (a checkpoint needs {CONFIG_FILE}, "
                                      f"{WEIGHTS_FILE} and {STATS_FILE})")
    config = _read_config(folder / CONFIG_FILE)
    normalizer = _read_stats(folder / STATS_FILE, config)
    state_dict = read_safetensors(weights_path)
    info_path = folder / INFO_FILE
    info = _read_json(info_path) if info_path.is_file() else {}
    return Checkpoint(folder, config, state_dict, normalizer, info if isinstance(info, dict)
                      else {})


_PICKLE_REFUSAL = ("pickle-based weights are never loaded (unpickling can run arbitrary "
                   "code); save the weights as model.safetensors")


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise CheckpointError(path, "file is missing")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(path, f"not valid JSON: {exc}") from None


def _read_config(path: Path) -> VLAConfig:
    data = _read_json(path)
    if not isinstance(data, dict):
        raise CheckpointError(path, "must hold a JSON object")
    kind = data.pop("type", None)
    if kind != CHECKPOINT_TYPE:
        raise CheckpointError(path, f"type is {kind!r}, not {CHECKPOINT_TYPE!r}: not a built-in "
                                    "VLA checkpoint (LeRobot checkpoints load with "
                                    "policy_type 'lerobot')")
    try:
        return VLAConfig.from_json(data)
    except PolicyConfigError as exc:
        raise CheckpointError(path, str(exc)) from None


def _read_stats(path: Path, config: VLAConfig) -> Normalizer:
    data = _read_json(path)
    try:
        normalizer = Normalizer.from_json(data)
        normalizer.check_dims(config.state_dim, config.action_dim, where="stats")
    except PolicyConfigError as exc:
        raise CheckpointError(path, str(exc)) from None
    return normalizer


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file; anything else (pickle, zip, truncated) is refused."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(9)
    if len(head) < 9:
        raise CheckpointError(path, f"not a safetensors file ({size} bytes is too short)")
    header_len = struct.unpack("<Q", head[:8])[0]
    if header_len > min(size - 8, MAX_HEADER_BYTES) or head[8:9] != b"{":
        hint = " (it looks like a pickle/zip file)" if head[:2] in (b"PK", b"\x80\x02",
                                                                   b"\x80\x04") else ""
        raise CheckpointError(path, f"not a safetensors file: bad header{hint}")
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(path, f"not a readable safetensors file: {exc}") from None


def check_state_dict(expected: Mapping[str, torch.Tensor], got: Mapping[str, torch.Tensor],
                     where: Path | str) -> None:
    """Missing, unexpected and wrong-shaped tensors, all listed in one CheckpointError."""
    problems = []
    missing = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    if missing:
        problems.append(f"missing tensors {_short(missing)}")
    if unexpected:
        problems.append(f"unexpected tensors {_short(unexpected)}")
    for key in sorted(set(expected) & set(got)):
        want, have = tuple(expected[key].shape), tuple(got[key].shape)
        if want != have:
            problems.append(f"tensor {key!r} has shape {list(have)}, the model needs {list(want)}")
        elif not got[key].dtype.is_floating_point and expected[key].dtype.is_floating_point:
            problems.append(f"tensor {key!r} is {got[key].dtype}, the model needs floats")
    if problems:
        raise CheckpointError(where, "; ".join(problems))


def _short(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"[{shown}{more}]"

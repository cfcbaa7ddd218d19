"""The rollout dataset SAFE trains and evaluates on: one record per policy episode.

Why a format of our own: detectors need only per-step features (the policy's last hidden
layer at each inference call), optional action chunks, times and the episode's outcome --
not the images a LeRobot dataset carries. One `.npz` file holds many rollouts plus a JSON
schema string (`__schema__`) with a format name and version, so a loader can refuse files
it does not understand instead of mis-reading them. A directory of such files is one
dataset (e.g. one file per `vla-ros eval` run).

Per rollout: task, split ("seen"/"unseen"), success, length T, features [T, D],
time [T] (seconds from episode start), actions [T, A] or action chunks [T, H, A]
(optional), failure_mode ("natural" for a policy's own failure, the injected mode name,
or "" for a success) and a free-form id.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vla_ros.safety.errors import RolloutDataError

FORMAT = "vla_ros.safety.rollouts"
VERSION = 1
SPLITS = ("seen", "unseen")


@dataclass
class Rollout:
    """One episode as SAFE sees it."""

    task: str
    split: str
    success: bool
    features: np.ndarray  # (T, D) float32
    time: np.ndarray  # (T,) seconds since the episode started
    actions: np.ndarray | None = None  # (T, A) or (T, H, A) action chunks
    failure_mode: str = ""  # "" (success), "natural", or an injected mode's name
    rollout_id: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def length(self) -> int:
        return int(self.features.shape[0])

    @property
    def feature_dim(self) -> int:
        return int(self.features.shape[1])

    @property
    def label(self) -> int:
        """1 = failure (what a detector should flag), 0 = success."""
        return 0 if self.success else 1


@dataclass
class RolloutSet:
    """Rollouts of one policy; `policy_id` ties detectors to the policy they watch."""

    rollouts: list[Rollout]
    policy_id: str = ""
    source: str = ""

    def __len__(self) -> int:
        return len(self.rollouts)

    def __iter__(self):
        return iter(self.rollouts)

    @property
    def feature_dim(self) -> int:
        return self.rollouts[0].feature_dim if self.rollouts else 0

    @property
    def has_action_chunks(self) -> bool:
        return bool(self.rollouts) and all(
            r.actions is not None and r.actions.ndim == 3 for r in self.rollouts)

    def tasks(self, split: str | None = None) -> list[str]:
        return sorted({r.task for r in self.rollouts if split is None or r.split == split})

    def subset(self, rollouts: Iterable[Rollout]) -> RolloutSet:
        return RolloutSet(list(rollouts), self.policy_id, self.source)


def validate_rollout(r: Rollout, where: str, feature_dim: int | None = None) -> None:
    """Raise RolloutDataError naming `where` (file + rollout) for anything unusable."""
    if not isinstance(r.task, str) or not r.task:
        raise RolloutDataError(f"{where}: task must be a non-empty string, got {r.task!r}")
    if r.split not in SPLITS:
        raise RolloutDataError(f"{where}: split must be one of {SPLITS}, got {r.split!r}")
    f = np.asarray(r.features)
    if f.ndim != 2 or f.shape[0] == 0:
        raise RolloutDataError(f"{where}: features must be [T, D] with T >= 1, got {f.shape}")
    if feature_dim is not None and f.shape[1] != feature_dim:
        raise RolloutDataError(
            f"{where}: features have dimension {f.shape[1]}, the dataset's is {feature_dim}")
    if not np.all(np.isfinite(f)):
        bad = np.argwhere(~np.isfinite(f))[0]
        raise RolloutDataError(
            f"{where}: features hold NaN/inf (first at step {bad[0]}, dim {bad[1]})")
    t = np.asarray(r.time)
    if t.shape != (f.shape[0],):
        raise RolloutDataError(
            f"{where}: time must have shape ({f.shape[0]},) like features, got {t.shape}")
    if not np.all(np.isfinite(t)) or np.any(np.diff(t) < 0):
        raise RolloutDataError(f"{where}: time must be finite and non-decreasing")
    if r.actions is not None:
        a = np.asarray(r.actions)
        if a.ndim not in (2, 3) or a.shape[0] != f.shape[0]:
            raise RolloutDataError(
                f"{where}: actions must be [T, A] or [T, H, A] with T={f.shape[0]}, "
                f"got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise RolloutDataError(f"{where}: actions hold NaN/inf")
    if r.success and r.failure_mode:
        raise RolloutDataError(
            f"{where}: a successful rollout cannot have failure_mode {r.failure_mode!r}")


def make_rollout(task: str, split: str, success: bool, features, time=None, actions=None,
                 failure_mode: str | None = None, rollout_id: str = "") -> Rollout:
    """Build and validate a Rollout from array-likes (time defaults to 0, 1, 2, ...)."""
    feats = np.asarray(features, dtype=np.float32)
    t = np.arange(len(feats), dtype=np.float64) if time is None else np.asarray(time, float)
    acts = None if actions is None else np.asarray(actions, dtype=np.float32)
    mode = ("" if success else "natural") if failure_mode is None else failure_mode
    r = Rollout(task, split, bool(success), feats, t, acts, mode, rollout_id)
    validate_rollout(r, f"rollout {rollout_id or task!r}")
    return r


def save_rollouts(path: str | Path, rollouts: Sequence[Rollout] | RolloutSet,
                  policy_id: str = "") -> Path:
    """Write rollouts to one `.npz` (compressed) with the schema header; returns the path."""
    if isinstance(rollouts, RolloutSet):
        policy_id = policy_id or rollouts.policy_id
        rollouts = rollouts.rollouts
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(".npz")
    if not rollouts:
        raise RolloutDataError(f"{path}: refusing to write an empty rollout set")
    dim = rollouts[0].feature_dim
    arrays: dict[str, np.ndarray] = {}
    entries = []
    for i, r in enumerate(rollouts):
        validate_rollout(r, f"{path} rollout {i} ({r.rollout_id or r.task})", dim)
        arrays[f"r{i}.features"] = np.asarray(r.features, np.float32)
        arrays[f"r{i}.time"] = np.asarray(r.time, np.float64)
        if r.actions is not None:
            arrays[f"r{i}.actions"] = np.asarray(r.actions, np.float32)
        entries.append({
            "id": r.rollout_id or f"{i}", "task": r.task, "split": r.split,
            "success": bool(r.success), "length": r.length, "failure_mode": r.failure_mode,
            "has_actions": r.actions is not None, "extra": r.extra,
        })
    schema = {"format": FORMAT, "version": VERSION, "policy_id": policy_id,
              "feature_dim": dim, "rollouts": entries}
    arrays["__schema__"] = np.array(json.dumps(schema))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


def load_rollouts(path: str | Path) -> RolloutSet:
    """Load a `.npz` file or every `*.npz` in a directory; validates everything."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.npz"))
        if not files:
            raise RolloutDataError(f"{path}: directory holds no *.npz rollout files")
    elif path.is_file():
        files = [path]
    else:
        raise RolloutDataError(f"{path}: no such rollout file or directory")
    merged: list[Rollout] = []
    policy_id: str | None = None
    dim: int | None = None
    for f in files:
        part = _load_file(f)
        if policy_id is not None and part.policy_id != policy_id:
            raise RolloutDataError(
                f"{f}: rollouts of policy {part.policy_id!r}, but {files[0]} holds policy "
                f"{policy_id!r}; one dataset must come from one policy")
        if dim is not None and part.feature_dim != dim:
            raise RolloutDataError(
                f"{f}: feature dimension {part.feature_dim}, but {files[0]} has {dim}")
        policy_id, dim = part.policy_id, part.feature_dim
        merged.extend(part.rollouts)
    return RolloutSet(merged, policy_id or "", str(path))


def _load_file(path: Path) -> RolloutSet:
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a data error here
        raise RolloutDataError(f"{path}: not a readable .npz file ({exc})") from exc
    with data:
        if "__schema__" not in data.files:
            raise RolloutDataError(f"{path}: no __schema__ entry; not a {FORMAT} file")
        try:
            schema = json.loads(str(data["__schema__"]))
        except json.JSONDecodeError as exc:
            raise RolloutDataError(f"{path}: __schema__ is not valid JSON ({exc})") from exc
        if schema.get("format") != FORMAT:
            raise RolloutDataError(
                f"{path}: format {schema.get('format')!r}, expected {FORMAT!r}")
        if schema.get("version") != VERSION:
            raise RolloutDataError(
                f"{path}: schema version {schema.get('version')!r}; this loader reads "
                f"version {VERSION}")
        dim = schema.get("feature_dim")
        rollouts = []
        for i, e in enumerate(schema.get("rollouts", [])):
            where = f"{path} rollout {i} ({e.get('id', '?')})"
            try:
                feats = data[f"r{i}.features"]
                time = data[f"r{i}.time"]
                acts = data[f"r{i}.actions"] if e.get("has_actions") else None
                r = Rollout(e["task"], e["split"], bool(e["success"]), feats, time, acts,
                            e.get("failure_mode", ""), str(e.get("id", i)),
                            e.get("extra", {}))
            except KeyError as exc:
                raise RolloutDataError(f"{where}: missing entry {exc}") from None
            validate_rollout(r, where, dim)
            if e.get("length") != r.length:
                raise RolloutDataError(
                    f"{where}: schema says length {e.get('length')}, features have {r.length}")
            rollouts.append(r)
    if not rollouts:
        raise RolloutDataError(f"{path}: holds no rollouts")
    return RolloutSet(rollouts, str(schema.get("policy_id", "")), str(path))

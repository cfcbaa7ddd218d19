"""Action spaces: what each column of a policy's action chunk means, declared in config.

A robot config (`config/robots/<robot>.yaml`) lists its action spaces under `action_spaces`;
each entry is a small mapping such as `{type: ee_pose, mode: delta, rotation: rot6d,
gripper: true}`. `ActionSpace.from_config` turns one into a frozen description with the
*dimension names* that label the policy chunk's `joint_names`, so a chunk whose columns do
not match the space is refused by name instead of being silently misread.

Types and their dimension names (`<j>` = a commanded joint, `<rot>` = `rx ry rz` for
axis-angle or `r11 r21 r31 r12 r22 r32` for the 6-D rotation):

| type | absolute | delta |
| --- | --- | --- |
| joint_position | `<j>...` | `delta_<j>...` |
| ee_pose | `x y z <rot>` | `dx dy dz d<rot>` |
| erj (EE pose + one joint) | `x y z <rot> <joint>` | `dx ... d<rot> delta_<joint>` |
| era (EE pose + elbow swivel) | `x y z <rot> swivel` | `dx ... d<rot> dswivel` |
| eigengrasp | `eigengrasp_0 ... eigengrasp_<k-1>` | (absolute only) |
| whole_body | `<hand>_x <hand>_y <hand>_z <hand>_<rot>` per hand, `pelvis_z` | (absolute only) |

`gripper: true` appends a `gripper` column (0 open ... 1 closed, always absolute);
`gripper: joints` appends the hand joints by name instead, as raw joint positions (what
joint-space datasets recorded from the simulator hold, e.g. `panda_finger_joint1`).
`names: [...]` replaces the generated names one for one (a policy trained with other labels).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vla_ros.retarget.errors import RetargetError
from vla_ros.retarget.rotations import ROTATION_SUFFIXES, check_rotation_kind

SPACE_TYPES = ("joint_position", "ee_pose", "erj", "era", "eigengrasp", "whole_body")
MODES = ("absolute", "delta")
POSE_TYPES = ("ee_pose", "erj", "era")
GRIPPER = "gripper"
SWIVEL = "swivel"
PELVIS_Z = "pelvis_z"
DEFAULT_EIGENGRASP_K = 5

_COMMON_KEYS = {"type", "names", "mode"}
_KEYS: dict[str, set[str]] = {
    "joint_position": {"mode", "gripper"},
    "ee_pose": {"mode", "rotation", "gripper", "frame", "position_weight",
                "orientation_weight"},
    "erj": {"mode", "rotation", "gripper", "frame", "position_weight", "orientation_weight",
            "joint", "joint_weight"},
    "era": {"mode", "rotation", "gripper", "frame", "position_weight", "orientation_weight",
            "swivel_weight"},
    "eigengrasp": {"k"},
    "whole_body": {"rotation", "pelvis_height", "hands", "gripper"},
}


@dataclass(frozen=True)
class ActionSpace:
    """One declared action space; `names` label the action vector's columns in order."""

    type: str
    names: tuple[str, ...]
    mode: str = "absolute"
    rotation: str = "axis_angle"
    gripper: bool = False  # a `gripper` grip column (0 open ... 1 closed)
    hand_joints: tuple[str, ...] = ()  # raw hand joint columns (`gripper: joints`)
    frame: str | None = None  # end-effector key or frame name; None = the robot's default
    joint: str | None = None  # ERJ: the pinned joint
    k: int = 0  # eigengrasp: number of synergy coefficients
    hands: tuple[str, ...] = ()  # whole_body: end-effector keys, in column order
    pelvis_height: bool = False
    position_weight: float = 1.0
    orientation_weight: float = 1.0
    extra_weight: float = 10.0  # ERJ pinned joint / ERA swivel task weight
    label: str = ""  # the name it was declared under (for messages)

    # --- construction ----------------------------------------------------------------
    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        robot: Any = None,
        name: str = "",
    ) -> ActionSpace:
        """Parse one `action_spaces` entry. `robot` (a `RobotModel` or `RobotConfig`)
        supplies joint and end-effector names; joint_position spaces need it (or a `joints`
        list in `config`), whole_body takes its hands from it."""
        where = f"action space '{name}'" if name else "action space"
        if not isinstance(config, Mapping):
            raise RetargetError(f"{where}: expected a mapping, got {config!r}")
        kind = config.get("type")
        if kind not in SPACE_TYPES:
            raise RetargetError(
                f"{where}: type {kind!r} is not one of {', '.join(SPACE_TYPES)}"
            )
        allowed = _COMMON_KEYS | _KEYS[kind] | ({"joints"} if kind == "joint_position" else set())
        unknown = sorted(set(config) - allowed)
        if unknown:
            raise RetargetError(
                f"{where}: unknown key '{unknown[0]}' for type {kind} "
                f"(allowed: {', '.join(sorted(allowed))})"
            )
        mode = str(config.get("mode", "absolute"))
        if mode not in MODES:
            raise RetargetError(f"{where}: mode '{mode}' is not one of {', '.join(MODES)}")
        if mode == "delta" and kind in ("eigengrasp", "whole_body"):
            raise RetargetError(f"{where}: type {kind} has no delta mode")
        rotation = str(config.get("rotation", "axis_angle"))
        try:
            check_rotation_kind(rotation)
        except RetargetError as exc:
            raise RetargetError(f"{where}: {exc}") from None
        cfg = getattr(robot, "config", robot)  # RobotModel -> RobotConfig
        hand_joints: list[str] = []
        if config.get("gripper") == "joints":
            if cfg is None or not cfg.hand.joints:
                raise RetargetError(f"{where}: gripper: joints needs a robot with hand.joints")
            hand_joints = list(cfg.hand.joints)
            gripper = False
        else:
            gripper = _flag(config, "gripper", where)
        fields: dict[str, Any] = dict(
            type=kind, mode=mode, rotation=rotation, gripper=gripper, label=name,
            hand_joints=tuple(hand_joints),
            position_weight=_positive(config, "position_weight", 1.0, where),
            orientation_weight=_positive(config, "orientation_weight", 1.0, where),
        )
        d = "d" if mode == "delta" else ""
        rot = [d + s for s in ROTATION_SUFFIXES[rotation]]
        pose = [d + "x", d + "y", d + "z", *rot]
        if kind == "joint_position":
            joints = config.get("joints") or (list(cfg.joints) if cfg is not None else None)
            if not joints:
                raise RetargetError(f"{where}: joint_position needs the robot's joint names")
            names = [("delta_" if d else "") + j for j in joints]
        elif kind == "ee_pose":
            names = pose
        elif kind == "erj":
            joint = config.get("joint")
            if not isinstance(joint, str) or not joint:
                raise RetargetError(f"{where}: erj needs 'joint: <commanded joint name>'")
            if cfg is not None and joint not in cfg.joints:
                raise RetargetError(
                    f"{where}: joint '{joint}' is not a commanded joint of {cfg.name} "
                    f"({', '.join(cfg.joints)})"
                )
            fields["joint"] = joint
            fields["extra_weight"] = _positive(config, "joint_weight", 10.0, where)
            names = [*pose, ("delta_" if d else "") + joint]
        elif kind == "era":
            if cfg is not None and cfg.swivel is None:
                raise RetargetError(f"{where}: {cfg.path} has no 'swivel' section (needed by era)")
            fields["extra_weight"] = _positive(config, "swivel_weight", 10.0, where)
            names = [*pose, d + SWIVEL]
        elif kind == "eigengrasp":
            k = config.get("k", DEFAULT_EIGENGRASP_K)
            if isinstance(k, bool) or not isinstance(k, int) or k < 1:
                raise RetargetError(f"{where}: k must be a positive integer, got {k!r}")
            if cfg is not None and not cfg.hand.eigengrasp:
                raise RetargetError(f"{where}: {cfg.path} names no hand.eigengrasp map")
            fields["k"] = k
            names = [f"eigengrasp_{i}" for i in range(k)]
        else:  # whole_body
            hands = config.get("hands") or (list(cfg.end_effectors) if cfg is not None else None)
            if not hands or not all(isinstance(h, str) for h in hands):
                raise RetargetError(f"{where}: whole_body needs 'hands: [<end effector>, ...]'")
            if cfg is not None:
                missing = [h for h in hands if h not in cfg.end_effectors]
                if missing:
                    raise RetargetError(
                        f"{where}: hands {missing} are not end_effectors of {cfg.name} "
                        f"({', '.join(cfg.end_effectors)})"
                    )
            fields["hands"] = tuple(hands)
            fields["pelvis_height"] = _flag(config, "pelvis_height", where)
            names = [f"{h}_{s}" for h in hands for s in ("x", "y", "z", *rot)]
            if fields["pelvis_height"]:
                names.append(PELVIS_Z)
        frame = config.get("frame")
        if frame is not None:
            if not isinstance(frame, str) or not frame:
                raise RetargetError(f"{where}: frame must be a name, got {frame!r}")
            fields["frame"] = frame
        if gripper:
            names.append(GRIPPER)
        names += hand_joints
        if config.get("names") is not None:
            names = _override_names(config["names"], names, where)
        if len(set(names)) != len(names):
            raise RetargetError(f"{where}: duplicate dimension names {names}")
        return cls(names=tuple(names), **fields)

    @classmethod
    def for_robot(cls, robot: Any, name: str | None = None) -> ActionSpace:
        """The space `name` declared in the robot's config (default: its default space)."""
        cfg = getattr(robot, "config", robot)
        key = name or cfg.default_action_space
        return cls.from_config(cfg.action_space_config(key), cfg, key or "")

    # --- shape ---------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return len(self.names)

    @property
    def is_pose(self) -> bool:
        """EE-pose based (ee_pose, erj, era): solved by pose IK."""
        return self.type in POSE_TYPES

    @property
    def is_delta(self) -> bool:
        return self.mode == "delta"

    @property
    def rotation_dim(self) -> int:
        return len(ROTATION_SUFFIXES[self.rotation])

    def describe(self) -> str:
        label = f"'{self.label}' " if self.label else ""
        return f"{label}({self.type}, {self.mode}, {self.dim} dims: {' '.join(self.names)})"

    # --- input checks ----------------------------------------------------------------------
    def column_order(self, names: Sequence[str]) -> np.ndarray:
        """Index array taking columns labelled `names` into this space's order; a clear
        error for unknown, missing or duplicate names (a chunk from another space)."""
        names = list(names)
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise RetargetError(f"action names repeat {dupes}")
        unknown = [n for n in names if n not in self.names]
        missing = [n for n in self.names if n not in names]
        if unknown or missing:
            parts = []
            if unknown:
                parts.append(f"unknown names {unknown}")
            if missing:
                parts.append(f"missing {missing}")
            raise RetargetError(
                f"action names do not match space {self.describe()}: {'; '.join(parts)}"
            )
        where = {n: i for i, n in enumerate(names)}
        return np.array([where[n] for n in self.names], dtype=int)

    def check_row(self, row: Any, where: str = "action") -> np.ndarray:
        """`row` as a finite float vector of length `dim`, or a `RetargetError` naming the
        bad dimensions."""
        try:
            arr = np.asarray(row, dtype=float)
        except (TypeError, ValueError) as exc:
            raise RetargetError(f"{where}: not a numeric vector: {exc}") from None
        if arr.shape != (self.dim,):
            raise RetargetError(
                f"{where}: expected {self.dim} values for space {self.describe()}, "
                f"got shape {arr.shape}"
            )
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise RetargetError(
                f"{where}: non-finite values (NaN/inf) in {[self.names[i] for i in bad]}"
            )
        return arr


def _flag(config: Mapping[str, Any], key: str, where: str) -> bool:
    value = config.get(key, False)
    if not isinstance(value, bool):
        extra = " or joints" if key == "gripper" else ""
        raise RetargetError(f"{where}: {key} must be true or false{extra}, got {value!r}")
    return value


def _positive(config: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise RetargetError(f"{where}: {key} must be a number > 0, got {value!r}")
    return float(value)


def _override_names(value: Any, generated: list[str], where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(x, str) and x for x in value):
        raise RetargetError(f"{where}: names must be a list of strings")
    if len(value) != len(generated):
        raise RetargetError(
            f"{where}: names has {len(value)} entries but the space has {len(generated)} "
            f"dimensions ({' '.join(generated)})"
        )
    return list(value)

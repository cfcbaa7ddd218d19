"""Robot descriptions for retargeting: `config/robots/<name>.yaml` parsed into dataclasses.

Why a file per robot: the URDF says nothing about which joints a controller commands, which
frame is the tool, what the neutral pose is or which action spaces make sense. Those facts
live in one plain YAML file per robot, checked here for shape and types; whether the named
joints and frames exist is checked against the URDF by `RobotModel`. Every error names the
file and the item (`config/robots/panda.yaml: hand.open: ...`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vla_ros.assets import PACKAGE_ROOT
from vla_ros.retarget.errors import RobotConfigError, UnknownRobotError

ROBOTS_DIR = PACKAGE_ROOT / "config" / "robots"
"""Where `RobotModel.load(name)` looks for `<name>.yaml`."""

HAND_TYPES = ("none", "parallel_gripper", "dexterous")
EXAMPLE_ROBOT_DATA = "example-robot-data:"


@dataclass(frozen=True)
class HandConfig:
    """Gripper or hand joints, driven directly (not by IK) from a grip scalar or eigengrasps.

    `open`/`closed` are joint values for the grip command g = 0 and g = 1 (linear in
    between); `eigengrasp` names the hand for `EigengraspMap.load`.
    """

    type: str = "none"
    joints: tuple[str, ...] = ()
    open: tuple[float, ...] = ()
    closed: tuple[float, ...] = ()
    eigengrasp: str | None = None
    controller_topic: str | None = None


@dataclass(frozen=True)
class FrameConfig:
    """An extra operational frame: a fixed offset (xyz, rpy) from an existing frame."""

    parent: str
    xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class SwivelConfig:
    """Points defining the elbow swivel angle (ERA): the elbow's rotation about the
    shoulder-wrist axis, measured from the plane spanned by that axis and `reference`."""

    shoulder: str
    elbow: str
    wrist: str
    reference: tuple[float, float, float] = (0.0, 0.0, 1.0)


@dataclass(frozen=True)
class FootConfig:
    """A foot kept fixed by whole-body IK: its frame and sole contact points (x, y) in that
    frame, `sole_z` below (negative) the frame origin."""

    frame: str
    sole: tuple[tuple[float, float], ...]
    sole_z: float = 0.0


@dataclass(frozen=True)
class RobotConfig:
    """One parsed `config/robots/<name>.yaml`."""

    name: str
    path: Path
    urdf: str
    joints: tuple[str, ...]
    end_effectors: dict[str, str]
    controller_topic: str
    base_frame: str = ""
    floating_base: bool = False
    frames: dict[str, FrameConfig] = field(default_factory=dict)
    hand: HandConfig = field(default_factory=HandConfig)
    neutral: dict[str, float] = field(default_factory=dict)
    neutral_base: tuple[float, ...] | None = None
    velocity_limits: dict[str, float] = field(default_factory=dict)
    swivel: SwivelConfig | None = None
    feet: dict[str, FootConfig] = field(default_factory=dict)
    pelvis_frame: str | None = None
    action_spaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    default_action_space: str | None = None
    description: str = ""

    @property
    def default_end_effector(self) -> str:
        """Frame of the first listed end effector."""
        return next(iter(self.end_effectors.values()))

    def urdf_path(self) -> Path:
        """The URDF file: `example-robot-data:<rel>` or a path relative to the repo root."""
        from vla_ros.assets import AssetError, robot_data_dir

        if self.urdf.startswith(EXAMPLE_ROBOT_DATA):
            rel = self.urdf[len(EXAMPLE_ROBOT_DATA) :]
            try:
                path = robot_data_dir() / rel
            except AssetError as exc:
                raise RobotConfigError(self.path, "urdf", str(exc)) from None
        else:
            path = Path(self.urdf)
            if not path.is_absolute():
                path = PACKAGE_ROOT / path
        if not path.is_file():
            raise RobotConfigError(self.path, "urdf", f"file not found: {path}")
        return path

    def action_space_config(self, name: str | None = None) -> dict[str, Any]:
        """The action space called `name` (default: `default_action_space`)."""
        key = name or self.default_action_space
        if key is None:
            raise RobotConfigError(self.path, "default_action_space", "not set")
        if key not in self.action_spaces:
            raise RobotConfigError(
                self.path,
                "action_spaces",
                f"no action space '{key}' (have: {', '.join(self.action_spaces) or 'none'})",
            )
        return dict(self.action_spaces[key])


def known_robots(directory: Path = ROBOTS_DIR) -> list[str]:
    """Names of the robots with a config file."""
    return sorted(p.stem for p in directory.glob("*.yaml"))


def config_path(name: str, directory: Path = ROBOTS_DIR) -> Path:
    """`<directory>/<name>.yaml`, or `name` itself when it is a path to a YAML file."""
    if name.endswith((".yaml", ".yml")):
        path = Path(name)
        if not path.is_file():
            raise UnknownRobotError(f"robot config file not found: {path}")
        return path
    path = directory / f"{name}.yaml"
    if not path.is_file():
        raise UnknownRobotError(
            f"unknown robot '{name}': no {path.name} in {directory} "
            f"(known robots: {', '.join(known_robots(directory)) or 'none'})"
        )
    return path


def load_robot_config(name: str, directory: Path = ROBOTS_DIR) -> RobotConfig:
    """Read and check `<directory>/<name>.yaml` (or a YAML path)."""
    path = config_path(name, directory)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise RobotConfigError(path, "<file>", f"not valid YAML: {exc}") from None
    return parse_robot_config(raw, path)


def parse_robot_config(raw: Any, path: Path) -> RobotConfig:
    """Check the shape of a parsed YAML document and build a `RobotConfig`."""
    r = _Reader(path)
    if not isinstance(raw, dict):
        raise RobotConfigError(path, "<file>", "expected a mapping at the top level")
    known = set(RobotConfig.__dataclass_fields__) - {"path"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise RobotConfigError(
            path, unknown[0], f"unknown key (allowed: {', '.join(sorted(known))})"
        )
    name = r.string(raw, "name")
    joints = r.names(raw, "joints", allow_empty=True)
    end_effectors = r.mapping(raw, "end_effectors")
    if not end_effectors:
        raise RobotConfigError(path, "end_effectors", "at least one end effector is needed")
    for key, frame in end_effectors.items():
        if not isinstance(frame, str):
            raise RobotConfigError(path, f"end_effectors.{key}", "expected a frame name")
    frames = {
        key: _frame(r, value, f"frames.{key}")
        for key, value in r.mapping(raw, "frames", required=False).items()
    }
    hand = _hand(r, raw.get("hand"))
    neutral = r.floats_by_name(raw, "neutral")
    neutral_base = raw.get("neutral_base")
    if neutral_base is not None:
        neutral_base = r.vector(raw, "neutral_base", 7)
        if abs(sum(x * x for x in neutral_base[3:]) - 1.0) > 1e-6:
            raise RobotConfigError(
                path, "neutral_base", "quaternion (qx, qy, qz, qw) must have unit norm"
            )
    swivel = None
    if raw.get("swivel") is not None:
        s = r.mapping(raw, "swivel")
        swivel = SwivelConfig(
            shoulder=r.string(s, "shoulder", "swivel."),
            elbow=r.string(s, "elbow", "swivel."),
            wrist=r.string(s, "wrist", "swivel."),
            reference=tuple(r.vector(s, "reference", 3, "swivel.", default=(0, 0, 1))),
        )
    feet = {
        key: _foot(r, value, f"feet.{key}")
        for key, value in r.mapping(raw, "feet", required=False).items()
    }
    floating = raw.get("floating_base", False)
    if not isinstance(floating, bool):
        raise RobotConfigError(path, "floating_base", f"expected true/false, got {floating!r}")
    action_spaces = r.mapping(raw, "action_spaces", required=False)
    for key, value in action_spaces.items():
        if not isinstance(value, dict) or "type" not in value:
            raise RobotConfigError(
                path, f"action_spaces.{key}", "expected a mapping with a 'type' key"
            )
    default_space = raw.get("default_action_space")
    if default_space is not None and default_space not in action_spaces:
        raise RobotConfigError(
            path,
            "default_action_space",
            f"'{default_space}' is not one of action_spaces ({', '.join(action_spaces)})",
        )
    return RobotConfig(
        name=name,
        path=path,
        urdf=r.string(raw, "urdf"),
        joints=joints,
        end_effectors=dict(end_effectors),
        controller_topic=r.string(raw, "controller_topic"),
        base_frame=r.string(raw, "base_frame", default=""),
        floating_base=floating,
        frames=frames,
        hand=hand,
        neutral=neutral,
        neutral_base=None if neutral_base is None else tuple(neutral_base),
        velocity_limits=r.floats_by_name(raw, "velocity_limits"),
        swivel=swivel,
        feet=feet,
        pelvis_frame=raw.get("pelvis_frame"),
        action_spaces={k: dict(v) for k, v in action_spaces.items()},
        default_action_space=default_space,
        description=str(raw.get("description", "")),
    )


def _frame(r: _Reader, raw: Any, item: str) -> FrameConfig:
    if not isinstance(raw, dict):
        raise RobotConfigError(r.path, item, "expected a mapping with parent, xyz, rpy")
    return FrameConfig(
        parent=r.string(raw, "parent", item + "."),
        xyz=tuple(r.vector(raw, "xyz", 3, item + ".", default=(0, 0, 0))),
        rpy=tuple(r.vector(raw, "rpy", 3, item + ".", default=(0, 0, 0))),
    )


def _foot(r: _Reader, raw: Any, item: str) -> FootConfig:
    if not isinstance(raw, dict):
        raise RobotConfigError(r.path, item, "expected a mapping with frame, sole, sole_z")
    sole = raw.get("sole")
    if (
        not isinstance(sole, list)
        or len(sole) < 3
        or not all(isinstance(p, list) and len(p) == 2 for p in sole)
    ):
        raise RobotConfigError(r.path, item + ".sole", "expected >= 3 points [x, y]")
    points = tuple((r.number(p[0], item + ".sole"), r.number(p[1], item + ".sole")) for p in sole)
    return FootConfig(
        frame=r.string(raw, "frame", item + "."),
        sole=points,
        sole_z=r.number(raw.get("sole_z", 0.0), item + ".sole_z"),
    )


def _hand(r: _Reader, raw: Any) -> HandConfig:
    if raw is None:
        return HandConfig()
    if not isinstance(raw, dict):
        raise RobotConfigError(r.path, "hand", "expected a mapping")
    kind = raw.get("type", "none")
    if kind not in HAND_TYPES:
        raise RobotConfigError(
            r.path, "hand.type", f"'{kind}' is not one of {', '.join(HAND_TYPES)}"
        )
    joints = r.names(raw, "joints", prefix="hand.", allow_empty=True)
    postures = {}
    for key in ("open", "closed"):
        values = raw.get(key)
        if values is None:
            postures[key] = ()
            continue
        postures[key] = tuple(r.vector(raw, key, len(joints), "hand."))
    if bool(postures["open"]) != bool(postures["closed"]):
        raise RobotConfigError(r.path, "hand", "give both 'open' and 'closed' or neither")
    eigengrasp = raw.get("eigengrasp")
    topic = raw.get("controller_topic")
    return HandConfig(
        type=kind,
        joints=joints,
        open=postures["open"],
        closed=postures["closed"],
        eigengrasp=None if eigengrasp is None else str(eigengrasp),
        controller_topic=None if topic is None else str(topic),
    )


class _Reader:
    """Typed access to YAML fields with errors naming the file and the item."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def string(self, raw: dict, key: str, prefix: str = "", default: str | None = None) -> str:
        value = raw.get(key, default)
        if value is None:
            raise RobotConfigError(self.path, prefix + key, "missing")
        if not isinstance(value, str) or not value:
            raise RobotConfigError(self.path, prefix + key, f"expected a string, got {value!r}")
        return value

    def number(self, value: Any, item: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RobotConfigError(self.path, item, f"expected a number, got {value!r}")
        return float(value)

    def vector(
        self, raw: dict, key: str, n: int, prefix: str = "", default: Any = None
    ) -> list[float]:
        value = raw.get(key, default)
        if not isinstance(value, list | tuple) or len(value) != n:
            raise RobotConfigError(
                self.path, prefix + key, f"expected a list of {n} numbers, got {value!r}"
            )
        return [self.number(x, prefix + key) for x in value]

    def names(
        self, raw: dict, key: str, prefix: str = "", allow_empty: bool = False
    ) -> tuple[str, ...]:
        value = raw.get(key, [] if allow_empty else None)
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise RobotConfigError(self.path, prefix + key, "expected a list of names")
        if not value and not allow_empty:
            raise RobotConfigError(self.path, prefix + key, "must not be empty")
        dupes = sorted({x for x in value if value.count(x) > 1})
        if dupes:
            raise RobotConfigError(self.path, prefix + key, f"duplicate names: {dupes}")
        return tuple(value)

    def mapping(self, raw: dict, key: str, required: bool = True) -> dict:
        value = raw.get(key)
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            raise RobotConfigError(self.path, key, f"expected a mapping, got {value!r}")
        return value

    def floats_by_name(self, raw: dict, key: str) -> dict[str, float]:
        return {
            str(name): self.number(value, f"{key}.{name}")
            for name, value in self.mapping(raw, key, required=False).items()
        }

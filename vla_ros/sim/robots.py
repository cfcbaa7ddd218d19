"""Per-robot facts the simulator needs beyond the URDF.

A URDF says nothing about servo gains, where the tool centre point is, which joints form
the gripper, where the wrist camera sits or how large the workspace is. Those live here,
one `RobotSpec` per robot, so scene building, experts and tasks stay robot-agnostic.

The robot base is always the world origin, as in the pinocchio model built from the
same URDF: joint values and end-effector poses mean the same thing in both.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class UnknownRobotError(KeyError):
    """A robot name that has no `RobotSpec`."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


@dataclass(frozen=True)
class GripperSpec:
    """Joints that open/close the gripper and their open/closed positions.

    `command` maps a normalised gripper command g in [0, 1] (0 = open, 1 = closed) to
    joint targets by linear interpolation between `open` and `closed`.
    """

    joints: tuple[str, ...]
    open: tuple[float, ...]
    closed: tuple[float, ...]
    max_width: float  # metres between the fingers when open: objects must fit

    def targets(self, g: float) -> tuple[float, ...]:
        g = min(max(float(g), 0.0), 1.0)
        return tuple(o + g * (c - o) for o, c in zip(self.open, self.closed, strict=True))


@dataclass(frozen=True)
class RobotSpec:
    """Everything robot-specific the scene, experts and tasks read."""

    name: str
    urdf: str  # relative to example-robot-data's robots/ folder
    arm_joints: tuple[str, ...]  # joints IK moves (in URDF order)
    gripper: GripperSpec | None
    ee_body: str  # body carrying the tool centre point
    ee_offset: tuple[float, float, float]  # TCP in `ee_body` coordinates
    home: dict[str, float]  # joint values after reset; missing joints start at 0
    # Servo tuning: kp = effort limit / error at which the servo saturates.
    saturation_error: float = 0.02
    armature: float = 0.1
    damping_ratio: float = 1.0
    # Tabletop layout in base coordinates (the robot base is the world origin).
    table_top_z: float = 0.0
    table_center: tuple[float, float] = (0.5, 0.0)
    table_size: tuple[float, float] = (0.9, 1.2)  # full x, y extent
    table_height: float = 0.75  # floor is table_top_z - table_height
    workspace_center: tuple[float, float] = (0.5, 0.0)
    workspace_half_extent: tuple[float, float] = (0.12, 0.2)
    scene_camera_distance: float = 1.0  # metres from the workspace to the scene camera
    scene_camera_fovy: float = 50.0  # degrees; narrow enough that objects are not specks
    object_scale: float = 1.0  # multiplies object sizes (small arms get small cubes)
    # Wrist camera: body it rides on, position and look direction in that body's frame.
    wrist_camera_body: str = ""
    wrist_camera_pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    wrist_camera_forward: tuple[float, float, float] = (0.0, 0.0, 1.0)
    wrist_camera_up: tuple[float, float, float] = (1.0, 0.0, 0.0)
    gripper_kp: float = 500.0  # N/m or Nm/rad: squeeze force = kp * blocked travel
    gripper_friction: float = 1.5  # sliding friction of the finger/jaw geoms
    fixed_jaw_body: str = ""  # body carrying a fixed jaw (gets the gripper friction too)
    # Where a grasped object's centre sits, in TCP coordinates (the middle between the
    # jaws; non-zero when the TCP frame marks one jaw, as on the SO-101).
    grasp_offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    # Rotation about the TCP z axis from top-down yaw 0 to the robot's TCP frame, so
    # that every gripper closes along Rz(yaw)·y (the Panda's fingers close along TCP y,
    # the SO-101's jaw along TCP x).
    grip_yaw_offset: float = 0.0
    # Highest grasp-centre height above the table the arm reaches pointing straight
    # down over the workspace; experts clamp waypoints to it.
    max_grasp_height: float = 1.0
    # After opening, move this far along the closing direction Rz(yaw)·y before lifting
    # (a single moving jaw leaves the fixed jaw touching the object).
    release_shift: float = 0.0
    # Gripper command for letting go (0 = fully open). The SO-101's jaw swings up and out
    # as it opens; opening only part-way keeps it from flicking the object over.
    release_gripper: float = 0.0
    door_height_scale: float = 1.0  # door cabinet height multiplier (knob within reach)
    mimic: dict[str, str] = field(default_factory=dict)  # follower joint -> leader joint


PANDA = RobotSpec(
    name="panda",
    urdf="panda_description/urdf/panda.urdf",
    arm_joints=tuple(f"panda_joint{i}" for i in range(1, 8)),
    gripper=GripperSpec(
        joints=("panda_finger_joint1", "panda_finger_joint2"),
        open=(0.04, 0.04),
        closed=(0.0, 0.0),
        max_width=0.08,
    ),
    ee_body="panda_hand",
    ee_offset=(0.0, 0.0, 0.1034),
    home={
        "panda_joint1": 0.0,
        "panda_joint2": -0.2,
        "panda_joint3": 0.0,
        "panda_joint4": -2.2,
        "panda_joint5": 0.0,
        "panda_joint6": 2.0,
        "panda_joint7": 0.785398,
        "panda_finger_joint1": 0.04,
        "panda_finger_joint2": 0.04,
    },
    table_center=(0.45, 0.0),
    workspace_center=(0.5, 0.0),
    workspace_half_extent=(0.1, 0.2),
    scene_camera_fovy=34.0,  # frames the workspace and the cabinets: a 4 cm cube is ~10 px
    wrist_camera_body="panda_hand",
    wrist_camera_pos=(0.05, 0.0, 0.04),
    wrist_camera_forward=(0.0, 0.0, 1.0),
    wrist_camera_up=(-1.0, 0.0, 0.0),
    gripper_kp=1000.0,
    mimic={"panda_finger_joint2": "panda_finger_joint1"},
)

SO101 = RobotSpec(
    name="so101",
    urdf="so_arm_description/urdf/so101.urdf",
    arm_joints=("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll"),
    gripper=GripperSpec(joints=("gripper",), open=(1.2,), closed=(-0.1,), max_width=0.06),
    ee_body="gripper_frame_link",
    ee_offset=(0.0, 0.0, 0.0),
    home={"shoulder_lift": -1.0, "elbow_flex": 1.0, "wrist_flex": 0.8, "gripper": 0.0},
    saturation_error=0.05,
    armature=0.01,
    gripper_kp=50.0,
    gripper_friction=2.5,  # narrow jaw tips: objects slip and spin out at 1.5
    fixed_jaw_body="gripper_link",
    table_center=(0.2, 0.0),
    table_size=(0.6, 0.7),
    workspace_center=(0.21, 0.0),  # top-down reach at 6 cm height ends near x = 0.27
    workspace_half_extent=(0.035, 0.1),
    object_scale=0.6,
    scene_camera_distance=0.5,
    grasp_offset=(-0.018, 0.0, 0.0),  # gripper_frame_link is on the fixed jaw's face
    grip_yaw_offset=1.5707963267948966,
    max_grasp_height=0.06,  # top-down reach ends at ~8 cm over x = 0.17-0.23 m
    release_shift=0.006,
    release_gripper=0.45,
    door_height_scale=0.6,  # knob at 6 cm: the top-down reach limit
    wrist_camera_body="gripper_link",
    wrist_camera_pos=(0.0, -0.04, -0.03),
    wrist_camera_forward=(0.0, 0.0, -1.0),
    wrist_camera_up=(0.0, -1.0, 0.0),
)

_G1_HAND = (
    "thumb_0", "thumb_1", "thumb_2", "middle_0", "middle_1", "index_0", "index_1",
)

G1 = RobotSpec(
    name="g1",
    urdf="g1_description/urdf/g1_29dof_with_hand_rev_1_0.urdf",
    arm_joints=tuple(
        f"right_{j}_joint"
        for j in ("shoulder_pitch", "shoulder_roll", "shoulder_yaw", "elbow",
                  "wrist_roll", "wrist_pitch", "wrist_yaw")
    ),
    gripper=GripperSpec(
        joints=tuple(f"right_hand_{j}_joint" for j in _G1_HAND),
        open=(0.0,) * 7,
        closed=(0.0, 0.6, 1.0, 1.2, 1.2, 1.2, 1.2),
        max_width=0.08,
    ),
    ee_body="right_hand_palm_link",
    ee_offset=(0.08, 0.0, 0.0),
    home={
        "left_elbow_joint": 1.0,
        "right_elbow_joint": 1.0,
        "left_shoulder_roll_joint": 0.2,
        "right_shoulder_roll_joint": -0.2,
    },
    saturation_error=0.05,
    armature=0.05,
    table_top_z=-0.05,
    table_center=(0.5, 0.0),
    table_size=(0.6, 1.0),
    table_height=0.75,
    workspace_center=(0.4, -0.15),
    workspace_half_extent=(0.06, 0.1),
    wrist_camera_body="right_wrist_yaw_link",
    wrist_camera_pos=(0.05, 0.0, 0.05),
    wrist_camera_forward=(1.0, 0.0, -0.3),
    wrist_camera_up=(0.0, 0.0, 1.0),
    gripper_kp=5.0,
)

ROBOTS: dict[str, RobotSpec] = {r.name: r for r in (PANDA, SO101, G1)}


def get_robot(name: str) -> RobotSpec:
    """The `RobotSpec` called `name`; unknown names list the known ones."""
    try:
        return ROBOTS[name]
    except KeyError:
        raise UnknownRobotError(
            f"unknown robot '{name}': known robots are {', '.join(sorted(ROBOTS))}"
        ) from None

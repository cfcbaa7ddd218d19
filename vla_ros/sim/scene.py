"""Build the MuJoCo tabletop scene: robot + table + a fixed pool of objects + cameras.

One compiled model per robot, reused across episodes: every task draws its objects from
the same pool (cubes, cylinders, a bowl, a bin, coloured pads, a drawer cabinet and a
cabinet with a hinged door). Objects a task does not use are parked out of sight on the
floor. A stable model means joint and body indices, renderers and the ROS node's
interfaces never change between episodes, and a reset costs microseconds, not a compile.
Colours are set per episode in `model.geom_rgba`.

Frames: the robot base is the world origin (as in the pinocchio model of the same URDF);
the table top is at `robot.table_top_z`, the floor `robot.table_height` below it.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")
import mujoco  # noqa: E402  (MUJOCO_GL must be set before the import)

from vla_ros.assets import example_robot_urdf  # noqa: E402
from vla_ros.sim.meshes import decimate, read_stl  # noqa: E402
from vla_ros.sim.robots import RobotSpec, get_robot  # noqa: E402
from vla_ros.sim.urdf import JointLimits, mujoco_urdf_xml, parse_joint_limits  # noqa: E402

# Collision filtering: robot links never collide with each other (saves most of the
# mesh-mesh work and avoids fighting over imprecise collision meshes); everything in the
# world collides with everything, robot included.
WORLD_BIT = 1
ROBOT_BIT = 2

TCP_SITE = "tcp"
SCENE_CAMERA = "scene"
WRIST_CAMERA = "wrist"

COLORS: dict[str, tuple[float, float, float, float]] = {
    "red": (0.85, 0.12, 0.12, 1.0),
    "green": (0.15, 0.7, 0.2, 1.0),
    "blue": (0.15, 0.3, 0.85, 1.0),
    "yellow": (0.92, 0.82, 0.1, 1.0),
    "purple": (0.55, 0.2, 0.7, 1.0),
    "orange": (0.95, 0.5, 0.1, 1.0),
}

N_CUBES = 4
N_CYLINDERS = 2
N_PADS = 2


@dataclass(frozen=True)
class PoolObject:
    """One object of the pool and what tasks need to know to place and colour it."""

    name: str
    kind: str  # cube | cylinder | bowl | bin | pad | drawer_cabinet | door_cabinet
    free: bool  # has a free joint (else a static body moved via model.body_pos)
    rest_z: float  # body origin height above the table top when resting upright
    radius: float  # footprint radius in the xy plane, for non-overlapping placement
    half_height: float  # vertical half extent of the graspable part (0 for fixtures)
    color_geoms: tuple[str, ...] = ()  # geoms recoloured with the object's colour
    park: tuple[float, float, float] = (0.0, 0.0, 0.0)  # out-of-sight pose (world)
    dims: dict[str, float] = field(default_factory=dict)  # sizes tasks/experts reason with


@dataclass
class Scene:
    """A compiled scene plus the metadata needed to drive it."""

    robot: RobotSpec
    model: mujoco.MjModel
    limits: dict[str, JointLimits]  # every movable robot joint, URDF order
    objects: dict[str, PoolObject] = field(default_factory=dict)
    fixture_joints: dict[str, str] = field(default_factory=dict)  # fixture -> its joint

    def copy(self) -> Scene:
        """A scene whose model can be mutated (colours, fixture poses) independently."""
        return Scene(
            robot=self.robot,
            model=copy.deepcopy(self.model),
            limits=self.limits,
            objects=self.objects,
            fixture_joints=self.fixture_joints,
        )


def look_at_quat(forward, up) -> np.ndarray:
    """Quaternion (w, x, y, z) of a MuJoCo camera looking along `forward`, `up` up.

    MuJoCo cameras look down their -z axis with +y up.
    """
    f = np.asarray(forward, float)
    f = f / np.linalg.norm(f)
    z = -f
    x = np.cross(np.asarray(up, float), z)
    if np.linalg.norm(x) < 1e-9:
        raise ValueError(f"camera up {up} is parallel to forward {forward}")
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.column_stack((x, y, z)).flatten())
    return quat


MAX_MESH_FACES = 1200
"""Robot meshes above this many triangles are decimated (see `vla_ros.sim.meshes`)."""


def _lighten_meshes(spec: mujoco.MjSpec) -> None:
    """Swap heavy STL meshes for decimated in-memory copies (same name and scale)."""
    for mesh in spec.meshes:
        if not mesh.file.lower().endswith(".stl"):
            continue
        verts, faces = _decimated(mesh.file)
        if verts is None:
            continue
        mesh.file = ""
        mesh.uservert = verts.reshape(-1).tolist()
        mesh.userface = faces.reshape(-1).tolist()


@cache
def _decimated(path: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Decimated mesh of an STL file, or (None, None) when it is light enough."""
    verts, faces = read_stl(Path(path))
    if len(faces) <= MAX_MESH_FACES:
        return None, None
    return decimate(verts, faces, MAX_MESH_FACES)


def _robot_spec(robot: RobotSpec) -> tuple[mujoco.MjSpec, dict[str, JointLimits]]:
    urdf_path = example_robot_urdf(robot.urdf)
    spec = mujoco.MjSpec.from_string(mujoco_urdf_xml(urdf_path))
    limits = parse_joint_limits(urdf_path)
    _lighten_meshes(spec)
    for geom in spec.geoms:
        geom.contype = ROBOT_BIT
        geom.conaffinity = WORLD_BIT
        geom.rgba = [0.92, 0.92, 0.92, 1.0]
        geom.friction = [1.0, 0.005, 0.0001]
    for body in spec.bodies:
        if body.name != "world":
            body.gravcomp = 1.0  # the arm's controller compensates gravity, as on a Panda
    for name, lim in limits.items():
        joint = spec.joint(name)
        joint.armature = robot.armature
        if robot.gripper and name in robot.gripper.joints:
            for geom in spec.body(joint.parent.name).geoms:
                geom.rgba = [0.2, 0.2, 0.2, 1.0]
                geom.friction = [robot.gripper_friction, 0.01, 0.0002]
                geom.condim = 4
        if name in robot.mimic:
            continue  # followed through the URDF's mimic equality, no own servo
        act = spec.add_actuator(name=name, target=name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        kp = lim.effort / robot.saturation_error
        if robot.gripper and name in robot.gripper.joints:
            kp = robot.gripper_kp
        act.set_to_position(kp=kp, dampratio=robot.damping_ratio)
        if np.isfinite(lim.lower):
            act.ctrlrange = [lim.lower, lim.upper]
            act.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
        if lim.effort > 0:
            act.forcerange = [-lim.effort, lim.effort]
            act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
    if robot.fixed_jaw_body:  # a jaw without a joint grips like the moving one
        for geom in spec.body(robot.fixed_jaw_body).geoms:
            geom.friction = [robot.gripper_friction, 0.01, 0.0002]
            geom.condim = 4
    ee = spec.body(robot.ee_body)
    ee.add_site(name=TCP_SITE, pos=list(robot.ee_offset), size=[0.005, 0, 0], group=4,
                rgba=[1, 0, 0, 1])
    cam_body = spec.body(robot.wrist_camera_body)
    cam_body.add_camera(
        name=WRIST_CAMERA,
        pos=list(robot.wrist_camera_pos),
        quat=list(look_at_quat(robot.wrist_camera_forward, robot.wrist_camera_up)),
        fovy=75.0,
    )
    return spec, limits


class _Builder:
    """Adds the world (table, floor, lights, cameras, object pool) around the robot."""

    def __init__(self, spec: mujoco.MjSpec, robot: RobotSpec):
        self.spec = spec
        self.robot = robot
        self.s = robot.object_scale
        self.top = robot.table_top_z
        self.floor = robot.table_top_z - robot.table_height
        self.objects: dict[str, PoolObject] = {}
        self.fixture_joints: dict[str, str] = {}
        self._n_parked = 0

    # -- helpers -------------------------------------------------------------------
    def _geom(self, body, name: str, kind, size, pos=(0, 0, 0), rgba=(0.7, 0.7, 0.7, 1),
              mass: float | None = None, collide: bool = True, **kw):
        g = body.add_geom(name=name, type=kind, size=list(size), pos=list(pos), rgba=list(rgba),
                          **kw)
        g.contype = WORLD_BIT if collide else 0
        g.conaffinity = (WORLD_BIT | ROBOT_BIT) if collide else 0
        if mass is not None:
            g.mass = mass
        return g

    def _park_pose(self) -> tuple[float, float, float]:
        """Out of every camera's view: behind the scene camera, on the floor, spaced apart."""
        i = self._n_parked
        self._n_parked += 1
        return (-3.0 - 0.35 * (i // 6), -1.0 + 0.35 * (i % 6), self.floor)

    def _register(self, obj: PoolObject) -> None:
        park = self._park_pose()
        park = (park[0], park[1], park[2] + obj.rest_z)
        self.objects[obj.name] = PoolObject(**{**obj.__dict__, "park": park})

    # -- world ---------------------------------------------------------------------
    def environment(self) -> None:
        spec, r = self.spec, self.robot
        spec.option.timestep = 0.002
        spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
        spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
        spec.option.noslip_iterations = 2
        spec.visual.global_.offwidth = 1280
        spec.visual.global_.offheight = 960
        spec.visual.quality.shadowsize = 1024
        spec.visual.headlight.ambient = [0.35, 0.35, 0.35]
        spec.visual.headlight.diffuse = [0.45, 0.45, 0.45]
        spec.stat.center = [r.workspace_center[0], r.workspace_center[1], self.top]
        spec.stat.extent = 1.0
        world = spec.worldbody
        world.add_light(name="sun", pos=[0.6, -0.4, self.top + 1.6], dir=[-0.3, 0.25, -1.0],
                        diffuse=[0.6, 0.6, 0.6], castshadow=False)
        self._geom(world, "floor", mujoco.mjtGeom.mjGEOM_PLANE, (4, 4, 0.05),
                   pos=(0, 0, self.floor), rgba=(0.55, 0.57, 0.6, 1))
        cx, cy = r.table_center
        sx, sy = r.table_size
        thick = 0.03
        table = world.add_body(name="table", pos=[cx, cy, self.top - thick / 2])
        # The table's friction wins over the objects' (priority): objects slide on it at
        # mu = 0.5, so pushing a tall cylinder low down slides it instead of tipping it
        # over (tipping needs push height > radius / mu), while the fingers still grip
        # objects at the higher friction of the pads.
        self._geom(table, "table_top", mujoco.mjtGeom.mjGEOM_BOX, (sx / 2, sy / 2, thick / 2),
                   rgba=(0.62, 0.48, 0.34, 1), friction=[0.5, 0.005, 0.0001], priority=1)
        leg_h = (r.table_height - thick) / 2
        for i, (dx, dy) in enumerate(((1, 1), (1, -1), (-1, 1), (-1, -1))):
            self._geom(table, f"table_leg{i}", mujoco.mjtGeom.mjGEOM_BOX, (0.025, 0.025, leg_h),
                       pos=(dx * (sx / 2 - 0.05), dy * (sy / 2 - 0.05), -thick / 2 - leg_h),
                       rgba=(0.4, 0.3, 0.2, 1))
        wx, wy = r.workspace_center
        d = r.scene_camera_distance
        target = np.array([wx + 0.05, wy, self.top])
        cam_pos = target + d * np.array([-0.55, 0.5, 0.7])
        world.add_camera(name=SCENE_CAMERA, pos=list(cam_pos), fovy=r.scene_camera_fovy,
                         quat=list(look_at_quat(target - cam_pos, (0, 0, 1))))

    # -- object pool ---------------------------------------------------------------
    def cube(self, i: int) -> None:
        h = 0.02 * self.s
        name = f"cube_{i}"
        body = self.spec.worldbody.add_body(name=name)
        body.add_freejoint(name=f"{name}_free")
        self._geom(body, f"{name}_geom", mujoco.mjtGeom.mjGEOM_BOX, (h, h, h), mass=0.05,
                   friction=[1.0, 0.01, 0.0002], condim=4)
        self._register(PoolObject(name, "cube", True, h, h * 1.5, h, (f"{name}_geom",),
                                  dims={"half": h}))

    def cylinder(self, i: int) -> None:
        r, h = 0.02 * self.s, 0.035 * self.s
        name = f"cylinder_{i}"
        body = self.spec.worldbody.add_body(name=name)
        body.add_freejoint(name=f"{name}_free")
        self._geom(body, f"{name}_geom", mujoco.mjtGeom.mjGEOM_CYLINDER, (r, h, 0), mass=0.05,
                   friction=[1.0, 0.01, 0.0002], condim=4)
        self._register(PoolObject(name, "cylinder", True, h, r * 1.5, h, (f"{name}_geom",),
                                  dims={"radius": r, "half": h}))

    def bowl(self) -> None:
        s = self.s
        r, wall_h, n = 0.075 * s, 0.03 * s, 16
        body = self.spec.worldbody.add_body(name="bowl")
        body.add_freejoint(name="bowl_free")
        geoms = ["bowl_bottom"]
        self._geom(body, "bowl_bottom", mujoco.mjtGeom.mjGEOM_CYLINDER, (r, 0.004, 0),
                   pos=(0, 0, 0.004), mass=0.15)
        for k in range(n):
            a = 2 * np.pi * k / n
            quat = [np.cos(a / 2), 0, 0, np.sin(a / 2)]
            gname = f"bowl_wall{k}"
            geoms.append(gname)
            self._geom(body, gname, mujoco.mjtGeom.mjGEOM_BOX,
                       (0.004, np.pi * r / n + 0.002, wall_h / 2),
                       pos=(r * np.cos(a), r * np.sin(a), wall_h / 2 + 0.004), quat=quat,
                       mass=0.01)
        self._register(PoolObject("bowl", "bowl", True, 0.0, r + 0.01, 0.0, tuple(geoms),
                                  dims={"radius": r - 0.004, "wall_height": wall_h}))

    def bin(self) -> None:
        s = self.s
        hx, hy, wall_h, t = 0.085 * s, 0.065 * s, 0.045 * s, 0.005
        body = self.spec.worldbody.add_body(name="bin")
        body.add_freejoint(name="bin_free")
        box = mujoco.mjtGeom.mjGEOM_BOX
        geoms = ("bin_bottom", "bin_wall_px", "bin_wall_nx", "bin_wall_py", "bin_wall_ny")
        self._geom(body, geoms[0], box, (hx, hy, t), pos=(0, 0, t), mass=0.3)
        wz = t + wall_h / 2  # walls stand on the plate: only the plate touches the table
        self._geom(body, geoms[1], box, (t, hy, wall_h / 2), pos=(hx, 0, wz), mass=0.05)
        self._geom(body, geoms[2], box, (t, hy, wall_h / 2), pos=(-hx, 0, wz), mass=0.05)
        self._geom(body, geoms[3], box, (hx, t, wall_h / 2), pos=(0, hy, wz), mass=0.05)
        self._geom(body, geoms[4], box, (hx, t, wall_h / 2), pos=(0, -hy, wz), mass=0.05)
        self._register(PoolObject("bin", "bin", True, 0.0, np.hypot(hx, hy), 0.0, geoms,
                                  dims={"hx": hx - t, "hy": hy - t, "wall_height": wall_h}))

    def pad(self, i: int) -> None:
        h = 0.045 * self.s
        name = f"pad_{i}"
        body = self.spec.worldbody.add_body(name=name)
        self._geom(body, f"{name}_geom", mujoco.mjtGeom.mjGEOM_BOX, (h, h, 0.001),
                   pos=(0, 0, 0.001), collide=False)
        self._register(PoolObject(name, "pad", False, 0.0, h * 1.2, 0.0, (f"{name}_geom",),
                                  dims={"half": h}))

    def drawer_cabinet(self) -> None:
        """A cabinet whose drawer slides out towards the robot (-x) on `drawer_slide`.

        The drawer's knob is a short vertical post on top of its front panel, so a
        top-down gripper pinches it exactly like a standing cylinder.
        """
        s, box = self.s, mujoco.mjtGeom.mjGEOM_BOX
        hx, hy, hz, t = 0.09 * s, 0.1 * s, 0.04 * s, 0.006
        grey = (0.75, 0.75, 0.72, 1)
        cab = self.spec.worldbody.add_body(name="drawer_cabinet")
        g = "drawer_cabinet"
        self._geom(cab, f"{g}_top", box, (hx, hy, t), pos=(0, 0, 2 * hz - t), rgba=grey)
        self._geom(cab, f"{g}_bottom", box, (hx, hy, t), pos=(0, 0, t), rgba=grey)
        self._geom(cab, f"{g}_back", box, (t, hy, hz), pos=(hx - t, 0, hz), rgba=grey)
        self._geom(cab, f"{g}_left", box, (hx, t, hz), pos=(0, hy - t, hz), rgba=grey)
        self._geom(cab, f"{g}_right", box, (hx, t, hz), pos=(0, -hy + t, hz), rgba=grey)
        # Drawer: origin at the cabinet's front face, slides along -x.
        dx, dy, dz = hx - 2 * t, hy - 2 * t - 0.002, hz - 2 * t - 0.002
        # The cabinet is welded to the world, so MuJoCo does collide it with its own drawer:
        # leave 1-2 mm of clearance everywhere.
        drawer = cab.add_body(name="drawer", pos=[-hx - 0.001, 0, 2 * t + 0.001])
        travel = 1.4 * dx
        drawer.add_joint(name="drawer_slide", type=mujoco.mjtJoint.mjJNT_SLIDE,
                         axis=[-1, 0, 0], range=[0, travel], damping=2.0, frictionloss=0.5,
                         armature=0.05)
        color = ("drawer_front", "drawer_knob")
        self._geom(drawer, "drawer_front", box, (t, hy, hz - t), pos=(-t, 0, hz - 2 * t),
                   mass=0.2)
        self._geom(drawer, "drawer_floor", box, (dx, dy, 0.003), pos=(dx, 0, 0.003), mass=0.1,
                   rgba=grey)
        for side in (1, -1):
            self._geom(drawer, f"drawer_side{'lr'[side < 0]}", box, (dx, 0.003, dz / 2),
                       pos=(dx, side * (dy - 0.003), dz / 2), mass=0.05, rgba=grey)
        self._geom(drawer, "drawer_rear", box, (0.003, dy, dz / 2), pos=(2 * dx - 0.003, 0, dz / 2),
                   mass=0.05, rgba=grey)
        knob_h = 0.02 * s  # half height: low enough for a hand to pass over into the tray
        self._geom(drawer, "drawer_knob", mujoco.mjtGeom.mjGEOM_CYLINDER, (0.009, knob_h, 0),
                   pos=(-t, 0, 2 * hz - 3 * t + knob_h + 0.002), mass=0.02, condim=4)
        self.fixture_joints["drawer_cabinet"] = "drawer_slide"
        self._register(PoolObject("drawer_cabinet", "drawer_cabinet", False, 0.0,
                                  np.hypot(hx, hy) + travel / 2, 0.0, color,
                                  dims={"hx": hx, "hy": hy, "height": 2 * hz,
                                        "travel": travel, "inner_hx": dx, "inner_hy": dy,
                                        "floor_z": 2 * t + 0.007}))

    def door_cabinet(self) -> None:
        """A cabinet with a door hinged on a vertical axis at its -y front edge.

        The door swings towards the robot; its knob is a vertical post on the door's top
        edge near the free side, grasped from above and pulled along an arc.
        """
        s, box = self.s, mujoco.mjtGeom.mjGEOM_BOX
        hx, hy, t = 0.07 * s, 0.09 * s, 0.006
        hz = 0.06 * s * self.robot.door_height_scale
        grey = (0.75, 0.75, 0.72, 1)
        cab = self.spec.worldbody.add_body(name="door_cabinet")
        g = "door_cabinet"
        self._geom(cab, f"{g}_top", box, (hx, hy, t), pos=(0, 0, 2 * hz - t), rgba=grey)
        self._geom(cab, f"{g}_bottom", box, (hx, hy, t), pos=(0, 0, t), rgba=grey)
        self._geom(cab, f"{g}_back", box, (t, hy, hz), pos=(hx - t, 0, hz), rgba=grey)
        self._geom(cab, f"{g}_left", box, (hx, t, hz), pos=(0, hy - t, hz), rgba=grey)
        self._geom(cab, f"{g}_right", box, (hx, t, hz), pos=(0, -hy + t, hz), rgba=grey)
        door = cab.add_body(name="door", pos=[-hx - t - 0.001, -hy, 0.0])
        door.add_joint(name="door_hinge", type=mujoco.mjtJoint.mjJNT_HINGE, axis=[0, 0, 1],
                       range=[0, 1.75], damping=0.5, frictionloss=0.05, armature=0.01)
        self._geom(door, "door_panel", box, (t, hy, hz - 0.002), pos=(0, hy, hz + 0.001),
                   mass=0.2)
        knob_h = 0.02 * s
        self._geom(door, "door_knob", mujoco.mjtGeom.mjGEOM_CYLINDER, (0.009, knob_h, 0),
                   pos=(0, 1.7 * hy, 2 * hz + knob_h), mass=0.02, condim=4)
        self.fixture_joints["door_cabinet"] = "door_hinge"
        self._register(PoolObject("door_cabinet", "door_cabinet", False, 0.0,
                                  np.hypot(hx, hy) + 1.7 * hy, 0.0,
                                  ("door_panel", "door_knob"),
                                  dims={"hx": hx, "hy": hy, "height": 2 * hz,
                                        "max_angle": 1.75, "knob_radius": 1.7 * hy}))

    def pool(self) -> None:
        for i in range(N_CUBES):
            self.cube(i)
        for i in range(N_CYLINDERS):
            self.cylinder(i)
        self.bowl()
        self.bin()
        for i in range(N_PADS):
            self.pad(i)
        self.drawer_cabinet()
        self.door_cabinet()


@cache
def _compiled(robot_name: str) -> Scene:
    robot = get_robot(robot_name)
    spec, limits = _robot_spec(robot)
    builder = _Builder(spec, robot)
    builder.environment()
    builder.pool()
    model = spec.compile()
    # Park everything static where the builder registered it.
    for obj in builder.objects.values():
        if not obj.free:
            model.body(obj.name).pos[:] = obj.park
    return Scene(robot, model, limits, builder.objects, builder.fixture_joints)


def build_scene(robot: str | RobotSpec = "panda") -> Scene:
    """A fresh, independently mutable copy of the robot's scene (compiled once)."""
    name = robot.name if isinstance(robot, RobotSpec) else robot
    return _compiled(name).copy()

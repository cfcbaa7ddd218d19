"""`SimEnv`: the simulation core the `mujoco_sim` node (and experts, tests) drive.

It owns one MuJoCo model/data pair, position servos on every robot joint, offscreen
renderers and the current task instance. Everything goes in and out as numpy arrays;
there is no ROS here. Joint order is the URDF's (== the pinocchio model's).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vla_ros.sim.robots import RobotSpec
from vla_ros.sim.scene import TCP_SITE, Scene, build_scene, mujoco


class SimError(ValueError):
    """Bad input to the simulator; the message names the joint/body/camera at fault."""


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics of a rendered camera, ready for sensor_msgs/CameraInfo."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    @property
    def K(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1.0]])

    @property
    def P(self) -> np.ndarray:
        return np.hstack([self.K, np.zeros((3, 1))])

    @property
    def D(self) -> np.ndarray:
        return np.zeros(5)  # rendered images have no lens distortion ("plumb_bob")


@dataclass
class _Perturbation:
    body: int
    force: np.ndarray
    torque: np.ndarray
    until: float


class SimEnv:
    """A tabletop scene with one robot under joint position control.

    Typical loop: `reset(seed, task)`, then per control tick `set_position_targets(...)`
    and `step(n)`, reading `joint_positions()` and `render(...)`.
    """

    def __init__(self, robot: str | RobotSpec = "panda", *, timestep: float | None = None):
        self.scene: Scene = build_scene(robot)
        self.robot: RobotSpec = self.scene.robot
        self.model = self.scene.model
        if timestep is not None:
            if timestep <= 0:
                raise SimError(f"timestep must be > 0, got {timestep}")
            self.model.opt.timestep = timestep
        self.data = mujoco.MjData(self.model)
        m = self.model
        self.joint_names: list[str] = list(self.scene.limits)
        self._jid = {n: m.joint(n).id for n in self.joint_names}
        self._qadr = np.array([m.jnt_qposadr[self._jid[n]] for n in self.joint_names])
        self._dadr = np.array([m.jnt_dofadr[self._jid[n]] for n in self.joint_names])
        self._index = {n: i for i, n in enumerate(self.joint_names)}
        self.lower = np.array([self.scene.limits[n].lower for n in self.joint_names])
        self.upper = np.array([self.scene.limits[n].upper for n in self.joint_names])
        self.effort_limits = np.array([self.scene.limits[n].effort for n in self.joint_names])
        self.velocity_limits = np.array(
            [self.scene.limits[n].velocity for n in self.joint_names]
        )
        # Actuator per joint (-1 for mimic followers, driven by an equality constraint).
        act_names = [m.actuator(i).name for i in range(m.nu)]
        self._act = np.array([act_names.index(n) if n in act_names else -1
                              for n in self.joint_names])
        self._leader = {self._index[f]: self._index[ld] for f, ld in self.robot.mimic.items()}
        self._tcp = m.site(TCP_SITE).id
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}
        self._perturbations: list[_Perturbation] = []
        self._contype = m.geom_contype.copy()
        self._conaffinity = m.geom_conaffinity.copy()
        self._active: dict[str, bool] = {}
        self.task = None  # a vla_ros.sim.tasks.TaskInstance after reset(task=...)
        self.home = np.array([self.robot.home.get(n, 0.0) for n in self.joint_names])
        self.home = np.clip(self.home, self.lower, self.upper)
        self._targets = self.home.copy()
        self.reset()

    # -- episode -------------------------------------------------------------------
    def reset(self, seed: int | None = None, task=None, *, background_fixture: bool = False):
        """Robot at home, objects parked; with a task, sample and lay out its scene.

        `task` is a task name or `TaskSpec`; returns the `TaskInstance` (or None).
        `background_fixture`: stand an unused cabinet behind a loose-object task's scene
        (`TaskSpec.instantiate`).
        """
        mujoco.mj_resetData(self.model, self.data)
        self._perturbations.clear()
        self.data.qpos[self._qadr] = self.home
        self._targets = self.home.copy()
        self._write_ctrl()
        for obj in self.scene.objects.values():
            self.park(obj.name)
        self.task = None
        if task is not None:
            from vla_ros.sim.tasks import get_task  # tasks import env types, not vice versa

            spec = get_task(task) if isinstance(task, str) else task
            rng = np.random.default_rng(seed)
            self.task = spec.instantiate(self, rng, background_fixture=background_fixture)
        mujoco.mj_forward(self.model, self.data)
        return self.task

    @property
    def time(self) -> float:
        return float(self.data.time)

    @property
    def timestep(self) -> float:
        return float(self.model.opt.timestep)

    def step(self, n_substeps: int = 1) -> None:
        """Advance physics by `n_substeps` timesteps, holding the current targets."""
        if n_substeps < 0:
            raise SimError(f"n_substeps must be >= 0, got {n_substeps}")
        for _ in range(n_substeps):
            if self._perturbations:
                self._apply_perturbations()
            mujoco.mj_step(self.model, self.data)
        if self._perturbations:
            self._apply_perturbations()

    # -- joints --------------------------------------------------------------------
    def joint_positions(self) -> np.ndarray:
        return self.data.qpos[self._qadr].copy()

    def joint_velocities(self) -> np.ndarray:
        return self.data.qvel[self._dadr].copy()

    def joint_efforts(self) -> np.ndarray:
        """Actuator torque/force per joint (what a JointState's effort reports)."""
        return self.data.qfrc_actuator[self._dadr].copy()

    def position_targets(self) -> np.ndarray:
        return self._targets.copy()

    def joint_indices(self, names) -> np.ndarray:
        try:
            return np.array([self._index[n] for n in names], dtype=int)
        except KeyError as exc:
            raise SimError(
                f"unknown joint '{exc.args[0]}' for robot '{self.robot.name}'; "
                f"joints are {self.joint_names}"
            ) from None

    def set_position_targets(self, names, q) -> None:
        """Servo targets for `names` (others keep theirs), clamped to the joint limits.

        A target for a mimic follower (e.g. panda_finger_joint2) moves its leader when
        the leader is not commanded in the same call.
        """
        idx = self.joint_indices(names)
        q = np.asarray(q, dtype=float).reshape(-1)
        if q.shape[0] != idx.shape[0]:
            raise SimError(f"{len(idx)} joint names but {q.shape[0]} targets")
        if not np.all(np.isfinite(q)):
            bad = [n for n, v in zip(names, q, strict=True) if not np.isfinite(v)]
            raise SimError(f"non-finite targets for joints {bad}")
        q = np.clip(q, self.lower[idx], self.upper[idx])
        self._targets[idx] = q
        given = set(idx.tolist())
        for i, v in zip(idx, q, strict=True):
            leader = self._leader.get(int(i))
            if leader is not None and leader not in given:
                self._targets[leader] = v
        for f, leader in self._leader.items():
            self._targets[f] = self._targets[leader]
        self._write_ctrl()

    def set_joint_positions(self, names, q) -> None:
        """Teleport joints (and their targets) to `q`: for tests and resets."""
        idx = self.joint_indices(names)
        q = np.clip(np.asarray(q, float), self.lower[idx], self.upper[idx])
        self.data.qpos[self._qadr[idx]] = q
        self.data.qvel[self._dadr[idx]] = 0.0
        self.set_position_targets(names, q)
        mujoco.mj_forward(self.model, self.data)

    def _write_ctrl(self) -> None:
        has = self._act >= 0
        self.data.ctrl[self._act[has]] = self._targets[has]

    # -- gripper / end effector ----------------------------------------------------
    def gripper_targets(self, g: float) -> tuple[list[str], np.ndarray]:
        """Joint names and targets closing the gripper to g in [0 open, 1 closed]."""
        if self.robot.gripper is None:
            return [], np.zeros(0)
        return list(self.robot.gripper.joints), np.array(self.robot.gripper.targets(g))

    def ee_pose(self) -> np.ndarray:
        """4x4 world pose of the tool centre point."""
        T = np.eye(4)
        T[:3, :3] = self.data.site_xmat[self._tcp].reshape(3, 3)
        T[:3, 3] = self.data.site_xpos[self._tcp]
        return T

    def gripper_opening(self) -> float:
        """Distance between the fingers' joint positions (metres for the Panda)."""
        if self.robot.gripper is None:
            return 0.0
        q = self.joint_positions()[self.joint_indices(self.robot.gripper.joints)]
        return float(np.sum(q))

    # -- objects -------------------------------------------------------------------
    def _body(self, name: str) -> int:
        bid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, name)
        if bid < 0:
            raise SimError(f"no body '{name}' in the scene; objects are "
                           f"{sorted(self.scene.objects)}")
        return bid

    def object_pose(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """World position and quaternion (w, x, y, z) of a body."""
        bid = self._body(name)
        return self.data.xpos[bid].copy(), self.data.xquat[bid].copy()

    def object_frame(self, name: str) -> np.ndarray:
        """4x4 world pose of a body."""
        bid = self._body(name)
        T = np.eye(4)
        T[:3, :3] = self.data.xmat[bid].reshape(3, 3)
        T[:3, 3] = self.data.xpos[bid]
        return T

    def object_poses(self, names=None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Poses of the pool objects in use (all pool objects if no task is set)."""
        if names is None:
            names = self.task.active if self.task is not None else list(self.scene.objects)
        return {n: self.object_pose(n) for n in names}

    def set_object_pose(self, name: str, pos, quat=(1.0, 0.0, 0.0, 0.0)) -> None:
        """Place a pool object (free: its joint; static fixture: its body) and forward."""
        obj = self.scene.objects.get(name)
        if obj is None:
            raise SimError(f"'{name}' is not a pool object; objects are "
                           f"{sorted(self.scene.objects)}")
        pos = np.asarray(pos, float)
        quat = np.asarray(quat, float)
        quat = quat / np.linalg.norm(quat)
        self._set_active(name, not np.allclose(pos, obj.park))
        if obj.free:
            jid = self.model.joint(f"{name}_free").id
            a, d = self.model.jnt_qposadr[jid], self.model.jnt_dofadr[jid]
            self.data.qpos[a : a + 3] = pos
            self.data.qpos[a + 3 : a + 7] = quat
            self.data.qvel[d : d + 6] = 0.0
        else:
            bid = self._body(name)
            self.model.body_pos[bid] = pos
            self.model.body_quat[bid] = quat
        mujoco.mj_forward(self.model, self.data)

    def _set_active(self, name: str, active: bool) -> None:
        """Parked objects float without contacts: they cost no collision checks."""
        if self._active.get(name) == active:
            return
        self._active[name] = active
        bid = self._body(name)
        m = self.model
        bodies = [b for b in range(m.nbody) if b == bid or m.body_rootid[b] == bid
                  or m.body_parentid[b] == bid]
        for b in bodies:
            m.body_gravcomp[b] = 0.0 if active else 1.0
            for g in range(m.body_geomadr[b], m.body_geomadr[b] + m.body_geomnum[b]):
                m.geom_contype[g] = self._contype[g] if active else 0
                m.geom_conaffinity[g] = self._conaffinity[g] if active else 0

    def geom_position(self, geom: str) -> np.ndarray:
        """World position of a named geom (e.g. `drawer_knob`)."""
        gid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_GEOM, geom)
        if gid < 0:
            raise SimError(f"no geom '{geom}' in the scene")
        return self.data.geom_xpos[gid].copy()

    def park(self, name: str) -> None:
        self.set_object_pose(name, self.scene.objects[name].park)

    def set_color(self, name: str, rgba) -> None:
        for g in self.scene.objects[name].color_geoms:
            self.model.geom(g).rgba[:] = rgba

    def fixture_joint(self, name: str) -> str:
        try:
            return self.scene.fixture_joints[name]
        except KeyError:
            raise SimError(f"'{name}' has no joint; fixtures with joints are "
                           f"{sorted(self.scene.fixture_joints)}") from None

    def joint_value(self, joint: str) -> float:
        """qpos of any 1-dof joint in the scene (e.g. `drawer_slide`, `door_hinge`)."""
        jid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_JOINT, joint)
        if jid < 0:
            raise SimError(f"no joint '{joint}' in the scene")
        return float(self.data.qpos[self.model.jnt_qposadr[jid]])

    def set_joint_value(self, joint: str, value: float) -> None:
        jid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_JOINT, joint)
        if jid < 0:
            raise SimError(f"no joint '{joint}' in the scene")
        self.data.qpos[self.model.jnt_qposadr[jid]] = value
        self.data.qvel[self.model.jnt_dofadr[jid]] = 0.0
        mujoco.mj_forward(self.model, self.data)

    # -- perturbations -------------------------------------------------------------
    def apply_perturbation(self, body: str, force, duration: float, torque=(0.0, 0.0, 0.0)):
        """Push `body` with a world-frame force (N) and torque (Nm) for `duration` s."""
        if duration <= 0:
            raise SimError(f"perturbation duration must be > 0, got {duration}")
        force = np.asarray(force, float).reshape(3)
        torque = np.asarray(torque, float).reshape(3)
        self._perturbations.append(
            _Perturbation(self._body(body), force, torque, self.time + duration)
        )
        self._apply_perturbations()

    def _apply_perturbations(self) -> None:
        self.data.xfrc_applied[:] = 0.0
        now = self.time
        self._perturbations = [p for p in self._perturbations if p.until > now + 1e-12]
        for p in self._perturbations:
            self.data.xfrc_applied[p.body, :3] += p.force
            self.data.xfrc_applied[p.body, 3:] += p.torque

    # -- cameras -------------------------------------------------------------------
    @property
    def camera_names(self) -> list[str]:
        return [self.model.camera(i).name for i in range(self.model.ncam)]

    def _camera(self, camera: str) -> int:
        cid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
        if cid < 0:
            raise SimError(f"no camera '{camera}'; cameras are {self.camera_names}")
        return cid

    def _check_size(self, width: int, height: int) -> None:
        g = self.model.vis.global_
        if not (0 < width <= g.offwidth and 0 < height <= g.offheight):
            raise SimError(f"image size {width}x{height} outside 1..{g.offwidth}x{g.offheight}")

    def render(self, camera: str, width: int, height: int) -> np.ndarray:
        """RGB image, uint8, shape (height, width, 3), row 0 at the top."""
        cid = self._camera(camera)
        self._check_size(width, height)
        renderer = self._renderers.get((width, height))
        if renderer is None:
            renderer = mujoco.Renderer(self.model, height, width)
            self._renderers[(width, height)] = renderer
        renderer.update_scene(self.data, camera=cid)
        return renderer.render()

    def camera_intrinsics(self, camera: str, width: int, height: int) -> CameraIntrinsics:
        """Pinhole model of `render(camera, width, height)` (square pixels, no skew)."""
        cid = self._camera(camera)
        self._check_size(width, height)
        fovy = np.deg2rad(self.model.cam_fovy[cid])
        f = 0.5 * height / np.tan(fovy / 2)
        return CameraIntrinsics(width, height, f, f, (width - 1) / 2, (height - 1) / 2)

    def camera_pose(self, camera: str) -> np.ndarray:
        """4x4 world pose of a camera in the optical convention (z forward, y down)."""
        cid = self._camera(camera)
        T = np.eye(4)
        R = self.data.cam_xmat[cid].reshape(3, 3)
        T[:3, :3] = R @ np.diag([1.0, -1.0, -1.0])  # MuJoCo: -z forward, +y up
        T[:3, 3] = self.data.cam_xpos[cid]
        return T

    def close(self) -> None:
        for r in self._renderers.values():
            r.close()
        self._renderers.clear()

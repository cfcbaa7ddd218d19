"""Scripted waypoint experts for every task skill, in end-effector space.

An expert is a plan of segments (approach, descend, close, lift, carry, lower, release,
retreat, pull, swing, push...). Each segment moves the tool centre point (TCP) from where
the last one ended to a goal pose - position plus a yaw about the vertical, the gripper
always pointing down - with a smooth time profile, while holding a gripper command.
Goals are computed from the object poses the expert *observes* when the segment starts
(or every step for tracking segments such as pushing), so failure injection can corrupt
those observations. IK turns each step's TCP pose into arm joint targets.

Randomisation per episode: segment durations (x0.85-1.2), waypoint noise (mm), yaw
noise, small per-step action noise. `act()` returns both the EE-space action and the
joint targets, so a dataset can store either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from vla_ros.sim.ik import ArmIK, make_arm_ik
from vla_ros.sim.scene import mujoco
from vla_ros.sim.tasks import TaskInstance, rest_height


class ExpertError(RuntimeError):
    """The expert cannot handle this task (e.g. no skill of that name)."""


@dataclass(frozen=True)
class ExpertNoise:
    """How much an expert varies between episodes."""

    time_scale: tuple[float, float] = (0.85, 1.2)
    waypoint_std: float = 0.002  # metres, on approach/carry waypoints
    yaw_std: float = 0.03  # radians
    action_std: float = 0.0  # metres, white noise per control step (jitter; off by default)

    @staticmethod
    def none() -> ExpertNoise:
        return ExpertNoise((1.0, 1.0), 0.0, 0.0, 0.0)


@dataclass
class ExpertAction:
    """One control step: TCP target, gripper command and the matching joint targets."""

    ee_position: np.ndarray  # (3,) world
    ee_quaternion: np.ndarray  # (4,) w, x, y, z
    gripper: float  # 0 open .. 1 closed
    joint_names: list[str]
    joint_targets: np.ndarray  # (len(joint_names),)
    phase: str

    def ee_vector(self) -> np.ndarray:
        """[x, y, z, rx, ry, rz, gripper]: position, rotation vector, gripper (7,)."""
        rotvec = np.zeros(3)
        mujoco.mju_quat2Vel(rotvec, self.ee_quaternion, 1.0)
        return np.concatenate([self.ee_position, rotvec, [self.gripper]])


@dataclass
class Segment:
    name: str
    goal: Callable[[], tuple[np.ndarray, float]]  # -> (TCP position, yaw)
    gripper: float
    duration: float
    track: bool = False  # re-evaluate the goal every step (reactive)
    until: Callable[[], bool] | None = None  # ends a tracking segment early


def top_down(yaw: float) -> np.ndarray:
    """TCP rotation pointing the gripper down, fingers closing along Rz(yaw)·(0, 1, 0)."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, s, 0.0], [s, -c, 0.0], [0.0, 0.0, -1.0]])


def _wrap_half_turn(yaw: float) -> float:
    """A parallel gripper is symmetric under a half turn: keep |yaw| <= pi/2."""
    return float((yaw + np.pi / 2) % np.pi - np.pi / 2)


def _wrap_quarter_turn(yaw: float) -> float:
    """Square objects look the same every quarter turn: keep |yaw| <= pi/4."""
    return float((yaw + np.pi / 4) % (np.pi / 2) - np.pi / 4)


def _wrap(angle: float) -> float:
    return float((angle + np.pi) % (2 * np.pi) - np.pi)


def _smooth(s: float) -> float:
    return s * s * (3 - 2 * s)


@dataclass
class _Observer:
    """What the expert believes about object poses (failure modes corrupt this)."""

    env: object
    pos_noise: float = 0.0
    offsets: dict[str, np.ndarray] = field(default_factory=dict)  # mislocalised objects
    rng: np.random.Generator = field(default_factory=np.random.default_rng)

    def pose(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        pos, quat = self.env.object_pose(name)
        if name in self.offsets:
            pos = pos + self.offsets[name]
        if self.pos_noise > 0:
            pos = pos + np.r_[self.rng.normal(0, self.pos_noise, 2), 0.0]
        return pos, quat

    def yaw(self, name: str) -> float:
        _, q = self.pose(name)
        return float(np.arctan2(2 * (q[0] * q[3] + q[1] * q[2]), 1 - 2 * (q[2] ** 2 + q[3] ** 2)))


class Expert:
    """Scripted expert for one task instance; call `act()` once per control step."""

    def __init__(
        self,
        env,
        instance: TaskInstance,
        rng: np.random.Generator | None = None,
        *,
        control_dt: float = 0.05,
        ik: ArmIK | None = None,
        noise: ExpertNoise | None = None,
    ):
        if instance.skill not in _SKILLS:
            raise ExpertError(f"no expert for skill '{instance.skill}' (task {instance.task}); "
                              f"skills: {sorted(_SKILLS)}")
        self.env = env
        self.inst = instance
        self.rng = rng if rng is not None else np.random.default_rng()
        self.dt = control_dt
        self.ik = ik if ik is not None else make_arm_ik(env)
        self.noise = noise if noise is not None else ExpertNoise()
        self.observer = _Observer(env, rng=self.rng)
        r = env.robot
        self.s = r.object_scale
        self.top = r.table_top_z
        self.arm_idx = env.joint_indices(r.arm_joints)
        self.q_arm = env.joint_positions()[self.arm_idx]
        self.grasp_offset = np.asarray(r.grasp_offset, float)
        self.yaw_offset = r.grip_yaw_offset
        T = env.ee_pose()
        self.yaw = float(np.arctan2(T[1, 0], T[0, 0])) - self.yaw_offset
        self.pos = T[:3, 3] + T[:3, :3] @ self.grasp_offset
        self.grip = 0.0
        self.target = instance.target  # failure injection may redirect these
        self.goal = instance.goal
        self.goal_offset = np.zeros(2)
        self.release_at: float | None = None  # early-release injection: phase time
        self.partial = 1.0  # fraction of a drawer/door motion to perform (wrong target)
        self._plan: Iterator[Segment] = _SKILLS[instance.skill](self)
        self._seg: Segment | None = None
        self._k = 0
        self._n = 0
        self._start = (self.pos.copy(), self.yaw)
        self.done = False
        self.phase = "start"
        self.elapsed = 0.0

    # -- segment helpers used by skills ---------------------------------------------
    def duration(self, nominal: float) -> float:
        return nominal * self.rng.uniform(*self.noise.time_scale)

    def travel_time(self, goal: np.ndarray, yaw: float, speed: float = 0.22) -> float:
        """Seconds to move to (goal, yaw); speeds scale with the robot's size."""
        speed *= self.s
        dist = float(np.linalg.norm(goal - self.pos))
        return self.duration(max(0.6, dist / speed + abs(yaw - self.yaw) / 1.5))

    def jitter(self, p: np.ndarray, std: float | None = None) -> np.ndarray:
        std = self.noise.waypoint_std if std is None else std
        return p + self.rng.normal(0, std, 3) if std > 0 else p

    def yaw_jitter(self) -> float:
        return float(self.rng.normal(0, self.noise.yaw_std)) if self.noise.yaw_std > 0 else 0.0

    def move(self, name: str, goal: Callable[[], tuple[np.ndarray, float]], gripper: float,
             speed: float = 0.22, min_time: float = 0.0) -> Segment:
        p, yaw = goal()
        dur = max(self.travel_time(p, yaw, speed), min_time)
        return Segment(name, lambda: (p, yaw), gripper, dur)

    def hold(self, name: str, gripper: float, nominal: float) -> Segment:
        p, yaw = self.pos.copy(), self.yaw
        return Segment(name, lambda: (p, yaw), gripper, self.duration(nominal))

    def reachable_yaw(self, p: np.ndarray, yaw: float, period: float = np.pi,
                      prefer: float | None = None,
                      path: Sequence[tuple[np.ndarray, float]] = ()) -> float:
        """`yaw`, or the nearest equivalent yaw + k * period, that IK reaches at `p`.

        Grippers and objects are symmetric (a cube every quarter turn, a parallel gripper
        every half turn), so several yaws grasp equally well; joint limits (the SO-101's
        wrist roll stops short of a full turn) decide which the arm can actually reach.
        Every (position, yaw offset) of `path` must be reachable too, moving on from the
        grasp without switching IK branch: an object is carried there, a door swings
        the wrist round while the knob moves along an arc.
        Candidates are tried nearest (in angle) to `prefer` first, default `yaw` itself.
        Falls back to the candidate with the smallest position error.
        """
        prefer = yaw if prefer is None else prefer
        candidates = sorted((yaw + k * period for k in range(-4, 5)
                             if abs(yaw + k * period) <= np.pi + 1e-9),
                            key=lambda c: abs(_wrap(c - prefer)))  # fmt: skip
        best, best_err = yaw, np.inf
        for c in candidates:
            q, err = self._reach(self.q_arm, p, c, any_branch=True)
            for point, dy in path:
                q, e = self._reach(q, point, c + dy, any_branch=False)
                err = max(err, e)
            if err < 5e-3:  # the Panda IK trades ~4 mm for its posture term
                return float(c)
            if err < best_err:
                best, best_err = c, err
        return float(best)

    def tcp_pose(self, p: np.ndarray, yaw: float) -> np.ndarray:
        """TCP pose (4x4) putting the grasp centre at `p`, jaws closing along Rz(yaw)·y."""
        T = np.eye(4)
        T[:3, :3] = top_down(yaw + self.yaw_offset)
        T[:3, 3] = p - T[:3, :3] @ self.grasp_offset
        return T

    def _reach(self, q: np.ndarray, p: np.ndarray, yaw: float, any_branch: bool
               ) -> tuple[np.ndarray, float]:  # fmt: skip
        """IK for grasp centre `p` at `yaw` from q: (joints, error m + 0.05 m/rad)."""
        p = np.r_[p[:2], min(p[2], self.top + self.env.robot.max_grasp_height)]
        T = self.tcp_pose(p, yaw)
        if hasattr(self.ik, "reach"):
            q, _ = self.ik.reach(q, T, any_branch)
        else:
            q = self.ik.solve(q, T)
        last = getattr(self.ik, "last", None)
        return q, float(last.pos_err + 0.05 * last.rot_err) if last is not None else 0.0

    def abort(self) -> None:
        """Stop executing the plan and hold the current pose (early-stop failures)."""
        self._plan = iter(())
        self._seg = None
        self.done = True
        self.phase = "aborted"

    # -- main step -------------------------------------------------------------------
    def _next_segment(self) -> bool:
        try:
            self._seg = next(self._plan)
        except StopIteration:
            self._seg = None
            self.done = True
            self.phase = "done"
            return False
        self._k = 0
        self._n = max(1, int(round(self._seg.duration / self.dt)))
        self._start = (self.pos.copy(), self.yaw)
        self.phase = self._seg.name
        return True

    def act(self) -> ExpertAction:
        """Advance one control step and return the action for it."""
        if not self.done and (self._seg is None or self._k >= self._n):
            self._next_segment()
        seg = self._seg
        if seg is not None:
            self._k += 1
            goal_p, goal_yaw = seg.goal()
            if seg.track:
                self.pos, self.yaw = np.asarray(goal_p, float), float(goal_yaw)
                if seg.until is not None and seg.until():
                    self._k = self._n
            else:
                s = _smooth(min(1.0, self._k / self._n))
                p0, y0 = self._start
                self.pos = p0 + s * (np.asarray(goal_p, float) - p0)
                self.yaw = y0 + s * (goal_yaw - y0)
            self.grip = seg.gripper
            ceiling = self.top + self.env.robot.max_grasp_height  # the arm's top-down reach
            self.pos = np.r_[self.pos[:2], min(self.pos[2], ceiling)]
        if self.release_at is not None and self.elapsed >= self.release_at:
            self.grip = 0.0
        self.elapsed += self.dt
        return self._action()

    def _action(self) -> ExpertAction:
        pos = self.pos.copy()
        if self.noise.action_std > 0:
            pos += self.rng.normal(0, self.noise.action_std, 3)
        T = self.tcp_pose(pos, self.yaw)
        self.q_arm = self.ik.solve(self.q_arm, T, allow_jump=self.grip < 0.5)
        g_names, g_targets = self.env.gripper_targets(self.grip)
        names = list(self.env.robot.arm_joints) + list(g_names)
        targets = np.concatenate([self.q_arm, g_targets])
        for follower, leader in self.env.robot.mimic.items():
            if leader in names and follower not in names:
                names.append(follower)
                targets = np.append(targets, targets[names.index(leader)])
        quat = np.zeros(4)
        mujoco.mju_mat2Quat(quat, T[:3, :3].flatten())
        return ExpertAction(T[:3, 3].copy(), quat, float(self.grip), names, targets,
                            self.phase)


# ---------------------------------------------------------------------------------------
# Skills: generators of segments. Goals close over the expert so they read fresh state.
# ---------------------------------------------------------------------------------------


def _transport_z(x: Expert) -> float:
    return x.top + 0.17 * x.s


def _grasp_pose(x: Expert, name: str) -> tuple[np.ndarray, float]:
    """TCP at the object's centre (never lower than 1.8 cm above the table)."""
    pos, _ = x.observer.pose(name)
    obj = x.env.scene.objects[name]
    yaw = _wrap_quarter_turn(x.observer.yaw(name)) if obj.kind == "cube" else 0.0
    z = max(pos[2], x.top + 0.018 * x.s)
    return np.array([pos[0], pos[1], z]), yaw


def _pick(x: Expert, place: np.ndarray | None = None) -> Iterator[Segment]:
    """Approach, grasp and lift `x.target`; with `place`, pick a grasp yaw the arm can
    also hold all the way to there (the SO-101's wrist roll cannot turn a full turn)."""
    grasp, yaw = _grasp_pose(x, x.target)
    path = []
    if place is not None:
        high = np.r_[place[:2], _transport_z(x)]
        mid = np.r_[(grasp[:2] + place[:2]) / 2, _transport_z(x)]
        path = [(np.r_[grasp[:2], _transport_z(x)], 0.0), (mid, 0.0), (high, 0.0),
                (place, 0.0)]
    yaw = x.reachable_yaw(grasp, yaw + x.yaw_jitter(), period=np.pi / 2, path=path)
    above = x.jitter(grasp + [0, 0, 0.1 * x.s])
    yield x.move("approach", lambda: (above, yaw), 0.0)
    grasp, _ = _grasp_pose(x, x.target)  # re-observe before the final descent
    low = grasp + np.r_[x.rng.normal(0, x.noise.waypoint_std / 2, 2), 0.0]
    yield x.move("descend", lambda: (low, yaw), 0.0, speed=0.12)
    yield x.hold("close", 1.0, 0.6)
    lift = low.copy()
    lift[2] = _transport_z(x)
    yield x.move("lift", lambda: (lift, yaw), 1.0, speed=0.15)


def _skill_pick(x: Expert) -> Iterator[Segment]:
    yield from _pick(x)
    yield x.hold("hold", 1.0, 0.8)


def _place_pose(x: Expert) -> np.ndarray:
    """Where the TCP (at the carried object's centre) should be to set it down."""
    env, goal = x.env, x.goal
    obj = env.scene.objects[x.target]
    g = env.scene.objects[goal]
    gpos, _ = x.observer.pose(goal)
    gap = 0.008 * x.s
    if g.kind == "pad":
        z = x.top + obj.rest_z + gap
    elif g.kind in ("bowl", "bin"):
        z = gpos[2] + 0.01 + obj.rest_z + gap
    elif g.kind == "cube":
        z = gpos[2] + g.dims["half"] + obj.rest_z + gap
    elif g.kind == "drawer_cabinet":
        T = env.object_frame("drawer")
        d = g.dims
        # Middle of the part of the tray that is out of the cabinet (clear of its face).
        gpos = T[:3, :3] @ np.array([d["inner_hx"] * 0.8, 0.0, d["floor_z"]]) + T[:3, 3]
        z = gpos[2] + obj.rest_z + 2 * gap
    else:
        raise ExpertError(f"cannot place onto a '{g.kind}' ({goal})")
    xy = gpos[:2] + x.goal_offset
    return np.array([xy[0], xy[1], z])


def _held_offset(x: Expert) -> np.ndarray:
    """Where the held object's centre sits relative to the commanded grasp centre.

    Closing a jaw gripper shifts the object (the SO-101's moving jaw pushes it against
    the fixed one), so placing aims the object, not the jaws; a slip of more than 3 cm
    means the object is not really held and is ignored.
    """
    offset = x.observer.pose(x.target)[0] - x.pos
    return offset if np.linalg.norm(offset) < 0.03 else np.zeros(3)


def _holding(x: Expert) -> bool:
    """The target hangs lifted next to the grasp centre, so the hand holds it: an expert
    taking over from a policy mid-task (DAgger-style data) must not drop it to re-grasp."""
    pos, _ = x.env.object_pose(x.target)
    lifted = pos[2] > rest_height(x.env, x.target) + 0.01 * x.s
    return bool(lifted and np.linalg.norm(pos - x.pos) < 0.03 * x.s)


def _skill_pick_place(x: Expert) -> Iterator[Segment]:
    if _holding(x):  # taken over mid-task: carry on from the grasp
        lift = np.r_[x.pos[:2], max(x.pos[2], _transport_z(x))]
        yaw = x.yaw
        yield x.move("lift", lambda: (lift, yaw), 1.0, speed=0.15)
    else:
        yield from _pick(x, place=_place_pose(x))
    held = _held_offset(x)
    place = _place_pose(x) - held
    yaw = x.yaw
    carry = x.jitter(np.array([place[0], place[1], _transport_z(x)]))
    yield x.move("carry", lambda: (carry, yaw), 1.0)
    place = _place_pose(x) - held
    low = np.array([carry[0], carry[1], place[2]])
    yield x.move("lower", lambda: (low, yaw), 1.0, speed=0.12)
    open_ = x.env.robot.release_gripper
    shift = x.env.robot.release_shift
    if shift and x.env.scene.objects[x.target].kind == "cylinder":
        # Open a single moving jaw gradually: snapping it open flings a cylinder over
        # (a cube standing on another one, though, is best let go of at once).
        for g in np.linspace(1.0, open_, 6)[1:-1]:
            yield x.hold("release", float(g), 0.1)
    yield x.hold("release", open_, 0.5)
    if shift:  # slide the fixed jaw off the object before lifting, or it drags it along
        c, s = np.cos(yaw), np.sin(yaw)
        low = low + shift * np.array([-s, c, 0.0])
        yield x.move("release", lambda: (low, yaw), open_, min_time=0.3)
    up = low + [0, 0, 0.1 * x.s]
    yield x.move("retreat", lambda: (up, yaw), open_)


def _support(x: Expert, name: str, d: np.ndarray) -> float:
    """Distance from an object's centre to its boundary in horizontal direction d."""
    obj = x.env.scene.objects[name]
    if obj.kind == "cube":
        rel = np.arctan2(d[1], d[0]) - x.observer.yaw(name)
        return obj.dims["half"] * (abs(np.cos(rel)) + abs(np.sin(rel)))
    return obj.dims.get("radius", obj.radius)


def _skill_push(x: Expert) -> Iterator[Segment]:
    """Closed fingers behind the object, pushing it along the line to the goal."""
    finger = 0.009  # half thickness of the closed finger pads along the push direction
    z = x.top + 0.018 * x.s

    def goal_xy() -> np.ndarray:
        gpos, _ = x.observer.pose(x.goal)
        return gpos[:2] + x.goal_offset

    def line() -> tuple[np.ndarray, np.ndarray, float]:
        p = x.observer.pose(x.target)[0][:2]
        d = goal_xy() - p
        dist = float(np.linalg.norm(d))
        return p, d / max(dist, 1e-9), dist

    p, d, _ = line()
    yaw = _wrap_half_turn(float(np.arctan2(d[1], d[0])))
    behind = p - d * (_support(x, x.target, d) + finger + 0.03 * x.s)
    end = goal_xy() - d * (_support(x, x.target, d) + finger)  # reachable all the way
    path = [(np.r_[behind + f * (end - behind), z], 0.0) for f in (0.33, 0.67, 1.0)]
    yaw = x.reachable_yaw(np.r_[behind, z], yaw, period=np.pi, path=path)
    above = x.jitter(np.r_[behind, z + 0.1 * x.s])
    yield x.move("approach", lambda: (above, yaw), 1.0)
    low = np.r_[behind, z]
    yield x.move("descend", lambda: (low, yaw), 1.0, speed=0.12)
    # Straight push along the object-goal line, stopping with the object's centre on the
    # goal (re-aiming mid-push drags the object sideways along the finger pads).
    p, d, dist = line()
    end = np.r_[goal_xy() - d * (_support(x, x.target, d) + finger), z]
    yield x.move("push", lambda: (end, yaw), 1.0, speed=0.06)
    back = np.r_[x.pos[:2] - d * 0.03 * x.s, z]  # off the object first: friction on the
    yield x.move("retreat", lambda: (back, yaw), 1.0)  # pads would lift it otherwise
    up = back + [0, 0, 0.08 * x.s]
    yield x.move("retreat", lambda: (up, yaw), 1.0)


def _trailing_jaw_yaw(x: Expert, knob: np.ndarray) -> float | None:
    """For a gripper with one fixed jaw: the yaw that puts the fixed jaw on the side the
    hand comes from, so the open moving jaw (raised as it opens) leads over a knob the
    hand cannot get above (the SO-101's reach ends below the knobs' tops). None for
    symmetric grippers, which come down over the knob."""
    if x.grasp_offset[0] == 0.0:
        return None
    c = x.pos[:2] - knob[:2]  # closing direction Rz(yaw)·y points at the fixed jaw
    return float(np.arctan2(-c[0], c[1]))


def _knob_approach(x: Expert, knob: np.ndarray, yaw: float) -> np.ndarray:
    """Waypoint before grasping a knob: above it, or for a one-fixed-jaw gripper that
    cannot get above it, beside it on the fixed jaw's side (the jaw then trails)."""
    above = knob + [0, 0, 0.08 * x.s]
    if x.grasp_offset[0] != 0.0 and x.top + x.env.robot.max_grasp_height < above[2]:
        c = np.array([-np.sin(yaw), np.cos(yaw), 0.0])  # towards the fixed jaw
        above = knob + 0.03 * c
    return x.jitter(above)


def _skill_drawer(x: Expert) -> Iterator[Segment]:
    env = x.env
    travel = env.scene.objects["drawer_cabinet"].dims["travel"]
    knob = env.geom_position("drawer_knob")
    slide = env.joint_value("drawer_slide")
    full_goal = 0.92 * travel if x.inst.params.get("start", 0.0) < 0.5 * travel else 0.0
    # The drawer's slide axis is -x in the cabinet frame.
    axis = -env.object_frame("drawer_cabinet")[:3, 0]
    path = [(knob + f * axis * (full_goal - slide), 0.0) for f in (0.5, 1.0)]
    yaw = x.reachable_yaw(knob, x.yaw_jitter(), period=np.pi / 2,
                          prefer=_trailing_jaw_yaw(x, knob), path=path)
    above = _knob_approach(x, knob, yaw)
    yield x.move("approach", lambda: (above, yaw), 0.0)
    knob = env.geom_position("drawer_knob")
    low = knob.copy()
    yield x.move("descend", lambda: (low, yaw), 0.0, speed=0.12)
    yield x.hold("close", 1.0, 0.6)
    slide = env.joint_value("drawer_slide")
    goal_slide = slide + x.partial * (full_goal - slide)
    end = low + axis * (goal_slide - slide)
    yield x.move("pull" if goal_slide > slide else "push", lambda: (end, yaw), 1.0,
                 speed=0.08, min_time=1.0)
    yield x.hold("release", 0.0, 0.5)
    up = end + [0, 0, 0.08 * x.s]
    yield x.move("retreat", lambda: (up, yaw), 0.0)


def _skill_door(x: Expert) -> Iterator[Segment]:
    env = x.env
    dims = env.scene.objects["door_cabinet"].dims
    R = dims["knob_radius"]
    theta0 = env.joint_value("door_hinge")
    hinge = env.object_pose("door")[0]
    knob = env.geom_position("door_knob")
    z = knob[2]
    theta_goal = 1.35 if x.inst.params.get("start", 0.0) < 0.5 else 0.0
    theta_goal = theta0 + x.partial * (theta_goal - theta0)
    prefer = _trailing_jaw_yaw(x, knob)  # the knob is round: any quarter turn grasps it
    path = [(np.r_[hinge[:2] + R * np.array([-np.sin(th), np.cos(th)]), z], th - theta0)
            for th in np.linspace(theta0, theta_goal, 5)[1:]]
    yaw0 = x.reachable_yaw(knob, theta0 + x.yaw_jitter(),
                           period=np.pi if prefer is None else np.pi / 2,
                           prefer=prefer, path=path)
    above = _knob_approach(x, knob, yaw0)
    yield x.move("approach", lambda: (above, yaw0), 0.0)
    knob = env.geom_position("door_knob")
    low = knob.copy()
    yield x.move("descend", lambda: (low, yaw0), 0.0, speed=0.12)
    yield x.hold("close", 1.0, 0.6)
    n_steps = max(1, int(round(x.duration(2.5) / x.dt)))
    state = {"k": 0}

    def arc() -> tuple[np.ndarray, float]:
        state["k"] += 1
        s = _smooth(min(1.0, state["k"] / n_steps))
        th = theta0 + s * (theta_goal - theta0)
        p = hinge[:2] + R * np.array([-np.sin(th), np.cos(th)])
        return np.r_[p, z], yaw0 + (th - theta0)

    yield Segment("swing", arc, 1.0, n_steps * x.dt, track=True)
    yield x.hold("release", 0.0, 0.5)
    up = x.pos + [0, 0, 0.08 * x.s]
    yaw_end = x.yaw
    yield x.move("retreat", lambda: (up, yaw_end), 0.0)


_SKILLS: dict[str, Callable[[Expert], Iterator[Segment]]] = {
    "pick": _skill_pick,
    "pick_place": _skill_pick_place,
    "push": _skill_push,
    "drawer": _skill_drawer,
    "door": _skill_door,
}

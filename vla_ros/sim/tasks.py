"""Language-conditioned tabletop tasks: layouts, instructions, success predicates.

A `TaskSpec` is a task family ("put the {color} cube in the bowl"); `instantiate`
samples one episode of it - which pool objects appear, their colours and positions,
distractors and the instruction paraphrase - into a `TaskInstance`. Success is a
predicate on the simulator state, so it can be checked at any time and tested by
placing objects directly.

Splits follow the SAFE setting: *seen* tasks train the policy (and the failure detector),
*unseen* tasks hold out object/verb/goal combinations never seen together in training
(e.g. cubes go in the bowl and cylinders in the bin during training; the unseen split
asks for a cylinder in the bowl).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from vla_ros.sim.scene import COLORS

SPLITS = ("seen", "unseen")


class UnknownTaskError(KeyError):
    """A task name that is not registered; the message lists the registered ones."""

    def __str__(self) -> str:
        return str(self.args[0])


class TaskNotSupportedError(ValueError):
    """The task exists but cannot be done by this robot; the message says why."""


class LayoutError(RuntimeError):
    """The sampler could not place the objects without overlap."""


@dataclass
class TaskInstance:
    """One sampled episode of a task: what is where, and what to say."""

    task: str
    split: str
    skill: str
    instruction: str
    target: str  # pool object acted on (grasped, pushed, or the fixture opened)
    goal: str | None  # pool object defining the goal (pad, bowl, bin, base cube, drawer)
    active: list[str]  # pool objects in the scene this episode
    colors: dict[str, str]  # object -> colour name
    time_limit: float
    distractors: list[str] = field(default_factory=list)
    params: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskSpec:
    """A task family: layout sampler, instruction templates and success predicate."""

    name: str
    split: str
    skill: str  # which scripted expert solves it (see vla_ros.sim.experts)
    verb: str
    target_kind: str  # cube | cylinder | drawer | door
    goal_kind: str | None  # pad | bowl | bin | cube | drawer | None
    instructions: tuple[str, ...]  # str.format templates: {color} {object} {goal_color}
    time_limit: float  # seconds of sim time before the episode counts as failed
    success_fn: Callable[[object, TaskInstance], bool]
    layout_fn: Callable[[TaskSpec, _Layout], TaskInstance]
    description: str = ""

    def instantiate(self, env, rng: np.random.Generator, *,
                    background_fixture: bool = False) -> TaskInstance:
        """Lay out a fresh episode in `env` (already reset: robot home, pool parked).

        `background_fixture` puts a cabinet the task does not use behind the workspace
        first (training data only: see `add_background_fixture`); without it the layout
        draws exactly what it always drew, so evaluation seeds keep their scenes.
        """
        lay = _Layout(env, rng)
        fixture = None
        if background_fixture:
            if self.target_kind not in ("cube", "cylinder"):
                raise LayoutError(f"{self.name}: a background fixture only goes behind "
                                  "tasks on loose objects (this task uses a cabinet)")
            fixture = add_background_fixture(lay)
        inst = self.layout_fn(self, lay)
        if fixture is not None:
            inst.active.append(fixture)
            inst.colors[fixture] = lay.reserved_colors[fixture]
            inst.params["background_fixture"] = fixture
        return inst

    def success(self, env, instance: TaskInstance) -> bool:
        return bool(self.success_fn(env, instance))


# ---------------------------------------------------------------------------------------
# Layout sampling
# ---------------------------------------------------------------------------------------


class _Layout:
    """Rejection-samples non-overlapping footprints on the table."""

    def __init__(self, env, rng: np.random.Generator):
        self.env, self.rng = env, rng
        r = env.robot
        self.top = r.table_top_z
        self.center = np.array(r.workspace_center, float)
        self.half = np.array(r.workspace_half_extent, float)
        self.s = r.object_scale
        self.placed: list[tuple[np.ndarray, float]] = []
        # colours already taken by scenery the task does not name (a background cabinet)
        self.reserved_colors: dict[str, str] = {}
        self.segments: list[tuple[np.ndarray, np.ndarray, float]] = []  # keep-out corridors

    def spot(self, radius: float, center=None, half=None, margin: float = 0.015) -> np.ndarray:
        c = self.center if center is None else np.asarray(center, float)
        h = self.half if half is None else np.asarray(half, float)
        for _ in range(500):
            xy = c + self.rng.uniform(-h, h)
            if self.free(xy, radius, margin):
                return xy
        raise LayoutError(f"no free spot of radius {radius:.3f} m around {c} +- {h}")

    def free(self, xy: np.ndarray, radius: float, margin: float = 0.015) -> bool:
        for p, r in self.placed:
            if np.linalg.norm(xy - p) < r + radius + margin:
                return False
        return all(_segment_distance(xy, a, b) >= w + radius for a, b, w in self.segments)

    def put(self, name: str, xy, yaw: float = 0.0, color: str | None = None) -> None:
        obj = self.env.scene.objects[name]
        pos = [xy[0], xy[1], self.top + obj.rest_z]
        self.env.set_object_pose(name, pos, _yaw_quat(yaw))
        self.placed.append((np.asarray(xy, float), obj.radius))
        if color is not None:
            self.env.set_color(name, COLORS[color])

    def put_random(self, name: str, color: str | None = None, **kw) -> np.ndarray:
        obj = self.env.scene.objects[name]
        xy = self.spot(obj.radius, **kw)
        yaw = self.rng.uniform(-np.pi / 4, np.pi / 4) if obj.kind == "cube" else 0.0
        self.put(name, xy, yaw, color)
        return xy


def _segment_distance(p, a, b) -> float:
    ab = b - a
    t = np.clip(np.dot(p - a, ab) / max(np.dot(ab, ab), 1e-12), 0.0, 1.0)
    return float(np.linalg.norm(p - (a + t * ab)))


def _yaw_quat(yaw: float) -> np.ndarray:
    return np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])


def _pool(kind: str) -> list[str]:
    from vla_ros.sim.scene import N_CUBES, N_CYLINDERS, N_PADS

    n = {"cube": N_CUBES, "cylinder": N_CYLINDERS, "pad": N_PADS}[kind]
    return [f"{kind}_{i}" for i in range(n)]


def _distractors(lay: _Layout, used: set[str], colors: dict[str, str], k_max: int,
                 **spot_kw) -> list[str]:
    """Up to k_max extra cubes/cylinders, colours distinct from every coloured object."""
    free = [n for n in _pool("cube") + _pool("cylinder") if n not in used]
    k = int(lay.rng.integers(0, k_max + 1))
    chosen = []
    for name in lay.rng.permutation(free)[:k]:
        name = str(name)
        palette = [c for c in COLORS
                   if c not in colors.values() and c not in lay.reserved_colors.values()]
        color = str(lay.rng.choice(palette))
        try:
            lay.put_random(name, color, **spot_kw)
        except LayoutError:
            continue  # a crowded table just gets fewer distractors
        colors[name] = color
        chosen.append(name)
    return chosen


def _instance(spec: TaskSpec, lay: _Layout, target: str, goal: str | None,
              colors: dict[str, str], distractors: list[str], **params) -> TaskInstance:
    template = str(lay.rng.choice(spec.instructions))
    obj_kind = spec.target_kind
    instruction = template.format(
        color=colors.get(target, ""),
        object=obj_kind,
        goal_color=colors.get(goal, "") if goal else "",
    )
    active = [target] + ([goal] if goal and goal != target else []) + distractors
    return TaskInstance(
        task=spec.name, split=spec.split, skill=spec.skill, instruction=instruction,
        target=target, goal=goal, active=active, colors=dict(colors),
        time_limit=spec.time_limit, distractors=distractors, params=dict(params),
    )


def _pick_color(lay: _Layout, exclude=()) -> str:
    taken = set(exclude) | set(lay.reserved_colors.values())
    return str(lay.rng.choice([c for c in COLORS if c not in taken]))


def _layout_pick(spec: TaskSpec, lay: _Layout) -> TaskInstance:
    rng = lay.rng
    target = str(rng.choice(_pool(spec.target_kind)))
    colors = {target: _pick_color(lay)}
    lay.put_random(target, colors[target])
    distractors = _distractors(lay, {target}, colors, 2)
    return _instance(spec, lay, target, None, colors, distractors)


def _layout_pad(spec: TaskSpec, lay: _Layout) -> TaskInstance:
    """Target object and a coloured pad; pushing needs a clear corridor between them."""
    env, rng = lay.env, lay.rng
    target = str(rng.choice(_pool(spec.target_kind)))
    pad = str(rng.choice(_pool("pad")))
    colors = {target: _pick_color(lay)}
    colors[pad] = _pick_color(lay, exclude=colors.values())
    s = lay.s
    scenery = list(lay.placed)  # a background cabinet stays; retried object spots do not
    for _ in range(200):
        lay.placed[:] = scenery
        xy_t = lay.spot(env.scene.objects[target].radius)
        direction = rng.normal(size=2)
        direction /= np.linalg.norm(direction)
        dist = rng.uniform(0.1, 0.17) * s
        xy_p = xy_t + dist * direction
        if (np.all(np.abs(xy_p - lay.center) <= lay.half + 0.04 * s)
                and lay.free(xy_p, env.scene.objects[pad].radius)):
            break
    else:
        raise LayoutError(f"{spec.name}: could not place target and pad")
    lay.put(target, xy_t, rng.uniform(-np.pi / 4, np.pi / 4) if spec.target_kind == "cube"
            else 0.0, colors[target])
    lay.put(pad, xy_p, 0.0, colors[pad])
    if spec.skill == "push":  # keep distractors out of the pushing corridor
        back = xy_t - 0.08 * s * direction
        lay.segments.append((back, xy_p, 0.05 * s))
    distractors = _distractors(lay, {target, pad}, colors, 2)
    return _instance(spec, lay, target, pad, colors, distractors)


def _layout_stack(spec: TaskSpec, lay: _Layout) -> TaskInstance:
    rng = lay.rng
    top, base = (str(n) for n in rng.choice(_pool("cube"), size=2, replace=False))
    colors = {top: _pick_color(lay)}
    colors[base] = _pick_color(lay, exclude=colors.values())
    lay.put_random(top, colors[top])
    lay.put_random(base, colors[base])
    distractors = _distractors(lay, {top, base}, colors, 1)
    return _instance(spec, lay, top, base, colors, distractors)


def _layout_container(spec: TaskSpec, lay: _Layout) -> TaskInstance:
    rng = lay.rng
    container = spec.goal_kind  # "bowl" | "bin"
    colors = {container: _pick_color(lay)}
    lay.put_random(container, colors[container])
    target = str(rng.choice(_pool(spec.target_kind)))
    colors[target] = _pick_color(lay, exclude=colors.values())
    lay.put_random(target, colors[target])
    distractors = _distractors(lay, {target, container}, colors, 2)
    return _instance(spec, lay, target, container, colors, distractors)


def _place_cabinet(lay: _Layout, name: str, y_range: tuple[float, float]) -> np.ndarray:
    """Cabinets stand behind the workspace, front facing the robot (-x)."""
    obj = lay.env.scene.objects[name]
    s = lay.s
    x = lay.center[0] + obj.dims["hx"] + lay.rng.uniform(0.02, 0.05) * s
    y = lay.center[1] + lay.rng.uniform(*y_range) * s
    lay.env.set_object_pose(name, [x, y, lay.top])
    lay.placed.append((np.array([x, y]), obj.radius))
    return np.array([x, y])


def _front_strip(lay: _Layout) -> dict[str, np.ndarray]:
    """The strip of table between the robot and a cabinet (clear of an open drawer)."""
    return {"center": lay.center + np.array([-0.17, 0.0]) * lay.s,
            "half": np.array([0.04, 0.2]) * lay.s}


def add_background_fixture(lay: _Layout) -> str:
    """Stand a cabinet the task does not use behind the workspace; loose objects then go
    on the strip of table in front of it. Returns the cabinet's name.

    Why: in the seen tasks a cabinet only ever appears when the task is about it, so a
    policy learns "cabinet in view -> go for its handle" and ignores an instruction about a
    cube in front of one (the unseen cube_in_drawer). Scenes of seen object tasks with a
    cabinet standing by (drawer anywhere from shut to open, door anywhere from shut to
    wide open) break that shortcut without showing any unseen task.
    """
    rng, env, s = lay.rng, lay.env, lay.s
    cab = str(rng.choice(["drawer_cabinet", "door_cabinet"]))
    color = _pick_color(lay)
    env.set_color(cab, COLORS[color])
    lay.reserved_colors[cab] = color
    _place_cabinet(lay, cab, (-0.12, 0.12))
    if cab == "drawer_cabinet":
        env.set_joint_value("drawer_slide", rng.uniform(0.0, 1.0)
                            * env.scene.objects[cab].dims["travel"])
    else:
        env.set_joint_value("door_hinge", rng.uniform(0.0, 1.45))
        swing = env.scene.objects[cab].dims["knob_radius"] + 0.02 * s
        lay.placed.append((env.object_pose("door")[0][:2], swing))
    # the layouts sample around lay.center +- lay.half: move that box to the front strip
    lay.center = lay.center + np.array([-0.13, 0.0]) * s
    lay.half = np.array([0.07, 0.2]) * s
    return cab


def _layout_drawer(spec: TaskSpec, lay: _Layout) -> TaskInstance:
    env, rng = lay.env, lay.rng
    cab = "drawer_cabinet"
    colors = {cab: _pick_color(lay)}
    env.set_color(cab, COLORS[colors[cab]])
    _place_cabinet(lay, cab, (-0.12, 0.12))
    travel = env.scene.objects[cab].dims["travel"]
    start = 0.0 if spec.verb == "open" else rng.uniform(0.7, 0.95) * travel
    env.set_joint_value("drawer_slide", start)
    distractors = _distractors(lay, {cab}, colors, 2, **_front_strip(lay))
    return _instance(spec, lay, cab, None, colors, distractors, start=start)


def _layout_door(spec: TaskSpec, lay: _Layout) -> TaskInstance:
    env, rng = lay.env, lay.rng
    cab = "door_cabinet"
    colors = {cab: _pick_color(lay)}
    env.set_color(cab, COLORS[colors[cab]])
    _place_cabinet(lay, cab, (-0.08, 0.08))
    start = 0.0 if spec.verb == "open" else rng.uniform(1.2, 1.45)
    env.set_joint_value("door_hinge", start)
    # Keep the door's swept quarter disc (centred on the hinge) free.
    swing = env.scene.objects[cab].dims["knob_radius"] + 0.02 * lay.s
    lay.placed.append((env.object_pose("door")[0][:2], swing))
    distractors = _distractors(lay, {cab}, colors, 2, **_front_strip(lay))
    return _instance(spec, lay, cab, None, colors, distractors, start=start)


def _layout_in_drawer(spec: TaskSpec, lay: _Layout) -> TaskInstance:
    env, rng = lay.env, lay.rng
    cab = "drawer_cabinet"
    colors = {cab: _pick_color(lay)}
    env.set_color(cab, COLORS[colors[cab]])
    _place_cabinet(lay, cab, (-0.1, 0.1))
    travel = env.scene.objects[cab].dims["travel"]
    env.set_joint_value("drawer_slide", travel)
    # The object starts just in front of the open drawer: near enough for a small arm
    # (far from its base), clear of the drawer's front panel.
    front = env.geom_position("drawer_front")[:2]
    strip = {"center": np.array([front[0] - 0.07 * lay.s, lay.center[1]]),
             "half": np.array([0.02, 0.2]) * lay.s}
    target = str(rng.choice(_pool(spec.target_kind)))
    colors[target] = _pick_color(lay, exclude=colors.values())
    lay.put_random(target, colors[target], **strip)
    distractors = _distractors(lay, {cab, target}, colors, 1, **strip)
    return _instance(spec, lay, target, cab, colors, distractors)


# ---------------------------------------------------------------------------------------
# Success predicates (pure functions of the sim state)
# ---------------------------------------------------------------------------------------


def _obj(env, name):
    return env.scene.objects[name]


def rest_height(env, name: str) -> float:
    """World height of `name`'s body origin when it rests upright on the table."""
    return env.robot.table_top_z + _obj(env, name).rest_z


def lifted(env, inst: TaskInstance) -> bool:
    """Target held at least 5 cm (scaled) above its resting height."""
    z = env.object_pose(inst.target)[0][2]
    return z > rest_height(env, inst.target) + 0.05 * env.robot.object_scale


def _to_local(env, body: str, p: np.ndarray) -> np.ndarray:
    T = env.object_frame(body)
    return T[:3, :3].T @ (p - T[:3, 3])


def on_pad(env, inst: TaskInstance) -> bool:
    """Target's centre over the pad and resting on the table (not held above it)."""
    p = env.object_pose(inst.target)[0]
    local = _to_local(env, inst.goal, p)
    half = _obj(env, inst.goal).dims["half"]
    resting = p[2] < rest_height(env, inst.target) + 0.01
    return bool(np.all(np.abs(local[:2]) <= half) and resting)


def stacked(env, inst: TaskInstance) -> bool:
    """Top cube centred on the base cube, one cube height above it; base on the table."""
    top = env.object_pose(inst.target)[0]
    base = env.object_pose(inst.goal)[0]
    h = _obj(env, inst.goal).dims["half"]
    centred = np.linalg.norm(top[:2] - base[:2]) < 0.7 * h
    on_top = 1.6 * h < top[2] - base[2] < 2.4 * h
    base_down = base[2] < rest_height(env, inst.goal) + 0.01
    return bool(centred and on_top and base_down)


def in_bowl(env, inst: TaskInstance) -> bool:
    """Target inside the bowl's rim, below its top edge (plus the object's half height)."""
    p = env.object_pose(inst.target)[0]
    local = _to_local(env, inst.goal, p)
    d = _obj(env, inst.goal).dims
    half = _obj(env, inst.target).half_height
    inside = np.hypot(local[0], local[1]) < d["radius"]
    low = -0.01 < local[2] < d["wall_height"] + half
    return bool(inside and low)


def in_bin(env, inst: TaskInstance) -> bool:
    p = env.object_pose(inst.target)[0]
    local = _to_local(env, inst.goal, p)
    d = _obj(env, inst.goal).dims
    half = _obj(env, inst.target).half_height
    inside = abs(local[0]) < d["hx"] and abs(local[1]) < d["hy"]
    low = -0.01 < local[2] < d["wall_height"] + half
    return bool(inside and low)


def in_drawer(env, inst: TaskInstance) -> bool:
    """Target inside the drawer tray (drawer frame: x into the cabinet from the front)."""
    p = env.object_pose(inst.target)[0]
    local = _to_local(env, "drawer", p)
    d = _obj(env, inst.goal).dims
    half = _obj(env, inst.target).half_height
    inside = 0.0 < local[0] < 2 * d["inner_hx"] and abs(local[1]) < d["inner_hy"]
    low = local[2] < d["height"] - d["floor_z"] + half
    return bool(inside and low)


def drawer_open(env, inst: TaskInstance) -> bool:
    return env.joint_value("drawer_slide") > 0.6 * _obj(env, inst.target).dims["travel"]


def drawer_closed(env, inst: TaskInstance) -> bool:
    return env.joint_value("drawer_slide") < 0.1 * _obj(env, inst.target).dims["travel"]


def door_open(env, inst: TaskInstance) -> bool:
    return env.joint_value("door_hinge") > 1.0


def door_closed(env, inst: TaskInstance) -> bool:
    return env.joint_value("door_hinge") < 0.15


# ---------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------

_PICK = ("pick up the {color} {object}", "lift the {color} {object}",
         "grab the {color} {object} and raise it", "pick the {color} {object} up off the table")
_PLACE_PAD = ("put the {color} {object} on the {goal_color} square",
              "place the {color} {object} onto the {goal_color} pad",
              "move the {color} {object} to the {goal_color} square",
              "set the {color} {object} down on the {goal_color} mat")
_PUSH_PAD = ("push the {color} {object} onto the {goal_color} square",
             "slide the {color} {object} to the {goal_color} pad",
             "nudge the {color} {object} over to the {goal_color} square",
             "push the {color} {object} until it is on the {goal_color} mat")
_STACK = ("stack the {color} cube on the {goal_color} cube",
          "put the {color} cube on top of the {goal_color} cube",
          "place the {color} block onto the {goal_color} block",
          "build a tower: {color} cube on the {goal_color} cube")
_BOWL = ("put the {color} {object} in the bowl", "place the {color} {object} into the bowl",
         "drop the {color} {object} in the {goal_color} bowl",
         "move the {color} {object} into the bowl")
_BIN = ("put the {color} {object} in the bin", "place the {color} {object} into the box",
        "drop the {color} {object} in the {goal_color} bin",
        "tidy the {color} {object} away into the bin")
_DRAWER_IN = ("put the {color} {object} in the drawer",
              "place the {color} {object} into the open drawer",
              "store the {color} {object} in the drawer")
_OPEN_DRAWER = ("open the drawer", "pull the {color} drawer open", "slide the drawer out")
_CLOSE_DRAWER = ("close the drawer", "push the {color} drawer shut", "slide the drawer in")
_OPEN_DOOR = ("open the cabinet door", "swing the {color} door open", "open the door")
_CLOSE_DOOR = ("close the cabinet door", "swing the {color} door shut", "shut the door")


def _spec(name, split, skill, verb, target, goal, instructions, limit, success, layout,
          description) -> TaskSpec:
    return TaskSpec(name, split, skill, verb, target, goal, instructions, limit, success,
                    layout, description)


_ALL = [
    # -- seen ---------------------------------------------------------------------------
    _spec("pick_cube", "seen", "pick", "pick", "cube", None, _PICK, 10.0, lifted, _layout_pick,
          "lift a coloured cube among distractors"),
    _spec("pick_cylinder", "seen", "pick", "pick", "cylinder", None, _PICK, 10.0, lifted,
          _layout_pick, "lift a coloured cylinder among distractors"),
    _spec("place_cube_on_pad", "seen", "pick_place", "place", "cube", "pad", _PLACE_PAD, 15.0,
          on_pad, _layout_pad, "carry a cube onto a coloured pad"),
    _spec("push_cube_to_pad", "seen", "push", "push", "cube", "pad", _PUSH_PAD, 15.0, on_pad,
          _layout_pad, "push a cube along the table onto a pad"),
    _spec("stack_cubes", "seen", "pick_place", "stack", "cube", "cube", _STACK, 15.0, stacked,
          _layout_stack, "stack one cube on another"),
    _spec("cube_in_bowl", "seen", "pick_place", "put_in", "cube", "bowl", _BOWL, 15.0, in_bowl,
          _layout_container, "put a cube into the bowl"),
    _spec("cylinder_in_bin", "seen", "pick_place", "put_in", "cylinder", "bin", _BIN, 15.0,
          in_bin, _layout_container, "put a cylinder into the bin"),
    _spec("open_drawer", "seen", "drawer", "open", "drawer", None, _OPEN_DRAWER, 12.0,
          drawer_open, _layout_drawer, "pull the drawer out by its knob"),
    _spec("close_drawer", "seen", "drawer", "close", "drawer", None, _CLOSE_DRAWER, 12.0,
          drawer_closed, _layout_drawer, "push an open drawer shut"),
    _spec("open_door", "seen", "door", "open", "door", None, _OPEN_DOOR, 15.0, door_open,
          _layout_door, "swing the cabinet door open by its knob"),
    # -- unseen: held-out object/verb/goal combinations ---------------------------------
    _spec("cylinder_in_bowl", "unseen", "pick_place", "put_in", "cylinder", "bowl", _BOWL,
          15.0, in_bowl, _layout_container, "cylinder + bowl (seen: cube + bowl)"),
    _spec("cube_in_bin", "unseen", "pick_place", "put_in", "cube", "bin", _BIN, 15.0, in_bin,
          _layout_container, "cube + bin (seen: cylinder + bin)"),
    _spec("place_cylinder_on_pad", "unseen", "pick_place", "place", "cylinder", "pad",
          _PLACE_PAD, 15.0, on_pad, _layout_pad, "cylinder + pad (seen: cube + pad)"),
    _spec("push_cylinder_to_pad", "unseen", "push", "push", "cylinder", "pad", _PUSH_PAD, 15.0,
          on_pad, _layout_pad, "push + cylinder (seen: push + cube)"),
    _spec("close_door", "unseen", "door", "close", "door", None, _CLOSE_DOOR, 15.0,
          door_closed, _layout_door, "close + door (seen: close drawer, open door)"),
    _spec("cube_in_drawer", "unseen", "pick_place", "put_in", "cube", "drawer", _DRAWER_IN,
          15.0, in_drawer, _layout_in_drawer, "put_in + drawer (seen: drawer only opened)"),
]

TASKS: dict[str, TaskSpec] = {t.name: t for t in _ALL}


def get_task(name: str) -> TaskSpec:
    """The registered task `name`; an unknown name raises with the list of tasks."""
    try:
        return TASKS[name]
    except KeyError:
        raise UnknownTaskError(
            f"unknown task '{name}'; registered tasks: {', '.join(sorted(TASKS))}"
        ) from None


# Tasks a robot cannot do, with the reason (shown by the expert table and in errors).
# The G1 has no tabletop experts yet: its scene loads (fixed base) for the ROS stack.
UNSUPPORTED: dict[str, dict[str, str]] = {
    "g1": {name: "no scripted experts for the G1's hand yet" for name in TASKS},
    "so101": {
        "cube_in_drawer": (
            "the SO-101's jaw gripper (6.5 cm from the open moving jaw to the back of the "
            "fixed jaw) does not fit between the knob and the cabinet face of a drawer "
            "scaled to its reach, and its opening jaw pushes the drawer shut; the "
            "scripted expert solved 1-3 of 10 seeds"
        ),
    },
}


def tasks_for_robot(robot: str, split: str | None = None) -> list[str]:
    """Tasks `robot` can do (optionally in one split), registry order."""
    names = list(TASKS) if split is None else tasks_in_split(split)
    return [n for n in names if n not in UNSUPPORTED.get(robot, {})]


def check_supported(robot: str, task: str) -> None:
    """Raise `TaskNotSupportedError` (with the reason) if `robot` cannot do `task`."""
    get_task(task)
    reason = UNSUPPORTED.get(robot, {}).get(task)
    if reason is not None:
        raise TaskNotSupportedError(f"task '{task}' is not supported on robot '{robot}': "
                                    f"{reason}")


def tasks_in_split(split: str) -> list[str]:
    """Names of the tasks in `split` ("seen" or "unseen"), registry order."""
    if split not in SPLITS:
        raise ValueError(f"unknown split '{split}'; splits are {SPLITS}")
    return [name for name, t in TASKS.items() if t.split == split]

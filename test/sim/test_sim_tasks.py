"""Task registry and every task's success predicate (true and false, objects placed directly)."""

import numpy as np
import pytest

from vla_ros.sim.tasks import (
    SPLITS,
    TASKS,
    LayoutError,
    UnknownTaskError,
    door_closed,
    door_open,
    drawer_closed,
    drawer_open,
    get_task,
    in_bin,
    in_bowl,
    in_drawer,
    lifted,
    on_pad,
    stacked,
    tasks_in_split,
)


@pytest.fixture(scope="module")
def env(panda_env):
    return panda_env


def test_registry_has_enough_tasks_in_both_splits():
    assert len(TASKS) >= 12
    seen, unseen = tasks_in_split("seen"), tasks_in_split("unseen")
    assert seen and unseen and not set(seen) & set(unseen)
    assert set(seen) | set(unseen) == set(TASKS)
    for spec in TASKS.values():
        assert len(spec.instructions) >= 3, spec.name
        assert spec.time_limit > 0


def test_unseen_tasks_hold_out_combinations_never_seen_together():
    seen = {(t.skill, t.verb, t.target_kind, t.goal_kind) for t in map(get_task,
                                                                        tasks_in_split("seen"))}
    for name in tasks_in_split("unseen"):
        t = get_task(name)
        assert (t.skill, t.verb, t.target_kind, t.goal_kind) not in seen, name


def test_unknown_task_and_split_name_the_choices():
    with pytest.raises(UnknownTaskError, match="pick_cube"):
        get_task("pick_the_moon")
    with pytest.raises(ValueError, match=str(SPLITS)):
        tasks_in_split("training")


def test_instances_vary_with_the_seed_and_name_the_target_colour(env):
    instructions, positions = set(), []
    for seed in range(4):
        inst = env.reset(seed=seed, task="cube_in_bowl")
        assert inst.colors[inst.target] in inst.instruction
        assert inst.target in inst.active and "bowl" in inst.active
        instructions.add(inst.instruction)
        positions.append(env.object_pose(inst.target)[0])
    assert len(instructions) > 1
    assert np.ptp(np.array(positions)[:, :2], axis=0).max() > 0.01


# -- predicates ------------------------------------------------------------------------

def _rest_z(env, name):
    return env.robot.table_top_z + env.scene.objects[name].rest_z


def _put(env, name, xy, z=None):
    env.set_object_pose(name, [xy[0], xy[1], _rest_z(env, name) if z is None else z])


def _make_lifted(env, inst, ok):
    xy = env.object_pose(inst.target)[0][:2]
    _put(env, inst.target, xy, _rest_z(env, inst.target) + (0.1 if ok else 0.0))


def _make_on_pad(env, inst, ok):
    pad = env.object_pose(inst.goal)[0][:2]
    _put(env, inst.target, pad if ok else pad + [0.1, 0.0])


def _make_stacked(env, inst, ok):
    base = env.object_pose(inst.goal)[0]
    h = env.scene.objects[inst.goal].dims["half"]
    if ok:
        _put(env, inst.target, base[:2], base[2] + 2 * h)
    else:
        _put(env, inst.target, base[:2] + [0.0, 0.08])


def _make_in_container(env, inst, ok):
    pos = env.object_pose(inst.goal)[0]
    half = env.scene.objects[inst.target].half_height
    if ok:
        _put(env, inst.target, pos[:2], pos[2] + 0.012 + half)
    else:
        _put(env, inst.target, pos[:2] + [0.0, 0.25])


def _make_in_drawer(env, inst, ok):
    if not ok:
        return  # the layout starts with the object on the table, in front of the drawer
    T = env.object_frame("drawer")
    d = env.scene.objects["drawer_cabinet"].dims
    half = env.scene.objects[inst.target].half_height
    p = T[:3, :3] @ np.array([d["inner_hx"], 0.0, 0.01 + half]) + T[:3, 3]
    env.set_object_pose(inst.target, p)


def _make_drawer(env, inst, ok, want_open):
    travel = env.scene.objects["drawer_cabinet"].dims["travel"]
    opened = 0.9 * travel
    env.set_joint_value("drawer_slide", opened if ok == want_open else 0.0)


def _make_door(env, inst, ok, want_open):
    env.set_joint_value("door_hinge", 1.3 if ok == want_open else 0.0)


MAKERS = {
    lifted: _make_lifted,
    on_pad: _make_on_pad,
    stacked: _make_stacked,
    in_bowl: _make_in_container,
    in_bin: _make_in_container,
    in_drawer: _make_in_drawer,
    drawer_open: lambda env, inst, ok: _make_drawer(env, inst, ok, True),
    drawer_closed: lambda env, inst, ok: _make_drawer(env, inst, ok, False),
    door_open: lambda env, inst, ok: _make_door(env, inst, ok, True),
    door_closed: lambda env, inst, ok: _make_door(env, inst, ok, False),
}


@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("ok", [True, False])
def test_success_predicate(env, task, ok):
    spec = get_task(task)
    assert spec.success_fn in MAKERS, f"{task}: predicate without a test"
    inst = env.reset(seed=0, task=task)
    assert not spec.success(env, inst), f"{task} already solved at reset"
    MAKERS[spec.success_fn](env, inst, ok)
    assert spec.success(env, inst) is ok


def test_on_pad_needs_the_object_resting_not_held_above(env):
    inst = env.reset(seed=0, task="place_cube_on_pad")
    pad = env.object_pose(inst.goal)[0][:2]
    _put(env, inst.target, pad, _rest_z(env, inst.target) + 0.05)
    assert not on_pad(env, inst)


def test_stacked_needs_the_top_cube_centred(env):
    inst = env.reset(seed=0, task="stack_cubes")
    base = env.object_pose(inst.goal)[0]
    h = env.scene.objects[inst.goal].dims["half"]
    _put(env, inst.target, base[:2] + [1.2 * h, 0.0], base[2] + 2 * h)
    assert not stacked(env, inst)


# -- background fixtures (training-data scenes) ----------------------------------------

CABINETS = ("drawer_cabinet", "door_cabinet")


def _on_table(env, name):
    return env.object_pose(name)[0][2] > env.robot.table_top_z - 0.05


def test_usual_object_scenes_have_no_cabinet(env):
    for seed in range(5):
        inst = env.reset(seed=seed, task="pick_cube")
        assert not any(_on_table(env, c) for c in CABINETS)
        assert "background_fixture" not in inst.params


@pytest.mark.parametrize("task", ["pick_cube", "push_cube_to_pad", "stack_cubes",
                                  "cube_in_bowl"])
def test_background_fixture_stands_a_cabinet_behind_clear_objects(env, task):
    kinds = set()
    for seed in range(8):
        inst = env.reset(seed=seed, task=task, background_fixture=True)
        cab = inst.params["background_fixture"]
        kinds.add(cab)
        assert cab in CABINETS and cab in inst.active and _on_table(env, cab)
        # the unused cabinet takes a colour of its own: an instruction's colour stays unique
        others = [c for n, c in inst.colors.items() if n != cab]
        assert inst.colors[cab] not in others
        # every loose object is in front of the cabinet and off its footprint
        cab_xy = env.object_pose(cab)[0][:2]
        clearance = env.scene.objects[cab].radius
        for name in inst.active:
            if name == cab:
                continue
            xy = env.object_pose(name)[0][:2]
            assert xy[0] < cab_xy[0], (task, seed, name)
            assert np.linalg.norm(xy - cab_xy) > clearance, (task, seed, name)
    assert kinds == set(CABINETS)


def test_background_fixture_is_reproducible_and_refused_for_cabinet_tasks(env):
    a = env.reset(seed=3, task="place_cube_on_pad", background_fixture=True)
    pa = {n: env.object_pose(n)[0].copy() for n in a.active}
    b = env.reset(seed=3, task="place_cube_on_pad", background_fixture=True)
    assert a.active == b.active and a.instruction == b.instruction
    for n in a.active:
        np.testing.assert_allclose(env.object_pose(n)[0], pa[n])
    with pytest.raises(LayoutError, match="background fixture"):
        env.reset(seed=0, task="open_drawer", background_fixture=True)


def test_expert_solves_a_pick_in_front_of_a_cabinet(env):
    from vla_ros.sim.rollout import run_expert_episode

    solved = [run_expert_episode(env, "pick_cube", seed, background_fixture=True).success
              for seed in range(2)]
    assert all(solved)

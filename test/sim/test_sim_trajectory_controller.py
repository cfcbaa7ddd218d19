"""joint_trajectory_controller semantics of the pure JointTrajectoryController."""

import logging

import numpy as np
import pytest

from vla_ros.sim.trajectory_controller import (
    JointTrajectoryController,
    TrajectoryError,
    TrajectoryPoint,
)

NAMES = ["a", "b", "c"]


def make(q0=(0.0, 0.0, 0.0)):
    return JointTrajectoryController(NAMES, [-1, -1, -1], [1, 1, 1], initial_positions=q0)


def P(pos, t, vel=None):
    return TrajectoryPoint(positions=pos, time_from_start=t, velocities=vel)


def test_holds_initial_position_without_commands():
    c = make((0.1, -0.2, 0.3))
    for t in (0.0, 1.0, 100.0):
        q, v = c.sample(t)
        np.testing.assert_allclose(q, [0.1, -0.2, 0.3])
        np.testing.assert_allclose(v, 0.0)
    assert not c.is_moving(5.0)


def test_linear_interpolation_from_current_state_and_hold_after_last_point():
    c = make()
    c.command(NAMES, [P([0.4, 0.2, -0.2], 1.0), P([0.8, 0.2, -0.2], 2.0)], now=0.0)
    np.testing.assert_allclose(c.sample(0.5)[0], [0.2, 0.1, -0.1])  # current -> first point
    np.testing.assert_allclose(c.sample(1.0)[0], [0.4, 0.2, -0.2])
    q, v = c.sample(1.5)
    np.testing.assert_allclose(q, [0.6, 0.2, -0.2])
    np.testing.assert_allclose(v, [0.4, 0.0, 0.0])
    assert c.is_moving(1.9)
    q, v = c.sample(10.0)  # holds the last point
    np.testing.assert_allclose(q, [0.8, 0.2, -0.2])
    np.testing.assert_allclose(v, 0.0)
    assert not c.is_moving(10.0)


def test_cubic_hermite_when_velocities_given():
    c = make()
    c.command(["a"], [P([0.5], 1.0, [0.0]), P([0.5], 2.0, [0.0])], now=0.0)
    q_mid, v_mid = c.sample(0.5)
    # Hermite from (0, v=0) to (0.5, v=0): smoothstep, value 0.25 at the midpoint and
    # zero velocity at both ends (a linear ramp would have constant velocity 0.5).
    assert q_mid[0] == pytest.approx(0.25)
    assert v_mid[0] == pytest.approx(0.75)
    assert c.sample(0.999)[1][0] == pytest.approx(0.0, abs=0.01)
    assert c.sample(0.25)[0][0] < 0.25 * 0.5  # slower start than linear


def test_hermite_respects_given_velocity_at_a_point():
    c = make()
    c.command(["a"], [P([0.2], 1.0, [0.3]), P([0.5], 2.0, [0.0])], now=0.0)
    _, v = c.sample(1.0 + 1e-9)
    assert v[0] == pytest.approx(0.3, abs=1e-6)


def test_new_trajectory_replaces_old_from_current_command():
    c = make()
    c.command(["a"], [P([1.0], 1.0)], now=0.0)
    q_now = c.sample(0.5)[0].copy()  # a = 0.5, moving up
    c.command(["a"], [P([0.0], 1.0)], now=0.5)  # go back down from where we are
    np.testing.assert_allclose(c.sample(0.5)[0], q_now)  # no jump at the switch
    assert c.sample(1.0)[0][0] == pytest.approx(0.25)
    assert c.sample(1.5)[0][0] == pytest.approx(0.0)


def test_future_start_keeps_old_trajectory_until_the_new_start():
    c = make()
    c.command(["a"], [P([1.0], 2.0)], now=0.0)
    c.command(["a"], [P([0.0], 1.0)], now=0.0, start_time=1.0)
    assert c.sample(0.5)[0][0] == pytest.approx(0.25)  # old still running
    assert c.sample(1.0)[0][0] == pytest.approx(0.5)  # switch: from old's state at t=1
    assert c.sample(1.5)[0][0] == pytest.approx(0.25)
    assert c.sample(3.0)[0][0] == pytest.approx(0.0)


def test_measured_state_is_used_when_given():
    c = make()
    c.command(NAMES, [P([1.0, 0.0, 0.0], 1.0)], now=0.0, current_positions=[0.5, 0.0, 0.0])
    assert c.sample(0.5)[0][0] == pytest.approx(0.75)


def test_empty_trajectory_stops_and_holds():
    c = make()
    c.command(["a"], [P([1.0], 1.0)], now=0.0)
    q_stop = c.sample(0.4)[0].copy()
    result = c.command([], [], now=0.4)
    assert "stopped" in result.warnings[0]
    for t in (0.4, 0.8, 5.0):
        np.testing.assert_allclose(c.sample(t)[0], q_stop)
        np.testing.assert_allclose(c.sample(t)[1], 0.0)


def test_unknown_joint_is_rejected_and_old_trajectory_kept():
    c = make()
    c.command(["a"], [P([1.0], 1.0)], now=0.0)
    with pytest.raises(TrajectoryError, match="unknown joint.*'zz'"):
        c.command(["a", "zz"], [P([0.0, 0.0], 1.0)], now=0.5)
    assert c.sample(1.0)[0][0] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("names", "points", "match"),
    [
        (["a", "a"], [P([0, 0], 1.0)], "duplicate"),
        (["a", "b"], [P([0.0], 1.0)], "1 positions for 2 joint names"),
        (["a"], [P([0.1], 1.0), P([0.2], 1.0)], "not after the previous"),
        (["a"], [P([np.nan], 1.0)], "non-finite"),
        (["a"], [P([0.1], 1.0, [0.0]), P([0.2], 2.0)], "all points or none"),
        (["a"], [P([0.1], -1.0)], "must be >= 0"),
    ],
)
def test_malformed_trajectories_are_rejected(names, points, match):
    with pytest.raises(TrajectoryError, match=match):
        make().command(names, points, now=0.0)


def test_trajectory_ending_in_the_past_is_rejected():
    with pytest.raises(TrajectoryError, match="ends in the past"):
        make().command(["a"], [P([0.1], 1.0)], now=5.0, start_time=2.0)


def test_targets_beyond_limits_are_clamped_with_warning(caplog):
    c = make()
    with caplog.at_level(logging.WARNING):
        result = c.command(["a", "b"], [P([1.5, -3.0], 1.0)], now=0.0)
    assert len(result.warnings) == 2
    assert "'a'" in result.warnings[0] and "clamped" in result.warnings[0]
    assert "'b'" in result.warnings[1]
    assert any("clamped" in r.message for r in caplog.records)
    np.testing.assert_allclose(c.sample(2.0)[0], [1.0, -1.0, 0.0])


def test_partial_joint_set_keeps_others_holding():
    c = make((0.0, 0.3, -0.3))
    c.command(NAMES, [P([0.5, 0.5, 0.5], 1.0)], now=0.0)
    held = c.sample(0.5)[0].copy()  # b and c mid-motion
    c.command(["a"], [P([-0.5], 1.0)], now=0.5)
    for t in (0.5, 1.0, 3.0):
        q = c.sample(t)[0]
        np.testing.assert_allclose(q[1:], held[1:])
    assert c.sample(3.0)[0][0] == pytest.approx(-0.5)


def test_past_points_are_dropped_with_warning():
    c = make()
    result = c.command(["a"], [P([0.2], 0.5), P([0.6], 2.0)], now=1.0, start_time=0.1)
    assert any("past" in w for w in result.warnings)
    assert c.sample(2.1)[0][0] == pytest.approx(0.6)
    assert 0.0 < c.sample(1.5)[0][0] < 0.6


def test_reset_drops_trajectories():
    c = make()
    c.command(["a"], [P([1.0], 1.0)], now=0.0)
    c.reset([0.2, 0.2, 0.2], now=0.3)
    np.testing.assert_allclose(c.sample(2.0)[0], [0.2, 0.2, 0.2])

"""Chunk execution strategies: the maths of ensembling, blending, freezing and timing."""

import math
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vla_ros.policy.interface import ActionChunk, Observation
from vla_ros.policy.strategies import (
    STRATEGIES,
    AsyncExecutor,
    ChunkError,
    OpenLoopExecutor,
    RtcExecutor,
    TemporalEnsembleExecutor,
    as_timed_chunk,
    ensemble_weights,
    make_executor,
    merge_rtc,
    rtc_soft_mask,
)
from vla_ros.policy.strategies_sim import SyntheticChunks, rehearse
from vla_ros.policy.strategies_worker import InferenceWorker

DT = 0.1


def ramp_chunk(stamp, horizon=10, dims=2, offset=0.0, slope=1.0):
    """Actions equal to slope * (their setpoint time) + offset: easy to predict by hand."""
    times = stamp + (np.arange(horizon) + 1) * DT
    return np.repeat((slope * times + offset)[:, None], dims, axis=1), stamp, DT


# -- ensembling -----------------------------------------------------------------------------
def test_ensemble_weights_are_normalised_exponentials_favouring_the_oldest():
    w = ensemble_weights(5, 0.3)
    assert w.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(w[1:] / w[:-1], math.exp(-0.3))
    assert np.all(np.diff(w) < 0)
    np.testing.assert_allclose(ensemble_weights(4, 0.0), 0.25)
    with pytest.raises(ValueError, match="at least one"):
        ensemble_weights(0, 0.1)


def test_temporal_ensemble_averages_overlapping_chunks_with_act_weights():
    rng = np.random.default_rng(3)
    m = 0.5
    ex = TemporalEnsembleExecutor(m=m)
    chunks = [(rng.normal(size=(6, 3)), s * DT, DT) for s in range(3)]  # stamps 0, .1, .2
    for chunk in chunks:
        ex.push(chunk)
    t = 0.4  # index 3 of chunk 0, 2 of chunk 1, 1 of chunk 2
    got = ex.action_at(t)
    preds = [chunks[0][0][3], chunks[1][0][2], chunks[2][0][1]]
    raw = [math.exp(-m * i) for i in range(3)]
    expected = sum(w * p for w, p in zip(raw, preds, strict=True)) / sum(raw)
    np.testing.assert_allclose(got, expected)
    # Past chunk 0's end (t = 0.6 is its last step) only chunks 1 and 2 remain.
    got = ex.action_at(0.7)
    expected = (chunks[1][0][5] + math.exp(-m) * chunks[2][0][4]) / (1 + math.exp(-m))
    np.testing.assert_allclose(got, expected)


def test_temporal_ensemble_asks_for_a_chunk_every_interval():
    ex = TemporalEnsembleExecutor(interval=3)
    assert ex.should_infer(0.0)
    ex.inference_started(0.0)
    assert not ex.should_infer(0.0), "must not ask twice while a request is out"
    ex.push(ramp_chunk(0.0))
    assert not ex.should_infer(0.2)
    assert ex.should_infer(0.3)


# -- time alignment and expiry -----------------------------------------------------------
@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_late_chunk_is_time_aligned_to_its_observation_stamp(name):
    ex = make_executor(name)
    actions, stamp, dt = ramp_chunk(2.0)
    arrival = stamp + 0.35  # inference took 3.5 steps
    ex.push((actions, stamp, dt), now=arrival)
    got = ex.action_at(arrival)
    k = math.floor(0.35 / dt) - 1  # the last setpoint at or before the arrival time
    np.testing.assert_allclose(got, actions[k])
    np.testing.assert_allclose(ex.action_at(stamp + 0.5), actions[4])


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_past_the_end_of_the_last_chunk_nothing_is_valid(name):
    ex = make_executor(name)
    assert ex.action_at(0.0) is None, "no chunk yet: the caller must hold"
    actions, stamp, dt = ramp_chunk(0.0, horizon=5)
    ex.push((actions, stamp, dt))
    np.testing.assert_allclose(ex.action_at(0.5), actions[4])  # last setpoint time
    assert ex.action_at(0.6) is None
    assert ex.should_infer(0.6)
    assert ex.stats.idle_steps == 2


@given(stamp=st.floats(-100, 100), dt=st.floats(0.005, 0.5), k=st.integers(0, 49),
       frac=st.floats(0.0, 0.99))
@settings(max_examples=60, deadline=None)
def test_time_maps_to_the_step_whose_setpoint_has_come(stamp, dt, k, frac):
    chunk = as_timed_chunk((np.arange(50.0)[:, None], stamp, dt))
    t = stamp + (k + 1 + frac) * dt
    assert chunk.at(t)[0] == k


def test_open_loop_executes_k_steps_then_holds_until_the_next_chunk():
    ex = OpenLoopExecutor(steps=3)
    actions, _, _ = ramp_chunk(0.0)
    ex.push((actions, 0.0, DT))
    got = [ex.action_at(0.1 * i) for i in range(1, 6)]
    for i in range(3):
        np.testing.assert_allclose(got[i], actions[i])
    assert got[3] is None and got[4] is None
    assert ex.stats.idle_steps == 2
    assert ex.stats.idle_time == pytest.approx(0.1)  # from the first None to the next call


# -- seams ---------------------------------------------------------------------------------
def test_a_hard_switch_scores_exactly_the_gap_between_the_chunks():
    ex = OpenLoopExecutor()
    ex.push(ramp_chunk(0.0, offset=0.0))
    for i in range(1, 4):
        ex.action_at(0.1 * i)
    ex.push(ramp_chunk(0.3, offset=0.25))  # same slope: the only jump is the offset
    ex.action_at(0.4)
    ex.action_at(0.5)
    assert ex.stats.seam_jumps == [pytest.approx(0.25)]
    assert ex.stats.max_step_change == pytest.approx(0.35)  # 0.25 jump + 0.1 motion


@pytest.mark.parametrize("blender", [AsyncExecutor(blend_steps=4), RtcExecutor(blend_steps=4)])
def test_blending_spreads_a_gap_over_the_window(blender):
    blender.push(ramp_chunk(0.0, horizon=20))
    for i in range(1, 6):
        blender.action_at(0.1 * i)
    blender.push(ramp_chunk(0.3, horizon=20, offset=1.0), now=0.55)
    outputs = [blender.action_at(0.1 * i) for i in range(6, 14)]
    assert blender.stats.seam_jumps[0] < 0.5  # a hard switch would jump by 1.0
    # After the window the new chunk is executed as is.
    np.testing.assert_allclose(outputs[-1], 1.0 + 1.3)


def test_async_and_rtc_seams_are_smaller_than_naive_switching():
    source = SyntheticChunks(dims=3, horizon=20, dt=0.05, seed=7)
    results = {}
    for label, ex in {"naive": AsyncExecutor(blend_steps=0),
                      "open_loop": OpenLoopExecutor(),
                      "async": AsyncExecutor(blend_steps=5),
                      "rtc": RtcExecutor(blend_steps=8)}.items():
        run = rehearse(ex, source, duration=10.0, control_dt=0.05, latency=0.2)
        results[label] = run.stats
    for smooth in ("async", "rtc"):
        assert results[smooth].max_seam_jump < results["naive"].max_seam_jump
        assert results[smooth].mean_seam_jump < 0.5 * results["naive"].mean_seam_jump
        assert len(results[smooth].seam_jumps) >= 10
    # Async inference never waits once running; open loop waits the latency every chunk.
    assert results["async"].idle_time < 0.3
    assert results["open_loop"].idle_time > 0.15 * (results["open_loop"].chunks - 1)


# -- RTC --------------------------------------------------------------------------------------
def test_rtc_soft_mask_decays_from_near_one_to_near_zero():
    mask = rtc_soft_mask(8)
    assert mask.shape == (8,)
    assert np.all(np.diff(mask) < 0)
    assert 0.5 < mask[0] < 1.0 and 0.0 < mask[-1] < 0.05
    assert rtc_soft_mask(0).shape == (0,)


@given(delay=st.integers(0, 8), commit=st.integers(0, 3), blend=st.integers(0, 8),
       seed=st.integers(0, 1000))
@settings(max_examples=60, deadline=None)
def test_rtc_frozen_steps_equal_the_old_chunk_exactly(delay, commit, blend, seed):
    rng = np.random.default_rng(seed)
    old = as_timed_chunk((rng.normal(size=(16, 4)), 0.0, DT))
    new = as_timed_chunk((rng.normal(size=(16, 4)), 0.4, DT))
    arrival = 0.4 + delay * DT
    merged, frozen, window = merge_rtc(old, new, arrival, commit, blend)
    times = new.stamp + (np.arange(16) + 1) * DT
    expected_frozen = int(np.sum(times < arrival + commit * DT - 1e-9))
    assert frozen == expected_frozen
    for k in range(frozen):
        assert np.array_equal(merged.actions[k], old.at_hold(times[k]))
    assert np.array_equal(merged.actions[frozen + window:], new.actions[frozen + window:])
    assert window <= blend


def test_rtc_executes_the_committed_steps_from_the_old_plan():
    rng = np.random.default_rng(0)
    old_actions = rng.normal(size=(20, 2))
    ex = RtcExecutor(blend_steps=5, commit_steps=2)
    ex.push((old_actions, 0.0, DT), now=0.0)
    ex.action_at(0.3)
    ex.push((rng.normal(size=(20, 2)), 0.2, DT), now=0.45)  # took 2.5 steps
    # Arrival at 0.45 with commit_steps=2: setpoints before 0.65 are committed.
    assert np.array_equal(ex.action_at(0.5), old_actions[4])
    assert np.array_equal(ex.action_at(0.6), old_actions[5])
    assert not np.array_equal(ex.action_at(0.7), old_actions[6])
    assert ex.last_frozen_steps == 4  # new-chunk steps for 0.3 .. 0.6


def test_rtc_guidance_weights_freeze_the_expected_delay():
    ex = RtcExecutor(blend_steps=4, commit_steps=1)
    ex.push(ramp_chunk(0.0, horizon=20), now=0.3)
    ex.push(ramp_chunk(0.5, horizon=20), now=0.8)  # 3 steps of latency, twice
    prefix, weights = ex.guidance(1.0, 10, DT)
    assert prefix.shape == (10, 2) and weights.shape == (10,)
    np.testing.assert_allclose(weights[:4], 1.0)  # 3 steps of delay + 1 committed
    assert np.all(np.diff(weights[3:9]) < 0) and weights[-1] == 0.0
    np.testing.assert_allclose(prefix[0], 1.1)  # the plan's value at 1.1 s


# -- bookkeeping and errors ------------------------------------------------------------------
def test_bad_chunks_are_rejected_with_the_place_named():
    ex = AsyncExecutor()
    bad = np.zeros((4, 2))
    bad[2, 1] = np.nan
    with pytest.raises(ChunkError, match=r"action\[2, 1\]"):
        ex.push((bad, 0.0, DT))
    with pytest.raises(ChunkError, match="dt"):
        ex.push((np.zeros((4, 2)), 0.0, 0.0))
    with pytest.raises(ChunkError, match=r"\[H, D\]"):
        ex.push((np.zeros(4), 0.0, DT))
    ex.push((np.zeros((4, 2)), 0.0, DT))
    with pytest.raises(ChunkError, match="3 action dimensions, earlier chunks had 2"):
        ex.push((np.zeros((4, 3)), 0.1, DT))
    with pytest.raises(ChunkError, match="ActionChunk"):
        ex.push([1, 2])


def test_make_executor_names_the_choices():
    with pytest.raises(ValueError, match="open_loop"):
        make_executor("fastest")
    with pytest.raises(ValueError, match="bad options"):
        make_executor("rtc", window=3)
    assert make_executor("temporal_ensemble", m=0.2).m == 0.2


def test_action_chunks_are_accepted_and_reset_forgets_everything():
    ex = RtcExecutor(blend_steps=3)
    chunk = ActionChunk(actions=np.ones((5, 2)), names=["a", "b"], dt=DT, stamp=1.0)
    ex.push(chunk)
    np.testing.assert_allclose(ex.action_at(1.1), 1.0)
    ex.reset()
    assert ex.action_at(1.1) is None
    assert ex.stats.chunks == 0 and ex.blend_steps == 3


# -- the worker thread -------------------------------------------------------------------------
class SlowRamp:
    def __init__(self, delay):
        self.delay, self.calls = delay, 0

    def __call__(self, obs):
        self.calls += 1
        time.sleep(self.delay)
        actions, stamp, dt = ramp_chunk(obs.stamp)
        return ActionChunk(actions=actions, names=["a", "b"], dt=dt, stamp=stamp)


def observation(stamp):
    return Observation(images={}, state=np.zeros(2), instruction="go", stamp=stamp)


def test_worker_infers_in_the_background_and_pushes_with_the_arrival_time():
    clock = iter([5.25]).__next__
    ex = AsyncExecutor(blend_steps=0)
    policy = SlowRamp(0.3)
    worker = InferenceWorker(policy, ex, clock=clock)
    started = time.perf_counter()
    assert worker.submit(observation(5.0))
    assert time.perf_counter() - started < 0.25, "submit must not wait for inference"
    assert not worker.submit(observation(5.0)), "one inference at a time"
    assert ex.inference_pending
    assert worker.join(2.0)
    assert worker.completed == 1 and policy.calls == 1 and worker.last_latency >= 0.3
    assert not ex.inference_pending
    np.testing.assert_allclose(ex.action_at(5.25), 5.2)  # time-aligned: step for 5.2 s


def test_worker_hands_errors_to_the_control_loop():
    class Boom(RuntimeError):
        pass

    def failing(obs):
        raise Boom("server unreachable")

    ex = AsyncExecutor()
    worker = InferenceWorker(failing, ex)
    worker.submit(observation(0.0))
    assert worker.join(2.0)
    err = worker.take_error()
    assert isinstance(err, Boom) and "unreachable" in str(err)
    assert worker.take_error() is None
    assert not ex.inference_pending and ex.should_infer(0.0)
    assert worker.failed == 1


def test_push_from_a_thread_while_reading_is_safe():
    ex = TemporalEnsembleExecutor()
    stop = threading.Event()

    def pusher():
        s = 0.0
        while not stop.is_set():
            ex.push(ramp_chunk(s, horizon=30))
            s += DT

    thread = threading.Thread(target=pusher)
    thread.start()
    try:
        for i in range(2000):
            a = ex.action_at(i * 0.001)
            assert a is None or a.shape == (2,)
    finally:
        stop.set()
        thread.join()
    assert ex.stats.chunks > 0


# -- the policy node's hook ------------------------------------------------------------------
def test_chunk_hook_publishes_the_strategys_plan_for_each_chunk():
    from vla_ros.policy.strategies import chunk_hook

    hook = chunk_hook("rtc", None, blend_steps=3, commit_steps=1)
    first = ActionChunk(actions=np.zeros((8, 2)), names=["a", "b"], dt=DT, stamp=0.0)
    out = hook(first)
    np.testing.assert_allclose(out.actions, 0.0)
    second = ActionChunk(actions=np.ones((8, 2)), names=["a", "b"], dt=DT, stamp=0.2,
                         features=np.arange(3.0))
    out = hook(second, now=0.25)
    assert out.stamp == 0.2 and out.names == ["a", "b"]
    np.testing.assert_array_equal(out.features, np.arange(3.0))
    # Setpoints before 0.35 (arrival + 1 committed step) stay on the old plan (zeros).
    np.testing.assert_allclose(out.actions[:1], 0.0)
    assert np.all(np.diff(out.actions[:, 0]) >= 0) and out.actions[-1, 0] == 1.0
    assert hook.executor.stats.steps == 0, "peeking must not count as executing"
    hook.reset()
    assert hook.executor.stats.chunks == 0

    trimmed = chunk_hook("open_loop", None, steps=3)(first)
    assert trimmed.horizon == 3

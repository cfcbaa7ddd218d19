"""EigengraspMap: one K-vector drives every hand, +c0 closes them, round trips, bad input.

Uses the shipped maps in config/eigengrasps (built by scripts/make_eigengrasps.py) and the
pinocchio hand models only to measure fingertips of what the map returns.
"""

import shutil

import numpy as np
import pytest

from vla_ros.retarget.eigengrasp import (
    HANDS,
    MAX_K,
    EigengraspError,
    EigengraspFileError,
    EigengraspInputError,
    EigengraspMap,
    config_dir,
)
from vla_ros.retarget.eigengrasp_hands import load_hand
from vla_ros.retarget.errors import RetargetError

EXPECTED_JOINTS = {
    "panda_gripper": ["panda_finger_joint1", "panda_finger_joint2"],
    "allegro": [f"joint_{i}.0" for i in range(16)],
    "g1_hand": [
        f"right_hand_{f}_joint"
        for f in ("thumb_0", "thumb_1", "thumb_2", "index_0", "index_1", "middle_0", "middle_1")
    ],
}


@pytest.fixture(scope="module")
def robot_hands():
    return {name: load_hand(name) for name in HANDS}


def opening(hand, q):
    """Panda: pad gap; multi-finger hands: mean fingertip-to-palm-centre distance (m)."""
    if hand.spec.mode == "aperture":
        tips = hand.fingertips(q)
        return float(np.linalg.norm(tips[0] - tips[1]))
    return hand.closure(q)


@pytest.mark.parametrize("hand", HANDS)
def test_load_exposes_the_public_api(hand):
    emap = EigengraspMap.load(hand, 5)
    assert emap.k == 5
    assert emap.joint_names == EXPECTED_JOINTS[hand]
    assert emap.names == [f"eigengrasp_{i}" for i in range(5)]
    assert EigengraspMap.load(hand).k == 5  # default k
    q = emap.to_joint_positions(np.zeros(5))
    assert q.shape == (len(EXPECTED_JOINTS[hand]),)
    assert np.all(np.isfinite(q))


def test_same_vector_drives_every_hand_within_limits(robot_hands):
    rng = np.random.default_rng(7)
    for k in (1, 3, 5, 9):
        maps = [EigengraspMap.load(h, k) for h in HANDS]
        coeffs = rng.uniform(-4.0, 4.0, (50, k))  # also beyond the fitted box: must saturate
        for emap in maps:
            q = emap.to_joint_positions(coeffs)
            assert q.shape == (50, len(emap.joint_names))
            hand = robot_hands[emap.hand]
            assert np.all(q >= hand.lower - 1e-12) and np.all(q <= hand.upper + 1e-12), emap.hand
            # Batched and single calls agree.
            np.testing.assert_allclose(emap.to_joint_positions(coeffs[3]), q[3])


def test_panda_fingers_follow_the_urdf_mimic():
    emap = EigengraspMap.load("panda_gripper", 5)
    q = emap.to_joint_positions(np.random.default_rng(1).uniform(-2, 2, (20, 5)))
    np.testing.assert_allclose(q[:, 0], q[:, 1])


@pytest.mark.parametrize("hand", HANDS)
def test_positive_first_coefficient_closes_every_hand_monotonically(hand, robot_hands):
    rh = robot_hands[hand]
    for k in (1, 5):
        emap = EigengraspMap.load(hand, k)
        c0 = np.linspace(emap.coeff_low[0], emap.coeff_high[0], 25)
        coeffs = np.zeros((len(c0), k))
        coeffs[:, 0] = c0
        openings = np.array([opening(rh, q) for q in emap.to_joint_positions(coeffs)])
        steps = np.diff(openings)
        assert np.all(steps <= 1e-4), f"{hand} k={k} opens while closing: {steps.max():.5f} m"
        assert openings[0] - openings[-1] > 0.02, f"{hand}: c0 barely closes the hand"


@pytest.mark.parametrize("hand", ["allegro", "g1_hand"])
def test_first_coefficient_closes_the_hands_from_other_postures_too(hand, robot_hands):
    """Multi-finger hands close monotonically along +c0 whatever the other synergies say
    (the gripper is exempt: see docs/eigengrasps.md, Limits)."""
    rh, emap = robot_hands[hand], EigengraspMap.load(hand, 5)
    for start in np.random.default_rng(4).uniform(-1.0, 1.0, (8, 5)):
        coeffs = np.tile(start, (15, 1))
        coeffs[:, 0] = np.linspace(emap.coeff_low[0], emap.coeff_high[0], 15)
        openings = np.array([rh.closure(q) for q in emap.to_joint_positions(coeffs)])
        assert np.diff(openings).max() <= 1e-3, f"{hand} from {start.round(2)}"


@pytest.mark.parametrize("hand", HANDS)
def test_stored_map_agrees_with_the_hand_solver(hand, robot_hands):
    """Catches a map left stale after the hand specs or the synergies changed."""
    from vla_ros.retarget.eigengrasp_synergy import SynergyBasis

    basis = SynergyBasis.load(config_dir() / "human_synergies.yaml")
    rh, emap = robot_hands[hand], EigengraspMap.load(hand, 3)
    coeffs = np.random.default_rng(6).uniform(emap.coeff_low, emap.coeff_high, (8, 3))
    errs = []
    for c in coeffs:
        q_map = emap.to_joint_positions(c)
        q_solver = rh.solve(basis.posture(c))
        errs.append(np.linalg.norm(rh.fingertips(q_map) - rh.fingertips(q_solver), axis=1).mean())
    assert np.mean(errs) < 0.012, f"{hand}: map and solver fingertips differ by {errs}"


@pytest.mark.parametrize("hand", HANDS)
def test_round_trip_from_and_to_joint_positions(hand):
    emap = EigengraspMap.load(hand, 5)
    rng = np.random.default_rng(3)
    coeffs = rng.uniform(emap.coeff_low, emap.coeff_high, (12, 5)) * 0.7
    q = emap.to_joint_positions(coeffs)
    back = emap.from_joint_positions(q)
    assert back.shape == (12, 5)
    assert np.all(back >= emap.coeff_low - 1e-9) and np.all(back <= emap.coeff_high + 1e-9)
    span = emap.upper - emap.lower
    err = np.abs(emap.to_joint_positions(back) - q) / span
    assert np.median(err) < 0.01, f"{hand}: round trip off by {np.median(err):.3f} of range"
    assert err.max() < 0.1


@pytest.mark.parametrize("hand", HANDS)
def test_single_vector_fast_path_matches_the_general_path(hand):
    emap = EigengraspMap.load(hand, 4)
    for c in np.random.default_rng(2).uniform(-4, 4, (20, 4)):
        before = c.copy()
        fast = emap.to_joint_positions(c)  # float64 (k,) array
        np.testing.assert_array_equal(c, before)  # input untouched
        np.testing.assert_allclose(fast, emap.to_joint_positions(c.tolist()), atol=1e-12)
        np.testing.assert_allclose(fast, emap.to_joint_positions(c[None])[0], atol=1e-12)


def test_coefficients_beyond_the_box_saturate():
    emap = EigengraspMap.load("allegro", 3)
    inside = emap.to_joint_positions(emap.coeff_high)
    np.testing.assert_allclose(emap.to_joint_positions(emap.coeff_high + 50.0), inside)


def test_smaller_k_is_the_larger_map_with_zero_tail():
    rng = np.random.default_rng(5)
    c = rng.uniform(-1, 1, 3)
    for hand in HANDS:
        small = EigengraspMap.load(hand, 3).to_joint_positions(c)
        large = EigengraspMap.load(hand, MAX_K).to_joint_positions(np.r_[c, np.zeros(MAX_K - 3)])
        np.testing.assert_allclose(small, large, atol=1e-12)


@pytest.mark.parametrize(
    "coeffs, match",
    [
        (np.array([0.0, np.nan, 0.0, 0.0, 0.0]), r"NaN/inf at index \[1\]"),
        (np.array([0.0, 0.0, 0.0, np.inf, 0.0]), r"NaN/inf at index \[3\]"),
        (np.zeros(4), "length 5"),
        (np.zeros(6), "length 5"),
        (np.zeros((3, 4)), "length 5"),
        (np.float64(1.0), "length 5"),
        (["a", "b", "c", "d", "e"], "must be numbers"),
    ],
)
def test_bad_coefficients_raise_clear_errors(coeffs, match):
    emap = EigengraspMap.load("allegro", 5)
    with pytest.raises(EigengraspInputError, match=match) as info:
        emap.to_joint_positions(coeffs)
    assert "allegro" in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, RetargetError)


def test_bad_joint_positions_raise_clear_errors():
    emap = EigengraspMap.load("g1_hand", 5)
    with pytest.raises(EigengraspInputError, match="length 7"):
        emap.from_joint_positions(np.zeros(16))
    with pytest.raises(EigengraspInputError, match="NaN/inf"):
        emap.from_joint_positions(np.full(7, np.nan))


@pytest.mark.parametrize("k", [0, 10, -1, 2.5, True, "5"])
def test_bad_k_is_refused(k):
    with pytest.raises(EigengraspError, match="k must be an integer in 1..9"):
        EigengraspMap.load("allegro", k)


def test_unknown_hand_names_the_known_ones():
    with pytest.raises(EigengraspError, match="unknown hand 'shadow'.*allegro"):
        EigengraspMap.load("shadow")


def test_missing_or_broken_files_name_the_file(tmp_path):
    with pytest.raises(EigengraspFileError, match="allegro.yaml"):
        EigengraspMap.load("allegro", directory=tmp_path)
    for suffix in (".yaml", ".npz"):
        shutil.copy(config_dir() / f"allegro{suffix}", tmp_path / f"allegro{suffix}")
    np.savez(tmp_path / "allegro.npz", terms=np.zeros((3, 3), dtype=int))
    with pytest.raises(EigengraspFileError, match=r"allegro.npz: missing arrays \['weights'"):
        EigengraspMap.load("allegro", directory=tmp_path)

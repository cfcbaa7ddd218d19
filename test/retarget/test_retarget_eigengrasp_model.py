"""The pieces behind the eigengrasp maps: human hand model, posture generator, PCA, retargeting."""

import numpy as np
import pytest

from vla_ros.retarget.eigengrasp_fit import fit_polynomial, predict, sample_coefficients
from vla_ros.retarget.eigengrasp_hands import HAND_NAMES, HandSpecError, load_hand
from vla_ros.retarget.eigengrasp_human import (
    HAND_LENGTH,
    HUMAN_JOINT_NAMES,
    HUMAN_LOWER,
    HUMAN_UPPER,
    HumanHand,
)
from vla_ros.retarget.eigengrasp_postures import GRASP_TYPES, generate_postures, thumb_ik
from vla_ros.retarget.eigengrasp_synergy import SynergyBasis, SynergyFileError, fit_synergies


@pytest.fixture(scope="module")
def postures():
    return generate_postures(per_type=40, seed=11)


@pytest.fixture(scope="module")
def basis(postures):
    return fit_synergies(postures.q, k=9, meta={"seed": 11})


def test_open_hand_has_adult_proportions():
    hand = HumanHand()
    tips = hand.fingertips(np.zeros(20))
    assert tips.shape == (5, 3)
    middle = tips[2]
    assert abs(middle[0] - HAND_LENGTH) < 0.015  # wrist to middle fingertip
    assert np.all(np.abs(tips[1:, 2]) < 1e-9)  # straight fingers lie in the palm plane
    assert tips[1, 1] < tips[2, 1] < tips[3, 1] < tips[4, 1]  # index radial ... little ulnar
    assert tips[0, 1] < tips[1, 1]  # thumb on the radial side


def test_flexing_curls_fingers_towards_the_palm():
    hand = HumanHand()
    fist = np.zeros(20)
    for j, name in enumerate(HUMAN_JOINT_NAMES):
        if name.endswith("flex") and not name.startswith("thumb"):
            fist[j] = np.deg2rad(80)
    assert hand.closure(fist) < hand.closure(np.zeros(20)) - 0.03
    assert np.all(hand.fingertips(fist)[1:, 2] > 0.0)  # volar side is +z
    batch = np.stack([np.zeros(20), fist])
    np.testing.assert_allclose(hand.fingertips(batch)[1], hand.fingertips(fist))


def test_thumb_ik_reaches_a_reachable_point():
    hand = HumanHand()
    goal_q = np.zeros((1, 20))
    goal_q[0, :4] = np.deg2rad([30, 50, 20, 30])
    target = hand.fingertips(goal_q)[:, 0]
    reached = thumb_ik(hand, np.zeros((1, 20)), target)
    assert np.linalg.norm(hand.fingertips(reached)[:, 0] - target) < 1e-3


def test_postures_are_seeded_plausible_and_cover_every_grasp(postures):
    again = generate_postures(per_type=40, seed=11)
    np.testing.assert_array_equal(postures.q, again.q)
    other = generate_postures(per_type=40, seed=12)
    assert not np.allclose(postures.q, other.q)
    assert postures.q.shape == (40 * len(GRASP_TYPES), 20)
    assert set(postures.grasp) == set(GRASP_TYPES)
    assert np.all(postures.q >= HUMAN_LOWER) and np.all(postures.q <= HUMAN_UPPER)
    hand = HumanHand()
    closure = {g: hand.closure(postures.q[postures.grasp == g]).mean() for g in GRASP_TYPES}
    assert closure["power_cylinder"] < closure["relaxed"] < closure["flat"]
    pinch = postures.q[postures.grasp == "tip_pinch"]
    small = postures.size[postures.grasp == "tip_pinch"] < 0.01
    assert np.median(hand.thumb_gap(pinch[small])) < 0.03  # thumb meets the index pad


def test_generator_refuses_empty_sets():
    with pytest.raises(ValueError, match="per_type"):
        generate_postures(per_type=0)


def test_synergies_are_orthonormal_ordered_and_plus_c0_closes(basis, postures):
    comps = basis.components
    np.testing.assert_allclose(comps @ comps.T, np.eye(9), atol=1e-9)
    assert np.all(np.diff(basis.variance_ratio) <= 1e-12)
    assert basis.explained(3) > 0.7  # a few synergies dominate grasping (Santello 1998)
    hand = HumanHand()
    c = np.zeros((7, 9))
    c[:, 0] = np.linspace(-1.5, 1.5, 7)
    assert np.all(np.diff(hand.closure(basis.posture(c))) < 0)
    # Projection then reconstruction is exact inside the spanned subspace.
    coeffs = basis.project(postures.q[:5])
    inner = basis.mean + (coeffs * basis.std) @ comps
    np.testing.assert_allclose(basis.project(inner), coeffs, atol=1e-9)


def test_synergy_file_round_trip_and_errors(basis, tmp_path):
    path = tmp_path / "syn.yaml"
    basis.save(path)
    loaded = SynergyBasis.load(path)
    np.testing.assert_allclose(loaded.components, basis.components, atol=1e-7)
    assert loaded.meta["seed"] == 11
    path.write_text(path.read_text().replace("coeff_high:", "coeff_top:"))
    with pytest.raises(SynergyFileError, match="syn.yaml: missing field 'coeff_high'"):
        SynergyBasis.load(path)


@pytest.mark.parametrize("name", HAND_NAMES)
def test_retargeting_respects_limits_and_tracks_closure(name, basis):
    hand = load_hand(name)
    c = np.zeros(9)
    openings = []
    for c0 in (-1.5, 0.0, 1.5):
        c[0] = c0
        q = hand.solve(basis.posture(c))
        assert np.all(q >= hand.lower) and np.all(q <= hand.upper)
        tips = hand.fingertips(q)
        gap = np.linalg.norm(tips[0] - tips[1])
        openings.append(gap if hand.spec.mode == "aperture" else hand.closure(q))
    assert openings[0] > openings[1] > openings[2] - 1e-9


def test_fitted_polynomial_reproduces_its_samples(basis):
    """The fit machinery on a small sample: close to the solver where it was trained."""
    hand = load_hand("g1_hand")
    rng = np.random.default_rng(0)
    coeffs = sample_coefficients(basis, 200, rng, k=2)
    assert np.all(coeffs[:, 2:] == 0.0)
    solved = np.array([hand.solve(basis.posture(cc)) for cc in coeffs])
    fit = fit_polynomial(coeffs, solved, hand, degree=3)
    err = np.abs(predict(fit, hand, coeffs) - solved).mean()
    assert err < 0.05


def test_unknown_hand_spec():
    with pytest.raises(HandSpecError, match="unknown hand 'shadow'"):
        load_hand("shadow")

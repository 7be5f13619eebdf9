"""nutgraf.models.attention: a bfloat16 decoding step on CPU computed as two bfloat16
products agrees with float32 attention; everything else is transformers' sdpa unchanged;
load() switches bfloat16 models on CPU to it and leaves float32 ones alone."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from helpers import tiny_llama
from nutgraf import models
from nutgraf.models.attention import NAME, decode_attention, use_fast_decoding

HEADS, KV_HEADS, DIM = 9, 3, 64  # the bundled SmolLM2-135M's shape
GQA = SimpleNamespace(num_key_value_groups=HEADS // KV_HEADS)
# bfloat16 keeps 8 bits of mantissa: outputs of attention (averages of values near 1) agree
# with float32 to about 1e-2.
TOLERANCE = 2e-2


def _inputs(rows: int, positions: int, queries: int = 1) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(rows * 1000 + positions)
    query = torch.randn(rows, HEADS, queries, DIM, generator=generator)
    # The cache's keys and values: views of the first positions of longer buffers.
    buffers = torch.randn(2, rows, KV_HEADS, positions + 40, DIM, generator=generator)
    key, value = buffers[0, :, :, :positions], buffers[1, :, :, :positions]
    return query.bfloat16(), key.bfloat16(), value.bfloat16()


def _float32_reference(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: object
) -> torch.Tensor:
    if isinstance(mask, torch.Tensor) and mask.is_floating_point():
        mask = mask.float()
    output, _ = sdpa_attention_forward(GQA, query.float(), key.float(), value.float(), mask)
    return output


@pytest.mark.parametrize("rows", [3, 18])
def test_a_decoding_step_agrees_with_float32_attention_under_a_padding_mask(rows: int) -> None:
    query, key, value = _inputs(rows, 300)
    mask = torch.ones(rows, 1, 1, 300, dtype=torch.bool)
    mask[1:, :, :, :25] = False  # left padding of all but the first row
    output, weights = decode_attention(GQA, query, key, value, mask)
    assert weights is None
    assert output.dtype == torch.bfloat16 and output.shape == (rows, 1, HEADS, DIM)
    reference = _float32_reference(query, key, value, mask)
    assert torch.allclose(output.float(), reference, atol=TOLERANCE)
    # The mask counts: without it the padded rows come out otherwise.
    unmasked, _ = decode_attention(GQA, query, key, value, None)
    assert not torch.allclose(unmasked[1:].float(), reference[1:], atol=TOLERANCE)
    assert torch.allclose(unmasked[0].float(), reference[0], atol=TOLERANCE)


def test_an_additive_mask_and_an_explicit_scale_are_honoured() -> None:
    query, key, value = _inputs(2, 120)
    additive = torch.zeros(2, 1, 1, 120, dtype=torch.bfloat16)
    additive[0, :, :, 60:] = torch.finfo(torch.bfloat16).min
    output, _ = decode_attention(GQA, query, key, value, additive, scaling=0.05)
    reference, _ = sdpa_attention_forward(
        GQA, query.float(), key.float(), value.float(), additive.float(), scaling=0.05
    )
    assert torch.allclose(output.float(), reference, atol=TOLERANCE)


def test_reading_a_prompt_is_sdpa_itself() -> None:
    query, key, value = _inputs(2, 50, queries=50)
    ours, _ = decode_attention(GQA, query, key, value, None, is_causal=True)
    theirs, _ = sdpa_attention_forward(GQA, query, key, value, None, is_causal=True)
    assert torch.equal(ours, theirs)


def test_float32_steps_are_sdpa_itself() -> None:
    query, key, value = _inputs(3, 80)
    args = (query.float(), key.float(), value.float(), None)
    assert torch.equal(decode_attention(GQA, *args)[0], sdpa_attention_forward(GQA, *args)[0])


def test_a_bfloat16_model_generates_what_float32_attention_gives() -> None:
    model = tiny_llama(torch.bfloat16)
    prompt = torch.randint(3, 300, (2, 40), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(prompt)
    mask[1, :7] = 0  # a left-padded row, as in the worker's batches
    settings = {"max_new_tokens": 12, "do_sample": False, "pad_token_id": 0}
    settings |= {"output_scores": True, "return_dict_in_generate": True}
    with torch.inference_mode():
        plain = model.generate(input_ids=prompt, attention_mask=mask, **settings)
        assert use_fast_decoding(model)
        assert model.config._attn_implementation == NAME
        fast = model.generate(input_ids=prompt, attention_mask=mask, **settings)
    assert torch.equal(fast.sequences, plain.sequences)
    for ours, theirs in zip(fast.scores, plain.scores, strict=True):
        assert torch.allclose(ours.float(), theirs.float(), atol=0.05)


def test_only_bfloat16_models_on_cpu_are_switched() -> None:
    model = tiny_llama(torch.float32)
    assert not use_fast_decoding(model)
    assert model.config._attn_implementation == "sdpa"


def test_load_switches_a_bfloat16_model_and_keeps_float32_on_sdpa(
    tiny_bart_dir: Path, tmp_path: Path
) -> None:
    spec = models.resolve(str(tiny_bart_dir))
    bf16 = models.load(spec, "cpu", tmp_path, "bfloat16")
    assert bf16.model.config._attn_implementation == NAME
    fp32 = models.load(spec, "cpu", tmp_path, "float32")
    assert fp32.model.config._attn_implementation == "sdpa"

"""nutgraf.models.packed: linear layers of bfloat16 CPU models with weights in oneDNN's
layout compute exactly what `nn.Linear` does, a packed model generates the same tokens with
the same scores, and only bfloat16 models on CPU are packed."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from helpers import tiny_llama
from nutgraf import models
from nutgraf.models.packed import PackedLinear, pack_linears

LAYERS = 2  # helpers.tiny_llama's


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("shape", [(3, 96), (3, 1, 96), (2, 40, 96)])
def test_a_packed_linear_is_bit_for_bit_nn_linear(bias: bool, shape: tuple[int, ...]) -> None:
    torch.manual_seed(len(shape) * 10 + bias)
    linear = torch.nn.Linear(96, 200, bias=bias).to(torch.bfloat16)
    hidden = torch.randn(*shape, dtype=torch.bfloat16)
    packed = PackedLinear(linear)
    with torch.inference_mode():
        ours, theirs = packed(hidden), linear(hidden)
    assert ours.shape == (*shape[:-1], 200) and ours.dtype == torch.bfloat16
    assert torch.equal(ours, theirs)
    assert "packed_weight" not in packed.state_dict()  # laid out at load, never saved


def test_a_packed_model_generates_the_same_tokens_and_scores() -> None:
    model = tiny_llama(torch.bfloat16, tied=True)
    prompt = torch.randint(3, 300, (2, 40), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(prompt)
    mask[1, :7] = 0  # a left-padded row, as in the worker's batches
    settings = {"max_new_tokens": 12, "num_beams": 3, "do_sample": False, "pad_token_id": 0}
    settings |= {"output_scores": True, "return_dict_in_generate": True}
    with torch.inference_mode():
        plain = model.generate(input_ids=prompt, attention_mask=mask, **settings)
        # Seven per decoder layer (q, k, v, o, gate, up, down) and the output head.
        assert pack_linears(model) == 7 * LAYERS + 1
        assert isinstance(model.lm_head, PackedLinear)
        assert not any(type(m) is torch.nn.Linear for m in model.modules())
        packed = model.generate(input_ids=prompt, attention_mask=mask, **settings)
    assert torch.equal(packed.sequences, plain.sequences)
    for ours, theirs in zip(packed.scores, plain.scores, strict=True):
        assert torch.equal(ours, theirs)
    # The tied embedding is still the model's own weight, not a packed copy.
    assert model.get_input_embeddings().weight.dtype == torch.bfloat16


def test_float32_models_are_left_alone() -> None:
    model = tiny_llama(torch.float32, tied=True)
    assert pack_linears(model) == 0
    assert type(model.lm_head) is torch.nn.Linear


def test_load_packs_a_bfloat16_model_and_not_a_float32_one(
    tiny_bart_dir: Path, tmp_path: Path
) -> None:
    spec = models.resolve(str(tiny_bart_dir))
    bf16 = models.load(spec, "cpu", tmp_path, "bfloat16")
    assert any(isinstance(m, PackedLinear) for m in bf16.model.modules())
    assert not any(type(m) is torch.nn.Linear for m in bf16.model.modules())
    fp32 = models.load(spec, "cpu", tmp_path, "float32")
    assert not any(isinstance(m, PackedLinear) for m in fp32.model.modules())

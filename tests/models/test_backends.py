"""One backend per family behind one interface: the factory's choice, each family's prompt
and budget, and the in-place key/value cache (tiny random-weight models, no downloads)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nutgraf import models
from nutgraf.models import Backend, LoadedModel, Prompt, backend_for
from nutgraf.models.causal import TITLE_ROOM, CausalBackend
from nutgraf.models.kv_cache import buffered_cache, buffered_layer_class, shared_prompt_cache
from nutgraf.models.seq2seq import Seq2SeqBackend

# Enough of a chat template for a causal backend to render prompts with.
CHAT_TEMPLATE = (
    "{% for m in messages %}<s>{{ m['role'] }}\n{{ m['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def bart(tiny_bart_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    """The tiny BART loaded on the CPU."""
    spec = models.resolve(str(tiny_bart_dir))
    return models.load(spec, "cpu", tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def llama(tiny_bart_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    """A random-weight two-layer Llama with the tiny BART's tokenizer and a chat template."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tiny_bart_dir)
    tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = LlamaForCausalLM(config)
    folder = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return models.load(models.resolve(str(folder)), "cpu", tmp_path_factory.mktemp("cache"))


def test_the_factory_picks_the_backend_of_the_family(bart: LoadedModel, llama: LoadedModel) -> None:
    assert bart.family == "seq2seq" and llama.family == "causal"  # read from their configs
    assert type(backend_for(bart)) is Seq2SeqBackend
    assert type(backend_for(llama)) is CausalBackend
    assert all(isinstance(backend_for(m), Backend) for m in (bart, llama))


def test_the_window_is_the_models_unless_the_deployment_caps_it(bart: LoadedModel) -> None:
    assert backend_for(bart).window == 128
    assert backend_for(bart, 64).window == 64
    assert backend_for(bart, 4096).window == 128  # never above the model's own


def test_seq2seq_reads_the_body_alone(bart: LoadedModel) -> None:
    backend = backend_for(bart)
    prompt = Prompt("Storms flooded two towns.", instruction="Summarize this.", system="Be kind.")
    assert backend.render(prompt) == "Storms flooded two towns."
    # The whole encoder window less BART's two special tokens; the answer has the decoder's.
    assert backend.body_budget(Prompt(""), answer_tokens=300) == 126


def test_seq2seq_generation_stays_inside_the_decoder_positions(bart: LoadedModel) -> None:
    backend = backend_for(bart)
    prompts = ["Storms flooded two towns on Monday.", "The council voted."]
    out = backend.generate(prompts, max_new_tokens=500, min_new_tokens=500)
    assert len(out) == 2
    # 128 decoder positions: at most 126 new tokens, however many were asked for.
    assert all(0 < g.tokens <= 126 for g in out)


def test_causal_reads_a_chat_and_shares_its_window_with_the_answer(llama: LoadedModel) -> None:
    backend = backend_for(llama)
    prompt = Prompt("BODY", instruction="Summarize this.\n\n", system="SYSTEM")
    rendered = backend.render(prompt)
    assert rendered == (
        "<s>system\nSYSTEM</s>\n<s>user\nSummarize this.\n\nBODY</s>\n<s>assistant\n"
    )
    probe = Prompt("", instruction="Summarize this.\n\n", system="SYSTEM")
    overhead = len(llama.tokenizer(backend.render(probe))["input_ids"])
    assert backend.body_budget(probe, answer_tokens=40) == 256 - overhead - 40 - TITLE_ROOM


def test_causal_generation_counts_only_new_tokens(llama: LoadedModel) -> None:
    backend = backend_for(llama)
    short, longer = "<s>user\nThe vote.</s>", "<s>user\nThe council voted on the budget.</s>"
    out = backend.generate([longer, short], max_new_tokens=6)
    assert [0 < g.tokens <= 6 for g in out] == [True, True]
    assert backend.tokenizer.padding_side == "left"


def test_in_place_kv_cache_gives_the_tokens_of_plain_generate(llama: LoadedModel) -> None:
    import torch

    tokenizer, model = llama.tokenizer, llama.model
    tokenizer.padding_side = "left"
    prompts = ["The council voted on the budget for schools.", "Storms flooded two towns."]
    encoded = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    rows, width = encoded["input_ids"].shape
    settings: dict[str, Any] = {"max_new_tokens": 12, "do_sample": False}
    cache = buffered_cache(model, rows, width + 12)
    assert cache is not None, "a plain Llama takes the buffered cache"
    with torch.inference_mode():
        plain = model.generate(**encoded, **settings, pad_token_id=tokenizer.pad_token_id)
        buffered = model.generate(
            **encoded, **settings, pad_token_id=tokenizer.pad_token_id, cache=cache
        )
    assert torch.equal(plain, buffered)
    assert cache.layers[0].key_buffer.shape[2] == width + 12
    assert cache.layers[0].length == plain.shape[1] - 1  # the last token is never fed back


def _beam_outputs(
    backend: Backend, share: bool, prompts: list[str]
) -> tuple[list[Any], list[tuple[int, int]]]:
    """Beam-search generations with the prompt cache shared or not, and the shapes of the
    model inputs that read more than one token (the prompt reads)."""
    reads: list[tuple[int, int]] = []

    def record(_module: Any, _args: Any, kwargs: dict[str, Any]) -> None:
        ids = kwargs.get("input_ids")
        if ids is not None and ids.shape[1] > 1:
            reads.append((int(ids.shape[0]), int(ids.shape[1])))

    hook = backend.loaded.model.register_forward_pre_hook(record, with_kwargs=True)
    try:
        backend.share_prompt = share  # type: ignore[attr-defined]
        out = backend.generate(prompts, max_new_tokens=10, min_new_tokens=4, beam_search=True)
    finally:
        hook.remove()
        backend.share_prompt = True  # type: ignore[attr-defined]
    return out, reads


def test_beams_share_one_read_of_each_prompt_and_give_the_same_answers(
    llama: LoadedModel,
) -> None:
    backend = backend_for(llama)
    prompts = [
        backend.render(Prompt("The council voted on the budget.", "Summarize: ", "Be brief.")),
        backend.render(Prompt("Storms flooded two towns by the river.", "Summarize: ", "")),
    ]
    shared, shared_reads = _beam_outputs(backend, True, prompts)
    plain, plain_reads = _beam_outputs(backend, False, prompts)
    assert shared == plain
    width = backend._encode_batch(prompts)["input_ids"].shape[1]
    # Plain generate() reads every prompt once per beam; shared, once per prompt.
    assert plain_reads == [(2 * 3, width)]
    assert shared_reads == [(2, width - 1)]


def test_in_place_beam_reorder_gives_what_dynamic_layer_gives() -> None:
    import torch
    from transformers.cache_utils import DynamicLayer

    keys, values = torch.randn(6, 2, 5, 4), torch.randn(6, 2, 5, 4)
    plain, buffered = DynamicLayer(), buffered_layer_class()(capacity=8)
    for layer in (plain, buffered):
        layer.update(keys, values)
    # Rows 0 and 1 swap, row 3 takes row 4's history, rows 2 and 5 stay.
    beam_idx = torch.tensor([1, 0, 2, 4, 4, 5])
    plain.reorder_cache(beam_idx)
    buffered.reorder_cache(beam_idx)
    assert torch.equal(plain.keys, buffered.keys) and torch.equal(plain.values, buffered.values)
    step = torch.randn(6, 2, 1, 4)
    assert torch.equal(plain.update(step, step)[0], buffered.update(step, step)[0])
    # Still the buffer, written in place: no new tensors per step.
    assert buffered.keys.data_ptr() == buffered.key_buffer.data_ptr()
    assert buffered.keys.shape[2] == 6


def test_shared_prompt_cache_on_buffers_holds_each_prompt_once_per_beam(
    llama: LoadedModel,
) -> None:
    import torch

    backend = backend_for(llama)
    encoded = backend._encode_batch(["The council voted on the budget.", "Storms hit."])
    rows, width = encoded["input_ids"].shape
    plain = shared_prompt_cache(llama.model, encoded, 3)
    buffered = shared_prompt_cache(llama.model, encoded, 3, capacity=width + 10)
    assert plain is not None and buffered is not None
    for plain_layer, layer in zip(plain.layers, buffered.layers, strict=True):
        assert isinstance(layer, buffered_layer_class())
        assert layer.key_buffer.shape[:3] == (rows * 3, plain_layer.keys.shape[1], width + 10)
        assert torch.equal(layer.keys, plain_layer.keys)
        assert torch.equal(layer.values, plain_layer.values)


@pytest.mark.parametrize("beam_search", [False, True])
def test_a_stopped_prompt_ends_while_the_others_of_its_batch_go_on(
    llama: LoadedModel, beam_search: bool
) -> None:
    backend = backend_for(llama)
    prompts = ["<s>user\nThe council voted on the budget.</s>", "<s>user\nStorms hit.</s>"]
    alone = backend.generate(prompts, max_new_tokens=12, min_new_tokens=12, beam_search=beam_search)
    asked: list[int] = []

    def stop_second() -> bool:
        asked.append(1)
        return len(asked) > 2  # told to stop after two decoding steps

    stopped = backend.generate(
        prompts,
        max_new_tokens=12,
        min_new_tokens=12,
        beam_search=beam_search,
        stops=[None, stop_second],
    )
    assert stopped[0] == alone[0]  # its neighbour was not disturbed
    assert stopped[1].tokens < alone[1].tokens == 12
    assert len(asked) > 2

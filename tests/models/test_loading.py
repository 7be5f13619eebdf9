"""nutgraf.models: names resolved to specs, and a local seq2seq folder loaded (tiny BART)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nutgraf import models
from nutgraf.models import LoadedModel, ModelSpec


@pytest.fixture(scope="module")
def spec(tiny_bart_dir: Path) -> ModelSpec:
    """The tiny BART folder resolved as a local model."""
    return models.resolve(str(tiny_bart_dir))


@pytest.fixture(scope="module")
def loaded(spec: ModelSpec, tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    """The tiny BART loaded on the CPU, as the worker loads models."""
    return models.load(spec, "cpu", tmp_path_factory.mktemp("nutgraf-cache"))


def test_resolve_local_folder(tiny_bart_dir: Path, spec: ModelSpec) -> None:
    assert spec.name == str(tiny_bart_dir)
    assert spec.source == str(tiny_bart_dir)
    assert spec.revision.startswith("local-")
    assert spec.family is None  # read from the config at load time
    assert models.resolve(str(tiny_bart_dir)).revision == spec.revision  # stable


def test_load_detects_seq2seq(loaded: LoadedModel) -> None:
    assert loaded.family == "seq2seq"
    assert loaded.max_input_tokens == 128
    assert not loaded.model.training
    assert loaded.device.type == "cpu"
    assert loaded.tokenizer.pad_token_id is not None


def test_auto_precision_follows_this_cpu(loaded: LoadedModel) -> None:
    # NUTGRAF_DTYPE=auto: the weights are in the precision nutgraf.models.precision chose.
    import torch

    from nutgraf.models.precision import choose_precision

    expected = choose_precision("cpu", "auto")
    assert loaded.precision == expected
    assert loaded.model.dtype == getattr(torch, expected.dtype)


def test_a_named_precision_loads_in_it(spec: ModelSpec, tmp_path: Path) -> None:
    import torch

    loaded = models.load(spec, "cpu", tmp_path, "float32")
    assert loaded.model.dtype == torch.float32
    assert loaded.precision.reason == "NUTGRAF_DTYPE"


def test_unknown_model() -> None:
    with pytest.raises(models.UnknownModel, match="no-such-model"):
        models.resolve("no-such-model")


def test_presets_resolve_by_name_and_by_source() -> None:
    for name, spec in models.PRESETS.items():
        assert models.resolve(name) is spec
        assert models.resolve(spec.source) is spec


def test_family_comes_from_the_preset_else_the_config() -> None:
    from transformers import BartConfig, LlamaConfig

    assert models.family_of(BartConfig()) == "seq2seq"
    assert models.family_of(LlamaConfig()) == "causal"
    assert models.family_of(LlamaConfig(), "seq2seq") == "seq2seq"  # a preset's word wins


def test_a_converted_gguf_folder_loses_its_quantization_config(tmp_path: Path) -> None:
    # Left in config.json, it made transformers warn on every bfloat16 load that packed
    # GGUF weights are fastest in float32, though the converted weights are dense.
    import json

    from nutgraf.models.loading import _drop_quantization_config

    config = {"model_type": "llama", "quantization_config": {"quant_method": "gguf"}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    _drop_quantization_config(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"model_type": "llama"}
    _drop_quantization_config(tmp_path)  # nothing left to drop: unchanged
    assert json.loads((tmp_path / "config.json").read_text()) == {"model_type": "llama"}

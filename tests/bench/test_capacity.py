"""bench/capacity.py builds distilbart-cnn-12-6's architecture, not a smaller stand-in.

The timing itself takes many minutes, so it is run by hand (docs/benchmarks.md); what can
silently go wrong is the size of the model it times."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "capacity.py"


@pytest.fixture(scope="module")
def capacity() -> ModuleType:
    """The script imported as a module (bench/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("capacity", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_production_size_model_has_distilbarts_306m_parameters(capacity: ModuleType) -> None:
    # Built on the meta device: shapes without memory. The model card says 306M.
    import torch
    from transformers import BartConfig, BartForConditionalGeneration

    with torch.device("meta"):
        model = BartForConditionalGeneration(BartConfig(**capacity.DISTILBART))
    parameters = sum(p.numel() for p in model.parameters())
    assert 305_000_000 < parameters < 307_000_000
    assert (model.config.d_model, model.config.encoder_layers, model.config.decoder_layers) == (
        1024,
        12,
        6,
    )

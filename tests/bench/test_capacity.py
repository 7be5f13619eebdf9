"""bench/capacity.py builds distilbart-cnn-12-6's architecture, not a smaller stand-in.

The timing itself takes many minutes, so it is run by hand (docs/benchmarks.md); what can
silently go wrong is the size of the model it times."""

from __future__ import annotations

from types import ModuleType


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

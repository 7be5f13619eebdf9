"""The backend for a loaded model, picked by the family its config (or preset) declares."""

from __future__ import annotations

from nutgraf.models.backend import Backend
from nutgraf.models.causal import CausalBackend
from nutgraf.models.loading import LoadedModel
from nutgraf.models.seq2seq import Seq2SeqBackend
from nutgraf.models.specs import Family

BACKENDS: dict[Family, type[Backend]] = {
    backend.family: backend for backend in (Seq2SeqBackend, CausalBackend)
}


def backend_for(loaded: LoadedModel, max_input_tokens: int | None = None) -> Backend:
    """The family's backend around `loaded`, its window capped at `max_input_tokens`."""
    return BACKENDS[loaded.family](loaded, max_input_tokens)

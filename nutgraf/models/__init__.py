"""What a model is and how it loads: presets and names (specs, cheap), loading (heavy, on
use), and one backend per model family behind a single interface.

Importing this package loads neither torch nor transformers: the API resolves names here.
"""

from nutgraf.models.backend import Backend, Generation, Prompt
from nutgraf.models.factory import backend_for
from nutgraf.models.loading import LoadedModel, family_of, load, pick_device
from nutgraf.models.specs import (
    EXTRACTIVE,
    PRESETS,
    Family,
    ModelError,
    ModelSpec,
    ModelUnavailable,
    UnknownModel,
    fix_hint,
    resolve,
)

__all__ = [
    "EXTRACTIVE",
    "PRESETS",
    "Backend",
    "Family",
    "Generation",
    "LoadedModel",
    "ModelError",
    "ModelSpec",
    "ModelUnavailable",
    "Prompt",
    "UnknownModel",
    "backend_for",
    "family_of",
    "fix_hint",
    "load",
    "pick_device",
    "resolve",
]

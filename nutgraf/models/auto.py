"""NUTGRAF_MODEL=auto: the production model where it can be had, else the bundled one.

Decided once, when a program starts (`nutgraf serve` for its children, or `nutgraf api` /
`nutgraf worker` run on their own), by settle(); the choice then travels as a concrete
NUTGRAF_MODEL plus NUTGRAF_MODEL_AUTO (the reason), so the processes started from it never
decide again. Cheap: a few stats in the Hugging Face cache and, only when the weights are
not there, one bounded metadata request to the Hub. No torch, no transformers: the API
may call it.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from nutgraf.models.specs import PRESETS, ModelSpec
from nutgraf.settings import AUTO_MODEL, Settings

log = logging.getLogger(__name__)

PRODUCTION = PRESETS["distilbart-cnn-12-6"]
BUNDLED = PRESETS["smollm2-135m"]
# The Hub must answer within this, or it counts as unreachable: a start never waits long.
HUB_TIMEOUT_S = 3.0
# What loading a seq2seq checkpoint reads: its config, a tokenizer file and the weights
# (either format; transformers converts .bin to safetensors in a refs/pr/N snapshot).
CONFIG_FILES = ("config.json", "vocab.json", "merges.txt")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")

CACHED = "distilbart cached"
REACHABLE = "Hub reachable"
OFFLINE = "offline: bundled model"


@dataclass(frozen=True)
class AutoChoice:
    """The model `auto` stands for here, and why."""

    model: str
    reason: str


def hub_cache() -> Path:
    """The Hugging Face Hub cache folder, as huggingface_hub and transformers find it."""
    # Read now, not at import: HF_HUB_CACHE / HF_HOME set after import still count.
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def hub_offline() -> bool:
    """True when HF_HUB_OFFLINE says not to ask the Hub anything."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def is_cached(spec: ModelSpec, cache_dir: Path | None = None) -> bool:
    """True when the Hub cache holds what loading `spec` reads: config, tokenizer, weights."""
    from huggingface_hub import try_to_load_from_cache

    cache = cache_dir or hub_cache()
    for name in CONFIG_FILES:
        found = try_to_load_from_cache(spec.source, name, cache_dir=cache, revision=spec.revision)
        if not isinstance(found, str):
            return False
    # The weights may sit in another snapshot than the revision's (a converted PR branch).
    snapshots = cache / f"models--{spec.source.replace('/', '--')}" / "snapshots"
    return any(path.is_file() for name in WEIGHT_FILES for path in snapshots.glob(f"*/{name}"))


def hub_answers(spec: ModelSpec, timeout_s: float = HUB_TIMEOUT_S) -> bool:
    """True when the Hub answers a metadata request for the model's config within timeout_s."""
    if hub_offline():
        return False
    answered = threading.Event()

    def ask() -> None:
        from huggingface_hub import get_hf_file_metadata, hf_hub_url

        try:
            # HF_ENDPOINT read now, like the cache folder (a mirror may stand in for the Hub).
            url = hf_hub_url(
                spec.source,
                "config.json",
                revision=spec.revision,
                endpoint=os.environ.get("HF_ENDPOINT") or None,
            )
            get_hf_file_metadata(url, timeout=timeout_s)
        except Exception as exc:  # no network, DNS, HTTP error: all mean "not here"
            log.debug("the Hub did not answer for %s: %s", spec.source, exc)
            return
        answered.set()

    # A thread bounds the whole request, name resolution included (not under its timeout).
    thread = threading.Thread(target=ask, name="nutgraf-hub-check", daemon=True)
    thread.start()
    thread.join(timeout_s)
    return answered.is_set()


def choose(cache_dir: Path | None = None) -> AutoChoice:
    """What `auto` stands for: distilbart when cached or downloadable, else the bundled model."""
    # The preset pins its own revision (NUTGRAF_MODEL_REVISION is for Hub ids).
    if is_cached(PRODUCTION, cache_dir):
        return AutoChoice(PRODUCTION.name, CACHED)
    if hub_answers(PRODUCTION):
        return AutoChoice(PRODUCTION.name, REACHABLE)
    return AutoChoice(BUNDLED.name, OFFLINE)


def settle(settings: Settings) -> Settings:
    """`settings` with NUTGRAF_MODEL=auto replaced by the model it stands for here (and the
    reason in model_auto); any other model is returned untouched."""
    wanted = [settings.model, *settings.models]
    if AUTO_MODEL not in wanted:
        return settings
    choice = choose()
    log.info("NUTGRAF_MODEL=auto chose %s (%s)", choice.model, choice.reason)
    model = choice.model if settings.model == AUTO_MODEL else settings.model
    served = [choice.model if name == AUTO_MODEL else name for name in settings.models]
    served = list(dict.fromkeys([model, *served]))  # the default first, no duplicates
    update: dict[str, object] = {"model": model, "models": served}
    if settings.model == AUTO_MODEL:
        update["model_auto"] = choice.reason
    return settings.model_copy(update=update)

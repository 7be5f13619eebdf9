"""Summarizers per process: each model loaded once, on first use, behind its backend."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from nutgraf import models
from nutgraf.models import ModelSpec
from nutgraf.settings import Settings
from nutgraf.summarize.abstractive import Summarizer

log = logging.getLogger(__name__)


class SummarizerCache:
    """Loads each model at most once per process, on first use, thread-safely."""

    def __init__(
        self,
        device: str,
        cache_dir: Path,
        max_input_tokens: int | None = None,
        dtype: str = "auto",
        on_load: Callable[[ModelSpec, float], None] | None = None,
        batch_tokens: int | None = None,
    ) -> None:
        self.device = device
        self.dtype = dtype
        self.on_load = on_load  # told (spec, seconds) after each model loads
        self.cache_dir = cache_dir
        self.max_input_tokens = max_input_tokens
        self.batch_tokens = batch_tokens  # None: the summarizer's default per window
        self._lock = threading.Lock()
        self._summarizers: dict[str, Summarizer] = {}
        self._errors: dict[str, str] = {}

    @classmethod
    def from_settings(
        cls, settings: Settings, on_load: Callable[[ModelSpec, float], None] | None = None
    ) -> SummarizerCache:
        """The cache for a deployment's device, model folder, input window and precision."""
        return cls(
            settings.device,
            settings.cache_dir,
            settings.max_input_tokens,
            settings.dtype,
            on_load,
            batch_tokens=settings.batch_tokens,
        )

    def get(self, spec: ModelSpec) -> Summarizer:
        """The summarizer for `spec`, loading it the first time (raises ModelUnavailable)."""
        with self._lock:
            key = f"{spec.name}@{spec.revision}"  # a changed local folder loads anew
            if key in self._summarizers:
                return self._summarizers[key]
            try:
                loaded = models.load(spec, self.device, self.cache_dir, self.dtype)
            except models.ModelError as exc:
                self._errors[spec.name] = str(exc)
                raise
            except Exception as exc:
                # Any failure while loading means the model is unavailable, said in one line.
                message = f"model {spec.name!r} cannot be loaded: {type(exc).__name__}: {exc}"
                self._errors[spec.name] = message.splitlines()[0]
                raise models.ModelUnavailable(self._errors[spec.name]) from exc
            self._errors.pop(spec.name, None)
            backend = models.backend_for(loaded, self.max_input_tokens)
            # The window the summarizer reads: the model's, or NUTGRAF_MAX_INPUT_TOKENS.
            log.info(
                "loaded %s (%s, %s) on %s in %.1fs, input window %d tokens",
                spec.name,
                loaded.family,
                spec.revision,
                loaded.device,
                loaded.load_seconds,
                backend.window,
            )
            summarizer = Summarizer(backend, self.batch_tokens)
            self._summarizers[key] = summarizer
            if self.on_load is not None:
                try:
                    self.on_load(spec, loaded.load_seconds)
                except Exception as exc:  # a metric must never cost a loaded model
                    log.warning("on_load for %s failed: %s", spec.name, exc)
            return summarizer

    def states(self) -> dict[str, dict[str, str]]:
        """Per model: `ready` or `failed` with the reason, for readiness reports."""
        report = {key.split("@")[0]: {"state": "ready"} for key in self._summarizers}
        for name, error in self._errors.items():
            report[name] = {"state": "failed", "error": error}
        return report


def load_summarizer(settings: Settings, name: str | None = None) -> Summarizer:
    """The summarizer for `name` (default: the deployment's model); raises ModelError."""
    spec = models.resolve(name or settings.model, settings.model_revision)
    return SummarizerCache.from_settings(settings).get(spec)


def set_torch_threads(threads: int) -> None:
    """Set intra-op threads before any model loads (cores / pool processes)."""
    import torch

    torch.set_num_threads(max(1, threads))

"""Summarizers per process: each model loaded once, on first use, behind its backend."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nutgraf import models
from nutgraf.models import ModelSpec
from nutgraf.settings import AUTO_MODEL, Settings
from nutgraf.summarize.abstractive import Summarizer

log = logging.getLogger(__name__)

# A model that failed to load is not tried again for this long: its jobs fail at once with
# the same message instead of each waiting out another attempt (a Hub id offline takes
# seconds to fail).
MODEL_RETRY_S = 300.0


@dataclass
class LoadFailure:
    """Why a model could not be loaded, and when it was last tried."""

    message: str
    spec: ModelSpec | None  # None: the name itself did not resolve
    at: float = field(default_factory=time.monotonic)

    def due(self) -> bool:
        """True once the model may be tried again."""
        return self.spec is not None and time.monotonic() - self.at >= MODEL_RETRY_S


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
        self._errors: dict[str, LoadFailure] = {}

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
            failure = self._errors.get(spec.name)
            # A local folder whose files changed has a new revision: tried again at once.
            if failure is not None and failure.spec == spec and not failure.due():
                raise models.ModelUnavailable(failure.message)
            try:
                loaded = models.load(spec, self.device, self.cache_dir, self.dtype)
            except Exception as exc:
                # Any failure while loading means the model is unavailable, said in one
                # line with what to do about it; the worker's heartbeat carries it to the
                # API (/readyz, and new jobs for the model are refused at once).
                if isinstance(exc, models.ModelError):
                    reason = str(exc)
                else:
                    reason = f"model {spec.name!r} cannot be loaded: {type(exc).__name__}: {exc}"
                message = f"{reason.splitlines()[0]}; {models.fix_hint(spec)}"
                self._errors[spec.name] = LoadFailure(message, spec)
                raise models.ModelUnavailable(message) from exc
            self._errors.pop(spec.name, None)
            backend = models.backend_for(loaded, self.max_input_tokens or spec.reading_window)
            # The window the summarizer reads: NUTGRAF_MAX_INPUT_TOKENS, else the preset's
            # reading window, else the model's.
            log.info(
                "loaded %s (%s, %s) on %s in %s (%s) in %.1fs, input window %d tokens",
                spec.name,
                loaded.family,
                spec.revision,
                loaded.device,
                loaded.precision.dtype,
                loaded.precision.reason,
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

    def record_failure(self, name: str, message: str) -> None:
        """Report a model whose very name could not be resolved (never tried again)."""
        self._errors[name] = LoadFailure(message, None)

    def retry_failed(self) -> list[str]:
        """Try again each failed model that is due; the names that loaded this time."""
        loaded = []
        for name, failure in list(self._errors.items()):
            if failure.spec is None or not failure.due():
                continue
            try:
                self.get(failure.spec)
            except models.ModelError:
                continue
            loaded.append(name)
        return loaded

    def states(self) -> dict[str, dict[str, str]]:
        """Per model: `ready` with its precision, or `failed` with the reason, for
        readiness reports."""
        report = {
            key.split("@")[0]: {
                "state": "ready",
                "dtype": summarizer.backend.loaded.precision.dtype,
                "dtype_reason": summarizer.backend.loaded.precision.reason,
            }
            for key, summarizer in self._summarizers.items()
        }
        for name, failure in self._errors.items():
            report[name] = {"state": "failed", "error": failure.message}
        return report


def load_summarizer(settings: Settings, name: str | None = None) -> Summarizer:
    """The summarizer for `name` (default: the deployment's model); raises ModelError."""
    if (name or settings.model) == AUTO_MODEL:
        from nutgraf.models.auto import settle

        settings, name = settle(settings.model_copy(update={"model": AUTO_MODEL})), None
    spec = models.resolve(name or settings.model, settings.model_revision)
    return SummarizerCache.from_settings(settings).get(spec)


def set_torch_threads(threads: int) -> None:
    """Set intra-op threads before any model loads (cores / pool processes)."""
    import torch

    torch.set_num_threads(max(1, threads))

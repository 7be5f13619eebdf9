"""The summary cache's key: what makes two requests the same summary."""

from __future__ import annotations

import hashlib
import json

from nutgraf.contract import SummaryOptions
from nutgraf.models.specs import ModelSpec
from nutgraf.text import normalize

CACHE_KEY_VERSION = 4  # 2: entries are hashes (result, model); 3: checked, with provenance;
# 4: the bundled model reads 1,024 tokens by default


def cache_key(
    text: str,
    title: str | None,
    model: ModelSpec,
    options: SummaryOptions,
    precision: str = "auto",
) -> str:
    """sha256 over everything that changes the output: normalized text and title, model
    name and revision, the weights' precision (NUTGRAF_DTYPE), and every option."""
    material = json.dumps(
        {
            "v": CACHE_KEY_VERSION,
            "text": normalize(text),
            "title": normalize(title) if title else None,
            "model": model.name,
            "revision": model.revision,
            "precision": precision,
            "options": options.model_dump(mode="json"),
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(material.encode()).hexdigest()

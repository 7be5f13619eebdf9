"""A model that cannot load: one message with its fix, remembered so jobs fail at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from nutgraf import models
from nutgraf.summarize import SummarizerCache


def test_a_missing_path_resolves_and_fails_to_load_with_the_fix(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-model")
    spec = models.resolve(missing)  # not a crash at start: the worker reports it
    cache = SummarizerCache("cpu", tmp_path / "cache")
    with pytest.raises(models.ModelUnavailable) as first:
        cache.get(spec)
    message = str(first.value)
    assert "does not exist" in message
    assert "NUTGRAF_MODEL=smollm2-135m" in message and missing in message
    assert cache.states() == {missing: {"state": "failed", "error": message}}
    # Remembered: the next job fails at once with the same message, not another attempt.
    with pytest.raises(models.ModelUnavailable) as again:
        cache.get(spec)
    assert str(again.value) == message
    assert cache.retry_failed() == []  # not due yet


def test_a_hub_id_offline_names_both_fixes() -> None:
    hint = models.fix_hint(models.resolve("nutgraf-tests/no-such-model"))
    assert "NUTGRAF_MODEL=smollm2-135m" in hint and "Hub reachable" in hint


def test_auto_is_never_resolved_unsettled() -> None:
    with pytest.raises(models.UnknownModel, match="settle"):
        models.resolve("auto")

"""nutgraf.store.cache_key: equal for equal inputs up to layout, different for anything else."""

from __future__ import annotations

import re

import pytest

from nutgraf.contract import SummaryOptions
from nutgraf.models.specs import ModelSpec
from nutgraf.store import cache_key

TEXT = "The council voted on Tuesday.\n\nMr. Smith said \u201cit is done\u201d and left."
TITLE = "Council votes"
MODEL = ModelSpec("distilbart-cnn-12-6", "sshleifer/distilbart-cnn-12-6", "main", "seq2seq")
OPTIONS = SummaryOptions(length="medium")


def key(
    text: str = TEXT,
    title: str | None = TITLE,
    model: ModelSpec = MODEL,
    options: SummaryOptions = OPTIONS,
) -> str:
    """cache_key with the reference input, one part replaced."""
    return cache_key(text, title, model, options)


def test_is_sha256_hex() -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", key())


def test_is_stable() -> None:
    assert key() == key()
    assert key() == cache_key(TEXT, TITLE, MODEL, SummaryOptions(length="medium"))


@pytest.mark.parametrize(
    "text",
    [
        "The council voted on Tuesday. Mr. Smith said \u201cit is done\u201d and left.",
        "  The council  voted on Tuesday.\tMr. Smith said \u201cit is done\u201d and left.\n",
        'The council voted on Tuesday.\n\nMr. Smith said "it is done" and left.',
        'The  council voted\non Tuesday. Mr. Smith said "it is done" and left.',
    ],
)
def test_same_for_layout_and_quote_style(text: str) -> None:
    assert key(text=text) == key()


def test_same_title_up_to_layout() -> None:
    assert key(title="  Council\nvotes ") == key()
    assert key(title=None) == key(title="")


@pytest.mark.parametrize(
    "changed",
    [
        {"text": TEXT.replace("Tuesday", "Monday")},
        {"text": TEXT.lower()},
        {"text": TEXT + " More."},
        {"title": "Council rejects"},
        {"title": None},
        {"model": ModelSpec("bart-large-cnn", "facebook/bart-large-cnn", "main", "seq2seq")},
        {"model": ModelSpec("distilbart-cnn-12-6", "sshleifer/distilbart-cnn-12-6", "v2")},
        {"options": SummaryOptions(length="short")},
        {"options": SummaryOptions(length="headline")},
    ],
    ids=[
        "text-word",
        "text-case",
        "text-longer",
        "title",
        "no-title",
        "model-name",
        "model-revision",
        "length-short",
        "length-headline",
    ],
)
def test_differs(changed: dict[str, object]) -> None:
    assert key(**changed) != key()  # type: ignore[arg-type]


def test_every_length_has_its_own_key() -> None:
    lengths = ["headline", "short", "medium", "long"]
    keys = {key(options=SummaryOptions(length=length)) for length in lengths}  # type: ignore[arg-type]
    assert len(keys) == len(lengths)


def test_the_weights_precision_is_part_of_the_key() -> None:
    assert cache_key(TEXT, TITLE, MODEL, OPTIONS, "bfloat16") != key()
    assert cache_key(TEXT, TITLE, MODEL, OPTIONS, "auto") == key()


def test_keys_of_known_inputs_are_pinned() -> None:
    # Same material, same hash: a key changes only when CACHE_KEY_VERSION does (3: summaries
    # cached before grounding and fallback checks must not be served as checked ones; 4: the
    # bundled model's summaries from its whole window must not stand for 1,024-token ones).
    assert key() == "822ee230187d444034266de813e12c99c59fdc5b6fa2ae7d787050b919f39570"
    short = cache_key(TEXT, TITLE, MODEL, SummaryOptions(length="short"), "bfloat16")
    assert short == "5f78dd9e066f0d825c447041e1d2a6016e9283fabd0e47ba0faf658c0226a5d2"

"""Grounded decoding with the bundled model's tokenizer: what a summary may write."""

from __future__ import annotations

import re

import pytest
import torch

from helpers import TEST_MODEL
from nutgraf import models
from nutgraf.models import Backend
from nutgraf.models.grounding import COPY_BONUS, GroundedDecoding
from nutgraf.settings import Settings
from nutgraf.summarize import SummarizerCache

SOURCE = (
    "Montenegro's parliament voted on Monday to join NATO, with 46 of 81 lawmakers in favour. "
    "Prime Minister Dusko Markovic called it a historic day for Greenslade County."
)


@pytest.fixture(scope="module")
def backend(settings: Settings) -> Backend:
    """The bundled model's backend."""
    return SummarizerCache.from_settings(settings).get(models.resolve(TEST_MODEL)).backend


def first_piece(backend: Backend, text: str) -> int:
    return backend.encode(text)[0]


def step(backend: Backend, answer: list[int], source: str = SOURCE) -> torch.Tensor:
    """The processed scores of one step after `answer`, from flat scores."""
    vocab = backend.loaded.model.config.vocab_size
    processor = GroundedDecoding(backend.tokenizer, [source], prompt_length=1)
    input_ids = torch.tensor([[0, *answer]])
    return processor(input_ids, torch.zeros((1, vocab)))  # type: ignore[arg-type]


def allowed(scores: torch.Tensor, token: int) -> bool:
    return bool(torch.isfinite(scores[0, token]))


def test_names_numbers_and_words_the_source_lacks_cannot_be_written(backend: Backend) -> None:
    scores = step(backend, [])
    for present in (" Montenegro", "Montenegro", " NATO", " parliament", " Parliament"):
        assert allowed(scores, first_piece(backend, present)), present
    for absent in (" Kerry", " Obama", " referendum", " article", " artículo"):
        assert not allowed(scores, first_piece(backend, absent)), absent


def test_a_number_is_written_only_with_the_source_s_digits_in_its_order(
    backend: Backend,
) -> None:
    # SmolLM2 writes numbers a digit at a time: " 46" is " ", "4", "6".
    space, four, six = backend.encode(" 46")
    nine, eight = backend.encode("9")[0], backend.encode("8")[0]
    assert not allowed(step(backend, [space]), nine)  # no 9 in the source at all
    after_four = step(backend, [space, four])
    assert allowed(after_four, six)  # "46" is the source's
    assert not allowed(after_four, eight)  # "48" is not, though it has an 8 ("81")


def test_function_words_and_punctuation_are_always_free(backend: Backend) -> None:
    scores = step(backend, [], source="Storms flooded towns.")
    for free in (" the", "The", " and", " said", " were", ".", ",", " (", '"'):
        assert allowed(scores, first_piece(backend, free)), free
    assert allowed(scores, backend.tokenizer.eos_token_id)


def test_a_name_continues_only_as_the_source_spells_it(backend: Backend) -> None:
    name = backend.encode(" Greenslade")
    assert len(name) >= 2, "the test needs a name of several pieces"
    scores = step(backend, name[:-1])
    assert allowed(scores, name[-1])
    others = [t for t in backend.encode(" Greenslad ad ades lades") if t != name[-1]]
    assert others and not any(
        allowed(scores, t) and backend.tokenizer.decode([t])[0].isalnum() for t in others
    )


def test_the_source_s_next_token_gets_the_copy_bias(backend: Backend) -> None:
    ids = backend.encode(SOURCE)
    scores = step(backend, ids[:5])
    assert scores[0, ids[5]] == COPY_BONUS


def test_a_trigram_of_the_answer_is_not_written_twice(backend: Backend) -> None:
    phrase = backend.encode(" voted on Monday")
    assert len(phrase) == 3
    scores = step(backend, [*phrase, *backend.encode(" and"), *phrase[:2]])
    assert not allowed(scores, phrase[2])


def test_generate_keeps_every_answer_within_its_own_source(backend: Backend) -> None:
    other = "Storms flooded two towns in Wales on Tuesday, and 300 homes lost power."
    sources = [SOURCE, other]  # of different lengths: generate() reorders its rows
    prompts = [
        backend.render(models.Prompt(body=s, instruction="Summarize this news article.\n\n"))
        for s in sources
    ]
    first, second = (
        set(re.findall(r"\w+", output.text))
        for output in backend.generate(prompts, 40, 0, beam_search=True, sources=sources)
    )
    assert first and second
    assert not first & {"Wales", "Tuesday", "300", "Storms"}, first
    assert not second & {"Montenegro", "NATO", "Markovic", "46"}, second

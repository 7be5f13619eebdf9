"""HF's summarization parameters mapped onto nutgraf's options: token bounds onto the
nearest length preset and a word cap, truncation onto `truncate`; the rest accepted."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from nutgraf.contract import SummaryOptions
from nutgraf.contract.hf import (
    PRESET_WORDS,
    HfSummarizationParameters,
    HfSummarizationRequest,
    hf_options,
    tokens_to_words,
)


def mapped(parameters: dict[str, Any] | None) -> dict[str, Any]:
    """The options HF's `parameters` stand for (validated as the route validates them)."""
    if parameters is None:
        return hf_options(None)
    options = hf_options(HfSummarizationParameters.model_validate(parameters))
    SummaryOptions(**options)  # always options nutgraf accepts
    return options


def generate(**bounds: int) -> dict[str, Any]:
    return {"generate_parameters": bounds}


def test_no_parameters_mean_nutgrafs_defaults() -> None:
    assert mapped(None) == {}
    assert mapped({}) == {}
    assert mapped(generate()) == {}


def test_the_presets_grow_with_their_sentences() -> None:
    sizes = list(PRESET_WORDS.values())
    assert list(PRESET_WORDS) == ["headline", "short", "medium", "long"]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
    assert PRESET_WORDS["headline"] == 20


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        # distilbart-cnn's own defaults (max_length 142, min_length 56): medium, capped.
        ({"max_length": 142, "min_length": 56}, {"max_words": 106}),
        ({"max_new_tokens": 60}, {"length": "short", "max_words": 45}),
        ({"max_new_tokens": 20}, {"length": "headline", "max_words": 15}),
        # A cap under the smallest word cap is the smallest word cap.
        ({"max_new_tokens": 2}, {"length": "headline", "max_words": 5}),
        # A generous cap keeps the default length; past the largest word cap, no cap at all.
        ({"max_new_tokens": 1000}, {"max_words": 750}),
        ({"max_new_tokens": 5000}, {}),
        # A floor past the default's size raises the length to the first that reaches it.
        ({"min_length": 150}, {"length": "long"}),
        ({"min_new_tokens": 150, "max_length": 400}, {"length": "long", "max_words": 300}),
        # A floor and a cap that disagree: the cap wins, as a hard bound.
        ({"min_length": 200, "max_length": 40}, {"length": "headline", "max_words": 30}),
        # The *_new_tokens bounds win over the totals, as in transformers.
        ({"max_new_tokens": 60, "max_length": 1000}, {"length": "short", "max_words": 45}),
        ({"min_new_tokens": 0, "min_length": 300}, {}),
    ],
)
def test_token_bounds_map_to_the_nearest_preset_and_a_word_cap(
    bounds: dict[str, int], expected: dict[str, Any]
) -> None:
    assert mapped(generate(**bounds)) == expected


def test_the_word_cap_is_the_token_cap_in_words() -> None:
    assert tokens_to_words(100) == 75
    assert tokens_to_words(0) == 0
    assert tokens_to_words(10**400) > 10**399  # JSON allows it; no float overflow
    assert mapped(generate(max_new_tokens=10**400)) == {}


@pytest.mark.parametrize(
    ("truncation", "truncate"),
    [
        ("do_not_truncate", False),
        ("longest_first", True),
        ("only_first", True),
        ("only_second", True),
        (True, True),
        (False, False),
    ],
)
def test_truncation_maps_to_truncate(truncation: str | bool, truncate: bool) -> None:
    assert mapped({"truncation": truncation}) == {"truncate": truncate}


def test_what_has_no_meaning_here_is_accepted_and_ignored() -> None:
    parameters = {
        "clean_up_tokenization_spaces": True,
        "generate_parameters": {"do_sample": True, "temperature": 0.7, "num_beams": 4},
    }
    assert mapped(parameters) == {}
    body = {
        "inputs": "The council met.",
        "parameters": parameters,
        "options": {"use_cache": False, "wait_for_model": True},
    }
    request = HfSummarizationRequest.model_validate(body)
    assert request.texts() == ["The council met."]
    assert request.waits_for_model()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"inputs": ""},
        {"inputs": "   "},
        {"inputs": 5},
        {"inputs": ["The council met.", ""]},
        {"inputs": "The council met.", "parameter": {}},
        {"inputs": "The council met.", "parameters": {"truncation": "sometimes"}},
        {"inputs": "The council met.", "parameters": {"max_length": 50}},
        {"inputs": "a", "parameters": {"generate_parameters": {"max_new_tokens": "50"}}},
        {"inputs": "a", "parameters": {"generate_parameters": {"max_new_tokens": 0}}},
        {"inputs": "a", "parameters": {"generate_parameters": {"min_length": -1}}},
        {"inputs": "a", "parameters": {"clean_up_tokenization_spaces": "yes"}},
    ],
)
def test_bad_bodies_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        HfSummarizationRequest.model_validate(body)


def test_a_list_of_inputs_keeps_its_order() -> None:
    request = HfSummarizationRequest.model_validate({"inputs": ["First.", "Second."]})
    assert request.texts() == ["First.", "Second."]
    assert not request.waits_for_model()

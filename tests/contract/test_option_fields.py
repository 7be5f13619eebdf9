"""The summary options are declared once (OptionFields) and every model takes them from there."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from nutgraf.contract import (
    MAX_WORDS_MAX,
    MAX_WORDS_MIN,
    OPTION_FIELDS,
    BatchItem,
    BatchRequest,
    OptionFields,
    SummaryOptions,
    SummaryRequest,
)
from nutgraf.contract.options import OPTION_DESCRIPTIONS

MODELS: list[type[BaseModel]] = [SummaryOptions, SummaryRequest, BatchItem, BatchRequest]
# The smallest valid body of each model.
MINIMAL: dict[type[BaseModel], dict[str, Any]] = {
    SummaryOptions: {},
    SummaryRequest: {"text": "An article."},
    BatchItem: {"id": "a", "text": "An article."},
    BatchRequest: {"items": []},
}
REQUESTS = [SummaryRequest, BatchItem, BatchRequest]


def test_the_options_are_the_six_of_the_contract() -> None:
    assert OPTION_FIELDS == ("length", "format", "mode", "max_words", "strict", "truncate")
    assert set(OPTION_DESCRIPTIONS) == set(OPTION_FIELDS)


@pytest.mark.parametrize("model", MODELS)
def test_every_model_has_exactly_the_option_fields(model: type[BaseModel]) -> None:
    # Not options: they change where a job waits (its lane, its story), not its summary.
    others = {"id", "text", "title", "model", "items", "callback_url", "priority", "ref"}
    assert set(model.model_fields) - others == set(OPTION_FIELDS)


@pytest.mark.parametrize("model", [SummaryOptions, SummaryRequest, BatchRequest])
def test_defaults_are_the_declared_ones(model: type[BaseModel]) -> None:
    parsed = model.model_validate(MINIMAL[model])
    declared = OptionFields()
    assert {name: getattr(parsed, name) for name in OPTION_FIELDS} == declared.model_dump()


def test_a_batch_item_leaves_unset_options_to_the_batch() -> None:
    item = BatchItem.model_validate({"id": "a", "text": "x", "length": "long", "mode": None})
    assert {name: getattr(item, name) for name in OPTION_FIELDS} == {
        "length": "long",
        "format": None,
        "mode": None,
        "max_words": None,
        "strict": None,
        "truncate": None,
    }
    batch = BatchRequest.model_validate({"items": [], "format": "bullets", "max_words": 40})
    request = batch.request_for(item)
    assert request.options() == SummaryOptions(length="long", format="bullets", max_words=40)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    ("value", "valid"),
    [(MAX_WORDS_MIN, True), (MAX_WORDS_MAX, True), (MAX_WORDS_MIN - 1, False),
     (MAX_WORDS_MAX + 1, False), (None, True)],
)  # fmt: skip
def test_max_words_bounds_hold_in_every_model(
    model: type[BaseModel], value: int | None, valid: bool
) -> None:
    body = {**MINIMAL[model], "max_words": value}
    if valid:
        assert model.model_validate(body).max_words == value  # type: ignore[attr-defined]
    else:
        with pytest.raises(ValidationError):
            model.model_validate(body)


@pytest.mark.parametrize("model", REQUESTS)
@pytest.mark.parametrize(
    ("name", "value"), [("max_words", "50"), ("max_words", 50.0), ("strict", 1), ("truncate", "no")]
)
def test_requests_take_json_types_strictly(model: type[BaseModel], name: str, value: Any) -> None:
    with pytest.raises(ValidationError):
        model.model_validate({**MINIMAL[model], name: value})


def test_the_options_object_is_lax_frozen_and_closed() -> None:
    # Built from stored records and by code, not from request bodies.
    assert SummaryOptions.model_validate({"max_words": "50"}).max_words == 50
    with pytest.raises(ValidationError):
        SummaryOptions.model_validate({"colour": "red"})
    with pytest.raises(ValidationError):
        SummaryOptions().length = "long"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("model", "order"),
    [
        (
            SummaryRequest,
            ["text", "title", "model", *OPTION_FIELDS, "callback_url", "priority", "ref"],
        ),
        (BatchItem, ["id", "text", "title", "model", *OPTION_FIELDS, "ref"]),
        (BatchRequest, ["items", "model", *OPTION_FIELDS, "callback_url", "priority"]),
        (SummaryOptions, list(OPTION_FIELDS)),
    ],
)
def test_published_schemas_list_fields_in_reading_order(
    model: type[BaseModel], order: list[str]
) -> None:
    assert list(model.model_json_schema()["properties"]) == order


def test_only_the_single_summary_request_describes_the_options() -> None:
    described = SummaryRequest.model_json_schema()["properties"]
    assert {name: described[name]["description"] for name in OPTION_FIELDS} == OPTION_DESCRIPTIONS
    for model in (BatchItem, BatchRequest, SummaryOptions):
        properties = model.model_json_schema()["properties"]
        assert all("description" not in properties[name] for name in OPTION_FIELDS), model

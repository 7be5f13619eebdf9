"""The Hugging Face Inference API's summarization task, as nutgraf serves it under /hf.

Bodies as huggingface_hub's InferenceClient.summarization sends and reads them
(`{"inputs", "parameters"}` in, `[{"summary_text"}]` out, `{"error", "estimated_time"}`
on a 503), and how HF's parameters map onto nutgraf's options: token bounds become the
nearest length preset and a word cap, truncation becomes `truncate`.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, StrictBool, StrictInt

from nutgraf.contract.limits import MAX_WORDS_MAX, MAX_WORDS_MIN
from nutgraf.contract.options import HEADLINE_MAX_WORDS, SENTENCE_RANGES, Length
from nutgraf.contract.requests import STRICT, ArticleText

# English news runs about 1.3 BPE tokens a word (BART's, GPT-2's and SmolLM's tokenizers):
# 3 words per 4 tokens.
WORDS: Final = 3
PER_TOKENS: Final = 4
# A news summary sentence runs about 22 words: a preset's most words are its most sentences
# times that (a headline has its own cap).
SENTENCE_WORDS: Final = 22
PRESET_WORDS: Final[dict[Length, int]] = {
    length: HEADLINE_MAX_WORDS if length == "headline" else SENTENCE_WORDS * most
    for length, (_, most) in SENTENCE_RANGES.items()
}
DEFAULT_LENGTH: Final[Length] = "medium"
# transformers' TruncationStrategy values; every one but do_not_truncate cuts the article.
Truncation = Literal["do_not_truncate", "longest_first", "only_first", "only_second"]


class HfGenerateParameters(BaseModel):
    """transformers' generation arguments: the length bounds are honoured, the others
    (sampling, beams, penalties...) accepted and ignored."""

    # Any other generation argument is accepted: HF documents the object as free-form.
    model_config = ConfigDict(extra="allow", strict=True)

    max_new_tokens: StrictInt | None = Field(default=None, ge=1, description="Most new tokens.")
    max_length: StrictInt | None = Field(
        default=None, ge=1, description="Most tokens (max_new_tokens wins when both are set)."
    )
    min_new_tokens: StrictInt | None = Field(default=None, ge=0, description="Fewest new tokens.")
    min_length: StrictInt | None = Field(
        default=None, ge=0, description="Fewest tokens (min_new_tokens wins when both are set)."
    )


class HfSummarizationParameters(BaseModel):
    """The `parameters` of HF's summarization task."""

    model_config = STRICT

    truncation: Truncation | StrictBool | None = Field(
        default=None, description="Anything but do_not_truncate (or false) cuts long articles."
    )
    generate_parameters: HfGenerateParameters | None = None
    clean_up_tokenization_spaces: StrictBool | None = Field(
        default=None, description="Accepted, ignored: summaries are plain text already."
    )


class HfOptions(BaseModel):
    """The legacy Inference API's `options`."""

    model_config = ConfigDict(extra="allow", strict=True)

    wait_for_model: StrictBool | None = Field(
        default=None, description="Wait while the model loads instead of a 503 at once."
    )
    use_cache: StrictBool | None = Field(
        default=None, description="Accepted, ignored: identical requests share one summary."
    )


class HfSummarizationRequest(BaseModel):
    """Body of POST /hf/models/<name>: an article, or a list of them."""

    model_config = STRICT

    inputs: ArticleText | Annotated[list[ArticleText], Field(min_length=1)] = Field(
        description="The article, or a list of articles (one summary each, in order)."
    )
    parameters: HfSummarizationParameters | None = None
    options: HfOptions | None = None

    def texts(self) -> list[str]:
        """The articles, as a list."""
        return [self.inputs] if isinstance(self.inputs, str) else list(self.inputs)

    def waits_for_model(self) -> bool:
        """Whether the request asked to wait while the model loads."""
        return bool(self.options and self.options.wait_for_model)


class HfSummary(BaseModel):
    """One summary, as transformers' summarization pipeline returns it."""

    summary_text: str


class HfSummaries(RootModel[list[HfSummary]]):
    """The answer: one summary per input, in order."""


class HfErrorBody(BaseModel):
    """The body of every error under /hf: HF's own shape, which huggingface_hub reads."""

    error: str = Field(description="What went wrong, for people.")
    error_type: str = Field(description="nutgraf's machine-readable code, e.g. `not_found`.")
    estimated_time: float | None = Field(
        default=None,
        description="On a 503: seconds to wait before trying again (as Retry-After).",
    )


def tokens_to_words(tokens: int) -> int:
    """About how many words `tokens` model tokens hold."""
    # In integers: JSON allows a bound of any size, which a float could not hold.
    return tokens * WORDS // PER_TOKENS


def hf_options(parameters: HfSummarizationParameters | None) -> dict[str, Any]:
    """nutgraf's options for HF's parameters: `length` (the default, lowered to the longest
    preset within the token cap, raised to the shortest that reaches the token floor),
    `max_words` (the cap in words) and `truncate`; only the ones HF's parameters set."""
    if parameters is None:
        return {}
    options: dict[str, Any] = {}
    if parameters.truncation is not None:
        truncation = parameters.truncation
        options["truncate"] = (
            truncation if isinstance(truncation, bool) else (truncation != "do_not_truncate")
        )
    generate = parameters.generate_parameters
    if generate is None:
        return options
    # As in transformers, the *_new_tokens bound wins over the total one.
    most = generate.max_new_tokens if generate.max_new_tokens is not None else generate.max_length
    fewest = generate.min_new_tokens if generate.min_new_tokens is not None else generate.min_length
    cap = None if most is None else max(MAX_WORDS_MIN, tokens_to_words(most))
    floor = 0 if fewest is None else tokens_to_words(fewest)
    length = _nearest_length(cap, floor)
    if length != DEFAULT_LENGTH:
        options["length"] = length
    if cap is not None and cap <= MAX_WORDS_MAX:  # past the largest cap, there is none
        options["max_words"] = cap
    return options


def _nearest_length(cap: int | None, floor: int) -> Length:
    """The default preset, or the nearest one that fits within `cap` and reaches `floor`
    words; the cap wins when they disagree (it is a hard bound, as in transformers)."""
    presets = list(PRESET_WORDS)  # shortest first
    fitting = [p for p in presets if cap is None or PRESET_WORDS[p] <= cap] or presets[:1]
    length: Length = DEFAULT_LENGTH if DEFAULT_LENGTH in fitting else fitting[-1]
    if PRESET_WORDS[length] < floor:
        reaching = [p for p in fitting if PRESET_WORDS[p] >= floor]
        length = reaching[0] if reaching else fitting[-1]
    return length

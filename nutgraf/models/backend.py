"""The interface every model family implements: tokens, prompts, and one batched generate().

Like text-generation-inference's `Model` with `Seq2SeqLM` and `CausalLM`: the summarizer is
written against `Backend` alone, and each family says how it reads a prompt, how much of
the window is left for text, and how it decodes (seq2seq.py, causal.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from nutgraf.models.loading import LoadedModel
from nutgraf.models.specs import Family, ModelSpec

# Beam search stays closer to the source's wording than greedy decoding.
BEAM_SEARCH: dict[str, Any] = {"num_beams": 3, "no_repeat_ngram_size": 4, "repetition_penalty": 1.0}


@dataclass(frozen=True)
class Prompt:
    """One model input before the family's template: the text and what is said around it."""

    body: str
    instruction: str = ""  # said verbatim before the body, to models that take instructions
    system: str = ""  # the system message, to chat models


@dataclass(frozen=True)
class Generation:
    """What one prompt produced: the decoded text and how many new tokens it took."""

    text: str
    tokens: int


class Backend(ABC):
    """One loaded model behind the interface the summarizer uses."""

    family: ClassVar[Family]

    def __init__(self, loaded: LoadedModel, max_input_tokens: int | None = None) -> None:
        self.loaded = loaded
        self.spec: ModelSpec = loaded.spec
        self.tokenizer = loaded.tokenizer
        # A deployment may force a smaller window than the model's (memory, latency).
        self.window = min(loaded.max_input_tokens, max_input_tokens or loaded.max_input_tokens)

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` without special tokens."""
        ids: list[int] = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids

    def count(self, text: str) -> int:
        """Tokens of `text` without special tokens."""
        return len(self.encode(text))

    def fit(self, text: str, budget: int) -> str:
        """`text` cut to at most `budget` tokens (unchanged when it fits)."""
        ids = self.encode(text)
        if len(ids) <= budget:
            return text
        return str(self.tokenizer.decode(ids[:budget], skip_special_tokens=True))

    def pieces(self, text: str, size: int) -> list[str]:
        """`text` as consecutive pieces of `size` tokens, decoded."""
        ids = self.encode(text)
        return [
            self.tokenizer.decode(ids[i : i + size], skip_special_tokens=True)
            for i in range(0, len(ids), size)
        ]

    @abstractmethod
    def render(self, prompt: Prompt) -> str:
        """The model's input text for `prompt`, in the family's template."""

    @abstractmethod
    def body_budget(self, probe: Prompt, answer_tokens: int) -> int:
        """Tokens of body text that fit the window beside `probe`'s words (its body empty)
        and an answer of up to `answer_tokens`."""

    def generate(
        self,
        prompts: list[str],
        max_new_tokens: int,
        min_new_tokens: int = 0,
        beam_search: bool = False,
        sources: list[str] | None = None,
        stops: list[Callable[[], bool] | None] | None = None,
    ) -> list[Generation]:
        """One batched generate() over rendered prompts: greedy, or beam search; in order.
        With `sources` (one per prompt), each answer is grounded in its source's words.
        With `stops` (one per prompt, or None), a prompt whose stop answers True between
        decoding steps ends there (its output is cut short); the others go on."""
        import torch

        # Sorting by length keeps padding, and so wasted compute, small inside the batch.
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        encoded = self._encode_batch([prompts[i] for i in order])
        options = self._generate_options(encoded, max_new_tokens, min_new_tokens, beam_search)
        if beam_search:
            options.update(BEAM_SEARCH)
        if sources is not None:
            from transformers import LogitsProcessorList

            from nutgraf.models.grounding import GroundedDecoding

            # Its own no-repeat rule reads the answer alone; transformers' rules read the
            # prompt too and would punish copying the article.
            options.pop("repetition_penalty", None)
            options.pop("no_repeat_ngram_size", None)
            grounded = GroundedDecoding(
                self.tokenizer,
                [sources[i] for i in order],
                self._answer_start(encoded),
                options.get("num_beams", 1),
            )
            options["logits_processor"] = LogitsProcessorList([grounded])
        if stops is not None:
            from transformers import StoppingCriteriaList

            from nutgraf.models.stopping import StopRows

            options["stopping_criteria"] = StoppingCriteriaList(
                [StopRows([stops[i] for i in order])]
            )
        with torch.inference_mode():
            output = self.loaded.model.generate(**encoded, **options)
        answers, new_tokens = self._answers(output, encoded)
        texts = self.tokenizer.batch_decode(answers, skip_special_tokens=True)
        counts = (new_tokens != self.tokenizer.pad_token_id).sum(dim=1).tolist()
        results: list[Generation | None] = [None] * len(prompts)
        for position, original in enumerate(order):
            results[original] = Generation(texts[position], int(counts[position]))
        return [r for r in results if r is not None]

    @abstractmethod
    def _encode_batch(self, prompts: list[str]) -> Any:
        """The padded batch of `prompts` on the model's device."""

    @abstractmethod
    def _generate_options(
        self, encoded: Any, max_new_tokens: int, min_new_tokens: int, beam_search: bool
    ) -> dict[str, Any]:
        """generate()'s keyword arguments for this family (beam settings are added after)."""

    @abstractmethod
    def _answer_start(self, encoded: Any) -> int:
        """The column of generate()'s running ids where the answer begins."""

    @abstractmethod
    def _answers(self, output: Any, encoded: Any) -> tuple[Any, Any]:
        """From generate()'s output: the ids to decode, and the newly generated ids to count."""

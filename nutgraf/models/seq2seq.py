"""Encoder-decoder summarizers (BART, distilBART, Pegasus, T5): the article in, the summary out."""

from __future__ import annotations

from typing import Any

from nutgraf.models.backend import Backend, Prompt


class Seq2SeqBackend(Backend):
    """A seq2seq model reads the (prefixed) article alone; instructions mean nothing to it."""

    family = "seq2seq"

    def render(self, prompt: Prompt) -> str:
        """The preset's prefix ("summarize: " for T5) and the body."""
        return self.spec.prefix + prompt.body

    def body_budget(self, probe: Prompt, answer_tokens: int) -> int:
        """The encoder's window less the prefix and special tokens; the answer has the
        decoder's own positions."""
        overhead = len(self.tokenizer(self.render(probe))["input_ids"])
        return max(16, self.window - overhead)

    def _encode_batch(self, prompts: list[str]) -> Any:
        self.tokenizer.padding_side = "right"
        return self.tokenizer(
            prompts,
            return_tensors="pt",
            padding=True,
            add_special_tokens=True,
            # A cut made by fit() can re-encode a token or two longer (a split multi-byte
            # character); the window is a hard limit of the encoder's positions.
            truncation=True,
            max_length=self.window,
        ).to(self.loaded.device)

    def _generate_options(
        self, encoded: Any, max_new_tokens: int, min_new_tokens: int, beam_search: bool
    ) -> dict[str, Any]:
        # The decoder has its own position limit; tiny models have fewer than the budget.
        config = self.loaded.model.config
        positions = getattr(config, "max_position_embeddings", None) or max_new_tokens
        max_new = min(max_new_tokens, positions - 2)
        return {
            "max_new_tokens": max_new,
            "do_sample": False,
            "pad_token_id": self.tokenizer.pad_token_id,
            # Seq2seq summarizers need a floor or they stop early.
            "min_new_tokens": min(min_new_tokens, max_new),
        }

    def _answer_start(self, encoded: Any) -> int:
        # The running ids are the decoder's: its start token, then the answer.
        return 1

    def _answers(self, output: Any, encoded: Any) -> tuple[Any, Any]:
        # The output starts with the decoder start token, which was not generated.
        return output, output[:, 1:]

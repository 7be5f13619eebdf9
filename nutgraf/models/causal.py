"""Instruction-tuned decoder-only models (SmolLM2, Qwen, Llama...) prompted to summarize
through their chat template; prompt and answer share one window."""

from __future__ import annotations

from typing import Any

from nutgraf.models.backend import BEAM_SEARCH, Backend, Prompt
from nutgraf.models.kv_cache import buffered_cache, shared_prompt_cache

# The probe that sizes the body has no title; a title gets this much room of its own.
TITLE_ROOM = 32


class CausalBackend(Backend):
    """A causal model reads a chat: the system message, then the instruction and the body."""

    family = "causal"
    # Beam search reads each prompt once and gives its beams copies of the keys and values;
    # off, generate() reads the prompt once per beam (bench/ and tests compare the two).
    share_prompt = True

    def render(self, prompt: Prompt) -> str:
        """The chat template with a system and a user message, ready for the answer."""
        messages = [
            {"role": "system", "content": prompt.system},
            {"role": "user", "content": f"{prompt.instruction}{prompt.body}"},
        ]
        rendered: str = self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        return rendered

    def body_budget(self, probe: Prompt, answer_tokens: int) -> int:
        """The window less the chat around the body, the answer, and room for a title."""
        overhead = len(self.tokenizer(self.render(probe))["input_ids"])
        return max(16, self.window - overhead - answer_tokens - TITLE_ROOM)

    def _encode_batch(self, prompts: list[str]) -> Any:
        # Left padding: every row's answer starts right after its prompt.
        self.tokenizer.padding_side = "left"
        return self.tokenizer(
            prompts,
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,  # the chat template has them already
            truncation=False,
            max_length=None,
        ).to(self.loaded.device)

    def _generate_options(
        self, encoded: Any, max_new_tokens: int, min_new_tokens: int, beam_search: bool
    ) -> dict[str, Any]:
        options: dict[str, Any] = {
            "max_new_tokens": max_new_tokens,
            "do_sample": False,
            "pad_token_id": self.tokenizer.pad_token_id,
            "repetition_penalty": 1.1,
        }
        on_cpu = self.loaded.device.type == "cpu"
        if beam_search and self.share_prompt:
            # generate() copies each prompt to its beams before reading it: 3 beams read a
            # prompt three times, a third of a medium summary's time on a CPU. The cache
            # holds all but the last prompt token; generate() reads that one per beam.
            # On a CPU its layers are in-place buffers, as for greedy decoding below.
            prompt_tokens = encoded["input_ids"].shape[1]
            cache = shared_prompt_cache(
                self.loaded.model,
                encoded,
                BEAM_SEARCH["num_beams"],
                capacity=prompt_tokens + max_new_tokens if on_cpu else 0,
            )
            if cache is not None:
                options["cache"] = cache
        elif not beam_search and on_cpu:
            # The key/value cache is filled in place: the default cache grows by
            # concatenation, every layer's keys and values reallocated at every new token,
            # which costs batch time and peak memory (docs/benchmarks.md).
            rows, prompt_tokens = encoded["input_ids"].shape
            cache = buffered_cache(self.loaded.model, rows, prompt_tokens + max_new_tokens)
            if cache is not None:
                options["cache"] = cache
        return options

    def _answer_start(self, encoded: Any) -> int:
        # The running ids are the (left-padded) prompt, then the answer.
        return int(encoded["input_ids"].shape[1])

    def _answers(self, output: Any, encoded: Any) -> tuple[Any, Any]:
        # The output repeats the prompt; only what follows it is the answer.
        answer = output[:, encoded["input_ids"].shape[1] :]
        return answer, answer

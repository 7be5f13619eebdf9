"""Summarizer: articles in, summaries out, one batched generate() per call."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nutgraf import models
from nutgraf.models import LoadedModel, ModelSpec
from nutgraf.schemas import InputStats, Length, SummaryOptions, SummaryResult
from nutgraf.text import clean_summary

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You are a news editor. You write accurate, neutral summaries of news articles. "
    "Use only facts stated in the article."
)
# What an editor means by each length, said to instruction-tuned models.
LENGTH_INSTRUCTIONS: dict[Length, str] = {
    "headline": "in one sentence of at most 20 words",
    "short": "in one or two sentences",
    "medium": "in three or four sentences",
    "long": "in five to seven sentences",
}
# New-token budgets (min, max) per length; seq2seq models need a floor or they stop early.
TOKEN_BUDGETS: dict[Length, tuple[int, int]] = {
    "headline": (5, 40),
    "short": (20, 80),
    "medium": (50, 160),
    "long": (100, 300),
}


@dataclass(frozen=True)
class Article:
    """One article to summarize."""

    text: str
    title: str | None = None
    options: SummaryOptions = field(default_factory=SummaryOptions)


class Summarizer:
    """Wraps one loaded model; `summarize_batch` is the only way in."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.spec = loaded.spec

    def summarize(self, article: Article) -> SummaryResult:
        """Summarize a single article."""
        return self.summarize_batch([article])[0]

    def summarize_batch(self, articles: list[Article]) -> list[SummaryResult]:
        """Summarize articles together, grouped by length so each group is one generate()."""
        results: list[SummaryResult | None] = [None] * len(articles)
        groups: dict[Length, list[int]] = {}
        for index, article in enumerate(articles):
            groups.setdefault(article.options.length, []).append(index)
        for length, indexes in groups.items():
            batch = [articles[i] for i in indexes]
            for index, result in zip(indexes, self._generate(batch, length), strict=True):
                results[index] = result
        return [r for r in results if r is not None]

    def _generate(self, articles: list[Article], length: Length) -> list[SummaryResult]:
        import torch

        loaded = self.loaded
        tokenizer = loaded.tokenizer
        min_new, max_new = TOKEN_BUDGETS[length]
        if loaded.family == "seq2seq":
            # The decoder has its own position limit; tiny models have fewer than the budget.
            positions = getattr(loaded.model.config, "max_position_embeddings", None) or max_new
            max_new = min(max_new, positions - 2)
            min_new = min(min_new, max_new)
        prompts, stats = zip(*(self._prompt(a, length, max_new) for a in articles), strict=True)
        # Sorting by length keeps padding, and so wasted compute, small inside the batch.
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        tokenizer.padding_side = "left" if loaded.family == "causal" else "right"
        seq2seq = loaded.family == "seq2seq"
        encoded = tokenizer(
            [prompts[i] for i in order],
            return_tensors="pt",
            padding=True,
            add_special_tokens=seq2seq,
            # A cut made in _prompt can re-encode a token or two longer (a split multi-byte
            # character); the window is a hard limit of the encoder's positions.
            truncation=seq2seq,
            max_length=loaded.max_input_tokens if seq2seq else None,
        ).to(loaded.device)
        generate_kwargs: dict[str, Any] = {
            "max_new_tokens": max_new,
            "do_sample": False,
            "pad_token_id": tokenizer.pad_token_id,
        }
        if loaded.family == "seq2seq":
            generate_kwargs["min_new_tokens"] = min_new
        else:
            generate_kwargs["repetition_penalty"] = 1.1
        with torch.inference_mode():
            output = loaded.model.generate(**encoded, **generate_kwargs)
        if loaded.family == "causal":
            output = output[:, encoded["input_ids"].shape[1] :]
        texts = tokenizer.batch_decode(output, skip_special_tokens=True)
        # Seq2seq output starts with the decoder start token, which was not generated.
        new_tokens = output[:, 1:] if seq2seq else output
        generated = (new_tokens != tokenizer.pad_token_id).sum(dim=1).tolist()
        results: list[SummaryResult | None] = [None] * len(prompts)
        for position, original in enumerate(order):
            results[original] = SummaryResult(
                summary=clean_summary(texts[position]),
                input=stats[original],
                generated_tokens=int(generated[position]),
            )
        return [r for r in results if r is not None]

    def _prompt(self, article: Article, length: Length, max_new: int) -> tuple[str, InputStats]:
        """The model's input for one article, cut to the input window, and what was read."""
        loaded = self.loaded
        tokenizer = loaded.tokenizer
        body = article.text.strip()
        body_ids = tokenizer(body, add_special_tokens=False)["input_ids"]
        if loaded.family == "seq2seq":
            budget = loaded.max_input_tokens - len(tokenizer(self.spec.prefix)["input_ids"])
        else:
            overhead = len(tokenizer(self._chat(article, length, ""))["input_ids"])
            budget = loaded.max_input_tokens - overhead - max_new
        truncated = len(body_ids) > budget
        if truncated:
            body = tokenizer.decode(body_ids[: max(budget, 1)], skip_special_tokens=True)
        stats = InputStats(
            characters=len(article.text), tokens=len(body_ids), chunks=1, truncated=truncated
        )
        if loaded.family == "seq2seq":
            return self.spec.prefix + body, stats
        return self._chat(article, length, body), stats

    def _chat(self, article: Article, length: Length, body: str) -> str:
        instruction = f"Summarize this news article {LENGTH_INSTRUCTIONS[length]}."
        title = f"Title: {article.title.strip()}\n\n" if article.title else ""
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"{instruction}\n\n{title}{body}"},
        ]
        prompt: str = self.loaded.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        return prompt


class SummarizerCache:
    """Loads each model at most once per process, on first use, thread-safely."""

    def __init__(self, device: str, cache_dir: Path) -> None:
        self.device = device
        self.cache_dir = cache_dir
        self._lock = threading.Lock()
        self._summarizers: dict[str, Summarizer] = {}
        self._errors: dict[str, str] = {}

    def get(self, spec: ModelSpec) -> Summarizer:
        """The summarizer for `spec`, loading it the first time (raises ModelUnavailable)."""
        with self._lock:
            key = f"{spec.name}@{spec.revision}"  # a changed local folder loads anew
            if key in self._summarizers:
                return self._summarizers[key]
            try:
                loaded = models.load(spec, self.device, self.cache_dir)
            except models.ModelError as exc:
                self._errors[spec.name] = str(exc)
                raise
            except Exception as exc:
                # Any failure while loading means the model is unavailable, said in one line.
                message = f"model {spec.name!r} cannot be loaded: {type(exc).__name__}: {exc}"
                self._errors[spec.name] = message.splitlines()[0]
                raise models.ModelUnavailable(self._errors[spec.name]) from exc
            self._errors.pop(spec.name, None)
            log.info(
                "loaded %s (%s, %s) on %s in %.1fs, input window %d tokens",
                spec.name,
                loaded.family,
                spec.revision,
                loaded.device,
                loaded.load_seconds,
                loaded.max_input_tokens,
            )
            summarizer = Summarizer(loaded)
            self._summarizers[key] = summarizer
            return summarizer

    def states(self) -> dict[str, dict[str, str]]:
        """Per model: `ready` or `failed` with the reason, for readiness reports."""
        report = {key.split("@")[0]: {"state": "ready"} for key in self._summarizers}
        for name, error in self._errors.items():
            report[name] = {"state": "failed", "error": error}
        return report


def set_torch_threads(threads: int) -> None:
    """Set intra-op threads before any model loads (cores / pool processes)."""
    import torch

    torch.set_num_threads(max(1, threads))

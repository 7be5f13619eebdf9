"""Summarizer: articles in, summaries out, one batched generate() per call."""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nutgraf import models
from nutgraf.contract import (
    HEADLINE_MAX_WORDS,
    SENTENCE_RANGES,
    Checks,
    Format,
    InputStats,
    Length,
    SummaryOptions,
    SummaryResult,
)
from nutgraf.models import LoadedModel, ModelSpec
from nutgraf.settings import Settings
from nutgraf.text import clean_summary, is_complete_sentence, sentences, word_count

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You are a news editor. You write accurate, neutral summaries of news articles. "
    "Use only facts stated in the article."
)
# Said on the second try of a strict job, after the first summary stated unsupported facts.
SAFE_INSTRUCTION = "Copy every name and number exactly as the article writes it; add none."
# What an editor means by each length, said to instruction-tuned models. Small models
# undershoot counts, so they are asked for the top of each range; extras are trimmed.
LENGTH_INSTRUCTIONS: dict[Length, str] = {
    "headline": "in one sentence of at most 20 words",
    "short": "in two sentences",
    "medium": "in four sentences",
    "long": "in six or seven sentences",
}
BULLET_INSTRUCTIONS: dict[Length, str] = {
    "headline": "as a single bullet point of at most 20 words",
    "short": "as a bulleted list of two points, one sentence each",
    "medium": "as a bulleted list of four points, one sentence each",
    "long": "as a bulleted list of six or seven points, one sentence each",
}
# New-token budgets (min, max) per length; seq2seq models need a floor or they stop early.
TOKEN_BUDGETS: dict[Length, tuple[int, int]] = {
    "headline": (5, 40),
    "short": (20, 80),
    "medium": (50, 160),
    "long": (100, 300),
}
# Partial summaries of chunks keep more facts than the final one needs.
CHUNK_LENGTH: Length = "medium"
# Map-reduce depth limit: past it, the remaining text is cut to the window (and says so).
MAX_REDUCE_LEVELS = 4
_BULLET_MARK = re.compile(r"^\s*(?:[-*•·–]|\d+[.)])\s+")


@dataclass(frozen=True)
class Article:
    """One article to summarize."""

    text: str
    title: str | None = None
    options: SummaryOptions = field(default_factory=SummaryOptions)


@dataclass(frozen=True)
class _Pass:
    """One input to one generate() call: a whole article, a chunk, or joined partials."""

    body: str
    title: str | None
    length: Length
    format: Format
    safe: bool = False
    max_new: int | None = None  # overrides the length's token budget (map passes)
    partials: bool = False  # the body is the joined summaries of an article's parts


def summarize_extractive(article: Article) -> SummaryResult:
    """The article's own most central sentences, with their offsets; no model involved."""
    from nutgraf.extractive import extract

    options = article.options
    spans = extract(article.text, options.length, options.max_words)
    texts = [span.text for span in spans]
    bullets = texts if options.format == "bullets" else None
    return SummaryResult(
        summary=_join(texts, options.format),
        bullets=bullets,
        sentences=spans,
        input=InputStats(characters=len(article.text), tokens=None, chunks=1),
        checks=Checks(),
    )


def shape_summary(raw: str, options: SummaryOptions) -> list[str]:
    """Model output to the sentences (or bullet items) an editor asked for: complete, no
    repeats, no more than the length allows, within max_words."""
    raw = _strip_preamble(raw)
    if options.format == "bullets" and any(_BULLET_MARK.match(x) for x in raw.splitlines()):
        items = [_BULLET_MARK.sub("", line).strip() for line in raw.splitlines() if line.strip()]
        # An item cut off by the token budget is dropped, not closed with a period.
        complete = [item for item in items if is_complete_sentence(item)]
        units = [clean_summary(item) for item in (complete or items[:1])]
    else:
        units = sentences(clean_summary(raw))
    unique: list[str] = []
    for unit in units:
        if unit and unit.lower() not in (u.lower() for u in unique):
            unique.append(unit)
    units = unique[: SENTENCE_RANGES[options.length][1]]
    cap = options.max_words or (HEADLINE_MAX_WORDS if options.length == "headline" else None)
    while cap and len(units) > 1 and word_count(" ".join(units)) > cap:
        units.pop()
    if cap and units and word_count(units[0]) > cap:
        units[0] = _cut_words(units[0], cap)
    return units


def is_degenerate(text: str, threshold: float = 0.3) -> bool:
    """True when a model's answer loops: too many of its word trigrams are repeats."""
    words = text.lower().split()
    trigrams = list(zip(words, words[1:], words[2:], strict=False))
    if len(trigrams) < 10:
        return False
    return 1 - len(set(trigrams)) / len(trigrams) > threshold


def _strip_preamble(raw: str) -> str:
    """Drop what chat models wrap around a summary: "Here is a summary:" lines, markdown
    emphasis and headings; none of it is summary."""
    lines = []
    for line in raw.replace("**", "").splitlines():
        stripped = line.strip().lstrip("#").strip()
        if stripped.endswith(":") or stripped.lower().startswith(("summary:", "title:")):
            stripped = stripped.split(":", 1)[1].strip() if not stripped.endswith(":") else ""
        if stripped:
            lines.append(stripped if not line.lstrip().startswith(("-", "*", "•")) else line)
    return "\n".join(lines)


def _cut_words(sentence: str, cap: int) -> str:
    """Shorten one sentence to `cap` words at the last clause break, closed with a period."""
    words = sentence.split()[:cap]
    text = " ".join(words)
    for mark in (";", ","):
        if mark in text[len(text) // 2 :]:
            text = text[: text.rindex(mark)]
            break
    return text.rstrip(",;:-– ") + "."


def _join(units: list[str], fmt: Format) -> str:
    if fmt == "bullets":
        return "\n".join(f"- {unit}" for unit in units)
    return " ".join(units)


class Summarizer:
    """Wraps one loaded model; `summarize_batch` is the only way in."""

    def __init__(self, loaded: LoadedModel, max_input_tokens: int | None = None) -> None:
        self.loaded = loaded
        self.spec = loaded.spec
        # A deployment may force a smaller window than the model's (memory, latency).
        self.window = min(loaded.max_input_tokens, max_input_tokens or loaded.max_input_tokens)

    def summarize(self, article: Article) -> SummaryResult:
        """Summarize a single article."""
        return self.summarize_batch([article])[0]

    def summarize_batch(self, articles: list[Article]) -> list[SummaryResult]:
        """Summarize articles together: long ones are chunked at sentence boundaries and
        summarized map-reduce style; each level's passes share batched generate() calls."""
        results: dict[int, SummaryResult] = {}
        abstractive = []
        for index, article in enumerate(articles):
            if article.options.mode == "extractive":
                results[index] = summarize_extractive(article)
            else:
                abstractive.append(index)
        for index, result in zip(
            abstractive, self._abstractive([articles[i] for i in abstractive]), strict=True
        ):
            results[index] = result
        return [results[i] for i in range(len(articles))]

    def _abstractive(self, articles: list[Article]) -> list[SummaryResult]:
        if not articles:
            return []
        current = [a.text.strip() for a in articles]
        stats = [
            InputStats(characters=len(a.text), tokens=self._count(text), chunks=1)
            for a, text in zip(articles, current, strict=True)
        ]
        finals: dict[int, tuple[_Pass, tuple[str, int]]] = {}
        active = list(range(len(articles)))
        previous: dict[int, int] = {}
        chunk_budget = self._body_budget(CHUNK_LENGTH, "paragraph")
        for level in range(MAX_REDUCE_LEVELS + 1):
            ready, chunked = [], []
            for i in active:
                options = articles[i].options
                budget = self._body_budget(options.length, options.format)
                # Level 0 reads the article itself, already counted for its stats.
                size = (stats[i].tokens or 0) if level == 0 else self._count(current[i])
                fits = size <= budget
                # No progress (a model that writes partials as long as its input): stop.
                stalled = size >= previous.get(i, size + 1)
                previous[i] = size
                if fits or options.truncate or stalled or level == MAX_REDUCE_LEVELS:
                    if not fits:
                        stats[i] = stats[i].model_copy(update={"truncated": True})
                    ready.append(i)
                else:
                    chunks = self._chunk(current[i], chunk_budget)
                    if level == 0:
                        stats[i] = stats[i].model_copy(update={"chunks": len(chunks)})
                    # Partials sized so that, joined, they fit the final pass in one go; and
                    # at most a sixth of a chunk, so every level shrinks the text (even when
                    # decoded text re-encodes longer) and the recursion ends.
                    partial_tokens = max(
                        16,
                        min(
                            TOKEN_BUDGETS[CHUNK_LENGTH][1], chunk_budget // 6, budget // len(chunks)
                        ),
                    )
                    chunked.append((i, chunks, partial_tokens))
            passes = [
                _Pass(current[i], articles[i].title, articles[i].options.length,
                      articles[i].options.format, partials=level > 0)
                for i in ready
            ] + [
                _Pass(chunk, articles[i].title, CHUNK_LENGTH, "paragraph", max_new=tokens)
                for i, chunks, tokens in chunked
                for chunk in chunks
            ]  # fmt: skip
            outputs = self._run_passes(passes)
            for i, final_pass, output in zip(
                ready, passes[: len(ready)], outputs[: len(ready)], strict=True
            ):
                finals[i] = (final_pass, output)
            partials = iter(outputs[len(ready) :])
            for i, chunks, _ in chunked:
                parts = [clean_summary(next(partials)[0]) for _ in chunks]
                current[i] = "\n\n".join(p for p in parts if p)
            active = [i for i, _, _ in chunked]
            if not active:
                break
        return [self._finish(articles[i], *finals[i], stats[i]) for i in range(len(articles))]

    def _finish(
        self, article: Article, final: _Pass, output: tuple[str, int], stats: InputStats
    ) -> SummaryResult:
        """Shape the summary, check it against the article, and retry once if strict."""
        from nutgraf.faithfulness import unsupported_items

        options = article.options
        units = shape_summary(output[0], options)
        unsupported = unsupported_items(" ".join(units), article.text, article.title)
        regenerated = False
        # A looping or empty answer is retried with beam search whatever `strict` says;
        # the retry reads exactly what the first final pass read (the article, or the
        # joined partial summaries of a long one).
        unusable = is_degenerate(output[0]) or not units
        if (unsupported and options.strict) or unusable:
            retry = self._run_passes([dataclasses.replace(final, safe=True)])[0]
            retry_units = shape_summary(retry[0], options)
            retry_unsupported = unsupported_items(
                " ".join(retry_units), article.text, article.title
            )
            regenerated = True
            if (unusable and retry_units) or len(retry_unsupported) < len(unsupported):
                units, unsupported, output = retry_units, retry_unsupported, retry
        return SummaryResult(
            summary=_join(units, options.format),
            bullets=units if options.format == "bullets" else None,
            input=stats,
            checks=Checks(unsupported=unsupported, regenerated=regenerated),
            generated_tokens=output[1],
        )

    def prompt_for(self, article: Article) -> str:
        """The exact model input of a one-pass article (for benchmarks and debugging)."""
        options = article.options
        budget = self._body_budget(options.length, options.format)
        return self._prompt(
            _Pass(article.text, article.title, options.length, options.format), budget
        )

    def _count(self, text: str) -> int:
        return len(self.loaded.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _body_budget(self, length: Length, fmt: Format) -> int:
        """Tokens of article text that fit in one pass with this length and format."""
        tokenizer = self.loaded.tokenizer
        if self.loaded.family == "seq2seq":
            overhead = len(tokenizer(self.spec.prefix)["input_ids"])
            return max(16, self.window - overhead)
        probe = _Pass("", "", length, fmt)
        overhead = len(tokenizer(self._chat(probe))["input_ids"])
        # The window holds prompt and answer; titles get a little room of their own.
        return max(16, self.window - overhead - TOKEN_BUDGETS[length][1] - 32)

    def _chunk(self, text: str, budget: int) -> list[str]:
        """Consecutive sentences packed into chunks of at most `budget` tokens."""
        chunks: list[str] = []
        current: list[str] = []
        used = 0
        for sentence in sentences(text):
            size = self._count(sentence) + 1
            # One enormous "sentence" (a table, a list) is cut by tokens.
            pieces = self._split_tokens(sentence, budget) if size > budget else [sentence]
            for piece in pieces:
                piece_size = min(size, budget)
                if current and used + piece_size > budget:
                    chunks.append(" ".join(current))
                    current, used = [], 0
                current.append(piece)
                used += piece_size
        if current:
            chunks.append(" ".join(current))
        return chunks

    def _split_tokens(self, text: str, budget: int) -> list[str]:
        ids = self.loaded.tokenizer(text, add_special_tokens=False)["input_ids"]
        step = max(1, budget - 8)
        return [
            self.loaded.tokenizer.decode(ids[i : i + step], skip_special_tokens=True)
            for i in range(0, len(ids), step)
        ]

    def _fit(self, text: str, budget: int) -> str:
        ids = self.loaded.tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) <= budget:
            return text
        return str(self.loaded.tokenizer.decode(ids[:budget], skip_special_tokens=True))

    def _run_passes(self, passes: list[_Pass]) -> list[tuple[str, int]]:
        """Run passes grouped by generation settings, one generate() per group."""
        outputs: list[tuple[str, int] | None] = [None] * len(passes)
        groups: dict[tuple[Length, Format, bool, int | None], list[int]] = {}
        for index, p in enumerate(passes):
            groups.setdefault((p.length, p.format, p.safe, p.max_new), []).append(index)
        for key, indexes in groups.items():
            generated = self._generate([passes[i] for i in indexes], *key)
            for index, output in zip(indexes, generated, strict=True):
                outputs[index] = output
        return [o for o in outputs if o is not None]

    def _generate(
        self,
        passes: list[_Pass],
        length: Length,
        fmt: Format,
        safe: bool,
        max_new_override: int | None = None,
    ) -> list[tuple[str, int]]:
        """One batched generate(): raw output text and new-token count per pass."""
        import torch

        loaded = self.loaded
        tokenizer = loaded.tokenizer
        seq2seq = loaded.family == "seq2seq"
        min_new, max_new = TOKEN_BUDGETS[length]
        if max_new_override is not None:
            max_new = max_new_override
            min_new = min(min_new, max_new // 2)
        if seq2seq:
            # The decoder has its own position limit; tiny models have fewer than the budget.
            positions = getattr(loaded.model.config, "max_position_embeddings", None) or max_new
            max_new = min(max_new, positions - 2)
            min_new = min(min_new, max_new)
        budget = self._body_budget(length, fmt)
        prompts = [self._prompt(p, budget) for p in passes]
        # Sorting by length keeps padding, and so wasted compute, small inside the batch.
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        tokenizer.padding_side = "right" if seq2seq else "left"
        encoded = tokenizer(
            [prompts[i] for i in order],
            return_tensors="pt",
            padding=True,
            add_special_tokens=seq2seq,
            # A cut made in _prompt can re-encode a token or two longer (a split multi-byte
            # character); the window is a hard limit of the encoder's positions.
            truncation=seq2seq,
            max_length=self.window if seq2seq else None,
        ).to(loaded.device)
        generate_kwargs: dict[str, Any] = {
            "max_new_tokens": max_new,
            "do_sample": False,
            "pad_token_id": tokenizer.pad_token_id,
        }
        if seq2seq:
            generate_kwargs["min_new_tokens"] = min_new
        else:
            generate_kwargs["repetition_penalty"] = 1.1
        if safe:
            # Beam search stays closer to the source's wording than greedy decoding.
            generate_kwargs.update(num_beams=3, no_repeat_ngram_size=4, repetition_penalty=1.0)
        elif not seq2seq and loaded.device.type == "cpu":
            # The key/value cache is filled in place: the default cache grows by
            # concatenation, every layer's keys and values reallocated at every new token,
            # which costs ~8% of a batch's time and ~200 MB of peak memory here.
            rows, prompt_tokens = encoded["input_ids"].shape
            cache = _buffered_cache(loaded.model, rows, prompt_tokens + max_new)
            if cache is not None:
                generate_kwargs["cache"] = cache
        with torch.inference_mode():
            output = loaded.model.generate(**encoded, **generate_kwargs)
        if not seq2seq:
            output = output[:, encoded["input_ids"].shape[1] :]
        texts = tokenizer.batch_decode(output, skip_special_tokens=True)
        # Seq2seq output starts with the decoder start token, which was not generated.
        new_tokens = output[:, 1:] if seq2seq else output
        counts = (new_tokens != tokenizer.pad_token_id).sum(dim=1).tolist()
        results: list[tuple[str, int] | None] = [None] * len(prompts)
        for position, original in enumerate(order):
            results[original] = (texts[position], int(counts[position]))
        return [r for r in results if r is not None]

    def _prompt(self, p: _Pass, budget: int) -> str:
        """The model's input for one pass, its body cut to the budget as a last resort."""
        body = self._fit(p.body, budget)
        if self.loaded.family == "seq2seq":
            return self.spec.prefix + body
        return self._chat(dataclasses.replace(p, body=body))

    def _chat(self, p: _Pass) -> str:
        how = (BULLET_INSTRUCTIONS if p.format == "bullets" else LENGTH_INSTRUCTIONS)[p.length]
        if p.partials:
            # Said outright, or small models summarize only the first part they read.
            instruction = (
                "Below are summaries of the consecutive parts of one long news article, in "
                f"order. Summarize the whole article {how}, covering the first, middle and "
                "last parts."
            )
        else:
            instruction = f"Summarize this news article {how}."
        if p.safe:
            instruction += " " + SAFE_INSTRUCTION
        title = f"Title: {p.title.strip()}\n\n" if p.title else ""
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"{instruction}\n\n{title}{p.body}"},
        ]
        prompt: str = self.loaded.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        return prompt


def _buffered_cache(model: Any, rows: int, capacity: int) -> Any:
    """A DynamicCache for `rows` sequences whose layers keep keys and values in buffers of
    `capacity` positions, all allocated now, before the prefill: allocated layer by layer
    in between the prefill's activations they would pin the heap around them. None when
    the model's cache is not made of plain DynamicLayers (sliding windows, shared layers,
    models with a cache of their own)."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer
    from transformers.configuration_utils import get_head_shapes

    supports = getattr(model, "_supports_default_dynamic_cache", None)
    if supports is None or not supports():
        return None
    cache = DynamicCache(config=model.config)
    if not cache.layers or any(type(layer) is not DynamicLayer for layer in cache.layers):
        return None
    cache.layers = [_buffered_layer_class()(capacity) for _ in cache.layers]
    heads, head_dim = get_head_shapes(model.config.get_text_config(decoder=True))
    cache.early_initialization(rows, heads, head_dim, model.dtype, model.device)
    return cache


@functools.cache
def _buffered_layer_class() -> type:
    """The DynamicLayer subclass `_buffered_cache` uses (built on first use: transformers is
    imported only where models run)."""
    import torch
    from transformers.cache_utils import DynamicLayer

    class BufferedLayer(DynamicLayer):
        """A DynamicLayer whose keys and values live in one buffer per tensor of `capacity`
        positions, allocated by lazy_initialization (which `_buffered_cache` has the cache
        call before the prefill). Attention gets a view of the filled part:
        the same values and shape that concatenation gives, so the same tokens come out
        (bench/memory_probe.py checks); unlike StaticCache, which attends over the whole
        buffer, masked, and so rounds differently (other tokens in bfloat16)."""

        def __init__(self, capacity: int) -> None:
            super().__init__()
            self.capacity = capacity
            self.length = 0

        def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
            super().lazy_initialization(key_states, value_states)
            rows, heads, _, _ = key_states.shape
            self.key_buffer = key_states.new_empty(
                (rows, heads, self.capacity, key_states.shape[-1])
            )
            self.value_buffer = value_states.new_empty(
                (rows, heads, self.capacity, value_states.shape[-1])
            )

        def update(
            self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
        ) -> tuple[torch.Tensor, torch.Tensor]:
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            start, self.length = self.length, self.length + key_states.shape[-2]
            # Past `capacity` (which generate() never reaches) this assignment raises.
            self.key_buffer[:, :, start : self.length] = key_states
            self.value_buffer[:, :, start : self.length] = value_states
            self.keys = self.key_buffer[:, :, : self.length]
            self.values = self.value_buffer[:, :, : self.length]
            return self.keys, self.values

    return BufferedLayer


class SummarizerCache:
    """Loads each model at most once per process, on first use, thread-safely."""

    def __init__(
        self,
        device: str,
        cache_dir: Path,
        max_input_tokens: int | None = None,
        dtype: str = "auto",
        on_load: Callable[[ModelSpec, float], None] | None = None,
    ) -> None:
        self.device = device
        self.dtype = dtype
        self.on_load = on_load  # told (spec, seconds) after each model loads
        self.cache_dir = cache_dir
        self.max_input_tokens = max_input_tokens
        self._lock = threading.Lock()
        self._summarizers: dict[str, Summarizer] = {}
        self._errors: dict[str, str] = {}

    @classmethod
    def from_settings(
        cls, settings: Settings, on_load: Callable[[ModelSpec, float], None] | None = None
    ) -> SummarizerCache:
        """The cache for a deployment's device, model folder, input window and precision."""
        return cls(
            settings.device, settings.cache_dir, settings.max_input_tokens, settings.dtype, on_load
        )

    def get(self, spec: ModelSpec) -> Summarizer:
        """The summarizer for `spec`, loading it the first time (raises ModelUnavailable)."""
        with self._lock:
            key = f"{spec.name}@{spec.revision}"  # a changed local folder loads anew
            if key in self._summarizers:
                return self._summarizers[key]
            try:
                loaded = models.load(spec, self.device, self.cache_dir, self.dtype)
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
            summarizer = Summarizer(loaded, self.max_input_tokens)
            self._summarizers[key] = summarizer
            if self.on_load is not None:
                try:
                    self.on_load(spec, loaded.load_seconds)
                except Exception as exc:  # a metric must never cost a loaded model
                    log.warning("on_load for %s failed: %s", spec.name, exc)
            return summarizer

    def states(self) -> dict[str, dict[str, str]]:
        """Per model: `ready` or `failed` with the reason, for readiness reports."""
        report = {key.split("@")[0]: {"state": "ready"} for key in self._summarizers}
        for name, error in self._errors.items():
            report[name] = {"state": "failed", "error": error}
        return report


def load_summarizer(settings: Settings, name: str | None = None) -> Summarizer:
    """The summarizer for `name` (default: the deployment's model); raises ModelError."""
    spec = models.resolve(name or settings.model, settings.model_revision)
    return SummarizerCache.from_settings(settings).get(spec)


def set_torch_threads(threads: int) -> None:
    """Set intra-op threads before any model loads (cores / pool processes)."""
    import torch

    torch.set_num_threads(max(1, threads))

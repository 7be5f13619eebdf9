"""Decoding attention on CPU: transformers' sdpa against nutgraf.models.attention, side by
side in one run, per layer and step and for whole summaries of the sample article.

    .venv/bin/python bench/decode_attention.py [--threads 1]

Prints milliseconds per attention call for the bundled model's shapes (9 query heads, 3
key/value heads, 64 dimensions; keys and values as views of a longer buffer, as
nutgraf.models.kv_cache keeps them), then CPU seconds for a headline, short, medium and
long summary of tests/data/montenegro-nato.txt with each attention (the same loaded
model, switched), and the ratios. Figures in docs/benchmarks.md, "Decoding attention".
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parent.parent
LENGTHS = ("headline", "short", "medium", "long")


def _per_call(fn: Callable[[], object], repeats: int) -> float:
    for _ in range(3):
        fn()
    started = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - started) * 1000 / repeats


def kernels() -> None:
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    from nutgraf.models.attention import decode_attention

    module = SimpleNamespace(num_key_value_groups=3)
    print("attention per layer and step, bfloat16, ms (1,200 cached positions)")
    print(f"{'rows':>5} {'mask':>5} {'sdpa':>8} {'nutgraf':>8} {'ratio':>6}")
    for rows in (3, 18):
        for masked in (False, True):
            query = torch.randn(rows, 9, 1, 64).bfloat16()
            buffers = torch.randn(2, rows, 3, 1240, 64).bfloat16()
            key, value = buffers[0, :, :, :1200], buffers[1, :, :, :1200]
            mask = torch.ones(rows, 1, 1, 1200, dtype=torch.bool) if masked else None
            args = (module, query, key, value, mask)
            ms_sdpa = _per_call(partial(sdpa_attention_forward, *args), 100)
            ms_ours = _per_call(partial(decode_attention, *args), 100)
            ratio = ms_sdpa / ms_ours
            print(f"{rows:>5} {masked!s:>5} {ms_sdpa:8.3f} {ms_ours:8.3f} {ratio:6.2f}")


def summaries() -> None:
    from nutgraf import models
    from nutgraf.contract import SummaryOptions
    from nutgraf.models.attention import NAME
    from nutgraf.settings import Settings
    from nutgraf.summarize import Article, SummarizerCache

    summarizer = SummarizerCache.from_settings(Settings()).get(models.resolve("smollm2-135m"))
    model = summarizer.loaded.model
    article = (REPO / "tests" / "data" / "montenegro-nato.txt").read_text()
    print(f"\nsample article, CPU seconds ({summarizer.loaded.precision.dtype})")
    print(f"{'length':>9} {'sdpa':>8} {'nutgraf':>8} {'ratio':>6}  same summary")
    for length in LENGTHS:
        seconds, texts = {}, {}
        for attention in ("sdpa", NAME):
            model.set_attn_implementation(attention)
            started = time.process_time()
            result = summarizer.summarize(
                Article(article, options=SummaryOptions.model_validate({"length": length}))
            )
            seconds[attention], texts[attention] = time.process_time() - started, result.summary
        same = texts["sdpa"] == texts[NAME]
        ratio = seconds["sdpa"] / seconds[NAME]
        print(f"{length:>9} {seconds['sdpa']:8.1f} {seconds[NAME]:8.1f} {ratio:6.2f}  {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    threads = parser.parse_args().threads
    os.environ["NUTGRAF_TORCH_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)
    kernels()
    summaries()


if __name__ == "__main__":
    main()

"""Linear layers of the bundled model in bfloat16 on CPU: `nn.Linear` against
nutgraf.models.packed's PackedLinear, side by side in one run, per product and for whole
summaries of the sample article.

    .venv/bin/python bench/packed_linears.py [--threads 1] [--rounds 2]

Prints microseconds per product for the bundled SmolLM2-135M's weights at 3 rows (a
decoding step of one article's 3 beams), 18 rows (a worker batch of 6) and 600 rows (a
prompt being read), then CPU seconds for a headline, short, medium and long summary of
tests/data/montenegro-nato.txt with each (the same loaded model, its layers switched, in
alternating rounds), the ratios, and whether the summaries are the same. Needs a CPU with
native bfloat16 (avx512_bf16 or amx_bf16). Figures in docs/benchmarks.md, "Packed bfloat16
weights".
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from decode_attention import _per_call as per_call_ms  # bench/ is the script's path

REPO = Path(__file__).resolve().parent.parent
LENGTHS = ("headline", "short", "medium", "long")
# (in, out) of the bundled model's products: q and o, k and v, gate and up, down, the head.
SHAPES = ((576, 576), (576, 192), (576, 1536), (1536, 576), (576, 49152))


def products() -> None:
    import torch

    from nutgraf.models.packed import PackedLinear

    print("one product, bfloat16, microseconds")
    print(f"{'in':>5} {'out':>6} {'rows':>5} {'linear':>9} {'packed':>9} {'ratio':>6}  same")
    for inputs, outputs in SHAPES:
        linear = torch.nn.Linear(inputs, outputs, bias=False).to(torch.bfloat16)
        packed = PackedLinear(linear)
        for rows in (3, 18, 600):
            hidden = torch.randn(rows, inputs, dtype=torch.bfloat16)
            repeats = max(5, 20_000_000 // (rows * inputs * outputs))
            with torch.inference_mode():
                plain_us = per_call_ms(partial(linear, hidden), repeats) * 1000
                packed_us = per_call_ms(partial(packed, hidden), repeats) * 1000
                same = torch.equal(linear(hidden), packed(hidden))
            ratio = plain_us / packed_us
            print(
                f"{inputs:>5} {outputs:>6} {rows:>5} {plain_us:9.1f} {packed_us:9.1f} "
                f"{ratio:6.2f}  {same}"
            )


def _switchable(model: Any) -> Callable[[bool], None]:
    """A function that puts the model's plain or packed linear layers in place."""
    import torch

    from nutgraf.models.packed import PackedLinear

    slots = [
        (parent, name, child)
        for parent in list(model.modules())
        for name, child in list(parent.named_children())
        if type(child) is torch.nn.Linear
    ]
    packed = [PackedLinear(child) for _, _, child in slots]

    def use(packing: bool) -> None:
        for (parent, name, plain), fast in zip(slots, packed, strict=True):
            setattr(parent, name, fast if packing else plain)

    return use


def summaries(rounds: int) -> None:
    from nutgraf import models
    from nutgraf.contract import SummaryOptions
    from nutgraf.models import packed
    from nutgraf.settings import Settings
    from nutgraf.summarize import Article, SummarizerCache

    pack = packed.pack_linears
    packed.pack_linears = lambda model: 0  # loaded plain; switched below
    try:
        summarizer = SummarizerCache.from_settings(Settings()).get(models.resolve("smollm2-135m"))
    finally:
        packed.pack_linears = pack
    use = _switchable(summarizer.loaded.model)
    article = (REPO / "tests" / "data" / "montenegro-nato.txt").read_text()
    print(f"\nsample article, CPU seconds ({summarizer.loaded.precision.dtype}), {rounds} rounds")
    print(f"{'length':>9} {'linear':>8} {'packed':>8} {'ratio':>6}  same summary")
    totals = {False: 0.0, True: 0.0}
    for length in LENGTHS:
        seconds = {False: 0.0, True: 0.0}
        texts: dict[bool, set[str]] = {False: set(), True: set()}
        options = SummaryOptions.model_validate({"length": length})
        for _ in range(rounds):
            for packing in (False, True):
                use(packing)
                started = time.process_time()
                result = summarizer.summarize(Article(article, options=options))
                seconds[packing] += time.process_time() - started
                texts[packing].add(result.summary)
        same = texts[False] == texts[True]
        ratio = seconds[False] / seconds[True]
        print(f"{length:>9} {seconds[False]:8.1f} {seconds[True]:8.1f} {ratio:6.2f}  {same}")
        for packing in (False, True):
            totals[packing] += seconds[packing]
    print(
        f"{'all':>9} {totals[False]:8.1f} {totals[True]:8.1f} {totals[False] / totals[True]:6.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--rounds", type=int, default=2, help="summaries of each (default 2)")
    args = parser.parse_args()
    os.environ["NUTGRAF_TORCH_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    products()
    summaries(args.rounds)


if __name__ == "__main__":
    main()

"""Peak memory of batched summarization, split into prefill and decode, per variant.

    .venv/bin/python bench/memory_probe.py                     # float32: raw against engine
    .venv/bin/python bench/memory_probe.py --dtype bfloat16 --repeat 3 --rounds 3
    .venv/bin/python bench/memory_probe.py --list               # every variant

Every variant runs in a fresh subprocess (one at a time, 2 torch threads) that loads the
model the way the worker does (models.resolve + models.load on the CPU), builds the
benchmark's prompts (8 articles of 550 words from bench/throughput.make_articles, length
`short`) and generates with the worker's settings (greedy, repetition penalty 1.1, left
padding, 80 new tokens), `--rounds` times. It reports RSS after load, the peak RSS of the
prefill (everything before the first one-token forward) and of the decode, from the
kernel's own high-water mark (VmHWM, reset between phases through /proc/self/clear_refs;
that resets ru_maxrss too), the seconds of the batch and of its prefill, and whether the
generated token ids equal those of the first variant listed.

Variants: `raw` is the unchanged generate() call with glibc's default malloc settings (the
baseline); `engine` calls Summarizer._generate, so it measures whatever the summarizer
(nutgraf/summarize/, with the model's backend) does now; the others change one thing each
(VARIANTS).
RSS includes the weights only once a forward has touched them: a float32 model's
safetensors are mapped from the file, so they are not resident at idle.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MB = 1024 * 1024
# name: (description, extra environment, generation mode); see child() for the modes.
MMAP = "MALLOC_MMAP_THRESHOLD_"
VARIANTS: dict[str, tuple[str, dict[str, str], str]] = {
    "raw": ("unchanged model.generate() on the whole batch", {}, "raw"),
    "engine": ("Summarizer._generate as nutgraf/summarize/ has it now", {}, "engine"),
    "eager": ("raw with attn_implementation=eager", {}, "eager"),
    "trim": ("raw, then malloc_trim(0) (RSS after generate)", {}, "trim"),
    "arena2": ("raw with MALLOC_ARENA_MAX=2", {"MALLOC_ARENA_MAX": "2"}, "raw"),
    "mmap1m": ("raw, glibc mmap threshold fixed at 1 MiB", {MMAP: str(1 << 20)}, "raw"),
    "mmap8m": ("raw, glibc mmap threshold fixed at 8 MiB", {MMAP: str(8 << 20)}, "raw"),
    "mmap32m": ("raw, glibc mmap threshold fixed at 32 MiB", {MMAP: str(32 << 20)}, "raw"),
    "jemalloc": (
        "raw with jemalloc preloaded",
        {"LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"},
        "raw",
    ),
    "nopenalty": ("raw without repetition_penalty (output changes)", {}, "nopenalty"),
    "prefill1": ("prefill one row at a time into one cache, decode the batch", {}, "prefill1"),
    "prefill2": ("prefill two rows at a time into one cache, decode the batch", {}, "prefill2"),
    "prefill1_8m": ("prefill1, mmap threshold 8 MiB", {MMAP: str(8 << 20)}, "prefill1"),
    "rows_static": ("prefill1 into a StaticCache for the whole generation", {}, "rows_static"),
    "rows_static_1m": ("rows_static, mmap threshold 1 MiB", {MMAP: str(1 << 20)}, "rows_static"),
    "prefill1_1m": ("prefill1, mmap threshold 1 MiB", {MMAP: str(1 << 20)}, "prefill1"),
    "engine_1m": ("engine, mmap threshold 1 MiB", {MMAP: str(1 << 20)}, "engine"),
    "engine_4m": ("engine, mmap threshold 4 MiB", {MMAP: str(4 << 20)}, "engine"),
    "engine_16m": ("engine, mmap threshold 16 MiB", {MMAP: str(16 << 20)}, "engine"),
    "engine_thp": (
        "engine, glibc.malloc.hugetlb=1 (THP for malloc's mappings)",
        {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"},
        "engine",
    ),
    "cache_only": ("raw with the engine's cache, glibc defaults", {}, "cache_only"),
    "cache_chunk256": ("cache_only, prefill_chunk_size=256", {}, "cache_chunk256"),
    "static": ("raw with cache_implementation=static", {}, "static"),
    "static_1m": ("static, mmap threshold 1 MiB", {MMAP: str(1 << 20)}, "static"),
    "half": ("two generate() calls of 4 rows", {}, "half"),
    "quarter": ("four generate() calls of 2 rows", {}, "quarter"),
    "forward": ("one prefill forward only, no generate (breakdown)", {}, "forward"),
}


def status() -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon, RssFile of this process, in bytes."""
    fields: dict[str, int] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            fields[key] = int(value.split()[0]) * 1024
    return fields


def reset_peak() -> None:
    """Set this process's VmHWM to its current RSS (Linux: clear_refs 5)."""
    Path("/proc/self/clear_refs").write_text("5")


def child(args: argparse.Namespace) -> dict[str, Any]:
    """Load, build prompts, generate once with the variant; return the measurements."""
    import torch

    torch.set_num_threads(2)
    from bench.throughput import make_articles
    from nutgraf import models
    from nutgraf.contract import SummaryOptions
    from nutgraf.settings import Settings
    from nutgraf.summarize import TOKEN_BUDGETS, Article, Pass, Summarizer

    name = args.variant
    variant = VARIANTS[name][2]
    spec = models.resolve(args.model)
    loaded = models.load(spec, "cpu", Settings().cache_dir, args.dtype)
    if variant == "eager":
        loaded.model.set_attn_implementation("eager")
    summarizer = Summarizer(models.backend_for(loaded))
    tokenizer = loaded.tokenizer
    model = loaded.model
    texts = make_articles(args.batch, args.words)
    options = SummaryOptions(length="short")
    prompts = [summarizer.prompt_for(Article(t, options=options)) for t in texts]
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    idle = status()

    # Prefill: everything before the first one-token forward (the first decode step);
    # so row-by-row prefills and the building of their cache count as prefill.
    phase: dict[str, Any] = {}

    def before_forward(_: Any, args: Any, kwargs: dict[str, Any]) -> None:
        inputs = kwargs.get("input_ids", args[0] if args else None)
        if "prefill_peak" not in phase and inputs is not None and inputs.shape[1] == 1:
            phase["prefill_peak"] = status()["VmHWM"]
            phase["prefill_rss_after"] = status()["VmRSS"]
            phase["prefill_s"] = time.perf_counter() - phase["started"]
            reset_peak()

    hook = model.register_forward_pre_hook(before_forward, with_kwargs=True)
    max_new = TOKEN_BUDGETS["short"][1]
    # The engine's order: sorted by prompt length.
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    ordered = [prompts[i] for i in order]
    tokenizer.padding_side = "left"
    encoded = tokenizer(ordered, return_tensors="pt", padding=True, add_special_tokens=False)
    prompt_len = encoded["input_ids"].shape[1]

    def generate_once() -> Any:
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_new,
            "do_sample": False,
            "pad_token_id": tokenizer.pad_token_id,
            "repetition_penalty": 1.1,
        }
        if variant == "nopenalty":
            del kwargs["repetition_penalty"]
        if variant == "static":
            kwargs["cache_implementation"] = "static"
        if variant == "cache_chunk256":
            kwargs["prefill_chunk_size"] = 256
        if variant in ("cache_only", "cache_chunk256"):
            from nutgraf.models.kv_cache import buffered_cache

            kwargs["cache"] = buffered_cache(model, len(prompts), prompt_len + max_new)
        if variant == "engine":
            captured: list[torch.Tensor] = []
            real_generate = model.generate

            def spy(*a: Any, **k: Any) -> Any:
                out = real_generate(*a, **k)
                captured.append(out)
                return out

            model.generate = spy
            passes = [Pass(t, None, "short", "paragraph") for t in texts]
            summarizer._generate(passes, "short", "paragraph", False)
            model.generate = real_generate
            # New tokens only; the engine's prompts and their order equal ours.
            return captured[0][:, prompt_len:]
        if variant == "forward":
            model(**encoded, use_cache=True, logits_to_keep=1)
            return torch.zeros(0)
        if variant in ("half", "quarter"):
            parts = []
            rows = len(ordered) // (2 if variant == "half" else 4)
            for i in range(0, len(ordered), rows):
                enc = tokenizer(
                    ordered[i : i + rows],
                    return_tensors="pt",
                    padding=True,
                    add_special_tokens=False,
                )
                parts.append(model.generate(**enc, **kwargs)[:, enc["input_ids"].shape[1] :])
            width = max(p.shape[1] for p in parts)
            pad = tokenizer.pad_token_id
            return torch.cat(
                [torch.nn.functional.pad(p, (0, width - p.shape[1]), value=pad) for p in parts]
            )
        if variant in ("prefill1", "prefill2", "rows_static"):
            rows = 2 if variant == "prefill2" else 1
            return sub_batch_prefill(model, encoded, kwargs, rows, variant == "rows_static")
        return model.generate(**encoded, **kwargs)[:, prompt_len:]

    rounds = []
    for _ in range(args.rounds):
        phase.clear()
        reset_peak()
        phase["started"] = time.perf_counter()
        with torch.inference_mode():
            ids = generate_once()
        elapsed = time.perf_counter() - phase["started"]
        decode_peak = status()["VmHWM"]
        if "prefill_peak" not in phase:  # no decode step ran
            phase["prefill_peak"], phase["prefill_rss_after"], decode_peak = decode_peak, 0, 0
            phase["prefill_s"] = elapsed
        after = status()
        rounds.append(
            {
                "prefill_peak_mb": phase["prefill_peak"] / MB,
                "after_prefill_mb": phase["prefill_rss_after"] / MB,
                "decode_peak_mb": decode_peak / MB,
                # clear_refs resets ru_maxrss too: the peak is the larger phase's.
                "peak_mb": max(phase["prefill_peak"], decode_peak) / MB,
                "after_mb": after["VmRSS"] / MB,
                "after_anon_mb": after["RssAnon"] / MB,
                "after_file_mb": after["RssFile"] / MB,
                "seconds": elapsed,
                "prefill_s": phase["prefill_s"],
                "ids": ids.tolist(),
            }
        )
    hook.remove()
    trimmed = None
    if variant == "trim":
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        trimmed = status()["VmRSS"] / MB
    worst = max(rounds, key=lambda r: r["peak_mb"])
    return {
        **worst,
        "variant": name,
        "dtype": str(model.dtype).removeprefix("torch."),
        "attn": model.config._attn_implementation,
        "weights_mb": weights / MB,
        "budget_mb": (1.5 * weights + 300 * MB) / MB,
        "prompt_tokens": int(prompt_len),
        "idle_mb": idle["VmRSS"] / MB,
        "idle_anon_mb": idle["RssAnon"] / MB,
        "idle_file_mb": idle["RssFile"] / MB,
        "trimmed_mb": trimmed,
        "round_peaks_mb": [r["peak_mb"] for r in rounds],
        "seconds": sum(r["seconds"] for r in rounds) / len(rounds),
        "prefill_s": sum(r["prefill_s"] for r in rounds) / len(rounds),
        "rounds_agree": all(r["ids"] == rounds[0]["ids"] for r in rounds),
        "ids": rounds[0]["ids"],
    }


def sub_batch_prefill(
    model: Any, encoded: Any, kwargs: dict[str, Any], size: int, static: bool
) -> Any:
    """Prefill all but the last prompt token `size` rows at a time into one cache for the
    batch (a DynamicCache, or a StaticCache sized for the whole generation); generate()
    then runs the last prompt token and the decode on the whole batch."""
    import torch
    from transformers import DynamicCache, StaticCache

    ids, mask = encoded["input_ids"], encoded["attention_mask"]
    parts = []
    for i in range(0, ids.shape[0], size):
        cache = DynamicCache(config=model.config)
        m = mask[i : i + size, :-1]
        model(
            input_ids=ids[i : i + size, :-1],
            attention_mask=m,
            position_ids=(m.long().cumsum(-1) - 1).clamp(min=0),
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        parts.append(cache)
    merged: Any = (
        StaticCache(config=model.config, max_cache_len=ids.shape[1] + kwargs["max_new_tokens"])
        if static
        else DynamicCache(config=model.config)
    )
    for layer in range(len(parts[0].layers)):
        keys = torch.cat([p.layers[layer].keys for p in parts])
        values = torch.cat([p.layers[layer].values for p in parts])
        for p in parts:  # free each layer's rows as soon as they are merged
            p.layers[layer].keys = p.layers[layer].values = None
        merged.update(keys, values, layer)
        del keys, values
    del parts
    out = model.generate(input_ids=ids, attention_mask=mask, past_key_values=merged, **kwargs)
    return out[:, ids.shape[1] :]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--words", type=int, default=550)
    parser.add_argument("--variants", default="raw,engine")
    parser.add_argument("--repeat", type=int, default=1, help="processes per variant")
    parser.add_argument("--rounds", type=int, default=1, help="batches per process")
    parser.add_argument("--list", action="store_true", help="describe the variants and exit")
    parser.add_argument("--child", dest="variant", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.list:
        for name, (description, env, _) in VARIANTS.items():
            print(f"{name:15} {description}" + (f" [{env}]" if env else ""))
        return
    if args.variant:
        result = child(args)
        Path(args.out).write_text(json.dumps(result))
        return

    results = []
    names = args.variants.split(",")
    for name in [n for _ in range(args.repeat) for n in names]:  # interleaved: fairer timings
        env = {**os.environ, **VARIANTS[name][1]}
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            subprocess.run(
                [sys.executable, __file__, "--child", name, "--out", out.name,
                 "--model", args.model, "--dtype", args.dtype, "--batch", str(args.batch),
                 "--words", str(args.words), "--rounds", str(args.rounds)],
                env=env, check=True, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            results.append(json.loads(Path(out.name).read_text()))
    first = results[0]
    print(f"{first['dtype']}, attn {first['attn']}, weights {first['weights_mb']:.0f} MB, "
          f"budget {first['budget_mb']:.0f} MB, batch {args.batch} x {first['prompt_tokens']} "
          f"prompt tokens (padded)")  # fmt: skip
    print("MB of RSS: idle after load; peak of prefill, of decode and of both; RSS after the batch"
          f" (and after malloc_trim); seconds per batch and of its prefill. Of {args.rounds} "
          "batch(es) per process, the one with the highest peak.")  # fmt: skip
    print(f"{'variant':15}{'idle':>6}{'prefill':>9}{'decode':>8}{'peak':>7}{'after':>7}"
          f"{'trim':>6}{'s/batch':>9}{'prefill':>8}  same ids as {first['variant']}")  # fmt: skip
    for r in results:
        trim = f"{r['trimmed_mb']:6.0f}" if r["trimmed_mb"] is not None else f"{'':6}"
        same = "n/a" if not r["ids"] else ("yes" if r["ids"] == first["ids"] else "NO")
        if not r["rounds_agree"]:
            same += ", rounds differ"
        print(f"{r['variant']:15}{r['idle_mb']:6.0f}{r['prefill_peak_mb']:9.0f}"
              f"{r['decode_peak_mb']:8.0f}{r['peak_mb']:7.0f}{r['after_mb']:7.0f}{trim}"
              f"{r['seconds']:9.1f}{r['prefill_s']:8.1f}  {same}")  # fmt: skip
    for r in results:
        print(f"  {r['variant']}: idle anon {r['idle_anon_mb']:.0f} file {r['idle_file_mb']:.0f};"
              f" after anon {r['after_anon_mb']:.0f} file {r['after_file_mb']:.0f};"
              f" after prefill {r['after_prefill_mb']:.0f}; peak per batch "
              f"{' '.join(f'{p:.0f}' for p in r['round_peaks_mb'])}")  # fmt: skip


if __name__ == "__main__":
    main()

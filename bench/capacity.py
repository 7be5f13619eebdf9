"""Capacity at production size: articles per minute per worker, per core (and per GPU).

    .venv/bin/python bench/capacity.py                      # CPU, both models; ~15 minutes
    .venv/bin/python bench/capacity.py --models distilbart --device cuda

The production model, distilbart-cnn-12-6, cannot be downloaded here, but its architecture
can be built from its published configuration (BART: d_model 1024, 12 encoder and 6
decoder layers, 16 attention heads, a 50,264-token vocabulary, 1,024 positions) with
random weights: it computes exactly as much as the trained model per token. Each model is
timed raw, with fixed token counts (about 800 input tokens; exactly 60 and 140 new tokens,
the service's beam search), at each batch size in each precision; then through the
service with default settings, the articles POSTed at once.

Random weights never write a summary that passes the checks, so through the service the
production-size model drafts twice and falls back to extraction: the service row for it is
a lower bound (two full drafts per article), printed with the drafts it ran.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

# First: throughput sets OMP_WAIT_POLICY=PASSIVE before anything loads torch.
from throughput import Service, make_articles, service_run  # noqa: E402

from nutgraf import models  # noqa: E402
from nutgraf.models.backend import BEAM_SEARCH  # noqa: E402
from nutgraf.settings import Settings  # noqa: E402
from nutgraf.store.server import free_port  # noqa: E402
from nutgraf.summarize import set_torch_threads  # noqa: E402

INPUT_TOKENS = 800
NEW_TOKENS = (60, 140)
# distilbart-cnn-12-6's config.json on the Hugging Face Hub.
DISTILBART = {
    "vocab_size": 50264,
    "d_model": 1024,
    "encoder_layers": 12,
    "decoder_layers": 6,
    "encoder_attention_heads": 16,
    "decoder_attention_heads": 16,
    "encoder_ffn_dim": 4096,
    "decoder_ffn_dim": 4096,
    "max_position_embeddings": 1024,
    "activation_function": "gelu",
    "scale_embedding": False,
    "bos_token_id": 0,
    "pad_token_id": 1,
    "eos_token_id": 2,
    "decoder_start_token_id": 2,
    "forced_bos_token_id": 0,
    "forced_eos_token_id": 2,
}


def build_distilbart(folder: Path) -> Path:
    """distilbart-cnn-12-6's architecture with seeded random weights, and a byte-level BPE
    tokenizer learned from the repository's news texts (ids 0-3 as BART's)."""
    import torch
    from tokenizers import Tokenizer, decoders, pre_tokenizers, trainers
    from tokenizers import models as bpe_models
    from transformers import BartConfig, BartForConditionalGeneration, BartTokenizerFast

    bpe = Tokenizer(bpe_models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=8000,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    texts = [p.read_text() for p in sorted((ROOT / "tests" / "data").glob("*.txt"))]
    bpe.train_from_iterator(texts, trainer)
    trained = json.loads(bpe.to_str())["model"]
    tokenizer = BartTokenizerFast(
        vocab=trained["vocab"], merges=[tuple(pair) for pair in trained["merges"]]
    )
    tokenizer.model_max_length = DISTILBART["max_position_embeddings"]
    torch.manual_seed(0)
    model = BartForConditionalGeneration(BartConfig(**DISTILBART))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def raw_rate(loaded: models.LoadedModel, batch: int, new_tokens: int, articles: int) -> float:
    """Articles/s of generate() with exactly INPUT_TOKENS in and `new_tokens` out per row."""
    import torch

    model = loaded.model
    vocab = int(model.config.vocab_size)
    generator = torch.Generator().manual_seed(1)
    options: dict[str, Any] = {
        "num_beams": BEAM_SEARCH["num_beams"],
        "min_new_tokens": new_tokens,
        "max_new_tokens": new_tokens,
        "do_sample": False,
    }
    if not model.config.is_encoder_decoder:
        options["pad_token_id"] = loaded.tokenizer.pad_token_id
    done, started = 0, time.perf_counter()
    while done < articles:
        ids = torch.randint(4, min(vocab, 30000), (batch, INPUT_TOKENS), generator=generator)
        with torch.inference_mode():
            # Every row is real tokens: the mask says so (the pad id may equal the eos id).
            ids = ids.to(loaded.device)
            model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **options)
        done += batch
    if loaded.device.type == "cuda":
        torch.cuda.synchronize()
    return done / (time.perf_counter() - started)


def article_of_tokens(tokenizer: Any, text: str, tokens: int) -> str:
    """The first `tokens` tokens of `text`, decoded."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"][:tokens]
    return str(tokenizer.decode(ids, skip_special_tokens=True))


Row = tuple[str, str, str, float]  # model, run, note, articles/s


def raw_rows(name: str, spec: models.ModelSpec, args: argparse.Namespace) -> tuple[list[Row], Any]:
    """The model alone at each precision, new-token count and batch size; and its tokenizer
    (for the service's articles, without loading the model once more)."""
    rows: list[Row] = []
    tokenizer = None
    for precision in args.precisions:
        loaded = models.load(spec, args.device, Settings().cache_dir, precision)
        raw_rate(loaded, 1, 4, 1)  # warm-up, not counted
        for new in NEW_TOKENS:
            for size in args.sizes:
                rate = raw_rate(loaded, size, new, max(args.articles, size))
                rows.append((name, f"raw {precision}, {new} new, batch {size}", "", rate))
                print(f"{name:14} {rows[-1][1]:36} {60 * rate:8.1f} articles/min", flush=True)
        tokenizer = loaded.tokenizer
        del loaded
    return rows, tokenizer


def service_row(name: str, source: str, tokenizer: Any, args: argparse.Namespace) -> Row:
    """The service with default settings (and this device), the articles POSTed at once."""
    settings = Settings(model=source, port=free_port(), device=args.device, log_level="INFO")
    texts = [
        article_of_tokens(tokenizer, text, INPUT_TOKENS)
        for text in make_articles(args.articles, 900)
    ]
    with tempfile.TemporaryDirectory() as tmp, Service(settings, Path(tmp)) as svc:
        seconds, tokens, _, redrafts = service_run(svc, texts)
    note = f"{tokens / len(texts):.0f} new tokens/article, {redrafts} drafted twice"
    row = (name, "service, default settings, medium", note, len(texts) / seconds)
    print(f"{name:14} {row[1]:36} {60 * row[3]:8.1f} articles/min  {note}", flush=True)
    return row


def main() -> None:
    """Time each model raw and through the service; print one capacity table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="smollm2-135m,distilbart")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--articles", type=int, default=8, help="per raw row and service run")
    parser.add_argument("--batch-sizes", default="1,4,8")
    parser.add_argument("--precisions", default="", help="default: float32,bfloat16 on CPU")
    parser.add_argument("--no-service", action="store_true")
    args = parser.parse_args()
    cuda = args.device.startswith("cuda")
    args.precisions = (args.precisions or ("float16" if cuda else "float32,bfloat16")).split(",")
    args.sizes = [int(s) for s in args.batch_sizes.split(",")]
    cores = os.cpu_count() or 1
    set_torch_threads(cores)

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            source = name
            if name == "distilbart":
                source = str(build_distilbart(Path(tmp) / "distilbart"))
            measured, tokenizer = raw_rows(name, models.resolve(source), args)
            rows += measured
            if not args.no_service:
                rows.append(service_row(name, source, tokenizer, args))

    unit = "GPU" if cuda else "core"
    print(f"\n{cores} cores; {INPUT_TOKENS} input tokens; beam search ({BEAM_SEARCH['num_beams']})")
    print(f"{'model':14} {'run':36} {'art/min/worker':>15} {'art/min/' + unit:>13}  note")
    for name, run, note, rate in rows:
        per_unit = 60 * rate if cuda else 60 * rate / cores
        print(f"{name:14} {run:36} {60 * rate:15.1f} {per_unit:13.1f}  {note}")


if __name__ == "__main__":
    main()

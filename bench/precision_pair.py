"""float32 against bfloat16 weights on the same articles, in one sitting, paired.

    .venv/bin/python bench/precision_pair.py news-dev.jsonl                  # smollm2-135m
    .venv/bin/python bench/precision_pair.py news-dev.jsonl --limit 50 --json pair.json

Both precisions of the model are loaded once, in this process, and each article is
summarized by both (which goes first alternates by article; one uncounted warm-up
article each first), exactly as `nutgraf eval`
does: the same summarizer, and the per-article figures of nutgraf.evaluate. It prints one
table: ROUGE-1/2/Lsum, unsupported, fallback and in-range rates per precision, the paired
difference (bfloat16 - float32) with a paired bootstrap 95% interval (articles resampled),
seconds per article and the speed ratio; then a verdict line.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nutgraf.contract import SENTENCE_RANGES, SummaryOptions  # noqa: E402
from nutgraf.evaluate import EvalRecord, aggregate, load_records  # noqa: E402
from nutgraf.settings import Settings  # noqa: E402
from nutgraf.summarize import Article, summarize_extractive  # noqa: E402

PRECISIONS = ("float32", "bfloat16")
RESAMPLES = 2000
SEED = 20261205
# Per-article figures (0-100): (label, EvalReport field, higher is better).
MEASURES = (
    ("ROUGE-1 F1", "rouge1", True),
    ("ROUGE-2 F1", "rouge2", True),
    ("ROUGE-Lsum F1", "rougeLsum", True),
    ("with unsupported items %", "unsupported_pct", False),
    ("fell back to extractive %", "fallback_pct", False),
    ("within requested length %", "within_length_pct", True),
)
# The verdict: these must not fall, and these must not rise, beyond the noise.
MUST_NOT_FALL = ("rouge2", "rougeLsum")
MUST_NOT_RISE = ("unsupported_pct", "fallback_pct")


@dataclass(frozen=True)
class Paired:
    """Mean of each side and of their paired difference (b - a), with a 95% interval."""

    a: float
    b: float
    diff: float
    low: float
    high: float


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], resamples: int = RESAMPLES, seed: int = SEED
) -> Paired:
    """Means of a and b and the percentile bootstrap 95% interval of mean(b - a), resampling
    the pairs (articles) with replacement."""
    first, second = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if first.shape != second.shape or first.ndim != 1 or not len(first):
        raise ValueError("paired_bootstrap needs two equally long, non-empty sequences")
    diffs = second - first
    picks = np.random.default_rng(seed).integers(0, len(diffs), size=(resamples, len(diffs)))
    means = diffs[picks].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return Paired(
        float(first.mean()), float(second.mean()), float(diffs.mean()), float(low), float(high)
    )


def verdict(pairs: dict[str, Paired]) -> str:
    """`no loss beyond noise` when the intervals allow it, else what got worse."""
    worse = [name for name in MUST_NOT_FALL if pairs[name].high < 0]
    worse += [name for name in MUST_NOT_RISE if pairs[name].low > 0]
    if not worse:
        return "no loss beyond noise"
    return "loss beyond noise: " + ", ".join(worse)


def article_figures(record: EvalRecord, result: Any, options: SummaryOptions) -> dict[str, float]:
    """One article's figures, by the same code as `nutgraf eval`'s (0/100 for the rates)."""
    report = aggregate([record], [result], options).to_json()
    figures = {field: float(report[field]) for _, field, _ in MEASURES}
    # Kept per article, not in the table: how often a second draft is run, and rescues.
    return {**figures, "regenerated_pct": 100.0 * result.checks.regenerated}


def run(
    records: Sequence[EvalRecord],
    summarizers: dict[str, Any],
    options: SummaryOptions,
    numbers: Sequence[int] | None = None,
    out: TextIO | None = None,
) -> dict[str, dict[str, list[float]]]:
    """Per precision, per measure (and `seconds`): one value per article, in order. With
    `out`, each article's figures are also written there as one JSON line the moment they
    are known ({"article": its number in the data, precision: figures...}), so a run that is
    stopped keeps what it measured (`--from-rows` reads them back)."""
    numbers = list(numbers) if numbers is not None else list(range(len(records)))
    rows: dict[str, dict[str, list[float]]] = {p: {} for p in summarizers}
    order = list(summarizers)
    # One uncounted article per precision first: the first generate() pays one-off costs
    # (kernel choice, allocations) that would otherwise be charged to one side.
    warmup = Article(records[0].text, records[0].title, options)
    for precision in order:
        summarizers[precision].summarize_batch([warmup])
    for done, (number, record) in enumerate(zip(numbers, records, strict=True)):
        article = Article(record.text, record.title, options)
        line: dict[str, Any] = {"article": number}
        # Alternate which precision goes first, so warm caches favour neither.
        for precision in order if number % 2 == 0 else order[::-1]:
            started = time.perf_counter()
            (result,) = summarizers[precision].summarize_batch([article])
            seconds = time.perf_counter() - started
            figures = {**article_figures(record, result, options), "seconds": seconds}
            line[precision] = figures
            for name, value in figures.items():
                rows[precision].setdefault(name, []).append(value)
        if out is not None:
            out.write(json.dumps(line) + "\n")
            out.flush()
        print(f"article {done + 1}/{len(records)}", file=sys.stderr, flush=True)
    return rows


def read_lines(paths: Sequence[Path]) -> dict[int, dict[str, Any]]:
    """The per-article lines of `run(out=...)` from one or more files (the parts of one
    run, or a run that was stopped) by article number, each article once."""
    lines: dict[int, dict[str, Any]] = {}
    for path in paths:
        for text in path.read_text(encoding="utf-8").splitlines():
            if text.strip():
                line = json.loads(text)
                lines[int(line["article"])] = line
    return lines


def read_rows(paths: Sequence[Path]) -> dict[str, dict[str, list[float]]]:
    """The table's figures of `read_lines`, one value per article in article order (only
    what every line has: `regenerated_pct` came later, and is read by `second_drafts`)."""
    lines = read_lines(paths)
    tabled = {field for _, field, _ in MEASURES} | {"seconds"}
    rows: dict[str, dict[str, list[float]]] = {p: {} for p in PRECISIONS}
    for number in sorted(lines):
        for precision in PRECISIONS:
            for name, value in lines[number][precision].items():
                if name in tabled:
                    rows[precision].setdefault(name, []).append(float(value))
    return rows


def second_drafts(
    lines: dict[int, dict[str, Any]], extractive_rouge2: Callable[[int], float]
) -> list[str]:
    """Per precision, from the lines that record `regenerated_pct`: how many articles were
    drafted twice, how many second drafts passed, and the paired change in ROUGE-2 had a
    failed first draft gone straight to the extractive summary (`extractive_rouge2` of
    the article's number). Empty when no line records it."""
    marked = {n: line for n, line in sorted(lines.items()) if "regenerated_pct" in line["float32"]}
    if not marked:
        return []
    text = [f"second drafts, {len(marked)} articles that record them:"]
    for precision in PRECISIONS:
        figures = {n: line[precision] for n, line in marked.items()}
        drafted = [n for n, f in figures.items() if f["regenerated_pct"]]
        passed = sum(not figures[n]["fallback_pct"] for n in drafted)
        kept = [f["rouge2"] for f in figures.values()]
        instead = [
            extractive_rouge2(n) if n in drafted else f["rouge2"] for n, f in figures.items()
        ]
        change = paired_bootstrap(kept, instead)
        text.append(
            f"  {precision}: {len(drafted)} drafted twice, {passed} of them then passed; "
            f"ROUGE-2 without second drafts {change.diff:+.2f} "
            f"[{change.low:+.2f}, {change.high:+.2f}]"
        )
    return text


def report(rows: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    """The paired figures of float32 (a) against bfloat16 (b), the speed ratio, the verdict."""
    fp32, bf16 = rows["float32"], rows["bfloat16"]
    pairs = {field: paired_bootstrap(fp32[field], bf16[field]) for _, field, _ in MEASURES}
    pairs["seconds"] = paired_bootstrap(fp32["seconds"], bf16["seconds"])
    return {
        "articles": len(fp32["seconds"]),
        "pairs": {name: vars(pair) for name, pair in pairs.items()},
        "speed_ratio": pairs["seconds"].a / pairs["seconds"].b,  # > 1: bfloat16 is faster
        "verdict": verdict(pairs),
    }


def format_table(summary: dict[str, Any]) -> str:
    """The report as one plain-text table, the two precisions side by side."""
    head = ("", "float32", "bfloat16", "bf16 - fp32", "95% interval")
    lines = [head, ("articles", str(summary["articles"]), str(summary["articles"]), "", "")]
    labels = [(label, field) for label, field, _ in MEASURES] + [("seconds / article", "seconds")]
    for label, field in labels:
        pair = Paired(**summary["pairs"][field])
        lines.append(
            (
                label,
                f"{pair.a:.2f}",
                f"{pair.b:.2f}",
                f"{pair.diff:+.2f}",
                f"[{pair.low:+.2f}, {pair.high:+.2f}]",
            )
        )
    lines.append(("speed ratio (fp32 s / bf16 s)", "", f"{summary['speed_ratio']:.2f}x", "", ""))
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    text = [
        "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ).rstrip()
        for row in lines
    ]
    return "\n".join([*text, f"verdict: {summary['verdict']}"])


def publish(args: argparse.Namespace, rows: dict[str, dict[str, list[float]]]) -> None:
    """Print the table of `rows` on stdout, and write it to --json when asked."""
    summary = report(rows)
    print(f"{args.model}, {args.length}, {summary['articles']} articles from {args.data}")
    print(format_table(summary), flush=True)
    if args.json:
        payload = {"data": str(args.data), "model": args.model, **summary, "per_article": rows}
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Load both precisions, summarize every article with each, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("data", type=Path, help="JSONL: one {text, summary[, title]} per line")
    parser.add_argument("--model", default="smollm2-135m", help="preset, HF id or path")
    parser.add_argument(
        "--max-input-tokens",
        type=int,
        default=1024,
        help="input window (the bundled model's default, docs/configuration.md)",
    )
    parser.add_argument("--length", default="medium", choices=list(SENTENCE_RANGES))
    parser.add_argument("--limit", type=int, help="only the first N records")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the figures here")
    parser.add_argument(
        "--rows",
        type=Path,
        metavar="OUT",
        help="append each article's figures as it ends (JSONL); articles already there are "
        "skipped, so a stopped run resumes",
    )
    parser.add_argument(
        "--part",
        default="0/1",
        help="K/N: only articles K, K+N, K+2N ... (N processes of one sitting, --threads 1)",
    )
    parser.add_argument("--threads", type=int, help="torch threads (default: the cores)")
    parser.add_argument(
        "--from-rows",
        type=Path,
        nargs="+",
        metavar="ROWS",
        help="measure nothing: the table of these --rows files together",
    )
    args = parser.parse_args(argv)
    if args.json and not args.json.parent.is_dir():
        parser.error(f"--json: {args.json.parent} is not a folder")
    if args.from_rows:
        publish(args, read_rows(args.from_rows))
        records, options = load_records(args.data, args.limit), SummaryOptions(length=args.length)

        def extractive_rouge2(number: int) -> float:
            record = records[number]
            summary = summarize_extractive(Article(record.text, record.title, options))
            return article_figures(record, summary, options)["rouge2"]

        print("\n".join(second_drafts(read_lines(args.from_rows), extractive_rouge2)))
        return 0
    part, parts = (int(n) for n in args.part.split("/"))
    from nutgraf.summarize import load_summarizer, set_torch_threads

    if args.threads:
        set_torch_threads(args.threads)

    # The load lines say each model's precision; the table goes to stdout alone.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")

    every = load_records(args.data, args.limit)
    numbers = list(range(part, len(every), parts))
    if args.rows and args.rows.is_file():
        # Resumed: the articles this file already holds are not measured again.
        lines = args.rows.read_text(encoding="utf-8").splitlines()
        done = {int(json.loads(line)["article"]) for line in lines if line.strip()}
        numbers = [n for n in numbers if n not in done]
    records = [every[n] for n in numbers]
    options = SummaryOptions(length=args.length)
    base = Settings()
    summarizers = {}
    for precision in PRECISIONS:
        settings = base.model_copy(
            update={"dtype": precision, "max_input_tokens": args.max_input_tokens}
        )
        summarizers[precision] = load_summarizer(settings, args.model)
    if args.rows:
        with args.rows.open("a", encoding="utf-8") as out:
            rows = run(records, summarizers, options, numbers, out)
    else:
        rows = run(records, summarizers, options, numbers)
    publish(args, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

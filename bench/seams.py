"""No seams: how often summaries spell a word other than as their article does, before and
after nutgraf.summarize.spelling respells them.

    .venv/bin/python bench/seams.py ../shared/data/news-dev.jsonl

Two figures on the dev set:
- its human reference summaries (`summary`), which went through a news tokenizer and show
  its seams ("same- sex", "can ' t", "' sustained attack '"): the share with a seam, as
  written and once respelled against their article;
- the medium extractive summary of each article (the article's own sentences), seamed as
  a tokenizer seams text (punctuation, clitics and hyphens split off, quotes straightened)
  and respelled: the share spelled exactly as the article again; and the share left
  unchanged by respelling as they are (it must never touch well-spelled text).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nutgraf.contract import SummaryOptions  # noqa: E402
from nutgraf.summarize import Article, summarize_extractive  # noqa: E402
from nutgraf.summarize.spelling import Respeller  # noqa: E402

# What a seam looks like: a space before punctuation or a clitic, after a hyphen or an
# opening bracket, or around a lone quote.
SEAM = re.compile(
    r"\s[,.;:!?%)\]]|[^\W\d_]-\s[^\W\d_]|\s['’](?:s|ve|re|ll|d|m|t)\b|\sn['’]t\b|[(\[]\s"
    r"|\s['\"]\s"
)
_CLITIC = re.compile(r"(?i)(\w)(n['’]t|['’](?:s|ve|re|ll|d|m))\b")
_PUNCT = re.compile(r"([,.;:!?](?=\s|$)|[%)\]\"“”]|(?<=\s)['‘’]|['‘’](?=\s|$))")


def seam(text: str) -> str:
    """`text` as a news tokenizer and detokenizer leave it: "same- sex", "ca n't", spaces
    around punctuation and quotes, curly quotes straightened."""
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    text = _CLITIC.sub(r"\1 \2", text)
    text = re.sub(r"(?<=[^\W\d_])-(?=[^\W\d_])", "- ", text)
    text = _PUNCT.sub(r" \1 ", text)
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="the dev set: JSONL with id, text and summary")
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in Path(args.data).read_text().splitlines() if line]

    started = time.perf_counter()
    seamed_before = seamed_after = 0
    restored = untouched = injected = 0
    medium = SummaryOptions(length="medium", mode="extractive")
    for row in rows:
        respeller = Respeller(row["text"])
        reference = row["summary"]
        seamed_before += bool(SEAM.search(reference))
        seamed_after += bool(SEAM.search(respeller.respell(reference)))
        summary = summarize_extractive(Article(row["text"], None, medium)).summary
        untouched += respeller.respell(summary) == summary
        broken = seam(summary)
        injected += broken != summary
        # Whitespace aside: a hard-wrapped article's line breaks are not spelling.
        restored += respeller.respell(broken).split() == summary.split()
    elapsed_ms = (time.perf_counter() - started) * 1000 / (3 * len(rows))

    n = len(rows)
    print(f"reference summaries with a seam: {seamed_before}/{n} = {100 * seamed_before / n:.1f}%")
    print(f"  after respelling:              {seamed_after}/{n} = {100 * seamed_after / n:.1f}%")
    print(f"extractive summaries left unchanged by respelling: {untouched}/{n}")
    print(
        f"extractive summaries seamed ({injected}/{n} changed) and respelled back exactly: "
        f"{restored}/{n} = {100 * restored / n:.1f}%"
    )
    print(f"mean time per respelling: {elapsed_ms:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Model output to what an editor asked for: the preamble stripped, whole sentences (or
bullet items), no repeats, within the length and max_words; and loops detected."""

from __future__ import annotations

import re

from nutgraf.contract import HEADLINE_MAX_WORDS, SENTENCE_RANGES, Format, SummaryOptions
from nutgraf.text import clean_summary, is_complete_sentence, sentences, word_count

_BULLET_MARK = re.compile(r"^\s*(?:[-*•·–]|\d+[.)])\s+")
_INLINE_NUMBER = re.compile(r"(?<=[.!?])\s+\d{1,2}[.)]\s+(?=[A-Z\"“])")


def shape_summary(raw: str, options: SummaryOptions) -> list[str]:
    """Model output to the sentences (or bullet items) an editor asked for: complete, no
    repeats, no more than the length allows, within max_words."""
    raw = strip_preamble(raw)
    if options.format == "bullets" and any(_BULLET_MARK.match(x) for x in raw.splitlines()):
        items = [_BULLET_MARK.sub("", line).strip() for line in raw.splitlines() if line.strip()]
        # An item cut off by the token budget is dropped, not closed with a period.
        complete = [item for item in items if is_complete_sentence(item)]
        units = [clean_summary(item) for item in (complete or items[:1])]
    else:
        # A paragraph holds no list: markers at line starts ("1.", "-") and numbering
        # between sentences ("... fell. 2. The ...") go.
        lines = (_BULLET_MARK.sub("", line) for line in raw.splitlines())
        units = sentences(clean_summary(_INLINE_NUMBER.sub(" ", "\n".join(lines))))
    unique: list[str] = []
    for unit in units:
        if unit and unit.lower() not in (u.lower() for u in unique):
            unique.append(unit)
    units = unique[: SENTENCE_RANGES[options.length][1]]
    cap = options.max_words or (HEADLINE_MAX_WORDS if options.length == "headline" else None)
    while cap and len(units) > 1 and word_count(" ".join(units)) > cap:
        units.pop()
    if cap and units and word_count(units[0]) > cap:
        units[0] = cut_words(units[0], cap)
    return units


def is_degenerate(text: str, threshold: float = 0.3) -> bool:
    """True when a model's answer loops: too many of its word trigrams are repeats."""
    words = text.lower().split()
    trigrams = list(zip(words, words[1:], words[2:], strict=False))
    if len(trigrams) < 10:
        return False
    return 1 - len(set(trigrams)) / len(trigrams) > threshold


def strip_preamble(raw: str) -> str:
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


def cut_words(sentence: str, cap: int) -> str:
    """Shorten one sentence to `cap` words at the last clause break, closed with a period."""
    words = sentence.split()[:cap]
    text = " ".join(words)
    for mark in (";", ","):
        if mark in text[len(text) // 2 :]:
            text = text[: text.rindex(mark)]
            break
    return text.rstrip(",;:-– ") + "."


def join_units(units: list[str], fmt: Format) -> str:
    """The summary string: sentences joined by spaces, or bullet items one per line."""
    if fmt == "bullets":
        return "\n".join(f"- {unit}" for unit in units)
    return " ".join(units)

"""The words said to instruction-tuned models for each pass; the backend puts them in its
template (and a seq2seq backend reads only the body)."""

from __future__ import annotations

from nutgraf.contract import Length
from nutgraf.models import Prompt
from nutgraf.summarize.plan import Pass

SYSTEM_PROMPT = (
    "You are a news editor. You write accurate, neutral summaries of news articles. "
    "Use only facts stated in the article."
)
# Said on the second try, after the first summary failed a check.
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


def prompt(p: Pass, body: str) -> Prompt:
    """The pass's request with `body` (its text, already fitted to the budget)."""
    how = (BULLET_INSTRUCTIONS if p.format == "bullets" else LENGTH_INSTRUCTIONS)[p.length]
    instruction = f"Summarize this news article {how}."
    if p.safe:
        instruction += " " + SAFE_INSTRUCTION
    title = f"Title: {p.title.strip()}\n\n" if p.title else ""
    return Prompt(body=body, instruction=f"{instruction}\n\n{title}", system=SYSTEM_PROMPT)

"""Articles in, summaries out, for any model backend.

article.py (the unit of work), plan.py (what the model reads: the article, or its most
salient sentences), prompts.py (the words said to instruction-tuned models), abstractive.py
(the Summarizer: passes, retries, fallback), shaping.py (model output to what the editor
asked for), verify.py (the checks a summary must pass), extractive.py, textrank.py,
features.py and scorer.py (no model; training.py fits the scorer), faithfulness/ (the
numbers-and-names check), cache.py (one summarizer per model and process).

Importing this package loads neither torch nor transformers (the API uses Article and
summarize_extractive from here).
"""

from nutgraf.summarize.abstractive import Summarizer
from nutgraf.summarize.article import Article
from nutgraf.summarize.cache import SummarizerCache, load_summarizer, set_torch_threads
from nutgraf.summarize.extractive import summarize_extractive
from nutgraf.summarize.plan import TOKEN_BUDGETS, Pass, Reading, read_article
from nutgraf.summarize.shaping import is_degenerate, shape_summary

__all__ = [
    "TOKEN_BUDGETS",
    "Article",
    "Pass",
    "Reading",
    "Summarizer",
    "SummarizerCache",
    "is_degenerate",
    "load_summarizer",
    "read_article",
    "set_torch_threads",
    "shape_summary",
    "summarize_extractive",
]

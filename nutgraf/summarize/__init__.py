"""Articles in, summaries out, for any model backend.

article.py (the unit of work), plan.py (what each pass reads: chunks, budgets, map-reduce
levels), prompts.py (the words said to instruction-tuned models), abstractive.py (the
Summarizer: passes, retries, finishing), shaping.py (model output to what the editor asked
for), extractive.py and textrank.py (no model), faithfulness/ (the numbers-and-names check),
cache.py (one summarizer per model and process).

Importing this package loads neither torch nor transformers (the API uses Article and
summarize_extractive from here).
"""

from nutgraf.summarize.abstractive import Summarizer
from nutgraf.summarize.article import Article
from nutgraf.summarize.cache import SummarizerCache, load_summarizer, set_torch_threads
from nutgraf.summarize.extractive import summarize_extractive
from nutgraf.summarize.plan import TOKEN_BUDGETS, ArticlePlan, Pass
from nutgraf.summarize.shaping import is_degenerate, shape_summary

__all__ = [
    "TOKEN_BUDGETS",
    "Article",
    "ArticlePlan",
    "Pass",
    "Summarizer",
    "SummarizerCache",
    "is_degenerate",
    "load_summarizer",
    "set_torch_threads",
    "shape_summary",
    "summarize_extractive",
]

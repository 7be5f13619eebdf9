"""nutgraf: news summarization as a service. The core never imports flask or celery."""

__version__ = "0.1.0"

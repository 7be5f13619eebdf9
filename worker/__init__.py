"""Celery side of nutgraf: the app, the tasks and the per-process runtime."""

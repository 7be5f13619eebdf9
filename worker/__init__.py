"""Celery side of nutgraf: the app, the one enqueue, the tasks, the per-process runtime and
the command that starts a worker (`python -m worker`)."""

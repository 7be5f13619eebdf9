"""Celery's worker consumer, less the one step nutgraf has no use for, and handing back
what it holds unstarted when the worker stops."""

from __future__ import annotations

from typing import ClassVar

from celery.worker.consumer import Consumer as CeleryConsumer

from worker.batching import AckLateBatches

DELAYED_DELIVERY = "celery.worker.consumer.delayed_delivery:DelayedDelivery"


class Consumer(CeleryConsumer):
    """Without native delayed delivery (Celery 5.5+), which a worker on quorum queues
    otherwise sets up at every start: 28 quorum queues, their exchanges and a binding per
    task queue, for tasks sent with an eta or a countdown. nutgraf sends none (a job's
    retry is a new message from the sweep), and the lane queues' direct exchanges cannot
    take those bindings anyway (Celery warns once per queue)."""

    class Blueprint(CeleryConsumer.Blueprint):
        """Celery's consumer steps, in Celery's order, less DelayedDelivery."""

        default_steps: ClassVar[list[str]] = [
            step for step in CeleryConsumer.Blueprint.default_steps if step != DELAYED_DELIVERY
        ]

    def stop(self) -> None:
        """Stop consuming (a warm or cold shutdown), then give the broker back at once every
        message buffered for a batch that has not started, so that another worker runs it
        now. Celery waits for the running batch next, and closes the connection only after
        it: that is when the rest of what is unacknowledged would go back otherwise."""
        super().stop()
        for task in self.app.tasks.values():
            if isinstance(task, AckLateBatches):
                task.hand_back()

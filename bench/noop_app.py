"""The raw baseline: a Celery app with the production settings (broker, acks_late, prefetch 1, prefork)
whose one task does nothing but note when it ran."""

import os
import time

import redis
from celery import Celery

app = Celery("bench_noop", broker=os.environ["REDIS_URL"])
app.conf.update(task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
                task_ignore_result=True, task_serializer="json", accept_content=["json"],
                worker_hijack_root_logger=False)
_done = redis.Redis.from_url(os.environ["REDIS_URL"])


@app.task(name="bench.noop")
def noop(marker: str) -> None:
    _done.hset("bench:done", marker, time.time())

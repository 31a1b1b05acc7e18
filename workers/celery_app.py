"""The Celery app: queues, routes, beat schedule and settings. Results live in PostgreSQL (agent_runs),
so there is no result backend."""

import os

from celery import Celery
from celery.schedules import crontab
from celery.signals import worker_init, worker_process_init, worker_process_shutdown, worker_ready
from kombu import Queue

from app.agents.registry import load_installed
from app.core.config import get_settings
from app.core.embedded import resolved_urls
from app.core.logging import configure_logging
from app.installed import TASK_MODULES

AGENT_QUEUES = ("agents.echo", "agents.sdr", "agents.sales", "agents.negotiation", "agents.finance", "agents.coaching")
QUEUES = (*AGENT_QUEUES, "pipeline", "email", "webhooks", "knowledge", "maintenance")


def _periodic_expiry(interval: float) -> float:
    """Beat keeps sending while workers are down; an expiry stops that backlog from being worked off
    later. It must still be generous: a busy worker may take seconds to pick a message up, and an expiry
    that short would discard every relay and reaper run exactly when they are needed most."""
    return max(30.0, interval * 4)


def _build() -> Celery:
    settings = get_settings()
    if settings.run_hard_time_limit_seconds >= settings.broker_visibility_timeout_seconds:
        raise RuntimeError(
            "RUN_HARD_TIME_LIMIT_SECONDS must be below BROKER_VISIBILITY_TIMEOUT_SECONDS, or Redis redelivers "
            "tasks that are still running"
        )
    app = Celery("agentline", broker=resolved_urls(settings).redis_url, include=list(TASK_MODULES))
    transport_options = {
        "visibility_timeout": settings.broker_visibility_timeout_seconds,
        # Retry publishing when Redis blips instead of failing the request (the outbox covers the rest).
        "max_retries": 3,
    }
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_time_limit=settings.run_hard_time_limit_seconds,
        task_ignore_result=True,
        result_backend=None,
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_queues=[Queue(name) for name in QUEUES],
        task_default_queue="maintenance",
        task_routes={
            "outbox.relay": {"queue": "maintenance"},
            "runs.reap": {"queue": "maintenance"},
            "maintenance.purge": {"queue": "maintenance"},
            "reviews.sweep": {"queue": "maintenance"},
            "pipelines.advance": {"queue": "pipeline"},
            "email.send": {"queue": "email"},
            "email.sweep": {"queue": "maintenance"},
            "webhooks.deliver": {"queue": "webhooks"},
            "webhooks.sweep": {"queue": "maintenance"},
            "coaching.schedule_weekly": {"queue": "maintenance"},
        },
        beat_schedule={
            "relay-outbox": {"task": "outbox.relay", "schedule": settings.outbox_relay_interval_seconds,
                             "options": {"expires": _periodic_expiry(settings.outbox_relay_interval_seconds)}},
            "reap-runs": {"task": "runs.reap", "schedule": settings.reaper_interval_seconds,
                          "options": {"expires": _periodic_expiry(settings.reaper_interval_seconds)}},
            "review-deadlines": {"task": "reviews.sweep", "schedule": settings.review_sweep_interval_seconds,
                                 "options": {"expires": _periodic_expiry(settings.review_sweep_interval_seconds)}},
            "email-stalled": {"task": "email.sweep", "schedule": 60.0, "options": {"expires": _periodic_expiry(60.0)}},
            "webhooks-due": {"task": "webhooks.sweep", "schedule": 60.0, "options": {"expires": _periodic_expiry(60.0)}},
            # A weekly review starts at most five minutes after its time (app.coaching.schedule).
            "coaching-reviews": {"task": "coaching.schedule_weekly", "schedule": 300.0,
                                 "options": {"expires": _periodic_expiry(300.0)}},
            "purge": {"task": "maintenance.purge", "schedule": crontab(minute=17, hour=3)},
        },
    )
    return app


celery_app = _build()
# Agents and domains register themselves when imported (app.installed): here, before the pool forks, so
# no pool process pays for the imports during its first run.
load_installed()


@worker_init.connect
def _refuse_unsafe_database_role(**_: object) -> None:
    """A worker does not start as a role that row-level security does not hold. SystemExit, because Celery
    logs any other exception a signal handler raises and starts anyway."""
    from app.core import db

    try:
        db.refuse_unsafe_runtime_role()
    except db.UnsafeRuntimeRole as exc:
        raise SystemExit(f"agentline worker: {exc}") from exc
    finally:
        db.get_engine().dispose()  # the pool children fork from this process: they connect afresh


@worker_process_init.connect
def _fresh_connections_per_child(**_: object) -> None:
    """A forked pool child must not share the parent's database connections or Redis sockets."""
    from app.core import db, redis

    configure_logging()
    db.use_worker_commit_mode()
    redis.get_redis.cache_clear()



@worker_ready.connect
def _serve_metrics(**_: object) -> None:
    port = get_settings().worker_metrics_port
    if port and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import CollectorRegistry, start_http_server
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        start_http_server(port, registry=registry)


@worker_process_shutdown.connect
def _forget_dead_child(pid: int | None = None, **_: object) -> None:
    if pid and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)

"""Run metrics read from PostgreSQL at scrape time, so /metrics on any API replica shows the state of
every worker's runs: active runs by agent and status, and the age of the oldest waiting one."""

import structlog
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text

from app.core.db import get_engine

log = structlog.get_logger(__name__)


class ActiveRunsCollector(Collector):
    def collect(self):
        active = GaugeMetricFamily("agentline_runs_active", "Runs not finished yet, by agent and status",
                                   labels=["agent", "status"])
        oldest = GaugeMetricFamily("agentline_run_oldest_seconds",
                                   "Age of the oldest run in each waiting or running state (queue latency)",
                                   labels=["agent", "status"])
        try:
            with get_engine().connect() as connection:
                rows = connection.execute(text("SELECT * FROM metrics_active_runs()")).all()
        except Exception:  # a scrape must not fail because the database is away; /ready reports that
            log.warning("metrics_active_runs_failed", exc_info=True)
            return
        for row in rows:
            active.add_metric([row.agent, row.status], row.runs)
            oldest.add_metric([row.agent, row.status], row.oldest_seconds or 0.0)
        yield active
        yield oldest

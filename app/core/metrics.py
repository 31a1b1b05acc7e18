"""Prometheus metrics, one registry per process (the default one)."""

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter("agentline_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram("agentline_http_request_seconds", "HTTP request latency", ["method", "route"])
RATE_LIMITED = Counter("agentline_rate_limited_total", "Requests refused by the tenant rate limit")

RUNS_CREATED = Counter("agentline_runs_created_total", "Runs accepted", ["agent"])
RUNS_FINISHED = Counter("agentline_runs_finished_total", "Runs that reached a terminal state", ["agent", "status"])
RUN_QUEUE_LATENCY = Histogram(
    "agentline_run_queue_latency_seconds", "From queued to claimed by a worker", ["agent"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
RUN_DURATION = Histogram("agentline_run_duration_seconds", "Execution time of one attempt", ["agent", "outcome"])
OUTBOX_PUBLISHED = Counter("agentline_outbox_published_total", "Outbox messages published", ["via"])
RUNS_REAPED = Counter("agentline_runs_reaped_total", "Runs repaired by the reaper", ["reason", "outcome"])
REVIEWS_DECIDED = Counter("agentline_reviews_decided_total", "Review decisions", ["agent", "decision"])
REVIEW_DEADLINES = Counter("agentline_review_deadlines_total", "Review reminders, escalations and expiries",
                           ["action"])
PIPELINES_FINISHED = Counter("agentline_pipelines_finished_total", "Pipelines that ended", ["status"])

"""Prometheus metrics, one registry per process (the default one)."""

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter("agentline_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram("agentline_http_request_seconds", "HTTP request latency", ["method", "route"])
RATE_LIMITED = Counter("agentline_rate_limited_total", "Requests refused by the tenant rate limit")

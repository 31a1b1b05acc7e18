"""Prometheus metrics of model calls. Labelled by tenant: tenants are few per deployment compared with
series budgets, and cost per tenant is the first question operators ask."""

from prometheus_client import Counter, Histogram

LLM_TOKENS = Counter("agentline_llm_tokens_total", "Model tokens", ["tenant", "agent", "provider", "kind"])
LLM_COST = Counter("agentline_llm_cost_usd_total", "Model cost in USD (price table in app/llm/prices.py)",
                   ["tenant", "agent", "provider"])
LLM_CALLS = Counter("agentline_llm_calls_total", "Model call attempts", ["provider", "status"])
LLM_LATENCY = Histogram("agentline_llm_call_seconds", "Latency of one model call attempt", ["provider"],
                        buckets=(0.005, 0.05, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120))

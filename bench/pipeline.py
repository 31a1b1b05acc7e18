"""Leads through the whole pipeline, and what the engine adds between its stages.

A scratch database and tenant: the ICP (settings and a document tagged `icp`), a price book and N leads of
good fit, all through the API; the API, one Celery worker (prefork) on every queue a pipeline uses and beat,
on the embedded PostgreSQL and Redis, with the offline model provider and the file email transport (a
temporary EMAIL_OUTBOX_DIR: nothing leaves the machine). A bench client of `--clients` threads starts every
pipeline through the API, approves every review as it appears (it polls GET /reviews?status=pending), and
plays the client at the negotiation stage: one counter-offer within the price policy (10 % off list; the
offline negotiator meets it halfway, under the approval threshold, so our answer is sent at once), then
acceptance of our answer (`--negotiation counter`, the default: a negotiation run per lead), or acceptance
of the proposal as it stands (`accept`). Stages that do not exist are not driven: the bench follows what
each pipeline waits for.

Printed, after a warm-up whose pipelines are not counted:
- leads/s: pipelines finished per second, from the first start to the last pipeline's end;
- the engine's own overhead per hop, from the database afterwards: from the moment a stage's work ended
  (the run's move to awaiting_review, the review's decision, the email's sent_at, the client's acceptance,
  the invoice's issued_at) to the next stage's start (`pipeline_stages.started_at`) and, when the next
  stage is a run, to that run's claim by a worker (`agent_runs.started_at`). The time a review waits for
  the bench's decision, and the time the negotiation waits for the client, are not in it; decision → next
  stage is. p50 / p99 per hop, per kind of hop and overall. An acceptance is stamped at its transaction's
  start and a decision in the middle of its transaction, so for those hops the bench also prints the other
  bound: from its receipt of the answer (after the commit);
- the advance signals per pipeline and how the outbox published them (at commit, or by the relay);
- CPU ms per lead and per stage, per process group (from /proc: the API, the worker, beat, the PostgreSQL
  backends of the scratch database, redis-server, the bench client), and what the bench's own polling
  costs the API.

By default every pipeline starts at once (throughput: a hop then includes the wait for a CPU behind the
other leads' work); `--inflight 1` runs them one at a time (the engine's overhead without that wait).

Usage:  python -m bench.pipeline [--leads 200] [--clients 8] [--negotiation counter|accept] [--inflight 0]
                                 [--split N] [--detail]
"""

import argparse
import http.client
import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, make_url, text

from bench._harness import CpuMeter, Processes, percentile, scratch_database, wait_for

LEAD_COLUMNS = "name,email,company,title,industry,company_size,country,timezone,website,source,notes"
# A good fit on every criterion of app.demo_data.ICP_SETTINGS, as the offline provider judges them.
FITS = (
    ("Head of People", "software", "DE", "Europe/Berlin", "webinar", "Asked about on-site classes for two offices"),
    ("HR Director", "fintech", "NL", "Europe/Amsterdam", "referral", "Team grew fast this year"),
    ("Office Manager", "professional services", "AT", "Europe/Vienna", "webinar", "Asked for a quote"),
    ("Head of People", "software", "GB", "Europe/London", "referral", "Wants a programme for two sites"),
)
# --queue-order priority: the pipeline's own moves first, then the later stages' agents before the earlier
# ones (work in progress before new leads).
PRIORITY_ORDER = ("pipeline", "maintenance", "email", "agents.finance", "agents.negotiation", "agents.sales",
                  "agents.sdr", "knowledge")
PRIORITY_WORKER = """
import sys
from kombu import Queue
from workers.celery_app import celery_app
order = sys.argv[1].split(",")
celery_app.conf.task_queues = [Queue(name) for name in order]
celery_app.conf.broker_transport_options = {**celery_app.conf.broker_transport_options,
                                            "queue_order_strategy": "priority"}
celery_app.worker_main(["worker", "-Q", sys.argv[1], *sys.argv[2:]])
"""
COUNTER_SHARE = Decimal("0.90")  # the client's counter-offer: 10 % off list; the offline negotiator meets halfway


def leads_csv(count: int, tag: str) -> str:
    rows = [LEAD_COLUMNS]
    for i in range(count):
        title, industry, country, timezone, source, notes = FITS[i % len(FITS)]
        company = f"Bench {tag} {i:05d}"
        rows.append(f"Lead {i:05d},lead{i:05d}@{tag}-{i:05d}.example,{company},{title},{industry},"
                    f"{120 + i % 700},{country},{timezone},https://{tag}-{i:05d}.example,{source},{notes}")
    return "\n".join(rows) + "\n"


class Api:
    """One keep-alive http.client connection per thread (httpx costs the bench more CPU per request than some
    of what is measured), and a count of requests by purpose."""

    def __init__(self, port: int, headers: dict[str, dict[str, str]]):
        self.port, self.headers = port, headers
        self.local = threading.local()
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()

    # uvicorn closes a keep-alive connection idle for 5 s: one idle longer than this is replaced before use.
    IDLE_SECONDS = 3.0

    def call(self, method: str, path: str, body: Any = None, *, role: str, purpose: str,
             expect: tuple[int, ...] = (200, 202)) -> Any:
        headers = {**self.headers[role], **({"Content-Type": "application/json"} if body is not None else {})}
        # Only requests whose repetition changes nothing are sent again after a broken connection: reads, and
        # a decision (the same decision posted again returns the first).
        retries = 1 if method == "GET" or purpose == "decide review" else 0
        while True:
            connection, used = getattr(self.local, "connection", None), getattr(self.local, "used", 0.0)
            if connection is not None and time.monotonic() - used > self.IDLE_SECONDS:
                connection.close()
                connection = None
            if connection is None:
                connection = self.local.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                connection.request(method, path, json.dumps(body) if body is not None else None, headers)
                response = connection.getresponse()
                data = response.read()
            except (http.client.HTTPException, OSError):
                self.local.connection = None
                connection.close()
                if retries:
                    retries -= 1
                    continue
                raise
            self.local.used = time.monotonic()
            break
        with self.lock:
            self.counts[purpose] += 1
        if response.status not in expect:
            raise BenchError(f"{method} {path}: HTTP {response.status}: {data[:500]!r}")
        return json.loads(data) if data else None

    def pages(self, path: str, *, role: str, purpose: str) -> list[dict]:
        items, cursor = [], None
        while True:
            page = self.call("GET", path + (f"&cursor={cursor}" if cursor else ""), role=role, purpose=purpose)
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items


class BenchError(Exception):
    pass


class Driver:
    """Starts the pipelines of `leads` and drives them to their end as their people would: every review
    approved as it appears, the client's move made once the pipeline waits for it at `negotiation`."""

    def __init__(self, api: Api, clients: int, negotiation: str, poll: float, inflight: int):
        self.api, self.negotiation, self.poll, self.inflight = api, negotiation, poll, inflight
        self.pool = ThreadPoolExecutor(max_workers=clients, thread_name_prefix="bench-client")
        self.errors: list[BaseException] = []
        self.accepted_at: dict[str, float] = {}  # pipeline → when the client's acceptance was answered
        self.answered_at: dict[str, float] = {}  # review → when its decision was answered

    def _submit(self, fn, *args) -> None:
        def guarded() -> None:
            try:
                fn(*args)
            except BaseException as exc:  # noqa: BLE001: reported by the polling loop
                self.errors.append(exc)
        self.pool.submit(guarded)

    def drive(self, lead_ids: list[str], timeout: float) -> dict[str, float]:
        """Returns {pipeline id: time.time() its POST was sent}."""
        started: dict[str, float] = {}
        waiting = list(reversed(lead_ids))
        posting = [0]
        lock = threading.Lock()
        deals: dict[str, str] = {}  # pipeline → deal (from the proposal review)
        decided: set[str] = set()
        moved: set[str] = set()  # pipelines whose client made its first move at negotiation
        answered: dict[str, str] = {}  # deal → pipeline, counter posted, waiting for our answer
        accepted: set[str] = set()

        def start(lead_id: str) -> None:
            sent = time.time()
            pipeline = self.api.call("POST", "/api/v1/pipeline/run", {"lead_id": lead_id}, role="operator",
                                     purpose="start pipeline", expect=(202,))
            with lock:
                started[pipeline["id"]] = sent
                posting[0] -= 1

        def approve(review: dict) -> None:
            self.api.call("POST", f"/api/v1/reviews/{review['entity_type']}/{review['entity_id']}/decision",
                          {"decision": "approve", "comment": "bench"}, role="reviewer", purpose="decide review")
            self.answered_at[review["id"]] = time.time()

        def client_move(pipeline_id: str, deal_id: str) -> None:
            path = f"/api/v1/deals/{deal_id}/offers"
            if self.negotiation == "accept":
                self.api.call("POST", path, {"kind": "accept"}, role="operator", purpose="accept", expect=(202,))
                self.accepted_at[pipeline_id] = time.time()
                return
            deal = self.api.call("GET", f"/api/v1/deals/{deal_id}", role="operator", purpose="read deal")
            amount = (Decimal(deal["list_price"]) * COUNTER_SHARE).quantize(Decimal("0.01"), ROUND_HALF_UP)
            with lock:
                answered[deal_id] = pipeline_id
            self.api.call("POST", path, {"kind": "counter", "amount": str(amount),
                                         "message": "Could you do it for a little less?"},
                          role="operator", purpose="counter-offer", expect=(202,))

        def accept(deal_id: str) -> None:
            self.api.call("POST", f"/api/v1/deals/{deal_id}/offers", {"kind": "accept"}, role="operator",
                          purpose="accept", expect=(202,))
            self.accepted_at[answered[deal_id]] = time.time()

        def start_more(running: int) -> None:
            room = len(waiting) if self.inflight <= 0 else max(0, self.inflight - running - posting[0])
            for _ in range(min(room, len(waiting))):
                with lock:
                    posting[0] += 1
                self._submit(start, waiting.pop())

        start_more(0)
        deadline = time.monotonic() + timeout
        while True:
            if self.errors:
                raise BenchError(f"the bench client failed: {self.errors[0]!r}") from self.errors[0]
            if time.monotonic() > deadline:
                raise BenchError(f"timed out with {len(waiting) + posting[0]} pipelines not started and "
                                 f"{len(started)} started")
            acted = False
            for review in self.api.pages("/api/v1/reviews?status=pending&limit=200", role="reviewer",
                                         purpose="poll reviews"):
                if review["pipeline_id"] in started and review["id"] not in decided:
                    decided.add(review["id"])
                    if review["entity_type"] == "proposal":
                        deals[review["pipeline_id"]] = review["entity_id"]
                    self._submit(approve, review)
                    acted = True
            with lock:  # together: once every POST has returned, `mine` holds every pipeline
                mine, all_posted = set(started), not waiting and posting[0] == 0
            running = {p["id"]: p["current_stage"] for p in self.api.pages(
                "/api/v1/pipelines?status=running&limit=200", role="operator", purpose="poll pipelines")
                if p["id"] in mine}
            for pipeline_id, stage in running.items():
                if stage == "negotiation" and pipeline_id not in moved and pipeline_id in deals:
                    moved.add(pipeline_id)
                    self._submit(client_move, pipeline_id, deals[pipeline_id])
                    acted = True
            with lock:
                pending_answers = [deal for deal in answered if deal not in accepted]
            if pending_answers:
                for deal in self.api.pages("/api/v1/deals?stage=negotiation&limit=200", role="operator",
                                           purpose="poll deals"):
                    # Our answer was sent: the deal's amount is our standing offer, below the list price.
                    if deal["id"] in pending_answers and Decimal(deal["amount"]) < Decimal(deal["list_price"]):
                        accepted.add(deal["id"])
                        self._submit(accept, deal["id"])
                        acted = True
            if all_posted and not running and not self.errors:
                self.pool.shutdown(wait=True)
                if self.errors:
                    continue
                return started
            start_more(len(running))
            if not acted:
                time.sleep(self.poll)


# --- what the database says afterwards -------------------------------------------------------------------

_STAGES = text("""
SELECT s.pipeline_id::text, s.position, s.name, s.kind, s.status, s.started_at, s.finished_at,
       s.run_id::text, s.review_id::text, r.started_at AS run_claimed, r.queued_at AS run_queued,
       (SELECT min(e.created_at) FROM run_events e WHERE e.run_id = s.run_id
          AND e.to_status IN ('awaiting_review', 'succeeded', 'failed', 'dead_lettered', 'cancelled', 'rejected'))
          AS run_ended,
       rv.created_at AS review_opened, rv.decided_at,
       em.sent_at, inv.issued_at,
       (SELECT min(h.created_at) FROM negotiation_history h JOIN deals d ON d.id = h.deal_id
          WHERE d.pipeline_id = s.pipeline_id AND h.side = 'client' AND h.kind IN ('accept', 'walk_away'))
          AS client_closed
FROM pipeline_stages s
LEFT JOIN agent_runs r ON r.id = s.run_id
LEFT JOIN reviews rv ON rv.id = s.review_id
LEFT JOIN email_logs em ON s.kind = 'action' AND em.id = s.entity_id
LEFT JOIN invoices inv ON s.kind = 'action' AND inv.id = s.entity_id
WHERE s.pipeline_id = ANY(CAST(:ids AS uuid[]))
ORDER BY s.pipeline_id, s.position
""")
_PIPELINES = text("""
SELECT p.id::text, p.status, p.stopped_reason, p.created_at, p.finished_at,
       (SELECT r.started_at FROM agent_runs r JOIN pipeline_stages s ON s.run_id = r.id
         WHERE s.pipeline_id = p.id AND s.position = 0) AS first_claimed
FROM pipelines p WHERE p.id = ANY(CAST(:ids AS uuid[]))
""")
# The outbox records of these pipelines' advance signals and of their runs' executions: written in the
# transaction that made the change (created_at: its start), published after its commit, then confirmed
# (published_at: the confirmation; a relay's publication counts one publish attempt).
_SIGNALS = text("""
SELECT o.task, o.kwargs->>'pipeline_id' AS pipeline_id, o.kwargs->>'run_id' AS run_id, o.created_at,
       o.published_at, o.publish_attempts
FROM outbox o
WHERE (o.task = 'pipelines.advance' AND o.kwargs->>'pipeline_id' = ANY(CAST(:ids AS text[])))
   OR o.kwargs->>'run_id' IN (SELECT r.id::text FROM agent_runs r WHERE r.pipeline_id = ANY(CAST(:ids AS uuid[])))
   OR (o.task = 'email.send' AND o.kwargs->>'email_id' IN (
         SELECT e.id::text FROM email_logs e WHERE e.pipeline_id = ANY(CAST(:ids AS uuid[]))))
""")
_NEGOTIATION_RUNS = text("""
SELECT h.created_at AS countered, r.queued_at, r.started_at, r.finished_at
FROM negotiation_history h JOIN deals d ON d.id = h.deal_id JOIN agent_runs r ON r.id = h.run_id
WHERE d.pipeline_id = ANY(CAST(:ids AS uuid[])) AND h.side = 'client' AND h.kind = 'counter'
""")


def stage_end(row: dict) -> Any:
    """When the stage's work was done, from the records themselves (not from the stage's finished_at, which
    is when the pipeline noticed)."""
    if row["kind"] == "run":
        return row["run_ended"]
    if row["kind"] == "review":
        return row["decided_at"]
    if row["name"] == "negotiation":
        return row["client_closed"]
    return row["sent_at"] or row["issued_at"]


def hops(engine, pipeline_ids: list[str], accepted_at: dict[str, float], answered_at: dict[str, float]) -> dict[str, Any]:
    with engine.connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(_STAGES, {"ids": pipeline_ids})]
        pipelines = [dict(row._mapping) for row in connection.execute(_PIPELINES, {"ids": pipeline_ids})]
        negotiation_runs = [dict(row._mapping) for row in connection.execute(_NEGOTIATION_RUNS, {"ids": pipeline_ids})]
        signals = [dict(row._mapping) for row in connection.execute(_SIGNALS, {"ids": pipeline_ids})]
    advances: dict[str, list[dict]] = defaultdict(list)
    executions: dict[str, dict] = {}
    for signal in signals:
        if signal["task"] == "pipelines.advance":
            advances[signal["pipeline_id"]].append(signal)
        elif signal["run_id"]:
            executions[signal["run_id"]] = signal
    for listed in advances.values():
        listed.sort(key=lambda signal: signal["created_at"])
    by_pipeline: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_pipeline[row["pipeline_id"]].append(row)
    per_hop: dict[tuple[int, str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    review_waits, missing = [], Counter()
    for stages in by_pipeline.values():
        for before, after in zip(stages, stages[1:]):
            if after["started_at"] is None:
                break
            end = stage_end(before)
            key = (before["position"], f"{before['name']} → {after['name']}", f"{before['kind']} → {after['kind']}")
            if end is None:
                missing[key[1]] += 1
                continue
            hop = per_hop[key]
            hop["stage"].append((after["started_at"] - end).total_seconds() * 1000)
            # The signal that moved it: the last one its pipeline wrote by the end of the stage's work (in
            # that transaction, which began before the end was stamped).
            signal = next((sig for sig in reversed(advances[before["pipeline_id"]]) if sig["created_at"] <= end), None)
            if signal is not None and signal["published_at"] is not None:
                hop["end → signal confirmed"].append((signal["published_at"] - end).total_seconds() * 1000)
                hop["confirmed → advanced"].append((after["started_at"] - signal["published_at"]).total_seconds() * 1000)
                hop["relayed"].append(1.0 if signal["publish_attempts"] else 0.0)
            if after["kind"] == "run" and after["run_claimed"] is not None:
                hop["claimed"].append((after["run_claimed"] - end).total_seconds() * 1000)
                hop["publish+queue+claim"].append((after["run_claimed"] - after["started_at"]).total_seconds() * 1000)
            hop["total"].append(hop["claimed"][-1] if after["kind"] == "run" and after["run_claimed"] else
                                hop["stage"][-1])
            # The bench's receipt of the answer to the request that ended the stage, after its commit: the
            # acceptance's end is stamped at its transaction's start (negotiation_history.created_at), a
            # decision's in the middle of its transaction; this is the other bound.
            answered = (accepted_at.get(before["pipeline_id"]) if before["name"] == "negotiation" else
                        answered_at.get(before["review_id"] or ""))
            if answered is not None:
                hop["from the 202"].append((after["started_at"].timestamp() - answered) * 1000)
                if after["run_claimed"] is not None:
                    hop["from the 202, claimed"].append((after["run_claimed"].timestamp() - answered) * 1000)
        for row in stages:
            if row["kind"] == "review" and row["decided_at"] and row["review_opened"]:
                review_waits.append((row["decided_at"] - row["review_opened"]).total_seconds() * 1000)
    first_claims = [(p["first_claimed"] - p["created_at"]).total_seconds() * 1000 for p in pipelines
                    if p["first_claimed"]]
    negotiation = [(n["started_at"] - n["countered"]).total_seconds() * 1000 for n in negotiation_runs
                   if n["started_at"]]
    # Signals a transaction wrote after one for the same pipeline (same transaction start): advances that
    # can only find what the first found.
    repeated = sum(len(listed) - len({signal["created_at"] for signal in listed}) for listed in advances.values())
    published = defaultdict(list)
    for signal in signals:
        if signal["published_at"] is not None:
            published[signal["task"]].append(((signal["published_at"] - signal["created_at"]).total_seconds() * 1000,
                                              signal["publish_attempts"]))
    return {"per_hop": per_hop, "review_waits": review_waits, "missing": missing, "pipelines": pipelines,
            "published": published, "repeated_signals": repeated,
            "advance_signals": sum(len(listed) for listed in advances.values()), "unpublished": sum(1 for signal in signals if signal["published_at"] is None),
            "stages": max((len(s) for s in by_pipeline.values()), default=0), "first_claims": first_claims,
            "negotiation_claims": negotiation}


# --- the run --------------------------------------------------------------------------------------------


def measure(urls: dict[str, str], procs: Processes, args: argparse.Namespace, outbox_dir: str) -> dict[str, Any]:
    from app import demo_data
    from app.auth.permissions import Role
    from app.core.context import TenantContext
    from app.core.db import session_scope
    from app.core.security import create_token
    from app.tenants.service import create_tenant
    from app.users import service as users
    from app.users.schemas import UserCreate

    with session_scope() as session:
        tenant, owner = create_tenant(session, name="Bench Fitness", admin_email="owner@bench.example.com",
                                      admin_password=uuid.uuid4().hex, slug=f"bench-{uuid.uuid4().hex[:6]}")
        ctx = TenantContext.system(tenant.id)
        people = {"admin": owner.id}
        for role in (Role.operator, Role.reviewer):
            people[role.value] = users.create_user(session, ctx, UserCreate(
                email=f"{role.value}@bench.example.com", password=uuid.uuid4().hex, role=role)).id
    headers = {name: {"Authorization": f"Bearer {create_token(user_id, tenant.id, 'access')[0]}"}
               for name, user_id in people.items()}
    port = 18900 + uuid.uuid4().int % 100
    # Generous API limits: the bench measures the pipeline, not the tenant's rate limit.
    env = {"RATE_LIMIT_PER_SECOND": "100000", "RATE_LIMIT_BURST": "100000", "EMAIL_OUTBOX_DIR": outbox_dir,
           "LLM_PROVIDER": "offline", "KNOWLEDGE_EMBEDDER": "offline"}
    procs.spawn("api", ["-m", "uvicorn", "app.main:create_app", "--factory", "--port", str(port),
                        "--log-level", "warning"], **env)
    worker = ("--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", args.loglevel)
    # Deployment choices, not engine code. --split: the pipeline's own moves (advances, the email's send, the
    # relay) on a worker of their own, so they never wait behind an agent run for a pool process.
    # --queue-order priority: kombu's Redis transport serves a worker's queues round-robin, one message per
    # non-empty queue in turn; `priority` always takes the first non-empty queue of PRIORITY_ORDER instead.
    quick = ("pipeline", "maintenance", "email")
    groups = ([("engine-worker", [q for q in PRIORITY_ORDER if q not in quick], args.concurrency, "agents@%h"),
               ("pipeline-worker", list(quick), args.split, "pipeline@%h")] if args.split else
              [("engine-worker", list(PRIORITY_ORDER), args.concurrency, "celery@%h")])
    for name, queues, processes, node in groups:
        options = ("-P", "prefork", "-c", str(processes), "-n", node, *worker)
        if args.queue_order == "priority":
            procs.spawn(name, ["-c", PRIORITY_WORKER, ",".join(queues), *options], **env)
        else:
            procs.celery(name, "workers.celery_app", "worker", "-Q", ",".join(queues), *options, **env)
    procs.celery("beat", "workers.celery_app", "beat", "--schedule", str(procs.logs / "beat-schedule"),
                 "--loglevel", "WARNING", **env)

    def ready() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(ready, 60, "the API")
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        def ok(response: httpx.Response) -> Any:
            if response.status_code >= 400:
                raise BenchError(f"{response.request.method} {response.request.url.path}: HTTP "
                                 f"{response.status_code}: {response.text[:500]}")
            return response.json()

        ok(client.patch("/api/v1/tenant", json={"settings": {"icp": demo_data.ICP_SETTINGS}}, headers=headers["admin"]))
        document = ok(client.post("/api/v1/knowledge/documents", json=demo_data.ICP_DOCUMENT,
                                  headers=headers["operator"]))
        wait_for(lambda: ok(client.get(f"/api/v1/knowledge/documents/{document['id']}", headers=headers["operator"]))
                 ["status"] in ("ready", "failed"), 120, "the ICP document to be ingested")
        for item in demo_data.PRICE_BOOK:
            ok(client.post("/api/v1/price-book", json=item, headers=headers["operator"]))

        def import_leads(count: int, tag: str) -> list[str]:
            imported = ok(client.post("/api/v1/leads/import", headers=headers["operator"],
                                      files={"file": (f"{tag}.csv", leads_csv(count, tag).encode(), "text/csv")}))
            ids = [row["lead_id"] for row in imported["rows"] if row.get("lead_id")]
            if len(ids) != count:
                raise BenchError(f"imported {len(ids)} of {count} leads: {imported['rows'][:3]}")
            return ids

        warmup_leads = import_leads(args.warmup, "warmup") if args.warmup else []
        leads = import_leads(args.leads, "bench")

    api = Api(port, headers)
    engine = create_engine(urls["MIGRATION_DATABASE_URL"])  # the owner reads across tenants' RLS for the tally
    if warmup_leads:
        Driver(api, args.clients, args.negotiation, args.poll, 0).drive(warmup_leads, 300)
    with engine.begin() as connection:
        # Tables never analysed are planned by guesswork; autovacuum would analyse them within a minute.
        connection.execute(text("ANALYZE"))
    api.counts.clear()
    meter = CpuMeter(procs, make_url(urls["DATABASE_URL"]).database, _redis_address(urls))
    meter.begin()
    began = time.time()
    driver = Driver(api, args.clients, args.negotiation, args.poll, args.inflight)
    started = driver.drive(leads, args.timeout or 120 + 6 * args.leads)
    cpu = meter.per_item_ms(len(leads))
    wall_end = time.time()
    result = hops(engine, list(started), driver.accepted_at, driver.answered_at)
    result["poll_cpu"] = poll_cost(api, procs, urls)
    engine.dispose()
    emails = sum(1 for _ in Path(outbox_dir).rglob("*.eml"))
    return {"started": started, "began": began, "wall_end": wall_end, "cpu": cpu, "requests": dict(api.counts),
            "emails": emails, **result}


def _redis_address(urls: dict[str, str]) -> str:
    url = make_url(urls["REDIS_URL"].replace("redis://", "postgresql://", 1))  # the same URL grammar
    return f"{url.host}:{url.port or 6379}"


def poll_cost(api: Api, procs: Processes, urls: dict[str, str], rounds: int = 100) -> dict[str, float]:
    """CPU per poll of the bench (its three GETs), measured afterwards with nothing running: their pages are
    empty then, as they nearly are when pipelines run one at a time (more items cost more)."""
    meter = CpuMeter(procs, make_url(urls["DATABASE_URL"]).database, _redis_address(urls))
    meter.begin()
    for _ in range(rounds):
        api.call("GET", "/api/v1/reviews?status=pending&limit=200", role="reviewer", purpose="calibration")
        api.call("GET", "/api/v1/pipelines?status=running&limit=200", role="operator", purpose="calibration")
        api.call("GET", "/api/v1/deals?stage=negotiation&limit=200", role="operator", purpose="calibration")
    return meter.per_item_ms(3 * rounds)


def _summary(values: list[float]) -> str:
    if not values:
        return f"{'':>6}{'-':>9}{'-':>9}{'-':>9}"
    return f"{len(values):>6}{percentile(values, 50):9.1f}{percentile(values, 99):9.1f}{max(values):9.1f}"


def report(args: argparse.Namespace, result: dict[str, Any]) -> None:
    pipelines = result["pipelines"]
    statuses = Counter(p["status"] for p in pipelines)
    finished = [p["finished_at"].timestamp() for p in pipelines if p["finished_at"]]
    wall = max(finished) - min(result["started"].values())
    durations = [(p["finished_at"] - p["created_at"]).total_seconds() for p in pipelines if p["finished_at"]]
    print(f"leads: {args.leads} ({', '.join(f'{n} {s}' for s, n in statuses.most_common())}), clients: "
          f"{args.clients}, worker: prefork x {args.concurrency}"
          f"{f' (+ {args.split} for pipeline, email, maintenance)' if args.split else ''}"
          f"{', queues in priority order' if args.queue_order == 'priority' else ''}, negotiation: "
          f"{'one counter-offer, then accept our answer' if args.negotiation == 'counter' else 'accept the proposal'}, "
          f"started {'all at once' if args.inflight <= 0 else f'at most {args.inflight} running'}")
    print(f"wall {wall:.1f} s from the first start to the last pipeline's end: {len(finished) / wall:.2f} leads/s; "
          f"a pipeline took p50 {statistics.median(durations):.1f} s, max {max(durations):.1f} s "
          f"(emails written: {result['emails']})")
    if statuses.get("succeeded", 0) != len(pipelines):
        reasons = Counter(p["stopped_reason"] for p in pipelines if p["status"] != "succeeded")
        print(f"  not succeeded: {dict(reasons)}")
    print(f"reviews waited for the bench (opened → decided, not in the hops): p50 "
          f"{percentile(result['review_waits'], 50):.0f} ms, p99 {percentile(result['review_waits'], 99):.0f} ms")
    print("\nengine overhead per hop, ms: from the end of a stage's work to the next stage's start, and for a run "
          "stage to its run's claim")
    if args.inflight <= 0:
        print("  (every pipeline started at once: a hop includes the wait for a CPU and a pool process behind the "
              "other leads' work; --inflight 1 measures it without)")
    print(f"  {'hop':38}{'kind':20}{'':>6}{'p50':>9}{'p99':>9}{'max':>9}")
    kinds: dict[str, list[float]] = defaultdict(list)
    overall: list[float] = []
    for (_, name, kind), values in sorted(result["per_hop"].items()):
        if "claimed" in values:
            print(f"  {name:38}{kind + ' (start)':20}{_summary(values['stage'])}")
        else:
            print(f"  {name:38}{kind:20}{_summary(values['total'])}")
        if args.detail and values["end → signal confirmed"]:
            relayed = sum(values["relayed"])
            print(f"  {'':38}{'   end → confirmed':20}{_summary(values['end → signal confirmed'])}"
                  + (f"   ({relayed:.0f} by the relay)" if relayed else ""))
            print(f"  {'':38}{'   → stage start':20}{_summary(values['confirmed → advanced'])}")
        if "claimed" in values:
            print(f"  {'':38}{'   start → claimed':20}{_summary(values['publish+queue+claim'])}")
            print(f"  {'':38}{'   = end → claimed':20}{_summary(values['claimed'])}")
        if values["from the 202"]:
            print(f"  {'':38}{'   answered → start':20}{_summary(values['from the 202'])}")
            if values["from the 202, claimed"]:
                print(f"  {'':38}{'   answered → claimed':20}{_summary(values['from the 202, claimed'])}")
        kinds[kind] += values["total"]
        overall += values["total"]
    print("  per kind of hop (to the run's claim for → run):")
    for kind, values in sorted(kinds.items()):
        print(f"  {'':38}{kind:20}{_summary(values)}")
    print(f"  {'all hops':38}{'':20}{_summary(overall)}")
    print(f"  {'(start: POST → sdr run claimed)':38}{'':20}{_summary(result['first_claims'])}")
    if result["negotiation_claims"]:
        print(f"  {'(counter-offer → negotiation run claimed)':38}{'':20}{_summary(result['negotiation_claims'])}")
    print(f"advance signals per pipeline: {result['advance_signals'] / max(1, len(pipelines)):.1f}, of which "
          f"{result['repeated_signals'] / max(1, len(pipelines)):.1f} written by a transaction that had written one")
    print("outbox records of these pipelines, transaction start → publication confirmed, ms (the API publishes at "
          "once and confirms every 0.25 s; a worker confirms right after publishing):")
    for task, values in sorted(result["published"].items()):
        relayed = sum(1 for _, attempts in values if attempts)
        print(f"  {task:38}{'':20}{_summary([ms for ms, _ in values])}   {relayed} published by the relay")
    if result["unpublished"]:
        print(f"  {result['unpublished']} not confirmed yet when read (the API confirms every "
              f"{0.25:g} s, after publishing)")
    if result["missing"]:
        print(f"  hops without an end time: {dict(result['missing'])}")
    cpu, stages = result["cpu"], result["stages"] or 1
    if cpu:
        engine_total = sum(v for g, v in cpu.items() if g != "bench client")
        print(f"\nCPU ms per lead (per stage: / {stages}), by process group:")
        for group in ("api", "worker", "beat", "postgres", "redis", "bench client"):
            if group in cpu:
                print(f"  {group:14}{cpu[group]:9.1f}{cpu[group] / stages:9.2f}")
        print(f"  {'engine total':14}{engine_total:9.1f}{engine_total / stages:9.2f}   (all but the bench client)")
    else:
        engine_total = 0.0
    requests = {purpose: n for purpose, n in result["requests"].items() if purpose != "calibration"}
    polls = sum(n for purpose, n in requests.items() if purpose.startswith("poll"))
    poll_cpu = {group: ms for group, ms in result["poll_cpu"].items() if group in ("api", "postgres", "redis")}
    if poll_cpu and polls:
        per_lead = sum(poll_cpu.values()) * polls / args.leads
        print(f"  of the engine total, the bench's polls ({polls / args.leads:.1f} per lead at "
              f"{sum(poll_cpu.values()):.2f} ms each, measured afterwards on empty pages): about {per_lead:.1f} ms "
              f"per lead; without them {engine_total - per_lead:.1f} ms per lead, "
              f"{(engine_total - per_lead) / stages:.2f} per stage")
    print(f"\nbench requests per lead: " + ", ".join(f"{purpose} {n / args.leads:.2f}"
                                                    for purpose, n in sorted(requests.items())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8, help="bench client threads (HTTP connections)")
    parser.add_argument("--concurrency", type=int, default=2, help="the worker's prefork pool processes")
    parser.add_argument("--negotiation", choices=("counter", "accept"), default="counter",
                        help="counter: one counter-offer within policy (a negotiation run per lead), then accept "
                             "our answer; accept: accept the proposal as it stands")
    parser.add_argument("--inflight", type=int, default=0,
                        help="start a pipeline only while fewer than this many run (0: start them all at once)")
    parser.add_argument("--split", type=int, default=0, metavar="N",
                        help="a second worker of N processes for the pipeline, email and maintenance queues "
                             "(0: one worker on every queue)")
    parser.add_argument("--queue-order", choices=("round_robin", "priority"), default="round_robin",
                        help="how the worker picks among its queues: kombu's default (round_robin), or always the "
                             "first non-empty of: " + ", ".join(PRIORITY_ORDER))
    parser.add_argument("--loglevel", default="WARNING", help="the workers' Celery log level")
    parser.add_argument("--warmup", type=int, default=4, help="pipelines driven first and not counted")
    parser.add_argument("--poll", type=float, default=0.1, help="seconds between polls that found nothing to do")
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument("--timeout", type=float, default=0, help="seconds (0: 120 + 6 per lead)")
    parser.add_argument("--detail", action="store_true",
                        help="split each hop: end → its signal confirmed, → the next stage's start")
    parser.add_argument("--logs", help="keep the processes' logs in this directory")
    args = parser.parse_args()
    os.environ["ACCESS_TOKEN_TTL_SECONDS"] = str(max(3600, int(args.timeout or 120 + 6 * args.leads) + 900))
    with scratch_database(redis_db=args.redis_db) as urls, tempfile.TemporaryDirectory() as scratch:
        logs = Path(args.logs) if args.logs else Path(scratch) / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        outbox_dir = Path(scratch) / "outbox"
        outbox_dir.mkdir()
        procs = Processes(logs)
        try:
            result = measure(urls, procs, args, str(outbox_dir))
        finally:
            procs.stop()
    report(args, result)


if __name__ == "__main__":
    main()

"""The API's resources, one class each, shared by the sync and the async client (see _resource.py).

List endpoints come in two forms: `list(...)` returns one page (`Page`, with `next_cursor`), `iter(...)`
walks every page (`for run in client.runs.iter(status="failed")`, `async for` in the async client).
Calls that start work (`runs.start`, `pipelines.start`, `deals.offer`, `invoices.credit`, knowledge
documents) send an Idempotency-Key, the caller's or a new one, and retry with the same key.
"""

import builtins
import os
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import IO, Any, Literal

from agentline_client._engine import Op, Plan, Stream, body, new_idempotency_key, parse_as, parse_none, query
from agentline_client._operations import follow_run, paginate, pipeline_plan, run_plan
from agentline_client._resource import M, Resource, Runner, call, stream
from agentline_client.models import (
    Agent, AgentMetrics, CheckIn, CheckInImportResult, CheckInWrite, Client, ClientCreate, ClientUpdate, CreditNote,
    CreditNoteCreate, Deal, DlqDiscardResult, DlqRetryResult, Document, Invoice, InvoiceDetail, Lead, LeadCreate, LeadImportResult,
    LeadUpdate, ModelCall, Negotiation, OfferAccepted, OfferCreate, Page, PipelineDetail, PipelineListItem, Prompt,
    PromptDetail, Review, ReviewKind, Run, RunDetail, RunEvent, SearchResult, Webhook, WebhookCreated, Delivery,
)

ID = uuid.UUID | str
Upload = bytes | IO[bytes] | os.PathLike[str]


def _file(upload: Upload, filename: str | None) -> tuple[str, bytes]:
    """The name and the bytes of an upload, read at once: a retry must be able to send them again."""
    if isinstance(upload, os.PathLike):
        path = os.fspath(upload)
        with open(path, "rb") as handle:
            return filename or os.path.basename(path), handle.read()
    if isinstance(upload, bytes):
        return filename or "upload", upload
    return filename or os.path.basename(getattr(upload, "name", "") or "upload"), upload.read()


class Agents(Resource[M]):
    @call
    def list(self) -> Op[builtins.list[Agent]]:
        """The installed agents by name, with their queue, prompts and input schema."""
        return self._call(Plan("GET", "/agents", parse_as(builtins.list[Agent])))


class Runs(Resource[M]):
    @call
    def list(self, *, agent: str | None = None, status: str | None = None, pipeline_id: ID | None = None,
             created_from: datetime | None = None, created_to: datetime | None = None, cursor: str | None = None,
             limit: int | None = None) -> Op[Page[Run]]:
        """One page of the tenant's runs, newest first."""
        return self._call(Plan("GET", "/runs", parse_as(Page[Run]), params=query(
            agent=agent, status=status, pipeline_id=pipeline_id, created_from=created_from,
            created_to=created_to, cursor=cursor, limit=limit)))

    @stream
    def iter(self, *, agent: str | None = None, status: str | None = None, pipeline_id: ID | None = None,
             created_from: datetime | None = None, created_to: datetime | None = None,
             page_size: int | None = None) -> Stream[Run]:
        """Every run matching the filters, newest first."""
        return paginate(self._core, "/runs", Run, query(
            agent=agent, status=status, pipeline_id=pipeline_id, created_from=created_from,
            created_to=created_to, limit=page_size))

    @call
    def get(self, run_id: ID) -> Op[RunDetail]:
        """The run with its steps, its events and its model calls."""
        return self._call(run_plan(run_id))

    @call
    def start(self, agent: str, input: dict[str, Any], *, idempotency_key: str | None = None) -> Op[Run]:
        """Queue a run of `agent` (202: it runs on a worker; wait for it with `wait_for_run`)."""
        return self._call(Plan("POST", f"/agents/{agent}/run", parse_as(Run), json={"input": input},
                               idempotency_key=new_idempotency_key(idempotency_key)))

    @call
    def retry(self, run_id: ID) -> Op[Run]:
        """Queue a failed, dead-lettered or cancelled run again."""
        return self._call(Plan("POST", f"/runs/{run_id}/retry", parse_as(Run)))

    @call
    def cancel(self, run_id: ID) -> Op[Run]:
        return self._call(Plan("POST", f"/runs/{run_id}/cancel", parse_as(Run)))

    @call
    def override(self, run_id: ID, *, status: str, reason: str,
                 output: dict[str, Any] | None = None) -> Op[Run]:
        """Set the run's outcome by hand: `succeeded` (with its `output`), `failed` or `cancelled`."""
        payload: dict[str, Any] = {"status": status, "reason": reason}
        if output is not None:
            payload["output"] = output
        return self._call(Plan("POST", f"/runs/{run_id}/manual-override", parse_as(Run), json=payload))

    @stream
    def events(self, run_id: ID, *, timeout: float | None = None, poll_interval: float = 1.0) -> Stream[RunEvent]:
        """The run's state changes from the first, as they happen, until it has finished (from its event
        stream, resumed where it broke off; polled where there is none)."""
        return follow_run(self._core, run_id, timeout=timeout, poll_interval=poll_interval)


class Pipelines(Resource[M]):
    @call
    def start(self, lead_id: ID, *, idempotency_key: str | None = None) -> Op[PipelineDetail]:
        """Start the lead's pipeline (sdr → review → send → sales → …); its first run is queued."""
        return self._call(Plan("POST", "/pipeline/run", parse_as(PipelineDetail), json={"lead_id": str(lead_id)},
                               idempotency_key=new_idempotency_key(idempotency_key)))

    @call
    def list(self, *, status: str | None = None, lead_id: ID | None = None, cursor: str | None = None,
             limit: int | None = None) -> Op[Page[PipelineListItem]]:
        """One page of pipelines, newest first, each with its lead and the stage it is at."""
        return self._call(Plan("GET", "/pipelines", parse_as(Page[PipelineListItem]), params=query(
            status=status, lead_id=lead_id, cursor=cursor, limit=limit)))

    @stream
    def iter(self, *, status: str | None = None, lead_id: ID | None = None,
             page_size: int | None = None) -> Stream[PipelineListItem]:
        return paginate(self._core, "/pipelines", PipelineListItem, query(status=status, lead_id=lead_id, limit=page_size))

    @call
    def get(self, pipeline_id: ID) -> Op[PipelineDetail]:
        """The pipeline and every stage: its run or review, what it waits for and until when."""
        return self._call(pipeline_plan(pipeline_id))

    @call
    def cancel(self, pipeline_id: ID) -> Op[PipelineDetail]:
        """Cancel the pipeline with its queued and running runs, open reviews and unsent email."""
        return self._call(Plan("POST", f"/pipelines/{pipeline_id}/cancel", parse_as(PipelineDetail)))


class Reviews(Resource[M]):
    @call
    def list(self, *, entity_type: str | None = None, status: str | None = None, agent: str | None = None,
             pipeline_id: ID | None = None, cursor: str | None = None, limit: int | None = None) -> Op[Page[Review]]:
        """One page of review items, open ones first."""
        return self._call(Plan("GET", "/reviews", parse_as(Page[Review]), params=query(
            entity_type=entity_type, status=status, agent=agent, pipeline_id=pipeline_id, cursor=cursor,
            limit=limit)))

    @stream
    def iter(self, *, entity_type: str | None = None, status: str | None = None, agent: str | None = None,
             pipeline_id: ID | None = None, page_size: int | None = None) -> Stream[Review]:
        return paginate(self._core, "/reviews", Review, query(
            entity_type=entity_type, status=status, agent=agent, pipeline_id=pipeline_id, limit=page_size))

    @call
    def get(self, entity_type: str, entity_id: ID) -> Op[Review]:
        return self._call(Plan("GET", f"/reviews/{entity_type}/{entity_id}", parse_as(Review)))

    @call
    def kinds(self) -> Op[builtins.list[ReviewKind]]:
        """The review types and, for each, the fields of its proposal an `edit` may change."""
        return self._call(Plan("GET", "/reviews/kinds", parse_as(builtins.list[ReviewKind])))

    @call
    def decide(self, entity_type: str, entity_id: ID, decision: Literal["approve", "edit", "reject"], *,
               comment: str | None = None, edited_output: dict[str, Any] | None = None) -> Op[Review]:
        """Approve, edit (the fields of `edited_output`) or reject an item; you are the reviewer."""
        payload: dict[str, Any] = {"decision": decision}
        if comment is not None:
            payload["comment"] = comment
        if edited_output is not None:
            payload["edited_output"] = edited_output
        # The API answers the same decision again with the first one: safe to send twice.
        return self._call(Plan("POST", f"/reviews/{entity_type}/{entity_id}/decision", parse_as(Review),
                               json=payload, replayable=True))


class Leads(Resource[M]):
    @call
    def list(self, *, status: str | None = None, bucket: str | None = None, q: str | None = None,
             cursor: str | None = None, limit: int | None = None) -> Op[Page[Lead]]:
        return self._call(Plan("GET", "/leads", parse_as(Page[Lead]), params=query(
            status=status, bucket=bucket, q=q, cursor=cursor, limit=limit)))

    @stream
    def iter(self, *, status: str | None = None, bucket: str | None = None, q: str | None = None,
             page_size: int | None = None) -> Stream[Lead]:
        return paginate(self._core, "/leads", Lead, query(status=status, bucket=bucket, q=q, limit=page_size))

    @call
    def create(self, lead: LeadCreate) -> Op[Lead]:
        return self._call(Plan("POST", "/leads", parse_as(Lead), json=body(lead)))

    @call
    def get(self, lead_id: ID) -> Op[Lead]:
        return self._call(Plan("GET", f"/leads/{lead_id}", parse_as(Lead)))

    @call
    def update(self, lead_id: ID, changes: LeadUpdate) -> Op[Lead]:
        return self._call(Plan("PATCH", f"/leads/{lead_id}", parse_as(Lead), json=body(changes)))

    @call
    def delete(self, lead_id: ID) -> Op[None]:
        return self._call(Plan("DELETE", f"/leads/{lead_id}", parse_none))

    @call
    def import_csv(self, csv: Upload, *, filename: str | None = None) -> Op[LeadImportResult]:
        """Create or update (by email) one lead per row of a CSV; the result has each row's outcome."""
        name, content = _file(csv, filename or "leads.csv")
        return self._call(Plan("POST", "/leads/import", parse_as(LeadImportResult),
                               files={"file": (name, content, "text/csv")}))


class Deals(Resource[M]):
    @call
    def list(self, *, stage: str | None = None, lead_id: ID | None = None, cursor: str | None = None,
             limit: int | None = None) -> Op[Page[Deal]]:
        return self._call(Plan("GET", "/deals", parse_as(Page[Deal]), params=query(
            stage=stage, lead_id=lead_id, cursor=cursor, limit=limit)))

    @stream
    def iter(self, *, stage: str | None = None, lead_id: ID | None = None,
             page_size: int | None = None) -> Stream[Deal]:
        return paginate(self._core, "/deals", Deal, query(stage=stage, lead_id=lead_id, limit=page_size))

    @call
    def get(self, deal_id: ID) -> Op[Deal]:
        return self._call(Plan("GET", f"/deals/{deal_id}", parse_as(Deal)))

    @call
    def offer(self, deal_id: ID, offer: OfferCreate, *, idempotency_key: str | None = None) -> Op[OfferAccepted]:
        """Record the client's move: a counter-offer (answered by a negotiation run), accept or walk away."""
        return self._call(Plan("POST", f"/deals/{deal_id}/offers", parse_as(OfferAccepted), json=body(offer),
                               idempotency_key=new_idempotency_key(idempotency_key)))

    @call
    def negotiation(self, deal_id: ID) -> Op[Negotiation]:
        """Every round of the deal's negotiation, the policy in force and what it waits for."""
        return self._call(Plan("GET", f"/deals/{deal_id}/negotiation", parse_as(Negotiation)))


class Invoices(Resource[M]):
    @call
    def list(self, *, status: str | None = None, deal_id: ID | None = None, client_id: ID | None = None,
             cursor: str | None = None, limit: int | None = None) -> Op[Page[Invoice]]:
        return self._call(Plan("GET", "/invoices", parse_as(Page[Invoice]), params=query(
            status=status, deal_id=deal_id, client_id=client_id, cursor=cursor, limit=limit)))

    @stream
    def iter(self, *, status: str | None = None, deal_id: ID | None = None, client_id: ID | None = None,
             page_size: int | None = None) -> Stream[Invoice]:
        return paginate(self._core, "/invoices", Invoice, query(
            status=status, deal_id=deal_id, client_id=client_id, limit=page_size))

    @call
    def get(self, invoice_id: ID) -> Op[InvoiceDetail]:
        """The invoice with its lines and credit notes."""
        return self._call(Plan("GET", f"/invoices/{invoice_id}", parse_as(InvoiceDetail)))

    @call
    def credit(self, invoice_id: ID, credit_note: CreditNoteCreate, *,
               idempotency_key: str | None = None) -> Op[CreditNote]:
        """Issue a credit note against an issued invoice, by lines or by a net amount."""
        return self._call(Plan("POST", f"/invoices/{invoice_id}/credit-notes", parse_as(CreditNote),
                               json=body(credit_note), idempotency_key=new_idempotency_key(idempotency_key)))


class CreditNotes(Resource[M]):
    @call
    def list(self, *, invoice_id: ID | None = None, cursor: str | None = None,
             limit: int | None = None) -> Op[Page[CreditNote]]:
        return self._call(Plan("GET", "/credit-notes", parse_as(Page[CreditNote]), params=query(
            invoice_id=invoice_id, cursor=cursor, limit=limit)))

    @stream
    def iter(self, *, invoice_id: ID | None = None, page_size: int | None = None) -> Stream[CreditNote]:
        return paginate(self._core, "/credit-notes", CreditNote, query(invoice_id=invoice_id, limit=page_size))

    @call
    def get(self, credit_note_id: ID) -> Op[CreditNote]:
        return self._call(Plan("GET", f"/credit-notes/{credit_note_id}", parse_as(CreditNote)))


class Clients(Resource[M]):
    @call
    def list(self, *, status: str | None = None, coach_id: ID | None = None, lead_id: ID | None = None,
             cursor: str | None = None, limit: int | None = None) -> Op[Page[Client]]:
        return self._call(Plan("GET", "/clients", parse_as(Page[Client]), params=query(
            status=status, coach_id=coach_id, lead_id=lead_id, cursor=cursor, limit=limit)))

    @stream
    def iter(self, *, status: str | None = None, coach_id: ID | None = None, lead_id: ID | None = None,
             page_size: int | None = None) -> Stream[Client]:
        return paginate(self._core, "/clients", Client, query(
            status=status, coach_id=coach_id, lead_id=lead_id, limit=page_size))

    @call
    def create(self, client: ClientCreate) -> Op[Client]:
        return self._call(Plan("POST", "/clients", parse_as(Client), json=body(client)))

    @call
    def get(self, client_id: ID) -> Op[Client]:
        return self._call(Plan("GET", f"/clients/{client_id}", parse_as(Client)))

    @call
    def update(self, client_id: ID, changes: ClientUpdate) -> Op[Client]:
        return self._call(Plan("PATCH", f"/clients/{client_id}", parse_as(Client), json=body(changes)))


class CheckIns(Resource[M]):
    """A client's check-ins, one per client-local day."""

    @call
    def list(self, client_id: ID, *, first_day: date | None = None, last_day: date | None = None,
             cursor: str | None = None, limit: int | None = None) -> Op[Page[CheckIn]]:
        return self._call(Plan("GET", f"/clients/{client_id}/check-ins", parse_as(Page[CheckIn]), params=query(
            **{"from": first_day, "to": last_day}, cursor=cursor, limit=limit)))

    @stream
    def iter(self, client_id: ID, *, first_day: date | None = None, last_day: date | None = None,
             page_size: int | None = None) -> Stream[CheckIn]:
        """Newest day first; `first_day` and `last_day` are included."""
        return paginate(self._core, f"/clients/{client_id}/check-ins", CheckIn, query(
            **{"from": first_day, "to": last_day}, limit=page_size))

    @call
    def write(self, client_id: ID, check_in: CheckInWrite) -> Op[CheckIn]:
        """The day's check-in: created, or updated with the fields set. Writing it twice is harmless."""
        return self._call(Plan("POST", f"/clients/{client_id}/check-ins", parse_as(CheckIn), json=body(check_in),
                               replayable=True))

    @call
    def import_rows(self, client_id: ID, check_ins: Sequence[CheckInWrite]) -> Op[CheckInImportResult]:
        """Many days at once; each row is reported, an invalid one changes nothing."""
        return self._call(Plan("POST", f"/clients/{client_id}/check-ins/import", parse_as(CheckInImportResult),
                               json=[body(check_in) for check_in in check_ins]))


class Documents(Resource[M]):
    @call
    def create(self, title: str, content: str, *, content_type: Literal["text/plain", "text/markdown"] = "text/plain",
               tags: Sequence[str] = (), idempotency_key: str | None = None) -> Op[Document]:
        """Add a text document; its ingestion runs on a worker (status `pending`, then `ready`)."""
        return self._call(Plan("POST", "/knowledge/documents", parse_as(Document), json={
            "title": title, "content": content, "content_type": content_type, "tags": builtins.list(tags)},
            idempotency_key=new_idempotency_key(idempotency_key)))

    @call
    def upload(self, file: Upload, *, filename: str | None = None, title: str | None = None,
               tags: Sequence[str] = (), idempotency_key: str | None = None) -> Op[Document]:
        """Add a .txt, .md or .pdf file (the type is taken from `filename`)."""
        name, content = _file(file, filename)
        fields: dict[str, Any] = {"tags": builtins.list(tags)}
        if title is not None:
            fields["title"] = title
        return self._call(Plan("POST", "/knowledge/documents", parse_as(Document), files={"file": (name, content)},
                               data=fields, idempotency_key=new_idempotency_key(idempotency_key)))

    @call
    def list(self, *, status: str | None = None, tag: str | None = None, content_type: str | None = None,
             cursor: str | None = None, limit: int | None = None) -> Op[Page[Document]]:
        return self._call(Plan("GET", "/knowledge/documents", parse_as(Page[Document]), params=query(
            status=status, tag=tag, content_type=content_type, cursor=cursor, limit=limit)))

    @stream
    def iter(self, *, status: str | None = None, tag: str | None = None, content_type: str | None = None,
             page_size: int | None = None) -> Stream[Document]:
        return paginate(self._core, "/knowledge/documents", Document, query(
            status=status, tag=tag, content_type=content_type, limit=page_size))

    @call
    def get(self, document_id: ID) -> Op[Document]:
        return self._call(Plan("GET", f"/knowledge/documents/{document_id}", parse_as(Document)))

    @call
    def delete(self, document_id: ID) -> Op[None]:
        return self._call(Plan("DELETE", f"/knowledge/documents/{document_id}", parse_none))


class Knowledge(Resource[M]):
    def __init__(self, runner: Runner):
        super().__init__(runner)
        self.documents: Documents[M] = Documents(runner)

    @call
    def search(self, query: str, *, top_k: int | None = None, tags: Sequence[str] = (),
               mode: Literal["hybrid", "vector", "lexical"] | None = None) -> Op[SearchResult]:
        """The chunks of the tenant's documents nearest `query`, with their scores."""
        payload: dict[str, Any] = {"query": query, "tags": builtins.list(tags)}
        if top_k is not None:
            payload["top_k"] = top_k
        if mode is not None:
            payload["mode"] = mode
        return self._call(Plan("POST", "/knowledge/search", parse_as(SearchResult), json=payload, replayable=True))


class Prompts(Resource[M]):
    @call
    def list(self) -> Op[builtins.list[Prompt]]:
        """Every prompt key with its active version."""
        return self._call(Plan("GET", "/prompts", parse_as(builtins.list[Prompt])))

    @call
    def get(self, key: str) -> Op[PromptDetail]:
        """The key with all its versions: the shipped defaults, then the tenant's."""
        return self._call(Plan("GET", f"/prompts/{key}", parse_as(PromptDetail)))

    @call
    def put(self, key: str, *, system: str, user: str, description: str | None = None) -> Op[PromptDetail]:
        """Save a new tenant version of the prompt and make it active."""
        payload = {"system": system, "user": user, **({"description": description} if description is not None else {})}
        # Each PUT adds a version, so unlike most PUTs a repeat is not harmless.
        return self._call(Plan("PUT", f"/prompts/{key}", parse_as(PromptDetail), json=payload, replayable=False))

    @call
    def activate(self, key: str, *, source: Literal["tenant", "default"] = "tenant",
                 version: int | None = None) -> Op[PromptDetail]:
        """Make a version active; `source="default"` without a version follows the newest shipped default."""
        payload: dict[str, Any] = {"source": source, **({"version": version} if version is not None else {})}
        return self._call(Plan("POST", f"/prompts/{key}/activate", parse_as(PromptDetail), json=payload,
                               replayable=True))


class Metrics(Resource[M]):
    @call
    def agents(self, *, since: date | None = None, until: date | None = None,
               agent: str | None = None) -> Op[AgentMetrics]:
        """Per agent and UTC day: runs by status, success rate, latency, tokens and cost (inclusive days)."""
        return self._call(Plan("GET", "/metrics/agents", parse_as(AgentMetrics), params=query(
            since=since, until=until, agent=agent)))

    @call
    def model_calls(self, *, run_id: ID | None = None, agent: str | None = None, provider: str | None = None,
                    status: str | None = None, since: datetime | None = None, until: datetime | None = None,
                    with_payloads: bool | None = None, cursor: str | None = None,
                    limit: int | None = None) -> Op[Page[ModelCall]]:
        """One page of model call attempts, newest first."""
        return self._call(Plan("GET", "/logs/agents", parse_as(Page[ModelCall]), params=query(
            run_id=run_id, agent=agent, provider=provider, status=status, since=since, until=until,
            with_payloads=with_payloads, cursor=cursor, limit=limit)))

    @stream
    def iter_model_calls(self, *, run_id: ID | None = None, agent: str | None = None, provider: str | None = None,
                         status: str | None = None, since: datetime | None = None, until: datetime | None = None,
                         with_payloads: bool | None = None, page_size: int | None = None) -> Stream[ModelCall]:
        return paginate(self._core, "/logs/agents", ModelCall, query(
            run_id=run_id, agent=agent, provider=provider, status=status, since=since, until=until,
            with_payloads=with_payloads, limit=page_size))


class DeadLetters(Resource[M]):
    """Runs that ran out of attempts."""

    @call
    def list(self, *, agent: str | None = None, cursor: str | None = None,
             limit: int | None = None) -> Op[Page[Run]]:
        return self._call(Plan("GET", "/dlq", parse_as(Page[Run]), params=query(
            agent=agent, cursor=cursor, limit=limit)))

    @stream
    def iter(self, *, agent: str | None = None, page_size: int | None = None) -> Stream[Run]:
        return paginate(self._core, "/dlq", Run, query(agent=agent, limit=page_size))

    @call
    def retry(self, run_ids: Sequence[ID]) -> Op[DlqRetryResult]:
        """Queue these dead-lettered runs again; the result names those that were. All or nothing: any id
        that is not a dead-lettered run of the tenant is a NotFoundError or ConflictError, and nothing is
        retried."""
        return self._call(Plan("POST", "/dlq/retry", parse_as(DlqRetryResult),
                               json={"run_ids": [str(run_id) for run_id in run_ids]}))

    @call
    def discard(self, run_ids: Sequence[ID]) -> Op[DlqDiscardResult]:
        """Give up on these dead-lettered runs: they end `failed`, marked discarded. All or nothing, as
        `retry`."""
        return self._call(Plan("POST", "/dlq/discard", parse_as(DlqDiscardResult),
                               json={"run_ids": [str(run_id) for run_id in run_ids]}))


class Webhooks(Resource[M]):
    @call
    def create(self, url: str, events: Sequence[str]) -> Op[WebhookCreated]:
        """A new endpoint; the response carries its signing secret, shown only this once."""
        return self._call(Plan("POST", "/webhooks", parse_as(WebhookCreated),
                               json={"url": url, "events": builtins.list(events)}))

    @call
    def list(self, *, cursor: str | None = None, limit: int | None = None) -> Op[Page[Webhook]]:
        """One page of the tenant's endpoints, newest first."""
        return self._call(Plan("GET", "/webhooks", parse_as(Page[Webhook]), params=query(cursor=cursor, limit=limit)))

    @stream
    def iter(self, *, page_size: int | None = None) -> Stream[Webhook]:
        return paginate(self._core, "/webhooks", Webhook, query(limit=page_size))

    @call
    def get(self, webhook_id: ID) -> Op[Webhook]:
        return self._call(Plan("GET", f"/webhooks/{webhook_id}", parse_as(Webhook)))

    @call
    def update(self, webhook_id: ID, *, url: str | None = None, events: Sequence[str] | None = None,
               enabled: bool | None = None) -> Op[Webhook]:
        """Change what is given; enabling clears a disabled state."""
        changes = {name: value for name, value in (
            ("url", url), ("events", None if events is None else builtins.list(events)), ("enabled", enabled),
        ) if value is not None}
        return self._call(Plan("PATCH", f"/webhooks/{webhook_id}", parse_as(Webhook), json=changes))

    @call
    def delete(self, webhook_id: ID) -> Op[None]:
        return self._call(Plan("DELETE", f"/webhooks/{webhook_id}", parse_none))

    @call
    def deliveries(self, webhook_id: ID, *, cursor: str | None = None,
                   limit: int | None = None) -> Op[Page[Delivery]]:
        """One page of the endpoint's deliveries, newest first, each with every attempt."""
        return self._call(Plan("GET", f"/webhooks/{webhook_id}/deliveries", parse_as(Page[Delivery]),
                               params=query(cursor=cursor, limit=limit)))

    @stream
    def iter_deliveries(self, webhook_id: ID, *, page_size: int | None = None) -> Stream[Delivery]:
        return paginate(self._core, f"/webhooks/{webhook_id}/deliveries", Delivery, query(limit=page_size))

    @call
    def resend(self, webhook_id: ID, delivery_id: ID) -> Op[Delivery]:
        """Send a delivery again, with the same webhook-id."""
        return self._call(Plan("POST", f"/webhooks/{webhook_id}/deliveries/{delivery_id}/resend",
                               parse_as(Delivery), replayable=True))

"""CSV import: per-row results; the file is refused as a whole (4xx, nothing written) when it cannot be read
or its header is wrong; a bad row is reported and changes nothing else."""

import pytest
from sqlalchemy import select

from app.auth.permissions import Role
from app.core.context import Principal, TenantContext
from app.leads import csv_import, service
from app.leads.schemas import LeadCreate
from app.models import AuditLog, Lead
from tests.builders import make_tenant
from tests.records import add_lead

IMPORT = "/api/v1/leads/import"


def _upload(client, tenant, content: str | bytes, *, filename: str = "leads.csv", content_type: str = "text/csv",
            role: Role = Role.operator):
    data = content.encode() if isinstance(content, str) else content
    return client.post(IMPORT, files={"file": (filename, data, content_type)}, headers=tenant.headers(role))


def _leads(db, tenant) -> dict[str, Lead]:
    return {lead.email: lead for lead in db.scalars(select(Lead).where(Lead.tenant_id == tenant.id)
                                                    .execution_options(populate_existing=True))}


def _is_problem(response, status: int, *phrases: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    for phrase in phrases:
        assert phrase in response.json()["detail"], response.json()["detail"]


def test_rows_are_created_or_updated_by_email_and_reported_one_by_one(db, client):
    tenant = make_tenant(db)
    existing = add_lead(db, tenant.id, email="known@example.com", name="Known", company="Old Co", title="CTO")
    response = _upload(client, tenant, (
        "name,email,company,title,company_size,country\n"
        "Ada,ada@example.com,Analytical,,12,gb\n"
        "Known Person,KNOWN@example.com,New Co,,,\n"
        "Ada Again,ada@example.com,,Countess,,\n"
    ))
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["created"], result["updated"], result["failed"]) == (1, 2, 0)
    leads = _leads(db, tenant)
    ada = leads["ada@example.com"]
    assert [(r["row"], r["status"], r["lead_id"]) for r in result["rows"]] == [
        (2, "created", str(ada.id)), (3, "updated", str(existing.id)), (4, "updated", str(ada.id))]
    # An empty cell leaves the stored value alone.
    assert (leads["known@example.com"].name, leads["known@example.com"].company, leads["known@example.com"].title) == (
        "Known Person", "New Co", "CTO")
    assert (ada.name, ada.company, ada.title, ada.company_size, ada.country, ada.status) == (
        "Ada Again", "Analytical", "Countess", 12, "GB", "new")
    actions = [entry.action for entry in db.scalars(select(AuditLog).where(AuditLog.tenant_id == tenant.id)
                                                    .order_by(AuditLog.id))]
    assert actions == ["lead.create", "lead.update", "lead.update"]


def test_a_bad_row_is_reported_with_its_number_and_changes_nothing_else(db, client):
    tenant = make_tenant(db)
    add_lead(db, tenant.id, email="keep@example.com", name="Keep", company="Untouched")
    response = _upload(client, tenant, (
        "name,email,company,timezone\n"
        "Good One,one@example.com,One,Europe/Berlin\n"
        "Keep,keep@example.com,Changed,Not/AZone\n"
        ",no-name-and-bad-email,,\n"
        "Good Two,two@example.com,Two,\n"
        "Too,many,cells,here,really\n"
    ))
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["created"], result["updated"], result["failed"]) == (2, 0, 3)
    rows = {row["row"]: row for row in result["rows"]}
    assert rows[3]["status"] == "error" and rows[3]["lead_id"] is None
    assert [e["field"] for e in rows[3]["errors"]] == ["timezone"]
    assert "IANA time zone" in rows[3]["errors"][0]["message"]
    assert sorted(e["field"] for e in rows[4]["errors"]) == ["email", "name"]
    assert rows[6]["errors"] == [{"field": "row", "message": "The row has 5 cells, the header has 4."}]
    leads = _leads(db, tenant)
    assert set(leads) == {"one@example.com", "two@example.com", "keep@example.com"}
    assert leads["keep@example.com"].company == "Untouched"


def test_a_row_refused_by_the_database_is_rolled_back_alone(db):
    """A lead committed by someone else after the file's emails were looked up: the batch is refused and
    written again row by row; only that row fails, and the rows around it are written."""
    tenant = make_tenant(db)
    ctx = TenantContext(tenant.id, Principal("user", tenant.users[Role.operator], Role.operator))
    add_lead(db, tenant.id, email="raced@example.com", name="Already here")
    known: dict[str, Lead] = {}  # as the lookup found it, before the concurrent insert
    batch = [(2, LeadCreate(name="Before", email="before@example.com")),
             (3, LeadCreate(name="Raced", email="raced@example.com")),
             (4, LeadCreate(name="After", email="after@example.com")),
             (5, LeadCreate(name="After Again", email="after@example.com", company="Later"))]
    results = service._import_batch(db, ctx, batch, known)
    assert [(number, result.status) for number, result in sorted(results.items())] == [
        (2, "created"), (3, "error"), (4, "created"), (5, "updated")]
    assert results[3].errors[0].field == "email" and "raced@example.com" in results[3].errors[0].message
    leads = _leads(db, tenant)
    assert set(leads) == {"raced@example.com", "before@example.com", "after@example.com"}
    assert leads["raced@example.com"].name == "Already here"
    assert (leads["after@example.com"].name, leads["after@example.com"].company) == ("After Again", "Later")
    audited = db.scalars(select(AuditLog.action).where(AuditLog.tenant_id == tenant.id)).all()
    assert sorted(audited) == ["lead.create", "lead.create", "lead.update"]


def test_a_large_import_is_written_in_batches(db, client, monkeypatch):
    tenant = make_tenant(db)
    monkeypatch.setattr(service, "IMPORT_BATCH", 2)
    add_lead(db, tenant.id, email="l3@example.com", name="Old")
    rows = "".join(f"Lead {i},l{i}@example.com\n" for i in range(7))
    result = _upload(client, tenant, "name,email\n" + rows + "Bad,not-an-email\n").json()
    assert [row["status"] for row in result["rows"]] == ["created"] * 3 + ["updated"] + ["created"] * 3 + ["error"]
    assert len(_leads(db, tenant)) == 7 and _leads(db, tenant)["l3@example.com"].name == "Lead 3"


def test_spreadsheet_exports_are_read(db, client):
    """A UTF-8 BOM, semicolons, CRLF, header names as people write them, quoted cells, blank lines."""
    tenant = make_tenant(db)
    content = ("\ufeffFull Name;E-Mail;Company Size;Notes\r\n"
               "Zoë Müller;zoe@example.de;250;\"Met at the fair; wants a demo\r\nnext week\"\r\n"
               ";;;\r\n"
               "Ann;ann@example.de;;\r\n")
    result = _upload(client, tenant, content).json()
    assert [(row["row"], row["status"]) for row in result["rows"]] == [(2, "created"), (4, "created")]
    zoe = _leads(db, tenant)["zoe@example.de"]
    assert (zoe.name, zoe.company_size, zoe.notes) == ("Zoë Müller", 250, "Met at the fair; wants a demo\r\nnext week")


@pytest.mark.parametrize(("content", "phrases"), [
    ("name,company\nAda,Analytical\n", ("required column(s): email",)),
    ("email,company\nada@example.com,Analytical\n", ("required column(s): name",)),
    ("name,email,emial\nAda,ada@example.com,x\n", ("Unknown column(s): emial", "The columns are")),
    ("name,email,Email\nAda,ada@example.com,x\n", ("more than once: email",)),
    ("name,email,\nAda,ada@example.com,x\n", ("empty column name",)),
    ("name,email\n", ("no rows",)),
    ("", ("empty",)),
    ('name,email\n"Ada,ada@example.com\n', ("cannot be read",)),
])
def test_a_file_that_cannot_be_imported_is_422_and_writes_nothing(content, phrases, db, client):
    tenant = make_tenant(db)
    _is_problem(_upload(client, tenant, content), 422, *phrases)
    assert _leads(db, tenant) == {}


def test_a_file_that_is_not_utf8_is_422(db, client):
    tenant = make_tenant(db)
    _is_problem(_upload(client, tenant, "name,email\nJosé,jose@example.com\n".encode("latin-1")), 422, "not UTF-8")


@pytest.mark.parametrize(("filename", "content_type", "content"), [
    ("leads.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK\x03\x04"),
    ("leads.csv", "text/csv", b"name,email\n\x00\x01\x02"),
    ("photo.png", "image/png", b"\x89PNG"),
])
def test_a_file_that_is_not_a_csv_is_415(filename, content_type, content, db, client):
    tenant = make_tenant(db)
    _is_problem(_upload(client, tenant, content, filename=filename, content_type=content_type), 415)
    assert _leads(db, tenant) == {}


def test_the_upload_must_be_multipart_with_a_file_part(db, client):
    tenant = make_tenant(db)
    headers = tenant.headers(Role.operator)
    _is_problem(client.post(IMPORT, json={"name": "Ada"}, headers=headers), 415)
    response = client.post(IMPORT, data={"other": "x"}, files={"document": ("a.csv", b"name,email\n")},
                           headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "file"


def test_size_and_row_limits_are_413_and_write_nothing(db, client, monkeypatch):
    tenant = make_tenant(db)
    monkeypatch.setattr(csv_import, "MAX_ROWS", 3)
    rows = "".join(f"L{i},l{i}@example.com\n" for i in range(4))
    _is_problem(_upload(client, tenant, "name,email\n" + rows), 413, "more than 3 rows")
    assert _upload(client, tenant, "name,email\n" + rows[: rows.index("L3")]).json()["created"] == 3
    monkeypatch.setattr(csv_import, "MAX_BYTES", 100)
    _is_problem(_upload(client, tenant, "name,email\n" + "x" * 100), 413, "larger than 100 bytes")
    assert len(_leads(db, tenant)) == 3


@pytest.mark.parametrize("role", [Role.viewer, Role.reviewer])
def test_roles_below_operator_cannot_import(role, db, client):
    tenant = make_tenant(db)
    _is_problem(_upload(client, tenant, "name,email\nAda,ada@example.com\n", role=role), 403)
    assert _leads(db, tenant) == {}

"""Every tenant table of the migrated schema, and a valid row for any of them built from the catalogue alone.

The RLS attack tests (tests/core/test_rls.py) run against whatever tables the migrations created, so a table
added later is attacked without anyone editing them. A row is built as the runtime role, bound to the row's
tenant, from the column types: NOT NULL columns without a default get a value of their type (a literal
named in a CHECK constraint on the column, when there is one); a foreign key gets a parent row of the same
tenant, built the same way. A table this cannot fill is an error naming it, never a table skipped.
"""

import re
import uuid
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import Connection, text

# `tenants` is the one tenant table keyed by the tenant itself.
TENANTS = "tenants"

TENANT_TABLES = """
SELECT c.relname AS name, CASE WHEN c.relname = 'tenants' THEN 'id' ELSE 'tenant_id' END AS tenant_column
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND (c.relname = 'tenants' OR EXISTS (
    SELECT 1 FROM pg_attribute a
    WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND a.attnum > 0 AND NOT a.attisdropped))
ORDER BY c.relname
"""

_COLUMNS = """
SELECT a.attname AS name, a.attnum AS number, format_type(a.atttypid, a.atttypmod) AS sql_type,
       base.typname AS type_name, base.typcategory AS category, base.oid AS type_oid,
       a.atttypmod AS type_modifier, a.attnotnull AS not_null,
       a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '' AS filled_by_server
FROM pg_attribute a
JOIN pg_type declared ON declared.oid = a.atttypid
JOIN pg_type base ON base.oid = CASE WHEN declared.typtype = 'd' THEN declared.typbasetype ELSE declared.oid END
WHERE a.attrelid = CAST(:table AS regclass) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""

_CONSTRAINTS = """
SELECT c.contype AS kind, pg_get_constraintdef(c.oid) AS definition, c.confrelid::regclass::text AS parent,
       ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(num, i)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num ORDER BY k.i) AS columns,
       ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(num, i)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.num ORDER BY k.i) AS parent_columns
FROM pg_constraint c
WHERE c.conrelid = CAST(:table AS regclass) AND c.contype IN ('c', 'f')
"""

_STRING_LITERAL = re.compile(r"'((?:[^']|'')*)'")


class CannotBuildRow(Exception):
    pass


@dataclass(frozen=True)
class TenantTable:
    name: str
    tenant_column: str

    def __str__(self) -> str:
        return self.name


def tenant_tables(connection: Connection) -> list[TenantTable]:
    return [TenantTable(row.name, row.tenant_column) for row in connection.execute(text(TENANT_TABLES))]


def bind(connection: Connection, tenant_id: uuid.UUID | str) -> None:
    connection.execute(text("SELECT set_config('app.tenant_id', :tid, true)"), {"tid": str(tenant_id)})


@dataclass
class _Table:
    name: str
    columns: list[Any]
    foreign_keys: list[Any]
    checks: list[Any]

    @cached_property
    def tenant_column(self) -> str | None:
        names = {column.name for column in self.columns}
        return "id" if self.name == TENANTS else "tenant_id" if "tenant_id" in names else None


class RowBuilder:
    """Builds rows on a connection bound to their tenant (the caller binds and commits)."""

    def __init__(self, connection: Connection):
        self._connection = connection
        self._tables: dict[str, _Table] = {}

    def _table(self, name: str) -> _Table:
        if name not in self._tables:
            columns = list(self._connection.execute(text(_COLUMNS), {"table": name}))
            constraints = list(self._connection.execute(text(_CONSTRAINTS), {"table": name}))
            self._tables[name] = _Table(name, columns, [c for c in constraints if c.kind == "f"],
                                        [c for c in constraints if c.kind == "c"])
        return self._tables[name]

    def values(self, table_name: str, tenant_id: uuid.UUID, _path: tuple[str, ...] = ()) -> dict[str, Any]:
        """The values of one valid row of `table_name` for `tenant_id`; parent rows it needs are inserted."""
        if table_name in _path:
            raise CannotBuildRow(f"{' -> '.join((*_path, table_name))}: a cycle of required foreign keys")
        table = self._table(table_name)
        required = {c.name for c in table.columns if c.not_null and not c.filled_by_server}
        values: dict[str, Any] = {}
        if table.tenant_column:
            values[table.tenant_column] = tenant_id
        for key in table.foreign_keys:
            if not required & (set(key.columns) - values.keys()):
                continue
            parent = (
                {"id": tenant_id} if key.parent == TENANTS
                else self.insert(key.parent, self.values(key.parent, tenant_id, (*_path, table_name)))
            )
            values.update(zip(key.columns, (parent[column] for column in key.parent_columns), strict=True))
        for column in table.columns:
            if column.name in required and column.name not in values:
                values[column.name] = self._value(table, column)
        return values

    def insert(self, table_name: str, values: dict[str, Any]) -> dict[str, Any]:
        table = self._table(table_name)
        types = {column.name: column.sql_type for column in table.columns}
        names = list(values)
        columns = ", ".join(f'"{name}"' for name in names)
        casts = ", ".join(f"CAST(:v{i} AS {types[name]})" for i, name in enumerate(names))
        statement = f'INSERT INTO "{table_name}" ({columns}) VALUES ({casts}) RETURNING *'
        row = self._connection.execute(text(statement), {f"v{i}": values[name] for i, name in enumerate(names)})
        return dict(row.mappings().one())

    def _value(self, table: _Table, column) -> Any:
        """A value of the column's type, as text the server casts; a CHECK constraint's literal first."""
        for check in table.checks:
            if column.name in check.columns and column.category == "S":
                literals = _STRING_LITERAL.findall(check.definition)
                if literals:
                    return literals[0].replace("''", "'")
        if column.type_name == "uuid":
            return uuid.uuid4()
        if column.category == "S":
            length = column.type_modifier - 4 if column.type_modifier > 4 else None
            return (column.name[:4] + uuid.uuid4().hex)[:length]
        if column.category == "N":
            return "1"
        if column.category == "B":
            return "false"
        if column.category == "D":
            return "now"
        if column.category == "T":
            return "1 second"
        if column.category == "A":
            return "{}"
        if column.category == "E":
            return self._connection.execute(
                text("SELECT enumlabel FROM pg_enum WHERE enumtypid = :oid ORDER BY enumsortorder LIMIT 1"),
                {"oid": column.type_oid}).scalar_one()
        by_type = {"jsonb": "{}", "json": "{}", "bytea": "\\x00", "tsvector": "",
                   "vector": "[" + ",".join(["0"] * max(1, column.type_modifier)) + "]"}
        if column.type_name in by_type:
            return by_type[column.type_name]
        raise CannotBuildRow(f"{table.name}.{column.name}: no value for type {column.sql_type}")

"""Row-level security DDL shared by every migration that adds a tenant table.

A tenant table gets RLS enabled *and forced* and one policy comparing its `tenant_id` with the
transaction's binding. `app_current_tenant()` is NULL when nothing is bound, so nothing matches.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import op

CURRENT_TENANT_FUNCTION = """
CREATE OR REPLACE FUNCTION app_current_tenant() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;
"""


def enable_tenant_rls(table: str, column: str = "tenant_id") -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING ({column} = app_current_tenant()) WITH CHECK ({column} = app_current_tenant())"
    )


def disable_tenant_rls(table: str) -> None:
    op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")


@contextmanager
def across_tenants(*tables: str) -> Iterator[None]:
    """A data migration that reads or writes every tenant's rows of `tables`: the row security that binds
    even the tables' owner is lifted inside the block (within the migration's transaction) and forced again."""
    for table in tables:
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    yield
    for table in tables:
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")

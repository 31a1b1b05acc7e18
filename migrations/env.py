"""Alembic runs as the owner role (MIGRATION_DATABASE_URL); afterwards the runtime role is granted
data access (never ownership) on everything the revisions created."""

from alembic import context
from sqlalchemy import create_engine, make_url, text

from app.core.config import get_settings
from app.core.embedded import resolved_urls
from app.models import Base

target_metadata = Base.metadata


def _urls() -> tuple[str, str]:
    override = context.config.attributes.get("urls")
    if override:
        return override
    urls = resolved_urls(get_settings())
    return urls.migration_database_url, urls.database_url


# SECURITY DEFINER functions read across tenants as the owner. PostgreSQL lets PUBLIC execute every new
# function, so any role that can connect could call them; only the runtime role (granted below) may.
REVOKE_DEFINER_FUNCTIONS_FROM_PUBLIC = """
DO $$
DECLARE fn regprocedure;
BEGIN
    FOR fn IN
        SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.prosecdef
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', fn);
    END LOOP;
END $$
"""


def _grant_runtime_role(connection, runtime_url: str, migration_url: str) -> None:
    connection.execute(text(REVOKE_DEFINER_FUNCTIONS_FROM_PUBLIC))
    app_role = make_url(runtime_url).username
    if not app_role or app_role == make_url(migration_url).username:
        return
    for statement in (
        f'GRANT USAGE ON SCHEMA public TO "{app_role}"',
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{app_role}"',
        f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{app_role}"',
        f'GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO "{app_role}"',
        f'REVOKE ALL ON TABLE alembic_version FROM "{app_role}"',
    ):
        connection.execute(text(statement))


def run_migrations_online() -> None:
    migration_url, runtime_url = _urls()
    engine = create_engine(migration_url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, transaction_per_migration=False)
        with context.begin_transaction():
            context.run_migrations()
            _grant_runtime_role(connection, runtime_url, migration_url)
    engine.dispose()


run_migrations_online()

-- First start of the postgres container only (docker-entrypoint-initdb.d), as the superuser, in
-- POSTGRES_DB. Creates the two roles Agentline expects:
--   agentline_owner  owns the database and every table; runs the migrations; BYPASSRLS.
--   agentline_app    what the API and workers use; owns nothing and cannot bypass row-level security,
--                    so every query is confined to the tenant bound in its transaction.
-- Passwords come from the container's environment (docker-compose.yml), never from this file.

\set ON_ERROR_STOP on
\getenv owner_password AGENTLINE_OWNER_PASSWORD
\getenv app_password AGENTLINE_APP_PASSWORD

CREATE ROLE agentline_owner LOGIN BYPASSRLS NOSUPERUSER NOCREATEROLE PASSWORD :'owner_password';
CREATE ROLE agentline_app LOGIN NOBYPASSRLS NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'app_password';

SELECT format('ALTER DATABASE %I OWNER TO agentline_owner', current_database()) \gexec

-- pgvector needs a superuser to install; the owner role then uses it in its migrations.
CREATE EXTENSION IF NOT EXISTS vector;

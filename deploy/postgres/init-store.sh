#!/bin/sh
# Gives breachctl's store a role and a database of its own in the stack's
# PostgreSQL (the breachctl-database service in docker-compose.yml), so that
# breachctl never connects as Temporal's superuser:
#
#   1. the role STORE_ROLE (default breachctl): LOGIN and nothing else (no
#      superuser, no CREATEDB, no CREATEROLE, no replication, no RLS bypass),
#      with the password STORE_PASSWORD, set again on every run, so a new
#      password in .env takes effect at the next `docker compose up`;
#   2. the database STORE_DATABASE (default breachctl), owned by that role, so
#      breachctl can migrate its own schema there; PUBLIC loses CONNECT and
#      TEMPORARY on it (only the owner, and superusers, get in);
#   3. tables left by an older stack, where the store ran as Temporal's
#      superuser, are handed to the role;
#   4. PUBLIC loses CONNECT and TEMPORARY on each database in
#      REVOKE_DATABASES (Temporal's), so the store's role cannot even open
#      them; their owner (Temporal's role) keeps every right.
#
# Safe to run again: every step checks first or is idempotent. Runs in the
# postgres image with psql; connects with the libpq variables PGHOST, PGPORT,
# PGUSER and PGPASSWORD (a role that may create roles and databases). The
# password travels in the environment and through psql's \getenv, never on a
# command line, and psql quotes it (:'pw'), so any character is safe in it.
set -eu

: "${STORE_PASSWORD:?set STORE_PASSWORD (BREACHCTL_STORE_PASSWORD) to the store role's password}"
STORE_ROLE="${STORE_ROLE:-breachctl}"
STORE_DATABASE="${STORE_DATABASE:-breachctl}"
REVOKE_DATABASES="${REVOKE_DATABASES:-}"
export STORE_PASSWORD

echo "store: role $STORE_ROLE, database $STORE_DATABASE on ${PGHOST:-the local server}"
psql -X -q -v ON_ERROR_STOP=1 -d "${PGDATABASE:-postgres}" \
	-v role="$STORE_ROLE" -v db="$STORE_DATABASE" -v others="$REVOKE_DATABASES" <<'SQL'
\getenv pw STORE_PASSWORD
SELECT format('CREATE ROLE %I', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT PASSWORD :'pw';
\unset pw
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
ALTER DATABASE :"db" OWNER TO :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SELECT format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', datname)
  FROM pg_database
 WHERE datname = ANY (string_to_array(:'others', ' ')) AND datname <> :'db' \gexec
\connect :"db"
SELECT format('ALTER TABLE %I.%I OWNER TO %I', schemaname, tablename, :'role')
  FROM pg_tables
 WHERE schemaname = 'public' AND tableowner <> :'role' \gexec
SQL
echo "store: ready"

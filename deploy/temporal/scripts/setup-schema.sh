#!/bin/sh
# Creates Temporal's two PostgreSQL databases and brings their schemas up to
# the version this admin-tools image carries. It runs before every start of
# the server (the temporal-schema service in docker-compose.yml) and is safe
# to run again: `create` skips a database that exists, `setup-schema -v 0.0`
# skips a database that already has a schema, and `update-schema` applies only
# the versions that are missing. That last step is also how an upgrade of the
# server image migrates the schema: bump admin-tools and server together.
#
# Runs in temporalio/admin-tools (Alpine, busybox sh). Reads the same variables
# as the server: POSTGRES_SEEDS, DB_PORT, POSTGRES_USER, DBNAME,
# VISIBILITY_DBNAME; the password comes from SQL_PASSWORD, which
# temporal-sql-tool reads itself, so it never appears on a command line.
set -eu

: "${POSTGRES_SEEDS:?set POSTGRES_SEEDS to the PostgreSQL host}"
: "${POSTGRES_USER:?set POSTGRES_USER}"
: "${SQL_PASSWORD:?set SQL_PASSWORD to the PostgreSQL password}"
DB_PORT="${DB_PORT:-5432}"
DBNAME="${DBNAME:-temporal}"
VISIBILITY_DBNAME="${VISIBILITY_DBNAME:-temporal_visibility}"
SCHEMA_DIR="${SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}"

echo "waiting for PostgreSQL at ${POSTGRES_SEEDS}:${DB_PORT}"
tries=0
until nc -z -w 2 "$POSTGRES_SEEDS" "$DB_PORT"; do
	tries=$((tries + 1))
	if [ "$tries" -ge 60 ]; then
		echo "PostgreSQL at ${POSTGRES_SEEDS}:${DB_PORT} did not answer in 2 minutes" >&2
		exit 1
	fi
	sleep 2
done

sql_tool() {
	temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" "$@"
}

setup() { # database, schema directory under $SCHEMA_DIR
	echo "database $1: create, set up and update the schema from $SCHEMA_DIR/$2/versioned"
	sql_tool --db "$1" create
	sql_tool --db "$1" setup-schema -v 0.0
	sql_tool --db "$1" update-schema -d "$SCHEMA_DIR/$2/versioned"
}

setup "$DBNAME" temporal
setup "$VISIBILITY_DBNAME" visibility
echo "Temporal schemas are up to date"

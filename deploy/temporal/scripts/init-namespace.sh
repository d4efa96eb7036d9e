#!/bin/sh
# Makes the Temporal namespace ready for breachctl before the worker and the
# HTTP server start (the temporal-namespace service in docker-compose.yml):
#
#   1. waits until the frontend answers a health check;
#   2. creates the namespace with BREACHCTL_RETENTION (default 720h = 30 days)
#      if it does not exist, and raises the retention of an existing namespace
#      that keeps closed incidents for less than 30 days (a breach register
#      must not lose them sooner); a longer retention is left alone;
#   3. adds the custom search attributes the workflows upsert;
#   4. waits until a visibility query on them succeeds, so the worker never
#      meets a namespace or an attribute that the server does not know yet.
#
# Every step is idempotent: on an existing, complete namespace the script only
# checks and exits 0. Runs in temporalio/admin-tools with the `temporal` CLI,
# which reads TEMPORAL_ADDRESS itself (no TLS here: the stack's own server).
set -eu

: "${TEMPORAL_ADDRESS:?set TEMPORAL_ADDRESS to the frontend host:port}"
NAMESPACE="${TEMPORAL_NAMESPACE:-breachctl}"
RETENTION="${BREACHCTL_RETENTION:-720h}"
MIN_RETENTION_SECONDS=2592000 # 30 days

# Name=Type pairs; the names are the ones in workflows/names.go.
SEARCH_ATTRIBUTES="BreachState=Keyword BreachSeverity=Keyword BreachNextDeadline=Datetime"

retry() { # attempts, what, command...
	attempts=$1
	what=$2
	shift 2
	n=1
	until "$@"; do
		if [ "$n" -ge "$attempts" ]; then
			echo "gave up after $attempts attempts: $what" >&2
			return 1
		fi
		echo "not yet: $what (attempt $n of $attempts); again in 2s"
		n=$((n + 1))
		sleep 2
	done
}

namespace_exists() {
	temporal operator namespace describe -n "$NAMESPACE" >/dev/null 2>&1
}

create_namespace() {
	# A create that fails because another run got there first is a success.
	temporal operator namespace create -n "$NAMESPACE" --retention "$RETENTION" \
		--description "breachctl incidents (breach register)" || namespace_exists
}

add_search_attributes() {
	set --
	for pair in $SEARCH_ATTRIBUTES; do
		set -- "$@" --name "${pair%%=*}" --type "${pair#*=}"
	done
	# Attributes that exist with the same type are skipped by the server; one
	# that exists with another type is an error that needs a person, so stop
	# at once instead of retrying.
	if out=$(temporal operator search-attribute create -n "$NAMESPACE" "$@" 2>&1); then
		echo "$out"
		return 0
	fi
	echo "$out" >&2
	case $out in
	*"different type"*)
		echo "a search attribute of $NAMESPACE exists with another type; the workflows need" \
			"$SEARCH_ATTRIBUTES (see docs/deploy.md)" >&2
		exit 1
		;;
	esac
	return 1
}

visibility_ready() {
	temporal workflow count -n "$NAMESPACE" \
		--query "BreachState = 'init-check' AND BreachSeverity = 'init-check'" >/dev/null
}

echo "waiting for the Temporal frontend at $TEMPORAL_ADDRESS"
retry 90 "Temporal frontend health at $TEMPORAL_ADDRESS" \
	temporal operator cluster health --address "$TEMPORAL_ADDRESS"

if namespace_exists; then
	echo "namespace $NAMESPACE exists"
else
	echo "creating namespace $NAMESPACE with retention $RETENTION"
	retry 30 "create namespace $NAMESPACE" create_namespace
fi

# Retention in whole seconds, from the JSON form ("2592000s"). Best effort: if
# the output cannot be read, say so and go on rather than block the stack.
ttl=$(temporal operator namespace describe -n "$NAMESPACE" -o json 2>/dev/null |
	grep -o '"workflowExecutionRetentionTtl": *"[0-9]*' | grep -o '[0-9]*$' || true)
if [ -z "$ttl" ]; then
	echo "warning: could not read the retention of $NAMESPACE; check it with" \
		"'temporal operator namespace describe -n $NAMESPACE' (it must be at least 30 days)" >&2
elif [ "$ttl" -lt "$MIN_RETENTION_SECONDS" ]; then
	echo "namespace $NAMESPACE keeps closed workflows ${ttl}s, under 30 days: setting $RETENTION"
	retry 10 "update the retention of $NAMESPACE" \
		temporal operator namespace update -n "$NAMESPACE" --retention "$RETENTION"
else
	echo "namespace $NAMESPACE keeps closed workflows ${ttl}s"
fi

echo "adding search attributes: $SEARCH_ATTRIBUTES"
retry 30 "add search attributes to $NAMESPACE" add_search_attributes

retry 30 "visibility queries on BreachState and BreachSeverity in $NAMESPACE" visibility_ready

temporal operator search-attribute list -n "$NAMESPACE" | grep -E '^ *Name |Breach' || true
echo "namespace $NAMESPACE is ready"

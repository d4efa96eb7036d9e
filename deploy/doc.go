// Package deploy holds no code: its tests check the deployment files beside
// it against the code. They load docker-compose.yml with its overrides as
// Docker Compose does (compose-go, the loader `docker compose config` uses),
// check that every variable breachctl reads reaches the services that read
// it and that env.example lists it, and run postgres/init-store.sh against
// the machine's PostgreSQL.
package deploy

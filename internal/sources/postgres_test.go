package sources

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/breachctl/breachctl/internal/apperr"
)

const exposuresQuery = `
SELECT id, email, name, locale, country, region, categories, system, seen_at, extra
FROM exposures
WHERE system = ANY($3) AND seen_at >= $1 AND seen_at < $2
ORDER BY id NULLS LAST`

func TestPostgres(t *testing.T) {
	ctx := context.Background()
	pool := testDB(t)
	_, err := pool.Exec(ctx, `
CREATE TABLE exposures (id bigint, email text, name text, locale text, country char(2), region varchar(6),
	categories text[], system text, seen_at timestamptz, extra jsonb);
INSERT INTO exposures VALUES
	(1, 'ana@example.com', 'Ana', 'pt-BR', 'BR', NULL, '{email,name}', 'uploads', '2026-03-01T09:00:00Z', '{"plan":"pro"}'),
	(2, 'bob@example.com', 'Bob', NULL, NULL, NULL, NULL, 'uploads', '2026-03-01T10:00:00Z', NULL),
	(3, 'not-an-email', 'Carl', NULL, 'DE', NULL, NULL, 'accounts', '2026-03-01T10:30:00Z', NULL),
	(4, 'dora@example.com', 'Dora', 'de-AT', NULL, NULL, '{email,NULL}', 'accounts', '2026-03-01T11:00:00Z', NULL),
	(5, 'eve@example.com', 'Eve', NULL, 'DE', NULL, NULL, 'support', '2026-03-01T11:00:00Z', NULL),
	(6, 'finn@example.com', 'Finn', NULL, 'DE', NULL, NULL, 'uploads', '2026-02-01T11:00:00Z', NULL),
	(7, 'gil@example.com', 'Gil', NULL, 'us', 'us-ca', '{email,shoe_size}', 'uploads', '2026-03-01T12:00:00Z', NULL),
	(8, 'hal@example.com', 'Hal', NULL, 'us', 'US-CA', '{Email}', 'uploads', '2026-03-01T12:00:00Z', NULL),
	(NULL, 'ida@example.com', 'Ida', NULL, 'DE', NULL, NULL, 'uploads', '2026-03-01T12:00:00Z', NULL);`)
	if err != nil {
		t.Fatal(err)
	}
	from, until := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	src := Postgres(pool, exposuresQuery, WindowArgs(from, until, []string{"uploads", "accounts"}), Fields{CountryFromLocale: true})
	if src.Name() != "postgres" {
		t.Errorf("Name = %q", src.Name())
	}
	recs, rejs := readAll(t, src)
	diffOutcomes(t, outcomes(recs, rejs), []outcome{
		{Row: 1, ID: "1"},
		{Row: 2, Reason: "missing country"},
		{Row: 3, Reason: "invalid email address"},
		{Row: 4, ID: "4"}, // 5 is in another system, 6 before the window
		{Row: 5, Reason: `unknown data category "shoe_size"`},
		{Row: 6, ID: "8"},
		{Row: 7, Reason: "missing id"},
	})
	checkNoPersonalData(t, rejs)
	ana := recs[0]
	if ana.Source != "postgres" || ana.System != "uploads" || ana.Person.Email != "ana@example.com" || !slices.Equal(ana.Person.Categories, []string{"email", "name"}) ||
		!ana.SeenAt.Equal(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("ana: %+v", ana)
	}
	if dora := recs[1]; dora.Person.Country != "AT" || !slices.Equal(dora.Person.Categories, []string{"email"}) || dora.System != "accounts" {
		t.Errorf("dora (country from the locale, a NULL category): %+v", dora)
	}
	if hal := recs[2]; hal.Person.Jurisdiction() != "US-CA" || !slices.Equal(hal.Person.Categories, []string{"email"}) {
		t.Errorf("hal: %+v", hal)
	}
}

func TestPostgresColumnTypes(t *testing.T) {
	pool := testDB(t)
	for _, c := range []struct {
		name, query string
		check       func(Record) bool
	}{
		{"uuid id, text categories and seen_at", `SELECT '6f1c8a2e-0b7c-4f5e-9f3a-2d4b6c8e0a1b'::uuid AS id, 'DE' AS country,
			'email;name' AS categories, '2026-03-01T09:00:00+01:00' AS seen_at, 'crm' AS system`,
			func(r Record) bool {
				return r.Person.ID == "6f1c8a2e-0b7c-4f5e-9f3a-2d4b6c8e0a1b" && len(r.Person.Categories) == 2 &&
					r.SeenAt.Equal(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)) && r.System == "crm"
			}},
		{"int id, upper-case names, timestamp", `SELECT 42::int4 AS "ID", 'fr' AS "Country", '2026-03-01 09:00:00'::timestamp AS seen_at`,
			func(r Record) bool {
				return r.Person.ID == "42" && r.Person.Country == "FR" && r.SeenAt.Equal(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
			}},
		{"date, varchar[]", `SELECT 'u1'::varchar AS id, 'DE'::char(2) AS country, '2026-03-01'::date AS seen_at, ARRAY['email']::varchar[] AS categories`,
			func(r Record) bool {
				return r.Person.ID == "u1" && r.SeenAt.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)) && len(r.Person.Categories) == 1
			}},
		{"renamed fields, nulls", `SELECT 'u1' AS person_id, 'DE' AS land, NULL::text AS email, NULL::timestamptz AS seen_at, NULL::text[] AS categories`,
			func(r Record) bool {
				return r.Person.ID == "u1" && r.Person.Country == "DE" && r.SeenAt.IsZero() && r.Person.Categories == nil
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := Fields{}
			if c.name == "renamed fields, nulls" {
				f = Fields{ID: "person_id", Country: "land"}
			}
			recs, rejs := readAll(t, Postgres(pool, c.query, nil, f))
			if len(recs) != 1 || len(rejs) != 0 || recs[0].Row != 1 || !c.check(recs[0]) {
				t.Fatalf("%+v %+v", recs, rejs)
			}
		})
	}
}

func TestPostgresErrors(t *testing.T) {
	ctx := context.Background()
	pool := testDB(t)
	read := func(src Source) error {
		return src.Read(ctx, func(Record) error { return nil }, func(Rejection) {})
	}
	if err := read(Postgres(pool, "SELECT 1 AS person, 'DE' AS country", nil, Fields{})); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("no id column: err = %v", err)
	}
	if err := read(Postgres(pool, "SELEC id", nil, Fields{})); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("bad SQL: err = %v", err)
	}
	if err := read(Postgres(pool, "SELECT 1 AS id, 2 AS ID", nil, Fields{})); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("id twice: err = %v", err)
	}
	down, err := pgxpool.New(ctx, "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	if err := read(Postgres(down, "SELECT 1 AS id", nil, Fields{})); !apperr.Is(err, apperr.Unavailable) {
		t.Errorf("unreachable: err = %v", err)
	}

	// Cancellation and an emit error stop the stream.
	series := "SELECT 'u' || n AS id, 'DE' AS country FROM generate_series(1, 100000) AS n"
	cctx, cancel := context.WithCancel(ctx)
	n := 0
	err = Postgres(pool, series, nil, Fields{}).Read(cctx, func(Record) error {
		if n++; n == 10 {
			cancel()
		}
		return nil
	}, func(Rejection) {})
	if !errors.Is(err, context.Canceled) || n > 100 {
		t.Errorf("cancelled: err = %v after %d records", err, n)
	}
	stop := errors.New("stop")
	n = 0
	err = Postgres(pool, series, nil, Fields{}).Read(ctx, func(Record) error { n++; return stop }, func(Rejection) {})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("emit error: err = %v after %d records", err, n)
	}
	// The pool is free again: the stopped queries released their connection.
	if err := pool.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// A scoping query runs in a read-only transaction: one that would write is
// refused by the server, says so, and leaves the database as it was.
func TestPostgresQueryCannotWrite(t *testing.T) {
	ctx := context.Background()
	pool := testDB(t)
	_, err := pool.Exec(ctx, `
CREATE TABLE users (id bigint PRIMARY KEY, email text, country text);
CREATE TABLE audit (n bigint);
CREATE SEQUENCE ticket;
CREATE FUNCTION note_read() RETURNS bigint LANGUAGE sql AS $$ INSERT INTO audit VALUES (1) RETURNING n $$;
INSERT INTO users VALUES (1, 'ana@example.com', 'BR'), (2, 'bob@example.com', 'DE');`)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, query, want string }{
		{"WITH DELETE INSERT", `WITH gone AS (DELETE FROM users WHERE id = 1 RETURNING id, email, country)
			INSERT INTO users SELECT id + 100, email, country FROM gone RETURNING id, email, country`, "cannot execute INSERT in a read-only transaction"},
		{"UPDATE RETURNING", `UPDATE users SET email = 'x@example.com' RETURNING id, email, country`, "cannot execute UPDATE in a read-only transaction"},
		{"nextval", `SELECT id, email, country, nextval('ticket') AS extra FROM users`, "cannot execute nextval() in a read-only transaction"},
		{"a function that writes", `SELECT id, email, country, note_read() AS extra FROM users`, "cannot execute INSERT in a read-only transaction"},
		{"CREATE TABLE AS", `CREATE TABLE copied AS SELECT id, email, country FROM users`, "cannot execute CREATE TABLE AS in a read-only transaction"},
		{"read write asked for", `SELECT set_config('transaction_read_only', 'off', true) AS id`, "read-write mode must be set before any query"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := Postgres(pool, c.query, nil, Fields{}).Read(ctx, func(Record) error { return nil }, func(Rejection) {})
			if err == nil {
				t.Fatal("the query ran")
			}
			if !apperr.Is(err, apperr.Invalid) {
				t.Errorf("kind = %v; want invalid: %v", apperr.KindOf(err), err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v; want it to say %q", err, c.want)
			}
		})
	}
	// The write refused by its transaction names why.
	err = Postgres(pool, `DELETE FROM users RETURNING id`, nil, Fields{}).Read(ctx, func(Record) error { return nil }, func(Rejection) {})
	if err == nil || !strings.Contains(err.Error(), "read-only transaction") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Errorf("err = %v; want it to say the query would write and nothing changed", err)
	}
	var users, audit int
	var emails string
	if err := pool.QueryRow(ctx, `SELECT count(*), string_agg(email, ',' ORDER BY id), (SELECT count(*) FROM audit) FROM users`).Scan(&users, &emails, &audit); err != nil {
		t.Fatal(err)
	}
	if users != 2 || emails != "ana@example.com,bob@example.com" || audit != 0 {
		t.Fatalf("the database changed: %d users (%s), %d audit rows", users, emails, audit)
	}
	var seq int64
	var called bool
	if err := pool.QueryRow(ctx, `SELECT last_value, is_called FROM ticket`).Scan(&seq, &called); err != nil || called {
		t.Fatalf("the sequence moved: %d %v %v", seq, called, err)
	}
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('copied') IS NOT NULL`).Scan(&exists); err != nil || exists {
		t.Fatalf("a table was created: %v %v", exists, err)
	}
	// A read still reads.
	recs, rejs := readAll(t, Postgres(pool, `SELECT id, email, country FROM users ORDER BY id`, nil, Fields{}))
	if len(recs) != 2 || len(rejs) != 0 {
		t.Fatalf("read %d records, %d rejections", len(recs), len(rejs))
	}
}

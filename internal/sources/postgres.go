package sources

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/breachctl/breachctl/internal/apperr"
)

// Postgres reads people from a query whose result columns are named like
// Fields (matched without regard to case; other columns are ignored). Text
// columns may be any type PostgreSQL can give as text (text, varchar, char,
// integers, uuid); categories is text[] or text separated by ';' or '|';
// seen_at is timestamptz, timestamp (taken as UTC), date, or RFC 3339 text.
//
// The query is run with args as given. The contract, which WindowArgs
// builds, is: $1 the start of the exposure window (timestamptz), $2 its end
// (timestamptz), $3 the ids of the affected systems (text[]), so that one
// query serves every incident:
//
//	SELECT u.id, u.email, u.name, u.locale, u.country, u.region,
//	       e.system, e.categories, e.written_at AS seen_at
//	FROM exposures e JOIN users u ON u.id = e.user_id
//	WHERE e.system = ANY($3)
//	  AND e.written_at < $2                                  -- written before the window closed
//	  AND (e.deleted_at IS NULL OR e.deleted_at >= $1)       -- and still there when it opened
//	ORDER BY u.id
//
// The query runs in a read-only transaction (BEGIN READ ONLY), rolled back
// when the rows are read: a query that would write (INSERT, UPDATE, DELETE,
// a data-modifying WITH, a sequence's nextval, a function that writes) is
// refused by the server before it changes anything, and the error says so.
// Give the source a role that can only read, too: a read-only transaction
// does not stop what reaches outside it (dblink, a foreign server).
//
// Rows stream from the server as they are read; nothing is collected.
func Postgres(pool *pgxpool.Pool, query string, args []any, f Fields) Source {
	return &pgSource{pool: pool, query: query, args: args, f: f}
}

type pgSource struct {
	pool  *pgxpool.Pool
	query string
	args  []any
	f     Fields
}

const pgName = "postgres"

func (s *pgSource) Name() string { return pgName }

func (s *pgSource) Read(ctx context.Context, emit func(Record) error, reject func(Rejection)) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return queryError(err)
	}
	// Never committed: a read-only transaction has nothing to keep.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	rows, err := tx.Query(ctx, s.query, s.args...)
	if err != nil {
		return queryError(err)
	}
	defer rows.Close()

	// One scan target per result column: text for the string fields, typed
	// targets for categories and seen_at, nil (skip) for the rest.
	var (
		texts   [numCols]pgtype.Text
		cats    []pgtype.Text
		seenTZ  pgtype.Timestamptz
		seenTS  pgtype.Timestamp
		seenDay pgtype.Date
	)
	cols := rows.FieldDescriptions()
	dest := make([]any, len(cols))
	slotOf := make([]int, len(cols))
	names := s.f.names()
	found := [numCols]bool{}
	for i, c := range cols {
		slotOf[i] = -1
		for slot, name := range names {
			if name == "" || !strings.EqualFold(c.Name, name) {
				continue
			}
			if found[slot] {
				return apperr.Invalidf(pgName, "the query returns the %s column twice", name)
			}
			found[slot], slotOf[i] = true, slot
			switch {
			case slot == colCategories && isTextArray(c.DataTypeOID):
				dest[i] = &cats
			case slot == colSeenAt && c.DataTypeOID == pgtype.TimestamptzOID:
				dest[i] = &seenTZ
			case slot == colSeenAt && c.DataTypeOID == pgtype.TimestampOID:
				dest[i] = &seenTS
			case slot == colSeenAt && c.DataTypeOID == pgtype.DateOID:
				dest[i] = &seenDay
			default:
				dest[i] = &texts[slot]
			}
		}
	}
	if !found[colID] {
		// A query the server refused as it ran comes back with no
		// columns: its error, not theirs, is what to report.
		rows.Close()
		if err := rows.Err(); err != nil {
			return queryError(err)
		}
		return apperr.Invalidf(pgName, "the query returns no %s column (name the person's id AS %s)", names[colID], names[colID])
	}

	b := newBuilder(pgName, s.f)
	var r row
	n := 0
	for rows.Next() {
		n++
		if n%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("postgres: row %d: %w", n, err)
		}
		r.reset()
		for i, slot := range slotOf {
			switch d := dest[i].(type) {
			case *pgtype.Text:
				r.v[slot] = d.String
			case *[]pgtype.Text:
				r.catList = true
				for _, c := range cats {
					if c.Valid {
						r.cats = append(r.cats, c.String)
					}
				}
			case *pgtype.Timestamptz:
				r.seenAt, r.seenSet = d.Time, d.Valid && d.InfinityModifier == pgtype.Finite
			case *pgtype.Timestamp:
				r.seenAt, r.seenSet = d.Time.UTC(), d.Valid && d.InfinityModifier == pgtype.Finite
			case *pgtype.Date:
				r.seenAt, r.seenSet = time.Date(d.Time.Year(), d.Time.Month(), d.Time.Day(), 0, 0, 0, 0, time.UTC), d.Valid && d.InfinityModifier == pgtype.Finite
			}
		}
		out, reason := b.build(&r, n)
		if reason != "" {
			reject(Rejection{Source: pgName, Row: n, Reason: reason})
			continue
		}
		if err := emit(out); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return queryError(err)
	}
	return nil
}

// readOnlySQLTransaction is the SQLSTATE of a write refused in a read-only
// transaction.
const readOnlySQLTransaction = "25006"

func isTextArray(oid uint32) bool {
	return oid == pgtype.TextArrayOID || oid == pgtype.VarcharArrayOID || oid == pgtype.BPCharArrayOID
}

// queryError gives a query's failure its kind: the server rejecting the
// query is bad input, anything else an unreachable database.
func queryError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if pe.Code == readOnlySQLTransaction {
			return apperr.Wrap(apperr.Invalid, err, "postgres query: it would write to the database, and scoping sources only read (the query runs in a read-only transaction; nothing was changed)")
		}
		return apperr.Wrap(apperr.Invalid, err, "postgres query")
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return apperr.Wrap(apperr.Unavailable, err, "postgres")
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// sqliteSeriesRows is the most rows one statement of a Claim inserts or
// looks up.
const sqliteSeriesRows = 1024

// sqliteSeries is "VALUES (0), (1), ..., (n-1)". A Claim's statements take
// their keys from one blob argument, the i-th key at byte 16i, for each i of
// this list: a thousand rows bind a handful of arguments rather than a
// thousand (the driver binds in time quadratic in their number), and SQLite
// reads a VALUES list as it goes, where a recursive CTE would fill a table.
// An experiment on a table like notice_recipients, 1,000,000 subjects in
// pages of 10,000 on the shared 2-core machine, inserted about 88,000 rows/s
// with 32-row multi-VALUES INSERTs, 130,000 with json_each over hex keys,
// 230,000 with a recursive CTE, 290,000 with this list, and twice that with
// each page's rows inserted in key order rather than batch by batch, as
// Claim does (BenchmarkClaim measures the whole of it).
func sqliteSeries(n int) string {
	var b strings.Builder
	b.WriteString("VALUES (0)")
	for i := 1; i < n; i++ {
		b.WriteString(",(")
		b.WriteString(strconv.Itoa(i))
		b.WriteByte(')')
	}
	return b.String()
}

// sqliteAddRecipientsSQL inserts ?6 rows of notice ?2 in audience ?1: the
// i-th has the i-th 16 bytes of ?3 as its key and, as its batch, the i-th
// ?5 bytes of ?4, ASCII digits (a blob cast to an integer is read as text).
//
// WHERE, not LIMIT: SQLite reads a bound LIMIT while preparing, and so
// prepares the statement again whenever it is bound anew, which took a
// quarter of the time.
var sqliteAddRecipientsSQL = `WITH s(i) AS (` + sqliteSeries(sqliteSeriesRows) + `)
INSERT INTO notice_recipients (audience_seq, subject_key, notice_seq, batch_seq)
SELECT ?1, substr(?3, i*16 + 1, 16), ?2, CAST(substr(?4, i*?5 + 1, ?5) AS INTEGER) FROM s WHERE i < ?6`

// sqliteClaimedAmongSQL returns which of the ?3 keys in ?2 audience ?1 has.
var sqliteClaimedAmongSQL = `WITH s(i) AS (` + sqliteSeries(sqliteSeriesRows) + `),
k(key) AS (SELECT substr(?2, i*16 + 1, 16) FROM s WHERE i < ?3)
SELECT r.subject_key FROM k CROSS JOIN notice_recipients r WHERE r.audience_seq = ?1 AND r.subject_key = k.key`

// sqliteLedgerStmts are the ledger's statements run again and again,
// prepared once on the writer (see sqliteDB).
type sqliteLedgerStmts struct {
	addRecipients *sql.Stmt
	claimedAmong  *sql.Stmt
}

func (d *sqliteDB) prepareLedger(ctx context.Context) (err error) {
	if d.ledger.addRecipients, err = d.w.PrepareContext(ctx, sqliteAddRecipientsSQL); err != nil {
		return err
	}
	d.ledger.claimedAmong, err = d.w.PrepareContext(ctx, sqliteClaimedAmongSQL)
	return err
}

func (d *sqliteDB) closeLedger() {
	for _, st := range []*sql.Stmt{d.ledger.addRecipients, d.ledger.claimedAmong} {
		if st != nil {
			_ = st.Close()
		}
	}
}

// sqliteTimeArg is a time as stored, or NULL for zero.
func sqliteTimeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(sqliteTime)
}

// parseSQLiteTime reads a stored time; NULL is zero.
func parseSQLiteTime(s sql.NullString) (time.Time, error) {
	if !s.Valid {
		return time.Time{}, nil
	}
	return time.Parse(sqliteTime, s.String)
}

// rowScanner is what *sql.Row, *sql.Rows, pgx.Row and pgx.Rows share.
type rowScanner interface{ Scan(dest ...any) error }

// --- notices

const sqliteNoticeSQL = `SELECT n.id, n.incident_id, n.rule, a.audience, n.snapshot_id, n.content, n.approved_by, n.approved_at
	FROM notices n JOIN ledger_audiences a ON a.seq = n.audience_seq WHERE n.id = ?`

func scanSQLiteNotice(row rowScanner) (NoticeRecord, error) {
	var (
		n  NoticeRecord
		at string
	)
	err := row.Scan(&n.ID, &n.IncidentID, &n.Rule, &n.Audience, &n.SnapshotID, &n.Content, &n.ApprovedBy, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return NoticeRecord{}, ErrNotFound
	}
	if err != nil {
		return NoticeRecord{}, err
	}
	n.ApprovedAt, err = time.Parse(sqliteTime, at)
	return n, err
}

func (d *sqliteDB) createNotice(ctx context.Context, n NoticeRecord, createdAt time.Time) (_ NoticeRecord, err error) {
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return NoticeRecord{}, err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_audiences (incident_id, audience) VALUES (?, ?) ON CONFLICT DO NOTHING`,
		n.IncidentID, n.Audience); err != nil {
		return NoticeRecord{}, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO notices (id, incident_id, rule, audience_seq, snapshot_id, content, approved_by, approved_at, created_at)
		SELECT ?, ?, ?, seq, ?, ?, ?, ?, ? FROM ledger_audiences WHERE incident_id = ? AND audience = ?
		ON CONFLICT (id) DO NOTHING`,
		n.ID, n.IncidentID, n.Rule, n.SnapshotID, n.Content, n.ApprovedBy, n.ApprovedAt.Format(sqliteTime), createdAt.Format(sqliteTime),
		n.IncidentID, n.Audience); err != nil {
		return NoticeRecord{}, err
	}
	stored, err := scanSQLiteNotice(tx.QueryRowContext(ctx, sqliteNoticeSQL, n.ID))
	if err != nil {
		return NoticeRecord{}, err
	}
	return stored, tx.Commit()
}

func (d *sqliteDB) notice(ctx context.Context, id string) (NoticeRecord, error) {
	return scanSQLiteNotice(d.r.QueryRowContext(ctx, sqliteNoticeSQL, id))
}

func (d *sqliteDB) claimed(ctx context.Context, incidentID, audience string, from, through [16]byte) (map[[16]byte]string, error) {
	// Rows first, then the notices: any notice a row names was committed
	// before the first query began, so the second sees it.
	rows, err := d.r.QueryContext(ctx, `SELECT r.subject_key, r.notice_seq FROM ledger_audiences a
		JOIN notice_recipients r ON r.audience_seq = a.seq AND r.subject_key BETWEEN ? AND ?
		WHERE a.incident_id = ? AND a.audience = ?`, from[:], through[:], incidentID, audience)
	if err != nil {
		return nil, err
	}
	bySeq, err := scanClaims(sqlRows{rows})
	if err != nil {
		return nil, err
	}
	if len(bySeq) == 0 {
		return map[[16]byte]string{}, nil
	}
	rows, err = d.r.QueryContext(ctx, `SELECT n.seq, n.id FROM ledger_audiences a JOIN notices n ON n.audience_seq = a.seq
		WHERE a.incident_id = ? AND a.audience = ?`, incidentID, audience)
	if err != nil {
		return nil, err
	}
	return nameClaims(sqlRows{rows}, bySeq)
}

// claimRows is what *sql.Rows and pgx.Rows share.
type claimRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() // pgx's; *sql.Rows is wrapped
}

// sqlRows adapts *sql.Rows to claimRows.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

// scanClaims reads (subject_key, notice_seq) rows into keys by notice seq.
func scanClaims(rows claimRows) (map[int64][][16]byte, error) {
	defer rows.Close()
	bySeq := map[int64][][16]byte{}
	var (
		key []byte
		seq int64
	)
	for rows.Next() {
		if err := rows.Scan(&key, &seq); err != nil {
			return nil, err
		}
		if len(key) != 16 {
			return nil, fmt.Errorf("subject key of %d bytes in the ledger", len(key))
		}
		bySeq[seq] = append(bySeq[seq], [16]byte(key))
	}
	return bySeq, rows.Err()
}

// nameClaims reads (seq, id) rows of notices and maps each key to its
// notice's ID.
func nameClaims(rows claimRows, bySeq map[int64][][16]byte) (map[[16]byte]string, error) {
	defer rows.Close()
	n := 0
	for _, keys := range bySeq {
		n += len(keys)
	}
	out := make(map[[16]byte]string, n)
	var (
		seq int64
		id  string
	)
	for rows.Next() {
		if err := rows.Scan(&seq, &id); err != nil {
			return nil, err
		}
		for _, k := range bySeq[seq] {
			out[k] = id
		}
		delete(bySeq, seq)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(bySeq) > 0 {
		return nil, errors.New("ledger rows name a notice that does not exist")
	}
	return out, nil
}

// --- batches

const sqliteBatchSQL = `SELECT b.key, n.id, b.state, b.recipients, b.message_id, b.error, b.attempts, b.sent_at, b.events
	FROM notice_batches b JOIN notices n ON n.seq = b.notice_seq WHERE b.key = ?`

func scanSQLiteBatch(row rowScanner) (BatchStatus, error) {
	var (
		b      BatchStatus
		sentAt sql.NullString
	)
	err := row.Scan(&b.Key, &b.Notice, &b.State, &b.Recipients, &b.MessageID, &b.Error, &b.Attempts, &sentAt, &b.Events)
	if errors.Is(err, sql.ErrNoRows) {
		return BatchStatus{}, ErrNotFound
	}
	if err != nil {
		return BatchStatus{}, err
	}
	b.SentAt, err = parseSQLiteTime(sentAt)
	return b, err
}

func (d *sqliteDB) batch(ctx context.Context, key string) (BatchStatus, error) {
	return scanSQLiteBatch(d.r.QueryRowContext(ctx, sqliteBatchSQL, key))
}

func (d *sqliteDB) markBatch(ctx context.Context, key string, state BatchState, messageID, errText string, at time.Time) error {
	res, err := d.w.ExecContext(ctx, `UPDATE notice_batches SET state = ?1,
			message_id = CASE WHEN ?2 = '' THEN message_id ELSE ?2 END,
			error = ?3, attempts = attempts + 1,
			sent_at = CASE WHEN ?1 = 'accepted' THEN ?4 ELSE sent_at END,
			updated_at = ?4
		WHERE key = ?5 AND state <> 'accepted'`,
		string(state), messageID, errText, at.Format(sqliteTime), key)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	var n int
	if err := d.w.QueryRowContext(ctx, `SELECT count(*) FROM notice_batches WHERE key = ?`, key).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil // accepted already
}

// ledgerProgressSQL adds up a notice's batches. Both dialects run it (with
// their placeholder); every sum is of integer columns, an integer in both.
const ledgerProgressSQL = `SELECT n.unreachable, count(b.seq),
	coalesce(sum(CASE WHEN b.state = 'accepted' THEN 1 ELSE 0 END), 0),
	coalesce(sum(CASE WHEN b.state = 'failed' THEN 1 ELSE 0 END), 0),
	coalesce(sum(CASE WHEN b.state = 'ambiguous' THEN 1 ELSE 0 END), 0),
	coalesce(sum(b.recipients), 0),
	coalesce(sum(CASE WHEN b.state IN ('queued', 'ambiguous') THEN b.recipients ELSE 0 END), 0),
	coalesce(sum(CASE WHEN b.state = 'accepted' THEN b.recipients ELSE 0 END), 0),
	coalesce(sum(CASE WHEN b.state = 'failed' THEN b.recipients ELSE 0 END), 0),
	coalesce(sum(b.delivered), 0), coalesce(sum(b.bounced), 0), coalesce(sum(b.dropped), 0), coalesce(sum(b.deferred), 0)
FROM notices n LEFT JOIN notice_batches b ON b.notice_seq = n.seq
WHERE n.id = $1 GROUP BY n.seq, n.unreachable`

func scanProgress(row rowScanner, id string, noRows error) (NoticeProgress, error) {
	p := NoticeProgress{Notice: id}
	var v [13]int64
	err := row.Scan(&v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11], &v[12])
	if errors.Is(err, noRows) {
		return NoticeProgress{}, ErrNotFound
	}
	if err != nil {
		return NoticeProgress{}, err
	}
	p.Unreachable, p.Batches, p.BatchesAccepted, p.BatchesFailed, p.BatchesAmbiguous = int(v[0]), int(v[1]), int(v[2]), int(v[3]), int(v[4])
	p.Recipients, p.Queued, p.Accepted, p.Failed = int(v[5]), int(v[6]), int(v[7]), int(v[8])
	p.Delivered, p.Bounced, p.Dropped, p.Deferred = int(v[9]), int(v[10]), int(v[11]), int(v[12])
	return p, nil
}

func (d *sqliteDB) progress(ctx context.Context, noticeID string) (NoticeProgress, error) {
	return scanProgress(d.r.QueryRowContext(ctx, ledgerProgressSQL, noticeID), noticeID, sql.ErrNoRows)
}

func (d *sqliteDB) recipient(ctx context.Context, incidentID, audience string, key [16]byte) (recipientRow, error) {
	var (
		r                  recipientRow
		batch              sql.NullInt64
		bkey, bstate, berr sql.NullString
		msg, dl, reason    sql.NullString
		updatedAt, batchAt sql.NullString
	)
	err := d.r.QueryRowContext(ctx, `SELECT n.id, r.batch_seq, b.key, b.state, b.error, b.message_id, b.updated_at,
			r.delivery, r.reason, r.updated_at
		FROM ledger_audiences a
		JOIN notice_recipients r ON r.audience_seq = a.seq AND r.subject_key = ?
		JOIN notices n ON n.seq = r.notice_seq
		LEFT JOIN notice_batches b ON b.seq = r.batch_seq
		WHERE a.incident_id = ? AND a.audience = ?`, key[:], incidentID, audience).
		Scan(&r.notice, &batch, &bkey, &bstate, &berr, &msg, &batchAt, &dl, &reason, &updatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return recipientRow{}, ErrNotFound
	}
	if err != nil {
		return recipientRow{}, err
	}
	r.unreachable = !batch.Valid
	r.batch, r.batchState, r.batchError, r.messageID = bkey.String, BatchState(bstate.String), berr.String, msg.String
	r.delivery, r.reason = dl.String, reason.String
	if r.updatedAt, err = parseSQLiteTime(updatedAt); err != nil {
		return recipientRow{}, err
	}
	r.batchAt, err = parseSQLiteTime(batchAt)
	return r, err
}

// --- Claim and RecordEvents

// sqliteLedgerTx holds the writer connection, and with it the database's
// write lock (BEGIN IMMEDIATE): claims and events are serialised whole.
type sqliteLedgerTx struct {
	d  *sqliteDB
	tx *sql.Tx
}

func (d *sqliteDB) beginLedger(ctx context.Context) (ledgerTx, error) {
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &sqliteLedgerTx{d: d, tx: tx}, nil
}

func (t *sqliteLedgerTx) commit(context.Context) error   { return t.tx.Commit() }
func (t *sqliteLedgerTx) rollback(context.Context) error { return t.tx.Rollback() }

func (t *sqliteLedgerTx) lockNotice(ctx context.Context, id string) (noticeSeq, audienceSeq int64, err error) {
	err = t.tx.QueryRowContext(ctx, `SELECT seq, audience_seq FROM notices WHERE id = ?`, id).Scan(&noticeSeq, &audienceSeq)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	return noticeSeq, audienceSeq, err
}

func (t *sqliteLedgerTx) claimedIn(ctx context.Context, audienceSeq int64, from, through [16]byte, limit int) ([][16]byte, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT subject_key FROM notice_recipients
		WHERE audience_seq = ? AND subject_key BETWEEN ? AND ? ORDER BY subject_key LIMIT ?`, audienceSeq, from[:], through[:], limit)
	if err != nil {
		return nil, err
	}
	return scanKeys(sqlRows{rows}, nil)
}

func (t *sqliteLedgerTx) claimedAmong(ctx context.Context, audienceSeq int64, keys [][16]byte) ([][16]byte, error) {
	st := t.tx.StmtContext(ctx, t.d.ledger.claimedAmong)
	blob := make([]byte, 0, 16*min(len(keys), sqliteSeriesRows))
	var out [][16]byte
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), sqliteSeriesRows)]
		keys = keys[len(chunk):]
		blob = blob[:0]
		for _, k := range chunk {
			blob = append(blob, k[:]...)
		}
		rows, err := st.QueryContext(ctx, audienceSeq, blob, len(chunk))
		if err != nil {
			return nil, err
		}
		if out, err = scanKeys(sqlRows{rows}, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// scanKeys appends the subject keys of one-column rows to keys.
func scanKeys(rows claimRows, keys [][16]byte) ([][16]byte, error) {
	defer rows.Close()
	var k []byte
	for rows.Next() {
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		if len(k) != 16 {
			return nil, fmt.Errorf("subject key of %d bytes in the ledger", len(k))
		}
		keys = append(keys, [16]byte(k))
	}
	return keys, rows.Err()
}

func (t *sqliteLedgerTx) batches(ctx context.Context, keys []string) (map[string]BatchStatus, error) {
	out := map[string]BatchStatus{}
	if len(keys) == 0 {
		return out, nil
	}
	st, err := t.tx.PrepareContext(ctx, sqliteBatchSQL)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	for _, k := range keys {
		b, err := scanSQLiteBatch(st.QueryRowContext(ctx, k))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[k] = b
	}
	return out, nil
}

func (t *sqliteLedgerTx) addBatches(ctx context.Context, noticeSeq int64, keys []string, recipients []int, at time.Time) ([]int64, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	st, err := t.tx.PrepareContext(ctx, `INSERT INTO notice_batches (key, notice_seq, recipients, state, updated_at) VALUES (?, ?, ?, 'queued', ?)`)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	seqs := make([]int64, len(keys))
	for i, k := range keys {
		res, err := st.ExecContext(ctx, k, noticeSeq, recipients[i], at.Format(sqliteTime))
		if err != nil {
			return nil, err
		}
		if seqs[i], err = res.LastInsertId(); err != nil {
			return nil, err
		}
	}
	return seqs, nil
}

func (t *sqliteLedgerTx) addRecipients(ctx context.Context, audienceSeq, noticeSeq int64, rows []claimedRow) error {
	if len(rows) == 0 {
		return nil
	}
	// Every batch number written with as many digits as the largest.
	var top int64
	for _, r := range rows {
		top = max(top, r.batch)
	}
	width := len(strconv.FormatInt(top, 10))
	n := min(len(rows), sqliteSeriesRows)
	keys := make([]byte, 0, 16*n)
	batches := make([]byte, 0, width*n)
	st := t.tx.StmtContext(ctx, t.d.ledger.addRecipients)
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), sqliteSeriesRows)]
		rows = rows[len(chunk):]
		keys, batches = keys[:0], batches[:0]
		for _, r := range chunk {
			keys = append(keys, r.key[:]...)
			for pad := width - digits(r.batch); pad > 0; pad-- {
				batches = append(batches, '0')
			}
			batches = strconv.AppendInt(batches, r.batch, 10)
		}
		res, err := st.ExecContext(ctx, audienceSeq, noticeSeq, keys, batches, width, len(chunk))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n != int64(len(chunk)) {
			return fmt.Errorf("inserted %d rows of %d", n, len(chunk))
		}
	}
	return nil
}

// digits is how many decimal digits n >= 0 has.
func digits(n int64) int {
	d := 1
	for n >= 10 {
		n /= 10
		d++
	}
	return d
}

func (t *sqliteLedgerTx) addUnreachable(ctx context.Context, audienceSeq, noticeSeq int64, rows []Unreachable, at time.Time) error {
	st, err := t.tx.PrepareContext(ctx, `INSERT INTO notice_recipients (audience_seq, subject_key, notice_seq, reason, updated_at) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, u := range rows {
		if _, err := st.ExecContext(ctx, audienceSeq, u.Key[:], noticeSeq, u.Reason, at.Format(sqliteTime)); err != nil {
			return err
		}
	}
	_, err = t.tx.ExecContext(ctx, `UPDATE notices SET unreachable = unreachable + ? WHERE seq = ?`, len(rows), noticeSeq)
	return err
}

func (t *sqliteLedgerTx) eventBatches(ctx context.Context, keys []string) (map[string]*eventBatch, error) {
	st, err := t.tx.PrepareContext(ctx, `SELECT b.seq, b.state, b.sent_at, n.audience_seq
		FROM notice_batches b JOIN notices n ON n.seq = b.notice_seq WHERE b.key = ?`)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	out := map[string]*eventBatch{}
	for _, k := range keys {
		var (
			b      eventBatch
			sentAt sql.NullString
		)
		err := st.QueryRowContext(ctx, k).Scan(&b.seq, &b.state, &sentAt, &b.audienceSeq)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if b.sentAt, err = parseSQLiteTime(sentAt); err != nil {
			return nil, err
		}
		out[k] = &b
	}
	return out, nil
}

func (t *sqliteLedgerTx) eventRecipients(ctx context.Context, ids []recipientID) (map[recipientID]*eventRecipient, error) {
	st, err := t.tx.PrepareContext(ctx, `SELECT batch_seq, delivery, reason, updated_at FROM notice_recipients
		WHERE audience_seq = ? AND subject_key = ?`)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	out := make(map[recipientID]*eventRecipient, len(ids))
	for _, id := range ids {
		var (
			batch                 sql.NullInt64
			dl, reason, updatedAt sql.NullString
		)
		err := st.QueryRowContext(ctx, id.audienceSeq, id.key[:]).Scan(&batch, &dl, &reason, &updatedAt)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, err
		}
		r := &eventRecipient{id: id, batchSeq: batch.Int64, delivery: dl.String, reason: reason.String}
		if r.updatedAt, err = parseSQLiteTime(updatedAt); err != nil {
			return nil, err
		}
		out[id] = r
	}
	return out, nil
}

func (t *sqliteLedgerTx) applyEvents(ctx context.Context, recipients []*eventRecipient, batches []*eventBatch, now time.Time) error {
	if len(recipients) > 0 {
		st, err := t.tx.PrepareContext(ctx, `UPDATE notice_recipients SET delivery = ?, reason = ?, updated_at = ?
			WHERE audience_seq = ? AND subject_key = ?`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, r := range recipients {
			if _, err := st.ExecContext(ctx, r.delivery, r.reason, r.updatedAt.Format(sqliteTime), r.id.audienceSeq, r.id.key[:]); err != nil {
				return err
			}
		}
	}
	st, err := t.tx.PrepareContext(ctx, `UPDATE notice_batches SET events = events + ?1, delivered = delivered + ?2,
			bounced = bounced + ?3, dropped = dropped + ?4, deferred = deferred + ?5,
			state = CASE WHEN ?6 THEN 'accepted' ELSE state END,
			error = CASE WHEN ?6 THEN '' ELSE error END,
			sent_at = CASE WHEN ?6 THEN ?7 ELSE sent_at END,
			updated_at = CASE WHEN ?6 THEN ?8 ELSE updated_at END
		WHERE seq = ?9`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, b := range batches {
		if _, err := st.ExecContext(ctx, b.events, b.counts[0], b.counts[1], b.counts[2], b.counts[3],
			b.confirmed, sqliteTimeArg(b.sentAt), now.Format(sqliteTime), b.seq); err != nil {
			return err
		}
	}
	return nil
}

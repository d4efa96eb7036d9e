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
SELECT r.subject_key, r.notice_seq, r.batch_seq, r.delivery FROM k CROSS JOIN notice_recipients r WHERE r.audience_seq = ?1 AND r.subject_key = k.key`

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
		JOIN notice_recipients r ON r.audience_seq = a.seq AND r.subject_key BETWEEN $1 AND $2
		WHERE a.incident_id = $3 AND a.audience = $4 AND r.batch_seq IS NOT NULL AND r.batch_seq NOT IN (`+ledgerReleasedSQL+`)`,
		from[:], through[:], incidentID, audience)
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

// ledgerReleased is true of a batch that lets its people go: refused by
// SendGrid, and none of its attempts of unknown fate (none taken either,
// or it would be accepted). Another notice of the audience may claim them.
const ledgerReleased = `b.state = 'failed' AND b.unknown = 0`

// ledgerReleasedSQL selects the seqs of the batches of audience ($3, $4)
// that let their people go: a few, read once for a ClaimedBetween. Both
// dialects run it (SQLite numbers $1 ... $4 in the order they first
// appear).
const ledgerReleasedSQL = `SELECT b.seq FROM ledger_audiences ra JOIN notices rn ON rn.audience_seq = ra.seq
	JOIN notice_batches b ON b.notice_seq = rn.seq WHERE ra.incident_id = $3 AND ra.audience = $4 AND ` + ledgerReleased

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

// ledgerBatchColumns are a BatchStatus's, as scanBatch reads them, in both
// dialects.
const ledgerBatchColumns = `b.key, n.id, b.state, b.recipients, b.message_id, b.error, b.attempts, b.sent_at, b.events,
	b.last_attempt_at, b.last_outcome, b.resends`

const sqliteBatchSQL = `SELECT ` + ledgerBatchColumns + ` FROM notice_batches b JOIN notices n ON n.seq = b.notice_seq WHERE b.key = ?`

// scanSQLiteBatch reads ledgerBatchColumns, then extra.
func scanSQLiteBatch(row rowScanner, extra ...any) (BatchStatus, error) {
	var (
		b              BatchStatus
		sentAt, lastAt sql.NullString
	)
	dest := append([]any{&b.Key, &b.Notice, &b.State, &b.Recipients, &b.MessageID, &b.Error, &b.Attempts, &sentAt, &b.Events,
		&lastAt, &b.LastOutcome, &b.Resends}, extra...)
	err := row.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return BatchStatus{}, ErrNotFound
	}
	if err != nil {
		return BatchStatus{}, err
	}
	if b.SentAt, err = parseSQLiteTime(sentAt); err != nil {
		return BatchStatus{}, err
	}
	b.LastAttemptAt, err = parseSQLiteTime(lastAt)
	return b, err
}

func (d *sqliteDB) batch(ctx context.Context, key string) (BatchStatus, error) {
	return scanSQLiteBatch(d.r.QueryRowContext(ctx, sqliteBatchSQL, key))
}

// ledgerProgressSQL adds up a notice's batches. Both dialects run it (with
// their placeholder); every sum is of integer columns, an integer in both.
// A batch's people were mailed twice when SendGrid took two of its
// attempts, and may have been when it was resent and, of its attempts,
// fewer than two are known taken but two could have been (taken or of
// unknown fate).
const ledgerProgressSQL = `SELECT n.unreachable, count(b.seq),
	coalesce(sum(CASE WHEN b.state = 'accepted' THEN 1 ELSE 0 END), 0),
	coalesce(sum(CASE WHEN b.state = 'failed' THEN 1 ELSE 0 END), 0),
	coalesce(sum(CASE WHEN b.state = 'ambiguous' THEN 1 ELSE 0 END), 0),
	coalesce(sum(CASE WHEN b.state = 'sending' THEN 1 ELSE 0 END), 0),
	coalesce(sum(b.recipients), 0),
	coalesce(sum(CASE WHEN b.state IN ('queued', 'sending', 'ambiguous') THEN b.recipients ELSE 0 END), 0),
	coalesce(sum(CASE WHEN b.state = 'accepted' THEN b.recipients ELSE 0 END), 0),
	coalesce(sum(CASE WHEN b.state = 'failed' THEN b.recipients ELSE 0 END), 0),
	coalesce(sum(b.delivered), 0), coalesce(sum(b.bounced), 0), coalesce(sum(b.dropped), 0), coalesce(sum(b.deferred), 0),
	coalesce(sum(b.taken), 0),
	coalesce(sum(CASE WHEN b.resends > 0 THEN 1 ELSE 0 END), 0),
	coalesce(sum(CASE WHEN b.resends > 0 THEN b.recipients ELSE 0 END), 0),
	coalesce(sum(CASE WHEN b.taken >= 2 THEN b.recipients ELSE 0 END), 0),
	coalesce(sum(CASE WHEN b.resends > 0 AND b.taken < 2 AND b.taken + b.unknown >= 2 THEN b.recipients ELSE 0 END), 0)
FROM notices n LEFT JOIN notice_batches b ON b.notice_seq = n.seq
WHERE n.id = $1 GROUP BY n.seq, n.unreachable`

func scanProgress(row rowScanner, id string, noRows error) (NoticeProgress, error) {
	p := NoticeProgress{Notice: id}
	var v [19]int64
	dest := make([]any, len(v))
	for i := range v {
		dest[i] = &v[i]
	}
	err := row.Scan(dest...)
	if errors.Is(err, noRows) {
		return NoticeProgress{}, ErrNotFound
	}
	if err != nil {
		return NoticeProgress{}, err
	}
	p.Unreachable, p.Batches, p.BatchesAccepted, p.BatchesFailed, p.BatchesAmbiguous, p.BatchesSending = int(v[0]), int(v[1]), int(v[2]), int(v[3]), int(v[4]), int(v[5])
	p.Recipients, p.Queued, p.Accepted, p.Failed = int(v[6]), int(v[7]), int(v[8]), int(v[9])
	p.Delivered, p.Bounced, p.Dropped, p.Deferred = int(v[10]), int(v[11]), int(v[12]), int(v[13])
	p.Requests, p.Resent, p.ResentRecipients, p.Twice, p.MaybeTwice = int(v[14]), int(v[15]), int(v[16]), int(v[17]), int(v[18])
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

func (t *sqliteLedgerTx) claimedIn(ctx context.Context, audienceSeq int64, from, through [16]byte, limit int) ([]claimedKey, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT subject_key, notice_seq, batch_seq, delivery FROM notice_recipients
		WHERE audience_seq = ? AND subject_key BETWEEN ? AND ? ORDER BY subject_key LIMIT ?`, audienceSeq, from[:], through[:], limit)
	if err != nil {
		return nil, err
	}
	return scanClaimedKeys(sqlRows{rows}, nil)
}

func (t *sqliteLedgerTx) claimedAmong(ctx context.Context, audienceSeq int64, keys [][16]byte) ([]claimedKey, error) {
	st := t.tx.StmtContext(ctx, t.d.ledger.claimedAmong)
	blob := make([]byte, 0, 16*min(len(keys), sqliteSeriesRows))
	var out []claimedKey
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
		if out, err = scanClaimedKeys(sqlRows{rows}, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// scanClaimedKeys appends (subject_key, notice_seq, batch_seq, delivery)
// rows to keys.
func scanClaimedKeys(rows claimRows, keys []claimedKey) ([]claimedKey, error) {
	defer rows.Close()
	var (
		k        []byte
		notice   int64
		batch    *int64
		delivery *string
	)
	for rows.Next() {
		if err := rows.Scan(&k, &notice, &batch, &delivery); err != nil {
			return nil, err
		}
		if len(k) != 16 {
			return nil, fmt.Errorf("subject key of %d bytes in the ledger", len(k))
		}
		keys = append(keys, claimedKey{key: [16]byte(k), notice: notice, batch: deref(batch), delivery: deref(delivery)})
	}
	return keys, rows.Err()
}

func (t *sqliteLedgerTx) releasedAmong(ctx context.Context, seqs []int64) (map[int64]bool, error) {
	st, err := t.tx.PrepareContext(ctx, `SELECT count(*) FROM notice_batches b WHERE b.seq = ? AND `+ledgerReleased)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	out := map[int64]bool{}
	for _, seq := range seqs {
		var n int
		if err := st.QueryRowContext(ctx, seq).Scan(&n); err != nil {
			return nil, err
		}
		if n > 0 {
			out[seq] = true
		}
	}
	return out, nil
}

func (t *sqliteLedgerTx) takeOver(ctx context.Context, audienceSeq, noticeSeq int64, moves []movedClaim, batches []batchDelta, notices []noticeDelta, at time.Time) error {
	st, err := t.tx.PrepareContext(ctx, `UPDATE notice_recipients SET notice_seq = ?, batch_seq = ?, delivery = NULL, reason = ?, updated_at = ?
		WHERE audience_seq = ? AND subject_key = ?`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, m := range moves {
		var batch, reason, updatedAt any
		if m.batch != 0 {
			batch = m.batch
		} else {
			reason, updatedAt = m.reason, at.Format(sqliteTime)
		}
		res, err := st.ExecContext(ctx, noticeSeq, batch, reason, updatedAt, audienceSeq, m.key[:])
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("moved %d rows of a claim, want 1 (%v)", n, err)
		}
	}
	for _, b := range batches {
		if _, err := t.tx.ExecContext(ctx, `UPDATE notice_batches SET recipients = recipients + ?, delivered = delivered + ?,
				bounced = bounced + ?, dropped = dropped + ?, deferred = deferred + ? WHERE seq = ?`,
			b.recipients, b.counts[0], b.counts[1], b.counts[2], b.counts[3], b.seq); err != nil {
			return err
		}
	}
	for _, n := range notices {
		if _, err := t.tx.ExecContext(ctx, `UPDATE notices SET unreachable = unreachable + ? WHERE seq = ?`, n.unreachable, n.seq); err != nil {
			return err
		}
	}
	return nil
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
	st, err := t.tx.PrepareContext(ctx, `SELECT b.seq, b.state, b.sent_at, n.audience_seq, b.attempts, b.taken, b.unknown, b.last_outcome
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
		err := st.QueryRowContext(ctx, k).Scan(&b.seq, &b.state, &sentAt, &b.audienceSeq, &b.attempts, &b.taken, &b.unknown, &b.lastOutcome)
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

func (t *sqliteLedgerTx) openAttempts(ctx context.Context, seqs []int64) (map[int64][]Attempt, error) {
	st, err := t.tx.PrepareContext(ctx, `SELECT `+sqliteAttemptColumns+` FROM batch_attempts
		WHERE batch_seq = ? AND outcome IN ('sending', 'ambiguous', 'not_taken') ORDER BY n`)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	out := map[int64][]Attempt{}
	for _, seq := range seqs {
		rows, err := st.QueryContext(ctx, seq)
		if err != nil {
			return nil, err
		}
		if out[seq], err = scanSQLiteAttempts(rows); err != nil {
			return nil, err
		}
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
			updated_at = CASE WHEN ?6 THEN ?8 ELSE updated_at END,
			taken = ?9, unknown = ?10, last_outcome = ?11
		WHERE seq = ?12`)
	if err != nil {
		return err
	}
	defer st.Close()
	confirm, err := t.tx.PrepareContext(ctx, `UPDATE batch_attempts SET outcome = 'confirmed', confirmed_by = 'event', ended_at = ?
		WHERE batch_seq = ? AND n = ?`)
	if err != nil {
		return err
	}
	defer confirm.Close()
	for _, b := range batches {
		if _, err := st.ExecContext(ctx, b.events, b.counts[0], b.counts[1], b.counts[2], b.counts[3],
			b.confirmed, sqliteTimeArg(b.sentAt), now.Format(sqliteTime), b.taken, b.unknown, string(b.lastOutcome), b.seq); err != nil {
			return err
		}
		for _, i := range b.confirms {
			a := b.open[i]
			if _, err := confirm.ExecContext(ctx, a.EndedAt.Format(sqliteTime), b.seq, a.N); err != nil {
				return err
			}
		}
	}
	return nil
}

// --- attempts

const sqliteAttemptColumns = `n, started_at, ended_at, outcome, message_id, error, resend, confirmed_by`

// scanSQLiteAttempts reads sqliteAttemptColumns rows, and closes them.
func scanSQLiteAttempts(rows *sql.Rows) ([]Attempt, error) {
	defer rows.Close()
	var out []Attempt
	for rows.Next() {
		var (
			a              Attempt
			started, ended sql.NullString
		)
		if err := rows.Scan(&a.N, &started, &ended, &a.Outcome, &a.MessageID, &a.Error, &a.Resend, &a.ConfirmedBy); err != nil {
			return nil, err
		}
		var err error
		if a.StartedAt, err = parseSQLiteTime(started); err != nil {
			return nil, err
		}
		if a.EndedAt, err = parseSQLiteTime(ended); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func (t *sqliteLedgerTx) lockBatch(ctx context.Context, key string) (*batchRow, error) {
	// The transaction holds the write lock already (BEGIN IMMEDIATE).
	var (
		b         batchRow
		updatedAt string
	)
	st, err := scanSQLiteBatch(t.tx.QueryRowContext(ctx, `SELECT `+ledgerBatchColumns+`, b.seq, b.taken, b.unknown, b.updated_at
		FROM notice_batches b JOIN notices n ON n.seq = b.notice_seq WHERE b.key = ?`, key), &b.seq, &b.taken, &b.unknown, &updatedAt)
	if err != nil {
		return nil, err
	}
	b.status = st
	if b.updatedAt, err = time.Parse(sqliteTime, updatedAt); err != nil {
		return nil, err
	}
	return &b, nil
}

func (t *sqliteLedgerTx) batchAttempts(ctx context.Context, seq int64) ([]Attempt, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+sqliteAttemptColumns+` FROM batch_attempts WHERE batch_seq = ? ORDER BY n`, seq)
	if err != nil {
		return nil, err
	}
	return scanSQLiteAttempts(rows)
}

func (t *sqliteLedgerTx) putAttempt(ctx context.Context, seq int64, a Attempt, insert bool) error {
	if insert {
		_, err := t.tx.ExecContext(ctx, `INSERT INTO batch_attempts (batch_seq, n, started_at, ended_at, outcome, message_id, error, resend, confirmed_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, seq, a.N, a.StartedAt.Format(sqliteTime), sqliteTimeArg(a.EndedAt), string(a.Outcome),
			a.MessageID, a.Error, a.Resend, a.ConfirmedBy)
		return err
	}
	_, err := t.tx.ExecContext(ctx, `UPDATE batch_attempts SET ended_at = ?, outcome = ?, message_id = ?, error = ?, confirmed_by = ?
		WHERE batch_seq = ? AND n = ?`, sqliteTimeArg(a.EndedAt), string(a.Outcome), a.MessageID, a.Error, a.ConfirmedBy, seq, a.N)
	return err
}

func (t *sqliteLedgerTx) putBatch(ctx context.Context, b *batchRow) error {
	st := &b.status
	_, err := t.tx.ExecContext(ctx, `UPDATE notice_batches SET state = ?, message_id = ?, error = ?, attempts = ?, sent_at = ?, updated_at = ?,
			last_attempt_at = ?, last_outcome = ?, resends = ?, taken = ?, unknown = ?
		WHERE seq = ?`, string(st.State), st.MessageID, st.Error, st.Attempts, sqliteTimeArg(st.SentAt), b.updatedAt.Format(sqliteTime),
		sqliteTimeArg(st.LastAttemptAt), string(st.LastOutcome), st.Resends, b.taken, b.unknown, b.seq)
	return err
}

func (d *sqliteDB) attempts(ctx context.Context, key string) ([]Attempt, error) {
	tx, err := d.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	var seq int64
	if err := tx.QueryRowContext(ctx, `SELECT seq FROM notice_batches WHERE key = ?`, key).Scan(&seq); errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+sqliteAttemptColumns+` FROM batch_attempts WHERE batch_seq = ? ORDER BY n`, seq)
	if err != nil {
		return nil, err
	}
	return scanSQLiteAttempts(rows)
}

// ledgerResendsWhere picks the batches Resends lists.
const ledgerResendsWhere = `(b.attempts > 1 OR b.state = 'ambiguous')`

func (d *sqliteDB) resends(ctx context.Context, noticeID string) ([]BatchAttempts, error) {
	tx, err := d.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	var noticeSeq int64
	if err := tx.QueryRowContext(ctx, `SELECT seq FROM notices WHERE id = ?`, noticeID).Scan(&noticeSeq); errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT b.seq, b.key, b.recipients, b.state FROM notice_batches b
		WHERE b.notice_seq = ? AND `+ledgerResendsWhere+` ORDER BY b.key`, noticeSeq)
	if err != nil {
		return nil, err
	}
	var (
		out  []BatchAttempts
		seqs []int64
	)
	for rows.Next() {
		var (
			b   BatchAttempts
			seq int64
		)
		if err := rows.Scan(&seq, &b.Batch, &b.Recipients, &b.State); err != nil {
			_ = rows.Close()
			return nil, err
		}
		out, seqs = append(out, b), append(seqs, seq)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	st, err := tx.PrepareContext(ctx, `SELECT `+sqliteAttemptColumns+` FROM batch_attempts WHERE batch_seq = ? ORDER BY n`)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	for i, seq := range seqs {
		rows, err := st.QueryContext(ctx, seq)
		if err != nil {
			return nil, err
		}
		if out[i].Attempts, err = scanSQLiteAttempts(rows); err != nil {
			return nil, err
		}
	}
	return out, nil
}

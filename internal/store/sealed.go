package store

import (
	"fmt"

	"github.com/breachctl/breachctl/internal/seal"
)

// Sealing (WithKeys). The columns that hold incident text or personal data
// are sealed here, in the Store, so the engines and every caller stay as
// they are:
//
//	snapshot_subjects.payload   bytes, per person
//	snapshots.description       text
//	notices.content             bytes
//	notices.approved_by         text (who approved: a person)
//	notice_batches.error        text (SendGrid's answer may quote input)
//	notice_recipients.reason    text (a bounce reason may quote the address)
//
// Each value is bound to where it is kept (seal's context, below): a
// sealed value copied to another row does not open there. The recipients'
// reasons are not bound yet: their rows are known by the subject key.
//
// Binary columns get seal's blob form, text columns its text form (valid
// UTF-8 without NULs, as PostgreSQL's text wants). Both start with a prefix
// no plain value has, so rows written before encryption are read as they
// are. Keys, IDs, jurisdictions, categories, counts and states stay plain:
// the store queries and counts by them, and none holds personal data (a
// subject key is a keyed hash, subjectkeys.go). The subject-key secret itself
// is sealed too (store_secrets.value).

// seal replaces the rows' payloads with sealed copies in w.sealed, one
// buffer for the batch: sealing a million payloads costs a copy each, not
// an allocation each.
func (w *snapshotWriter) seal(rows []Subject) error {
	if w.keys == nil {
		return nil
	}
	per := seal.Overhead(len(w.keys.PrimaryID()))
	need := 0
	for i := range rows {
		need += len(rows[i].Payload) + per
	}
	if cap(w.sealed) < need {
		w.sealed = make([]byte, 0, need)
	}
	// Capacity is enough for all, so appending never moves what the rows
	// already point at.
	buf := w.sealed[:0]
	ctx := payloadContext(w.id)
	for i := range rows {
		start := len(buf)
		var err error
		if buf, err = w.keys.SealBytesFor(buf, rows[i].Payload, ctx); err != nil {
			return fmt.Errorf("seal payload: %w", err)
		}
		rows[i].Payload = buf[start:len(buf):len(buf)]
	}
	w.sealed = buf
	return nil
}

// openPayloads opens a page's payloads in place: each is a fresh copy the
// driver made, and GCM decrypts over its own ciphertext.
func openPayloads(keys *seal.Keyring, snapshotID string, subjects []Subject) error {
	ctx := payloadContext(snapshotID)
	for i := range subjects {
		p, err := keys.OpenInPlaceFor(subjects[i].Payload, ctx)
		if err != nil {
			return fmt.Errorf("payload of subject %d of the page: %w", i, err)
		}
		subjects[i].Payload = p
	}
	return nil
}

func openInfos(keys *seal.Keyring, infos []SnapshotInfo) error {
	for i := range infos {
		d, err := keys.OpenStringFor(infos[i].Description, descriptionContext(infos[i].ID))
		if err != nil {
			return fmt.Errorf("description of snapshot %s: %w", infos[i].ID, err)
		}
		infos[i].Description = d
	}
	return nil
}

// sealNotice seals what a notice record holds of people and text.
func sealNotice(keys *seal.Keyring, n NoticeRecord) (NoticeRecord, error) {
	if keys == nil {
		return n, nil
	}
	content, err := keys.SealBytesFor(nil, n.Content, noticeContext("content", n.ID))
	if err != nil {
		return n, err
	}
	by, err := keys.SealStringFor(n.ApprovedBy, noticeContext("approved_by", n.ID))
	if err != nil {
		return n, err
	}
	n.Content, n.ApprovedBy = content, by
	return n, nil
}

func openNotice(keys *seal.Keyring, n NoticeRecord) (NoticeRecord, error) {
	content, err := keys.OpenInPlaceFor(n.Content, noticeContext("content", n.ID))
	if err != nil {
		return n, fmt.Errorf("content: %w", err)
	}
	by, err := keys.OpenStringFor(n.ApprovedBy, noticeContext("approved_by", n.ID))
	if err != nil {
		return n, fmt.Errorf("approved_by: %w", err)
	}
	n.Content, n.ApprovedBy = content, by
	return n, nil
}

func openBatch(keys *seal.Keyring, b BatchStatus) (BatchStatus, error) {
	e, err := keys.OpenStringFor(b.Error, batchErrorContext(b.Key))
	if err != nil {
		return b, fmt.Errorf("error of batch %s: %w", b.Key, err)
	}
	b.Error = e
	return b, nil
}

// The contexts sealed values are bound to: table, column, row. A batch's
// error is its last attempt's, copied, so the two share one context.
func payloadContext(snapshotID string) string {
	return seal.Context("snapshot_subjects", "payload", snapshotID)
}
func descriptionContext(snapshotID string) string {
	return seal.Context("snapshots", "description", snapshotID)
}
func noticeContext(column, noticeID string) string { return seal.Context("notices", column, noticeID) }
func batchErrorContext(batchKey string) string {
	return seal.Context("notice_batches", "error", batchKey)
}
func registerContext(incidentID string) string {
	return seal.Context("register_entries", "status", incidentID)
}

package mailer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/breachctl/breachctl/internal/seal"
)

// Outbox is the Mailer of `breachctl dev` when no SendGrid key is set: it
// writes each recipient's message as an RFC 5322 .eml file in a directory,
// where any mail client can open it.
//
// A file is named after the batch key and the recipient ID (never the
// address), so sending the same batch again rewrites the same files: the
// outbox holds one message per recipient per batch, however often a batch
// is retried. Files are written whole (a temporary file renamed into place).
//
// With keys (NewSealedOutbox) each file is sealed, FileName + SealedSuffix,
// since it holds the person's address and name; ReadOutboxFile (and
// `breachctl outbox show`) opens it.
type Outbox struct {
	dir  string
	now  func() time.Time
	keys *seal.Keyring
}

// SealedSuffix ends the name of a sealed outbox file.
const SealedSuffix = ".sealed"

// NewOutbox returns an Outbox writing into dir, which is created if needed.
func NewOutbox(dir string) *Outbox { return &Outbox{dir: dir, now: time.Now} }

// NewSealedOutbox is an Outbox that seals every file under keys; nil keys
// write plain .eml files, as NewOutbox.
func NewSealedOutbox(dir string, keys *seal.Keyring) *Outbox {
	return &Outbox{dir: dir, now: time.Now, keys: keys}
}

// ReadOutboxFile returns the message in an outbox file: a sealed one
// opened under keys, a plain .eml as it is.
func ReadOutboxFile(path string, keys *seal.Keyring) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(path, SealedSuffix) {
		return raw, nil
	}
	msg, err := keys.OpenInPlaceFor(raw, outboxContext(filepath.Base(path)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return msg, nil
}

// Send writes one .eml file per recipient and returns a message ID derived
// from the batch key.
func (o *Outbox) Send(ctx context.Context, b Batch) (Result, error) {
	if err := validate(&b); err != nil {
		return Result{}, err
	}
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return Result{}, fmt.Errorf("outbox: %w", err)
	}
	sum := sha256.Sum256([]byte(b.Key))
	batchID := hex.EncodeToString(sum[:8])
	date := o.now()
	var buf bytes.Buffer
	for i := range b.Recipients {
		if err := ctx.Err(); err != nil {
			return Result{}, &TemporaryError{Err: err}
		}
		r := &b.Recipients[i]
		buf.Reset()
		if err := writeMessage(&buf, &b, r, date); err != nil {
			return Result{}, fmt.Errorf("outbox: recipient %d: %w", i, err)
		}
		name, data := FileName(b.Key, r.ID), buf.Bytes()
		if o.keys != nil {
			name += SealedSuffix
			sealed, err := o.keys.SealBytesFor(nil, data, outboxContext(name))
			if err != nil {
				return Result{}, fmt.Errorf("outbox: recipient %d: %w", i, err)
			}
			data = sealed
		}
		if err := writeFileAtomic(filepath.Join(o.dir, name), data); err != nil {
			return Result{}, fmt.Errorf("outbox: recipient %d: %w", i, err)
		}
	}
	return Result{MessageID: "outbox-" + batchID, Accepted: len(b.Recipients)}, nil
}

// outboxContext binds a sealed file to its name: copied over another
// recipient's file, it does not open.
func outboxContext(name string) string { return seal.Context("outbox", name) }

// FileName is the name of a recipient's file in the outbox: the batch key
// and the recipient ID made safe for a file name, and a hash of both so
// that keys differing only in unsafe characters do not collide.
func FileName(key, id string) string {
	sum := sha256.Sum256([]byte(key + "\x00" + id))
	return safeName(key, 120) + "--" + safeName(id, 60) + "--" + hex.EncodeToString(sum[:6]) + ".eml"
}

func safeName(s string, limit int) string {
	var sb strings.Builder
	for i := 0; i < len(s) && sb.Len() < limit; i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' {
			sb.WriteByte(c)
		} else {
			sb.WriteByte('_')
		}
	}
	return strings.TrimLeft(sb.String(), ".")
}

func writeMessage(buf *bytes.Buffer, b *Batch, r *Recipient, date time.Time) error {
	text, subject := b.Text, b.Subject
	htmlBody := b.HTML
	if strings.Contains(subject+text+htmlBody, "{{") {
		raw, escaped := replacers(r)
		subject = raw.Replace(subject)
		text = raw.Replace(text)
		htmlBody = escaped.Replace(htmlBody)
	}
	sum := sha256.Sum256([]byte(b.Key + "\x00" + r.ID))

	h := func(k, v string) { fmt.Fprintf(buf, "%s: %s\r\n", k, v) }
	h("From", (&mail.Address{Name: b.From.Name, Address: b.From.Email}).String())
	h("To", (&mail.Address{Name: r.Name, Address: r.Email}).String())
	if b.ReplyTo != nil {
		h("Reply-To", (&mail.Address{Name: b.ReplyTo.Name, Address: b.ReplyTo.Email}).String())
	}
	h("Subject", mime.QEncoding.Encode("UTF-8", subject))
	h("Date", date.Format(time.RFC1123Z))
	h("Message-ID", "<"+hex.EncodeToString(sum[:16])+"@outbox.breachctl.invalid>")
	h("X-Breachctl-Batch", mime.QEncoding.Encode("UTF-8", b.Key))
	if b.Attempt > 0 {
		h("X-Breachctl-Attempt", strconv.Itoa(b.Attempt))
	}
	h("MIME-Version", "1.0")

	mw := multipart.NewWriter(buf)
	h("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	buf.WriteString("\r\n")
	part := func(typ, body string) error {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {typ + "; charset=UTF-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return err
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write([]byte(body)); err != nil {
			return err
		}
		return qp.Close()
	}
	if text != "" {
		if err := part("text/plain", text); err != nil {
			return err
		}
	}
	if htmlBody != "" {
		if err := part("text/html", htmlBody); err != nil {
			return err
		}
	}
	return mw.Close()
}

// replacers substitute a recipient's tags as SendGrid does: values as they
// are in the subject and text, HTML-escaped in the HTML.
func replacers(r *Recipient) (raw, escaped *strings.Replacer) {
	pairs := make([]string, 0, 2+2*len(r.Substitutions))
	esc := make([]string, 0, cap(pairs))
	add := func(name, v string) {
		pairs = append(pairs, tag(name), v)
		esc = append(esc, tag(name), html.EscapeString(v))
	}
	add(NameTag, r.Name)
	for k, v := range r.Substitutions {
		add(k, v)
	}
	return strings.NewReplacer(pairs...), strings.NewReplacer(esc...)
}

func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*.eml")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

package evidence

import (
	"archive/zip"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/register"
	"github.com/breachctl/breachctl/internal/risk"
)

// File is one file of a pack.
type File struct {
	Name    string
	Content []byte
}

// Record is a file's entry in the manifest.
type Record struct {
	Seq    int    `json:"seq"`
	Name   string `json:"name"`
	Size   int    `json:"size"`
	SHA256 string `json:"sha256"` // of the content, hex
	Chain  string `json:"chain"`  // the chain value after this file, hex
}

// Manifest lists the files in chain order with the chain's head.
type Manifest struct {
	Format    string     `json:"format"`
	Incident  string     `json:"incident"`
	Records   []Record   `json:"records"`
	Head      string     `json:"head"`
	Signature *Signature `json:"signature,omitempty"`
	// Anchor is the server's signed record of the export (see
	// ServerAnchor); packs exported before it have none.
	Anchor *ServerAnchor `json:"server_anchor,omitempty"`
}

// Signature is an Ed25519 signature of the head (see signedMessage).
type Signature struct {
	Algorithm string `json:"algorithm"`  // "ed25519"
	PublicKey string `json:"public_key"` // base64, 32 bytes
	Value     string `json:"value"`      // base64, 64 bytes
}

// Pack is an evidence pack: its files in chain order and the manifest.
type Pack struct {
	Manifest   Manifest
	Files      []File
	ExportedAt time.Time // the time on the zip's entries
}

// File returns the content of a file of the pack, or nil.
func (p *Pack) File(name string) []byte {
	for _, f := range p.Files {
		if f.Name == name {
			return f.Content
		}
	}
	return nil
}

// Input is what a pack is built from: the incident's status as Temporal
// has it, and its notices as the ledger has them.
type Input struct {
	Status     incident.Status
	Ledger     []LedgerNotice
	ExportedAt time.Time
	ExportedBy string
}

// LedgerNotice is a notice as the notification ledger records it: never a
// person, only counts, batch keys and message IDs.
type LedgerNotice struct {
	ID         string    `json:"id"`
	Rule       string    `json:"rule"`
	Audience   string    `json:"audience"`
	SnapshotID string    `json:"snapshot_id,omitempty"`
	ApprovedBy string    `json:"approved_by"`
	ApprovedAt time.Time `json:"approved_at"`
	// Content is the notice as approved and sent (the notifier renders
	// every email from it), byte for byte as stored.
	Content  []byte         `json:"-"`
	Progress LedgerProgress `json:"progress"`
	Batches  []LedgerBatch  `json:"batches"`
	// Resends are the batches sent more than once, each with every
	// attempt: when, why it was made, what became of it, its message ID.
	// With Batches' message IDs they are every Mail Send request SendGrid
	// took. (Added with the ledger's attempts; packs before it lack it.)
	Resends []LedgerResend `json:"resends"`
}

// LedgerProgress counts a notice's recipients by state.
type LedgerProgress struct {
	Batches          int `json:"batches"`
	BatchesAccepted  int `json:"batches_accepted"`
	BatchesFailed    int `json:"batches_failed"`
	BatchesAmbiguous int `json:"batches_ambiguous"`
	Recipients       int `json:"recipients"`
	Queued           int `json:"queued"`
	Accepted         int `json:"accepted"`
	Failed           int `json:"failed"`
	Unreachable      int `json:"unreachable"`
	Delivered        int `json:"delivered"`
	Bounced          int `json:"bounced"`
	Dropped          int `json:"dropped"`
	Deferred         int `json:"deferred"`

	// Added with the ledger's attempts (packs before them lack these):
	// batches with an attempt whose outcome is not recorded; the Mail Send
	// requests SendGrid took (one message ID each); batches sent again
	// although an earlier attempt's fate was unknown, and their people;
	// people SendGrid took twice, and people in resent batches whose
	// earlier attempt's fate stays unknown.
	BatchesSending   int `json:"batches_sending"`
	Requests         int `json:"requests"`
	Resent           int `json:"resent"`
	ResentRecipients int `json:"resent_recipients"`
	Twice            int `json:"twice"`
	MaybeTwice       int `json:"maybe_twice"`
}

// LedgerResend is a batch with more than one attempt.
type LedgerResend struct {
	Batch      string          `json:"batch"`
	Recipients int             `json:"recipients"`
	State      string          `json:"state"`
	Attempts   []LedgerAttempt `json:"attempts"`
}

// LedgerAttempt is one Mail Send request of a batch, as the ledger wrote
// it ahead of sending and after.
type LedgerAttempt struct {
	N         int       `json:"n"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	Outcome   string    `json:"outcome"`
	MessageID string    `json:"message_id,omitempty"`
	Error     string    `json:"error,omitempty"`
	// Resend is why the attempt was made although an earlier one's fate
	// was unknown; ConfirmedBy what reconciled an attempt whose answer was
	// lost (event, activity).
	Resend      string `json:"resend,omitempty"`
	ConfirmedBy string `json:"confirmed_by,omitempty"`
}

// LedgerBatch is one Mail Send request: its state, SendGrid's message ID,
// how many recipients it had and their delivery states.
type LedgerBatch struct {
	Key        string    `json:"key"`
	State      string    `json:"state"`
	Recipients int       `json:"recipients"`
	MessageID  string    `json:"message_id,omitempty"`
	Error      string    `json:"error,omitempty"`
	Attempts   int       `json:"attempts"`
	SentAt     time.Time `json:"sent_at,omitzero"`
	UpdatedAt  time.Time `json:"updated_at"`
	Events     int       `json:"events"`
	Delivered  int       `json:"delivered"`
	Bounced    int       `json:"bounced"`
	Dropped    int       `json:"dropped"`
	Deferred   int       `json:"deferred"`
}

// packInfo is pack.json: what the pack is, who exported it and when.
type packInfo struct {
	Format         string    `json:"format"`
	Incident       string    `json:"incident"`
	Title          string    `json:"title"`
	State          string    `json:"state"`
	ExportedAt     time.Time `json:"exported_at"`
	ExportedBy     string    `json:"exported_by"`
	RulesetVersion string    `json:"ruleset_version,omitempty"`
	Notices        int       `json:"notices"`
}

// decisionsFile is decisions.json.
type decisionsFile struct {
	// Decisions are the timeline's entries made by people, other than notes.
	Decisions []register.Decision `json:"decisions"`
	// Drafts are the notices drafted for approval, with every approval
	// (who, when) and why a draft was voided or rejected.
	Drafts []draftRecord `json:"drafts"`
	// Approved are the notices approved, by whom and when.
	Approved []approvalRecord `json:"approved"`
	// Close is the decision to close, with its reason.
	Close *closeRecord `json:"close,omitempty"`
	// RiskOverride is a person's judgement of the risk, with its
	// justification, when the computed level was overridden.
	RiskOverride *risk.Override `json:"risk_override,omitempty"`
	// DelayReasons are the reasons recorded for late notices, by rule.
	DelayReasons map[string]string `json:"delay_reasons,omitempty"`
}

type draftRecord struct {
	Hash      string              `json:"hash"`
	Rules     []string            `json:"rules"`
	Notify    string              `json:"notify"`
	By        string              `json:"by"`
	At        time.Time           `json:"at"`
	State     incident.DraftState `json:"state"`
	Required  int                 `json:"required"`
	Approvals []incident.Approval `json:"approvals"`
	Reason    string              `json:"reason,omitempty"`
}

type approvalRecord struct {
	Notice     string    `json:"notice"`
	Rules      []string  `json:"rules"`
	ApprovedBy string    `json:"approved_by"`
	ApprovedAt time.Time `json:"approved_at"`
}

type closeRecord struct {
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// assessmentFile is assessment.json: the why-trace.
type assessmentFile struct {
	RulesetVersion string                  `json:"ruleset_version"`
	Facts          incident.Facts          `json:"facts"`
	Risk           *risk.Assessment        `json:"risk,omitempty"`
	Obligations    []incident.Clock        `json:"obligations"`
	NotTriggered   []incident.NotTriggered `json:"not_triggered"`
}

// ledgerFile is a notice's ledger.json.
type ledgerFile struct {
	// Recorded is false when the ledger has no such notice.
	Recorded bool `json:"recorded"`
	*LedgerNotice
}

// StatusRecord is status.json: the incident's status as Temporal returns
// it, without the queues of work still to do (Slack posts, page emails),
// which change after an incident closes and hold staff addresses. For a
// closed incident it never changes, so a verifier can compare it with
// Temporal's record byte for byte.
func StatusRecord(st incident.Status) []byte {
	st.Slack, st.PageEmails = nil, nil
	return mustJSON(st)
}

// Build makes an incident's pack, signed when key is not nil.
func Build(in Input, key ed25519.PrivateKey) (*Pack, error) {
	st := in.Status
	if _, err := incident.ParseID(st.ID); err != nil || st.ID == "" {
		return nil, fmt.Errorf("evidence pack: incident ID %q", st.ID)
	}
	exportedAt := in.ExportedAt.UTC().Truncate(time.Second)
	var files []File
	add := func(name string, content []byte) { files = append(files, File{Name: name, Content: content}) }

	add("README.txt", []byte(readme(st.ID)))
	add("pack.json", mustJSON(packInfo{
		Format: Format, Incident: st.ID, Title: st.Facts.Title, State: string(st.State),
		ExportedAt: exportedAt, ExportedBy: in.ExportedBy, RulesetVersion: st.RulesetVersion, Notices: len(st.Notices),
	}))
	add("status.json", StatusRecord(st))
	add("timeline.json", mustJSON(nonNil(st.Timeline)))
	add("decisions.json", mustJSON(decisions(st)))
	add("assessment.json", mustJSON(assessmentFile{
		RulesetVersion: st.RulesetVersion, Facts: st.Facts, Risk: st.Risk,
		Obligations: nonNil(st.Clocks), NotTriggered: nonNil(st.NotTriggered),
	}))

	ledger := map[string]*LedgerNotice{}
	var ledgerOrder []string
	for i := range in.Ledger {
		ledger[in.Ledger[i].ID] = &in.Ledger[i]
		ledgerOrder = append(ledgerOrder, in.Ledger[i].ID)
	}
	seq := 0
	addNotice := func(rule string, status *incident.Notice, l *LedgerNotice) {
		seq++
		dir := fmt.Sprintf("notices/%02d-%s/", seq, safeName(rule))
		if status != nil {
			add(dir+"notice.json", mustJSON(status))
		}
		if l == nil {
			add(dir+"ledger.json", mustJSON(ledgerFile{Recorded: false}))
			return
		}
		c := *l
		c.Batches, c.Resends = nonNil(c.Batches), nonNil(c.Resends)
		add(dir+"ledger.json", mustJSON(ledgerFile{Recorded: true, LedgerNotice: &c}))
		add(dir+"content.json", c.Content)
	}
	for i := range st.Notices {
		n := &st.Notices[i]
		rule := n.ID
		if len(n.Rules) > 0 {
			rule = n.Rules[0]
		}
		addNotice(rule, n, ledger[n.ID])
		delete(ledger, n.ID)
	}
	// Notices the ledger has and the status does not (approved as the
	// incident closed, say) are evidence too.
	for _, id := range ledgerOrder {
		if l, ok := ledger[id]; ok {
			addNotice(l.Rule, nil, l)
		}
	}

	m := Manifest{Format: Format, Incident: st.ID}
	prev := genesis(st.ID)
	for i, f := range files {
		if !validName(f.Name) || f.Name == ManifestName {
			return nil, fmt.Errorf("evidence pack: file name %q", f.Name)
		}
		sum := sha256.Sum256(f.Content)
		prev = link(prev, f.Name, sum)
		m.Records = append(m.Records, Record{Seq: i + 1, Name: f.Name, Size: len(f.Content), SHA256: hex.EncodeToString(sum[:]), Chain: hex.EncodeToString(prev[:])})
	}
	m.Head = HeadPrefix + hex.EncodeToString(prev[:])
	if key != nil {
		if len(key) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("evidence pack: signing key of %d bytes", len(key))
		}
		m.Signature = &Signature{
			Algorithm: "ed25519",
			PublicKey: base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)),
			Value:     base64.StdEncoding.EncodeToString(ed25519.Sign(key, signedMessage(st.ID, m.Head))),
		}
	}
	return &Pack{Manifest: m, Files: files, ExportedAt: exportedAt}, nil
}

func decisions(st incident.Status) decisionsFile {
	d := decisionsFile{Decisions: register.Decisions(st), Drafts: []draftRecord{}, Approved: []approvalRecord{}}
	for _, dr := range st.Drafts {
		d.Drafts = append(d.Drafts, draftRecord{
			Hash: dr.Hash, Rules: dr.Rules, Notify: dr.Notify, By: dr.By, At: dr.At, State: dr.State,
			Required: dr.Required, Approvals: nonNil(dr.Approvals), Reason: dr.Reason,
		})
	}
	for _, n := range st.Notices {
		d.Approved = append(d.Approved, approvalRecord{Notice: n.ID, Rules: n.Rules, ApprovedBy: n.ApprovedBy, ApprovedAt: n.ApprovedAt})
	}
	if st.ClosedAt != nil {
		d.Close = &closeRecord{At: *st.ClosedAt, Reason: st.CloseReason}
	}
	if st.Risk != nil && st.Risk.Override != nil {
		d.RiskOverride = st.Risk.Override
	}
	for _, c := range st.Clocks {
		if c.DelayReasons != "" {
			if d.DelayReasons == nil {
				d.DelayReasons = map[string]string{}
			}
			d.DelayReasons[c.Rule] = c.DelayReasons
		}
	}
	return d
}

// safeName makes a rule ID a path segment.
func safeName(s string) string {
	out := []rune{}
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			out = append(out, r)
		} else {
			out = append(out, '_')
		}
	}
	name := strings.Trim(string(out), ".")
	if name == "" {
		return "notice"
	}
	return name
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// mustJSON encodes what this package builds from plain structs; an error
// would be a bug, not an input.
func mustJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("evidence: encode %T: %v", v, err))
	}
	return b.Bytes()
}

// Write writes the pack as a zip: the files in chain order, then the
// manifest, each stamped with the export time. The same pack always gives
// the same bytes.
func (p *Pack) Write(w io.Writer) error {
	zw := zip.NewWriter(w)
	put := func(name string, content []byte) error {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: p.ExportedAt.UTC()})
		if err != nil {
			return err
		}
		_, err = fw.Write(content)
		return err
	}
	for _, f := range p.Files {
		if err := put(f.Name, f.Content); err != nil {
			return fmt.Errorf("write %s: %w", f.Name, err)
		}
	}
	if err := put(ManifestName, mustJSON(p.Manifest)); err != nil {
		return fmt.Errorf("write %s: %w", ManifestName, err)
	}
	return zw.Close()
}

// AnchorText is the timeline note that exports before server anchors
// added. Anyone who may add a note can add one, so it anchors nothing.
func AnchorText(head string) string { return "Evidence pack exported: chain head " + head }

func readme(id string) string {
	return `Evidence pack of ` + id + `, exported by breachctl.

Files
  pack.json         what this pack is, who exported it and when
  status.json       the incident's status as recorded in Temporal (the source of the files below)
  timeline.json     every entry of the incident's timeline: what happened, when, and who did it
  decisions.json    the decisions people took, with who and when: drafts and their approvals or
                    rejections, notices approved, delay reasons, risk override, close and its reason
  assessment.json   the why-trace: the ruleset version, the facts, the risk assessment with its
                    reasons, every obligation with its citation, deadline, state and why, and the
                    rules considered and not triggered, with why
  notices/NN-RULE/  per notice: notice.json (its state, counts, emails to organisations with their
                    message IDs, filings), content.json (the notice as approved and sent, from the
                    notification ledger), ledger.json (its counts: accepted, requests SendGrid took,
                    batches resent, people mailed twice and maybe twice; every batch with its SendGrid
                    message ID, state, recipient count and delivery states; every batch sent more than
                    once with each attempt, why it was made and what became of it). No person's
                    address is in the pack.
  manifest.json     every file above, in order, with its SHA-256 and chain value; the chain head;
                    the server's anchor: its Ed25519 signature of the head it rebuilt from the
                    incident's record and the ledger at export; an Ed25519 signature of the head
                    when the exporter had a signing key of its own

Verify
  breachctl evidence verify pack.zip [--server-key BASE64]

  checks every file against its hash, the chain, the manifest, the server's anchor (against the
  server's public key: breachctl evidence server-key), the signature, and (with Temporal reachable)
  that the pack's timeline is the incident's. Without the server's anchor the checks prove only
  that the files agree with each other: whoever edits them can recompute the chain. By hand, the
  chain is:

  prev=$(printf '` + Format + `\n%s\n' ` + id + ` | sha256sum | cut -d' ' -f1)
  for each file in manifest order:
    prev=$(printf '%s\n%s\n%s\n' "$prev" "$name" "$(sha256sum < "$name" | cut -d' ' -f1)" | sha256sum | cut -d' ' -f1)
  and the head is sha256:$prev.
`
}

package cli

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/evidence"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/store"
)

// The keys of evidence packs, from the environment: the exporter signs
// with the private key, an auditor verifies with the public one.
const (
	envEvidenceSigningKey = "BREACHCTL_EVIDENCE_SIGNING_KEY"
	envEvidencePublicKey  = "BREACHCTL_EVIDENCE_PUBLIC_KEY"
)

// signingKey reads a base64 Ed25519 seed (32 bytes) or private key (64).
// Unset is no key: the pack is then anchored only on the timeline.
func signingKey(s string) (ed25519.PrivateKey, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	switch {
	case err != nil:
		return nil, apperr.Invalidf(envEvidenceSigningKey, "is not base64 (`breachctl evidence keygen` makes a key)")
	case len(raw) == ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(raw), nil
	case len(raw) == ed25519.PrivateKeySize:
		return ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize]), nil
	}
	return nil, apperr.Invalidf(envEvidenceSigningKey, "is %d bytes; an Ed25519 seed is 32", len(raw))
}

func publicKey(field, s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, apperr.Invalidf(field, "is not the base64 of a 32-byte Ed25519 public key")
	}
	return ed25519.PublicKey(raw), nil
}

type evidenceOptions struct {
	out   string
	store string
}

func newEvidenceCmd(g *globals) *cobra.Command {
	o := &evidenceOptions{}
	cmd := &cobra.Command{
		Use:   "evidence INC-ID [-o pack.zip]",
		Short: "Export an incident's tamper-evident evidence pack; verify one",
		Long: `Writes a zip with the incident's timeline, every decision with who and when,
the ruleset version and why each obligation applied or did not, and every
notice as approved and sent: its content from the notification ledger, its
counts (accepted, the Mail Send requests SendGrid took, batches resent, people
mailed twice and maybe twice), its batches with SendGrid message IDs,
recipient counts and delivery states, every batch sent more than once with
each attempt and why, and the message IDs of emails to organisations. No
person's address is in it.

Every file is a record in a hash chain; manifest.json lists them with the
chain head. With BREACHCTL_EVIDENCE_SIGNING_KEY set (base64 Ed25519 seed:
'breachctl evidence keygen'), the head is signed. A chain alone can be
recomputed by whoever edits the files, so the head is also recorded on the
incident's timeline, in Temporal, as a note; a closed incident takes no notes,
but its record no longer changes, and 'verify' compares the pack with it.`,
		Example: `  breachctl evidence INC-20261120-7K3QX -o INC-20261120-7K3QX.zip
  breachctl evidence verify INC-20261120-7K3QX.zip --public-key "$BREACHCTL_EVIDENCE_PUBLIC_KEY"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := incidentArg(args)
			if err != nil {
				return err
			}
			key, err := signingKey(g.env.Getenv(envEvidenceSigningKey))
			if err != nil {
				return err
			}
			cfg, err := g.config()
			if err != nil {
				return err
			}
			dsn := o.store
			if dsn == "" {
				dsn = cfg.StoreDSN()
			}
			out := o.out
			if out == "" {
				out = id + "-evidence.zip"
			}
			return withService(cmd, g, func(ctx context.Context, svc Incidents, actor string) error {
				return exportEvidence(ctx, g, svc, actor, id, out, key, func() (*store.Store, error) {
					return store.Open(ctx, dsn, store.WithKeys(cfg.Keys)) // the ledger's sealed fields open with the keys
				})
			})
		},
	}
	// -o is the file here, as in `go build -o`: this flag shadows the global
	// output format, which an export has no use for.
	cmd.Flags().StringVarP(&o.out, "output", "o", "", "the zip to write (default INC-ID-evidence.zip)")
	cmd.Flags().StringVar(&o.store, "store", "", "the store holding the ledger (default $BREACHCTL_STORE or the data directory's)")
	cmd.AddCommand(newEvidenceVerifyCmd(g), newEvidenceKeygenCmd(g))
	return cmd
}

func exportEvidence(ctx context.Context, g *globals, svc Incidents, actor, id, out string, key ed25519.PrivateKey, openStore func() (*store.Store, error)) error {
	st, err := svc.Show(ctx, id)
	if err != nil {
		return err
	}
	ledger, err := readLedger(ctx, openStore, id)
	if err != nil {
		return err
	}
	pack, err := evidence.Build(evidence.Input{Status: st, Ledger: ledger, ExportedAt: g.env.Now(), ExportedBy: actor}, key)
	if err != nil {
		return err
	}
	// Written beside the target and renamed into place once the head is on
	// the timeline: a pack whose head could not be recorded is never left
	// looking finished.
	tmp, err := os.CreateTemp(filepath.Dir(out), ".evidence-*.zip")
	if err != nil {
		return apperr.Wrap(apperr.Invalid, err, "-o %s", out)
	}
	defer os.Remove(tmp.Name()) // after the rename, nothing is there
	if err := pack.Write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	head := pack.Manifest.Head
	var anchored *incident.Entry
	if st.State != incident.StateClosed {
		e, err := svc.Note(ctx, id, evidence.AnchorText(head), actor)
		if apperr.Is(err, apperr.Conflict) {
			return apperr.New(apperr.Conflict, "%s was closed while the pack was built: export it again", id)
		}
		if err != nil {
			return fmt.Errorf("record the chain head on the timeline of %s: %w", id, err)
		}
		anchored = &e
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	w := g.env.Stdout
	fmt.Fprintf(w, "Wrote %s: %d files, the evidence of %s as of %s\n", out, len(pack.Files), id, ts(pack.ExportedAt))
	fmt.Fprintf(w, "Chain head %s\n", head)
	if s := pack.Manifest.Signature; s != nil {
		fmt.Fprintf(w, "Signed with Ed25519 key %s\n", s.PublicKey)
	} else {
		fmt.Fprintf(w, "Not signed: set %s (breachctl evidence keygen) to sign the head\n", envEvidenceSigningKey)
	}
	if anchored != nil {
		fmt.Fprintf(w, "Head recorded on the timeline of %s (entry #%d at %s)\n", id, anchored.Seq, ts(anchored.At))
	} else {
		fmt.Fprintf(w, "%s is closed: its record in Temporal no longer changes, and `evidence verify` compares the pack with it\n", id)
	}
	return nil
}

// readLedger reads the incident's notices from the notification ledger.
func readLedger(ctx context.Context, openStore func() (*store.Store, error), id string) ([]evidence.LedgerNotice, error) {
	s, err := openStore()
	if err != nil {
		return nil, apperr.Wrap(apperr.Unavailable, err, "open the store (BREACHCTL_STORE, --store)")
	}
	defer s.Close()
	ids, err := s.IncidentNotices(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]evidence.LedgerNotice, 0, len(ids))
	for _, nid := range ids {
		r, err := s.NoticeReport(ctx, nid)
		if err != nil {
			return nil, err
		}
		resends, err := s.Resends(ctx, nid)
		if err != nil {
			return nil, fmt.Errorf("the batches of %s sent more than once: %w", nid, err)
		}
		out = append(out, ledgerNotice(r, resends))
	}
	return out, nil
}

// ledgerNotice is a notice as the pack records it: the ledger's report of
// it (its counts from store.NoticeProgress, the one source every view
// reads) and its batches sent more than once with every attempt.
func ledgerNotice(r store.NoticeReport, resends []store.BatchAttempts) evidence.LedgerNotice {
	n, p := r.Notice, r.Progress
	l := evidence.LedgerNotice{
		ID: n.ID, Rule: n.Rule, Audience: n.Audience, SnapshotID: n.SnapshotID, ApprovedBy: n.ApprovedBy, ApprovedAt: n.ApprovedAt,
		Content: n.Content,
		Progress: evidence.LedgerProgress{
			Batches: p.Batches, BatchesAccepted: p.BatchesAccepted, BatchesFailed: p.BatchesFailed, BatchesAmbiguous: p.BatchesAmbiguous,
			Recipients: p.Recipients, Queued: p.Queued, Accepted: p.Accepted, Failed: p.Failed, Unreachable: p.Unreachable,
			Delivered: p.Delivered, Bounced: p.Bounced, Dropped: p.Dropped, Deferred: p.Deferred,
			BatchesSending: p.BatchesSending, Requests: p.Requests, Resent: p.Resent, ResentRecipients: p.ResentRecipients,
			Twice: p.Twice, MaybeTwice: p.MaybeTwice,
		},
		Resends: []evidence.LedgerResend{},
	}
	for _, b := range resends {
		lr := evidence.LedgerResend{Batch: b.Batch, Recipients: b.Recipients, State: string(b.State), Attempts: []evidence.LedgerAttempt{}}
		for _, a := range b.Attempts {
			lr.Attempts = append(lr.Attempts, evidence.LedgerAttempt{
				N: a.N, StartedAt: a.StartedAt, EndedAt: a.EndedAt, Outcome: string(a.Outcome), MessageID: a.MessageID,
				Error: a.Error, Resend: a.Resend, ConfirmedBy: a.ConfirmedBy,
			})
		}
		l.Resends = append(l.Resends, lr)
	}
	for _, b := range r.Batches {
		l.Batches = append(l.Batches, evidence.LedgerBatch{
			Key: b.Key, State: string(b.State), Recipients: b.Recipients, MessageID: b.MessageID, Error: b.Error, Attempts: b.Attempts,
			SentAt: b.SentAt, UpdatedAt: b.UpdatedAt, Events: b.Events, Delivered: b.Delivered, Bounced: b.Bounced, Dropped: b.Dropped, Deferred: b.Deferred,
		})
	}
	return l
}

type verifyOptions struct {
	publicKey string
	incident  bool
	offline   bool
}

// verifyResult is `evidence verify -o json`.
type verifyResult struct {
	OK     bool             `json:"ok"`
	File   string           `json:"file,omitempty"`   // the first file that does not match
	Reason string           `json:"reason,omitempty"` // why
	Report *evidence.Report `json:"report,omitempty"`
	Anchor *evidence.Anchor `json:"anchor,omitempty"`
	// Unanchored says why the pack was not checked against Temporal.
	Unanchored string `json:"unanchored,omitempty"`
}

func newEvidenceVerifyCmd(g *globals) *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify PACK.zip",
		Short: "Check an evidence pack: every file's hash, the chain, the signature, the timeline",
		Long: `Checks every file of the pack against its SHA-256 in the manifest, the hash
chain through them in order, the chain head, and the Ed25519 signature if the
pack has one (against --public-key or BREACHCTL_EVIDENCE_PUBLIC_KEY when given;
then the pack must be signed by that key). Then, when Temporal is reachable
(always with --incident), it checks that the pack's timeline is the incident's
and that its head is the one recorded on the timeline at export, or, for a
closed incident, that status.json is the incident's record in Temporal.

Names the first file that does not match and exits with 4.`,
		Example: `  breachctl evidence verify INC-20261120-7K3QX.zip
  breachctl evidence verify INC-20261120-7K3QX.zip --incident --public-key "$BREACHCTL_EVIDENCE_PUBLIC_KEY"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.incident && o.offline {
				return apperr.Invalidf("--offline", "cannot be given with --incident")
			}
			keyText := o.publicKey
			if keyText == "" {
				keyText = g.env.Getenv(envEvidencePublicKey)
			}
			trusted, err := publicKey("--public-key", keyText)
			if err != nil {
				return err
			}
			return verifyEvidence(cmd.Context(), g, args[0], trusted, o)
		},
	}
	cmd.Flags().StringVar(&o.publicKey, "public-key", "", "the Ed25519 public key the pack must be signed with, base64 (default $"+envEvidencePublicKey+")")
	cmd.Flags().BoolVar(&o.incident, "incident", false, "require the check against the incident in Temporal (fail if it cannot be made)")
	cmd.Flags().BoolVar(&o.offline, "offline", false, "check the pack alone, without Temporal")
	return cmd
}

func verifyEvidence(ctx context.Context, g *globals, path string, trusted ed25519.PublicKey, o *verifyOptions) error {
	f, err := os.Open(path)
	if err != nil {
		return apperr.Wrap(apperr.Invalid, err, "pack")
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return apperr.Wrap(apperr.Invalid, err, "pack")
	}
	res := verifyResult{}
	pack, rep, err := evidence.VerifyZip(f, fi.Size(), trusted)
	if err != nil {
		return verifyFailed(g, path, res, err)
	}
	res.Report = &rep
	if o.offline {
		res.Unanchored = "--offline"
	} else {
		anchor, why, err := anchorEvidence(ctx, g, pack, rep.Incident, o.incident)
		if err != nil {
			return verifyFailed(g, path, res, err)
		}
		res.Anchor, res.Unanchored = anchor, why
	}
	res.OK = true
	if g.json() {
		return writeJSON(g.env.Stdout, res)
	}
	w := g.env.Stdout
	fmt.Fprintf(w, "%s: OK\n", path)
	fmt.Fprintf(w, "Evidence of %s exported %s by %s: %d files\n", rep.Incident, ts(rep.ExportedAt), orDash(rep.ExportedBy), rep.Files)
	fmt.Fprintf(w, "Every file matches its SHA-256 and the chain; head %s\n", rep.Head)
	switch {
	case rep.Signed && rep.KeyTrusted:
		fmt.Fprintf(w, "Signed by the trusted Ed25519 key %s\n", rep.SignerKey)
	case rep.Signed:
		fmt.Fprintf(w, "Signed by Ed25519 key %s (give --public-key to check it is yours)\n", rep.SignerKey)
	default:
		fmt.Fprintln(w, "Not signed")
	}
	switch {
	case res.Anchor != nil && res.Anchor.Entry != nil:
		e := res.Anchor.Entry
		fmt.Fprintf(w, "Head recorded on the timeline of %s at %s by %s (entry #%d); the pack's timeline is the incident's\n", rep.Incident, ts(e.At), e.Actor, e.Seq)
	case res.Anchor != nil:
		fmt.Fprintf(w, "%s is closed and the pack is its record in Temporal\n", rep.Incident)
	default:
		fmt.Fprintf(w, "Not checked against the incident in Temporal: %s\n", res.Unanchored)
	}
	return nil
}

// anchorEvidence checks the pack against the incident in Temporal. Without
// require, an unreachable Temporal or an incident it no longer has (past
// retention) is reported, not an error: the pack's own checks still hold.
func anchorEvidence(ctx context.Context, g *globals, pack *evidence.Pack, id string, require bool) (*evidence.Anchor, string, error) {
	svc, _, closeFn, err := g.connect(ctx)
	if err != nil {
		if require {
			return nil, "", err
		}
		return nil, "Temporal is not reachable (" + err.Error() + ")", nil
	}
	defer closeFn()
	st, err := svc.Show(ctx, id)
	if err != nil {
		if require || !apperr.Is(err, apperr.NotFound) && !apperr.Is(err, apperr.Unavailable) {
			return nil, "", err
		}
		return nil, id + " is not in Temporal (" + err.Error() + ")", nil
	}
	a, err := evidence.CheckAnchor(pack, st)
	if err != nil {
		return nil, "", err
	}
	return &a, "", nil
}

// verifyFailed reports a pack that does not verify: the file and why, on
// stderr through the usual error path (and on stdout as JSON with -o json),
// with exit code 4.
func verifyFailed(g *globals, path string, res verifyResult, err error) error {
	var m *evidence.Mismatch
	if !errors.As(err, &m) {
		return err
	}
	res.OK, res.File, res.Reason = false, m.File, m.Reason
	if g.json() {
		_ = writeJSON(g.env.Stdout, res)
	}
	return apperr.New(apperr.Conflict, "%s does not verify: %s", path, m)
}

func newEvidenceKeygenCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "keygen",
		Short: "Make an Ed25519 key pair for signing evidence packs",
		Long: `Prints a new signing key and its public key as environment settings. Keep the
signing key with the secrets of whoever exports packs; give the public key to
whoever verifies them.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			pub, priv, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.env.Stdout, "%s=%s\n%s=%s\n", envEvidenceSigningKey, base64.StdEncoding.EncodeToString(priv.Seed()),
				envEvidencePublicKey, base64.StdEncoding.EncodeToString(pub))
			return nil
		},
	}
}

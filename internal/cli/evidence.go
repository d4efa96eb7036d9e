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

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/evidence"
	"github.com/breachctl/breachctl/internal/evidence/fromstore"
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
	out        string
	store      string
	unanchored bool
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
chain head. A chain alone can be recomputed by whoever edits the files, so the
pack is anchored where only the server can write: a worker rebuilds the pack
from the incident's record in Temporal and the ledger in the store, and signs
the head it built with the server's key (made on its first start, in its data
directory; 'breachctl evidence server-key' prints the public key). The signed
record goes into the pack and stays in Temporal. With
BREACHCTL_EVIDENCE_SIGNING_KEY set (base64 Ed25519 seed: 'breachctl evidence
keygen'), the exporter signs the head too.`,
		Example: `  breachctl evidence INC-20261120-7K3QX -o INC-20261120-7K3QX.zip
  breachctl evidence verify INC-20261120-7K3QX.zip --server-key "$(breachctl evidence server-key)"`,
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
			out, err := packPath(o.out, id)
			if err != nil {
				return err
			}
			return withService(cmd, g, func(ctx context.Context, svc Incidents, actor string) error {
				return exportEvidence(ctx, g, svc, actor, id, out, key, o.unanchored, func() (*store.Store, error) {
					return store.Open(ctx, dsn, store.WithKeys(cfg.Keys)) // the ledger's sealed fields open with the keys
				})
			})
		},
	}
	// -o is the file here, as in `go build -o`: this flag shadows the global
	// output format, which an export has no use for.
	cmd.Flags().StringVarP(&o.out, "output", "o", "", "the zip to write (default INC-ID-evidence.zip)")
	cmd.Flags().StringVar(&o.store, "store", "", "the store holding the ledger (default $BREACHCTL_STORE or the data directory's)")
	cmd.Flags().BoolVar(&o.unanchored, "unanchored", false, "write the pack even if no worker anchors it (it then proves only its own consistency)")
	cmd.AddCommand(newEvidenceVerifyCmd(g), newEvidenceKeygenCmd(g), newEvidenceServerKeyCmd(g))
	return cmd
}

// packPath is where the pack goes: -o, or INC-ID-evidence.zip. Here -o is
// a file, not the global output format, so "json" or "table" is a mistake.
func packPath(out, id string) (string, error) {
	switch out {
	case "":
		return id + "-evidence.zip", nil
	case "json", "table":
		return "", apperr.Invalidf("--output", "here -o is the zip to write, not a format: give a file name like %s-evidence.zip", id)
	}
	return out, nil
}

func exportEvidence(ctx context.Context, g *globals, svc Incidents, actor, id, out string, key ed25519.PrivateKey, unanchored bool, openStore func() (*store.Store, error)) error {
	s, err := openStore()
	if err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "open the store (BREACHCTL_STORE, --store)")
	}
	defer s.Close()
	var (
		pack   *evidence.Pack
		anchor evidence.ServerAnchor
		why    error
	)
	// The worker rebuilds the pack from the record as it is when it runs:
	// an incident that changes in between (a clock fires, an event comes
	// in) gives another head, and the export is made again.
	for attempt := 0; attempt < 3; attempt++ {
		st, err := svc.Show(ctx, id)
		if err != nil {
			return err
		}
		ledger, err := fromstore.ReadLedger(ctx, s, id)
		if err != nil {
			return err
		}
		if pack, err = evidence.Build(evidence.Input{Status: st, Ledger: ledger, ExportedAt: g.env.Now(), ExportedBy: actor}, key); err != nil {
			return err
		}
		anchor, why = svc.AnchorEvidence(ctx, activities.EvidenceInput{Incident: id, Head: pack.Manifest.Head, ExportedAt: pack.ExportedAt, ExportedBy: actor})
		if why == nil || !apperr.Is(why, apperr.Conflict) {
			break
		}
	}
	switch {
	case why == nil:
		pack.Manifest.Anchor = &anchor
	case !unanchored:
		return fmt.Errorf("no pack written: %w (--unanchored writes one that proves only its own consistency)", why)
	default:
		fmt.Fprintf(g.env.Stderr, "warning: the pack is not anchored: %v\n", why)
	}
	// Written beside the target and renamed into place once whole.
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
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	w := g.env.Stdout
	fmt.Fprintf(w, "Wrote %s: %d files, the evidence of %s as of %s\n", out, len(pack.Files), id, ts(pack.ExportedAt))
	fmt.Fprintf(w, "Chain head %s\n", pack.Manifest.Head)
	if a := pack.Manifest.Anchor; a != nil {
		fmt.Fprintf(w, "Anchored: the server rebuilt the pack from the record and signed its head at %s with its key %s\n", ts(a.SignedAt), a.PublicKey)
	} else {
		fmt.Fprintln(w, evidence.Unanchored)
	}
	if s := pack.Manifest.Signature; s != nil {
		fmt.Fprintf(w, "Signed by the exporter with Ed25519 key %s\n", s.PublicKey)
	}
	return nil
}

type verifyOptions struct {
	publicKey string
	serverKey string
	incident  bool
	offline   bool
}

// verifyResult is `evidence verify -o json`.
type verifyResult struct {
	OK     bool             `json:"ok"`
	File   string           `json:"file,omitempty"`   // the first file that does not match
	Reason string           `json:"reason,omitempty"` // why
	Report *evidence.Report `json:"report,omitempty"`
	// Anchored: the server signed the pack's head (Report.Anchor); else
	// Proves says what the checks prove.
	Anchored bool   `json:"anchored"`
	Proves   string `json:"proves,omitempty"`
	// InTemporal: Temporal still has the server's record of this export.
	InTemporal bool             `json:"in_temporal,omitempty"`
	Anchor     *evidence.Anchor `json:"consistency,omitempty"`
	// Unchecked says why the pack was not checked against Temporal.
	Unchecked string `json:"unchecked,omitempty"`
}

// envEvidenceServerKey is the server's evidence public key, for verifiers.
const envEvidenceServerKey = "BREACHCTL_EVIDENCE_SERVER_KEY"

func newEvidenceVerifyCmd(g *globals) *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify PACK.zip",
		Short: "Check an evidence pack: every file's hash, the chain, the server's anchor, the timeline",
		Long: `Checks every file of the pack against its SHA-256 in the manifest, the hash
chain through them in order, the chain head, and the server's anchor: its
signature of the head it rebuilt from the incident's record at export. The
anchor is checked against the server's public key (--server-key,
BREACHCTL_EVIDENCE_SERVER_KEY, or the one in this machine's data directory);
then the pack must be anchored by it. An exporter's own signature is checked
too (against --public-key or BREACHCTL_EVIDENCE_PUBLIC_KEY when given).

A pack without the server's anchor (every pack exported before anchors) still
verifies, and is reported as what it is: its files agree with each other, which
whoever edits them can arrange.

Then, when Temporal is reachable (always with --incident), it checks that
Temporal has the server's record of this export, that the pack's timeline is
the incident's, and, for a closed incident, that status.json is its record.

Names the first file that does not match and exits with 4.`,
		Example: `  breachctl evidence verify INC-20261120-7K3QX.zip
  breachctl evidence verify INC-20261120-7K3QX.zip --incident --server-key "$BREACHCTL_EVIDENCE_SERVER_KEY"`,
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
			server, err := serverKey(g, o.serverKey)
			if err != nil {
				return err
			}
			return verifyEvidence(cmd.Context(), g, args[0], trusted, server, o)
		},
	}
	cmd.Flags().StringVar(&o.publicKey, "public-key", "", "the exporter's Ed25519 public key the pack must be signed with, base64 (default $"+envEvidencePublicKey+")")
	cmd.Flags().StringVar(&o.serverKey, "server-key", "", "the server's evidence public key the pack must be anchored by, base64 (default $"+envEvidenceServerKey+", or this machine's data directory's)")
	cmd.Flags().BoolVar(&o.incident, "incident", false, "require the check against the incident in Temporal (fail if it cannot be made)")
	cmd.Flags().BoolVar(&o.offline, "offline", false, "check the pack alone, without Temporal")
	return cmd
}

// serverKey is the server's evidence public key a verifier trusts: the
// flag, the environment, or the file a server on this machine wrote.
func serverKey(g *globals, flag string) (ed25519.PublicKey, error) {
	text, field := flag, "--server-key"
	if text == "" {
		text, field = g.env.Getenv(envEvidenceServerKey), envEvidenceServerKey
	}
	if text != "" {
		return publicKey(field, text)
	}
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	return evidence.ReadServerPublicKey(cfg.DataDir)
}

func verifyEvidence(ctx context.Context, g *globals, path string, trusted, server ed25519.PublicKey, o *verifyOptions) error {
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
	pack, rep, err := evidence.VerifyZip(f, fi.Size(), trusted, server)
	if err != nil {
		return verifyFailed(g, path, res, err)
	}
	res.Report, res.Anchored = &rep, rep.Anchored
	if !rep.Anchored {
		res.Proves = evidence.Unanchored
	}
	if o.offline {
		res.Unchecked = "--offline"
	} else if err := checkInTemporal(ctx, g, pack, rep, o.incident, &res); err != nil {
		return verifyFailed(g, path, res, err)
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
	case rep.Anchored && rep.ServerKeyTrusted:
		fmt.Fprintf(w, "Anchored: the server with the trusted key %s rebuilt this pack from the record and signed its head at %s\n", rep.ServerKey, ts(rep.Anchor.SignedAt))
	case rep.Anchored:
		fmt.Fprintf(w, "Anchored by server key %s at %s (give --server-key to check it is your server's)\n", rep.ServerKey, ts(rep.Anchor.SignedAt))
	default:
		fmt.Fprintln(w, evidence.Unanchored)
	}
	switch {
	case rep.Signed && rep.KeyTrusted:
		fmt.Fprintf(w, "Signed by the exporter's trusted Ed25519 key %s\n", rep.SignerKey)
	case rep.Signed:
		fmt.Fprintf(w, "Signed by the exporter's Ed25519 key %s (give --public-key to check it is yours)\n", rep.SignerKey)
	}
	switch {
	case res.InTemporal:
		fmt.Fprintf(w, "Temporal has the server's record of this export\n")
	case res.Unchecked == "" && rep.Anchored:
		fmt.Fprintf(w, "Temporal no longer has the server's record of this export (past its retention?); the anchor's signature stands\n")
	}
	switch {
	case res.Anchor != nil && res.Anchor.MatchesRecord:
		fmt.Fprintf(w, "%s is closed; the pack's timeline and status.json are its record in Temporal\n", rep.Incident)
	case res.Anchor != nil:
		fmt.Fprintf(w, "The pack's timeline is the start of the incident's timeline in Temporal\n")
	case res.Unchecked != "":
		fmt.Fprintf(w, "Not checked against the incident in Temporal: %s\n", res.Unchecked)
	}
	return nil
}

// checkInTemporal checks the pack against Temporal: the server's record of
// the export, and the incident's timeline and record. Without require, an
// unreachable Temporal or an incident it no longer has (past retention) is
// reported, not an error: the pack's own checks still hold.
func checkInTemporal(ctx context.Context, g *globals, pack *evidence.Pack, rep evidence.Report, require bool, res *verifyResult) error {
	svc, _, closeFn, err := g.connect(ctx)
	if err != nil {
		if require {
			return err
		}
		res.Unchecked = "Temporal is not reachable (" + err.Error() + ")"
		return nil
	}
	defer closeFn()
	if rep.Anchored {
		rec, ok, err := svc.EvidenceRecord(ctx, rep.Incident, rep.Head)
		if err != nil && require {
			return err
		}
		if ok && rec.Signature != rep.Anchor.Signature {
			return &evidence.Mismatch{File: evidence.ManifestName, Reason: "its server anchor is not the one Temporal recorded for this export"}
		}
		res.InTemporal = ok
	}
	st, err := svc.Show(ctx, rep.Incident)
	if err != nil {
		if require || !apperr.Is(err, apperr.NotFound) && !apperr.Is(err, apperr.Unavailable) {
			return err
		}
		res.Unchecked = rep.Incident + " is not in Temporal (" + err.Error() + ")"
		return nil
	}
	a, err := evidence.CheckAnchor(pack, st)
	if err != nil {
		return err
	}
	res.Anchor = &a
	return nil
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

func newEvidenceServerKeyCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "server-key",
		Short: "Print the server's evidence public key, which anchors packs (from this machine's data directory)",
		Long: `Prints the Ed25519 public key that the worker (dev, worker) on this machine made
on its first start and anchors evidence packs with, from its data directory
(BREACHCTL_DATA_DIR). Give it to whoever verifies packs: --server-key or
BREACHCTL_EVIDENCE_SERVER_KEY.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := g.config()
			if err != nil {
				return err
			}
			pub, err := evidence.ReadServerPublicKey(cfg.DataDir)
			if err != nil {
				return err
			}
			if pub == nil {
				return apperr.New(apperr.NotFound, "no server evidence key in %s: a worker (breachctl dev, breachctl worker) makes one there on its first start", filepath.Join(cfg.DataDir, evidence.ServerPublicKeyFile))
			}
			if g.json() {
				return writeJSON(g.env.Stdout, map[string]string{"server_key": base64.StdEncoding.EncodeToString(pub)})
			}
			_, err = fmt.Fprintln(g.env.Stdout, base64.StdEncoding.EncodeToString(pub))
			return err
		},
	}
}

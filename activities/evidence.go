package activities

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/breachctl/breachctl/internal/evidence"
	"github.com/breachctl/breachctl/internal/incident"
)

// AnchorEvidenceName is the registered name of Evidence.AnchorEvidence.
const AnchorEvidenceName = "AnchorEvidence"

// ErrTypeEvidenceHead: the head a client presented is not the one the
// server builds from the record (edited, or the incident changed in
// between).
const ErrTypeEvidenceHead = "EvidenceHeadMismatch"

// Evidence anchors evidence packs: it rebuilds an incident's pack from the
// record (Status: the incident as Temporal has it; Ledger: its notices in
// the store) and signs the head it built under the server's key, which
// only workers hold. A client cannot have a head signed that the record
// does not give.
type Evidence struct {
	Key    ed25519.PrivateKey
	Status func(ctx context.Context, id string) (incident.Status, error)
	Ledger func(ctx context.Context, id string) ([]evidence.LedgerNotice, error)
	Now    func() time.Time
}

// EvidenceInput is one export to anchor: the head the client built, and
// when and by whom, which the pack records.
type EvidenceInput struct {
	Incident   string    `json:"incident"`
	Head       string    `json:"head"`
	ExportedAt time.Time `json:"exported_at"`
	ExportedBy string    `json:"exported_by"`
}

// EvidenceResult is the server's signed record of the export.
type EvidenceResult struct {
	Anchor evidence.ServerAnchor `json:"anchor"`
}

// AnchorEvidence rebuilds the pack and signs its head if it is the one the
// client presented.
func (e *Evidence) AnchorEvidence(ctx context.Context, in EvidenceInput) (EvidenceResult, error) {
	if e == nil || e.Key == nil {
		return EvidenceResult{}, temporal.NewNonRetryableApplicationError("this worker has no evidence key", ErrTypeEvidenceHead, nil)
	}
	if e.Status == nil {
		return EvidenceResult{}, fmt.Errorf("this worker cannot read incidents yet")
	}
	st, err := e.Status(ctx, in.Incident)
	if err != nil {
		return EvidenceResult{}, fmt.Errorf("the record of %s: %w", in.Incident, err)
	}
	ledger, err := e.Ledger(ctx, in.Incident)
	if err != nil {
		return EvidenceResult{}, fmt.Errorf("the ledger of %s: %w", in.Incident, err)
	}
	p, err := evidence.Build(evidence.Input{Status: st, Ledger: ledger, ExportedAt: in.ExportedAt, ExportedBy: in.ExportedBy}, nil)
	if err != nil {
		return EvidenceResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeEvidenceHead, nil)
	}
	if p.Manifest.Head != in.Head {
		return EvidenceResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"the pack's head %s is not %s, the one the server builds from the incident's record and the ledger: "+
				"the pack was changed, or the incident changed while it was exported", in.Head, p.Manifest.Head), ErrTypeEvidenceHead, nil)
	}
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	a, err := evidence.SignAnchor(e.Key, p, in.ExportedBy, now())
	if err != nil {
		return EvidenceResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeEvidenceHead, nil)
	}
	return EvidenceResult{Anchor: a}, nil
}

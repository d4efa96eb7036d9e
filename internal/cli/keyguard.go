package cli

import (
	"context"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/evidence"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/workflows"
)

// keyGuard stands in front of the incident service of a client without
// encryption keys. Before any request that writes (and so sends the facts,
// a note, a reason), it asks whether the incident, or for a new one the
// namespace, is encrypted; if so it refuses, saying why, and nothing is
// sent. Without it such a client would send in the clear what the workers
// refuse (or, before they refused, take), and then fail on the encrypted
// answer. Reads pass: their answers say which key they need.
type keyGuard struct {
	Incidents
}

func (k *keyGuard) check(ctx context.Context, id string) error {
	key, err := k.EncryptionKey(ctx, id)
	if err != nil || key == "" {
		return err
	}
	what := "the incidents of this namespace are"
	if id != "" {
		what = id + " is"
	}
	return apperr.New(apperr.Invalid,
		"this client has no encryption key (BREACHCTL_ENCRYPTION_KEYS): %s encrypted with key %q; nothing was sent. "+
			"Set BREACHCTL_ENCRYPTION_KEYS as the workers have it", what, key)
}

func (k *keyGuard) Open(ctx context.Context, facts incident.Facts, actor string) (incident.Status, error) {
	if err := k.check(ctx, ""); err != nil {
		return incident.Status{}, err
	}
	return k.Incidents.Open(ctx, facts, actor)
}

func (k *keyGuard) Note(ctx context.Context, id, text, actor string) (incident.Entry, error) {
	if err := k.check(ctx, id); err != nil {
		return incident.Entry{}, err
	}
	return k.Incidents.Note(ctx, id, text, actor)
}

func (k *keyGuard) ChangeFacts(ctx context.Context, id string, change incident.FactsChange, reason, actor string) (incident.Status, error) {
	if err := k.check(ctx, id); err != nil {
		return incident.Status{}, err
	}
	return k.Incidents.ChangeFacts(ctx, id, change, reason, actor)
}

func (k *keyGuard) CloseIncident(ctx context.Context, id string, req workflows.CloseRequest) (incident.Status, error) {
	if err := k.check(ctx, id); err != nil {
		return incident.Status{}, err
	}
	return k.Incidents.CloseIncident(ctx, id, req)
}

func (k *keyGuard) DelayReasons(ctx context.Context, id, rule, reasons, actor string) (incident.Status, error) {
	if err := k.check(ctx, id); err != nil {
		return incident.Status{}, err
	}
	return k.Incidents.DelayReasons(ctx, id, rule, reasons, actor)
}

func (k *keyGuard) ScopeWith(ctx context.Context, id string, req workflows.ScopeRequest) (incident.Status, error) {
	if err := k.check(ctx, id); err != nil {
		return incident.Status{}, err
	}
	return k.Incidents.ScopeWith(ctx, id, req)
}

func (k *keyGuard) Approve(ctx context.Context, id string, req workflows.ApproveRequest) (incident.Status, error) {
	if err := k.check(ctx, id); err != nil {
		return incident.Status{}, err
	}
	return k.Incidents.Approve(ctx, id, req)
}

func (k *keyGuard) Draft(ctx context.Context, id string, req workflows.ApproveRequest) (incident.Status, error) {
	if err := k.check(ctx, id); err != nil {
		return incident.Status{}, err
	}
	return k.Incidents.Draft(ctx, id, req)
}

func (k *keyGuard) Reject(ctx context.Context, id string, req workflows.RejectRequest) (incident.Status, error) {
	if err := k.check(ctx, id); err != nil {
		return incident.Status{}, err
	}
	return k.Incidents.Reject(ctx, id, req)
}

func (k *keyGuard) Filed(ctx context.Context, id string, req workflows.FiledRequest) (incident.Status, error) {
	if err := k.check(ctx, id); err != nil {
		return incident.Status{}, err
	}
	return k.Incidents.Filed(ctx, id, req)
}

func (k *keyGuard) Acknowledge(ctx context.Context, id string, req workflows.AckRequest) (incident.Status, error) {
	if err := k.check(ctx, id); err != nil {
		return incident.Status{}, err
	}
	return k.Incidents.Acknowledge(ctx, id, req)
}

func (k *keyGuard) Assign(ctx context.Context, id string, req workflows.AssignRequest) (incident.Status, error) {
	if err := k.check(ctx, id); err != nil {
		return incident.Status{}, err
	}
	return k.Incidents.Assign(ctx, id, req)
}

func (k *keyGuard) AnchorEvidence(ctx context.Context, in activities.EvidenceInput) (evidence.ServerAnchor, error) {
	if err := k.check(ctx, in.Incident); err != nil {
		return evidence.ServerAnchor{}, err
	}
	return k.Incidents.AnchorEvidence(ctx, in)
}

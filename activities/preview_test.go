package activities

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/breachctl/breachctl/internal/store"
	"github.com/breachctl/breachctl/templates"
)

// TestApprovedDraftSendsOnlyWhatWasPreviewed: a notice approved from a
// draft carries the draft's rendering hash; if the organisation's
// configuration changed since, it no longer renders the same and is
// refused rather than sent as nobody approved it.
func TestApprovedDraftSendsOnlyWhatWasPreviewed(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	org := templates.Organisation{Name: "Example GmbH", ContactName: "DPO", ContactEmail: "dpo@example.org"}
	recipients := func(string, string, string) []OrgRecipient {
		return []OrgRecipient{{Name: "Berlin DPA", Emails: []string{"dpa@example.org"}, Locale: "de"}}
	}
	spec := NoticeSpec{ID: "INC-20261123-PREVW/eu-gdpr-art33", Incident: "INC-20261123-PREVW", Rules: []string{"eu-gdpr-art33"},
		Notify: "authority", Jurisdiction: "EU", ApprovedBy: "test", ApprovedAt: time.Now(),
		Translations: map[string]NoticeTexts{"de": {WhatHappened: "Ein Angreifer kopierte die Tabelle."}},
		Data: templates.NoticeData{IncidentID: "INC-20261123-PREVW", NoticeDate: time.Now(), DiscoveredAt: time.Now(),
			WhatHappened: "An attacker copied the table.", LikelyConsequences: "y", MeasuresTaken: "z", WhatYouCanDo: "w",
			DataCategories: []string{"email"}, SubjectCategories: []string{"customers"}, Recipient: "the supervisory authority"}}

	preview, err := NewNotifier(st, nil, Sending{Organisation: org, Recipients: recipients}).PreviewNotice(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(preview.Previews) != 1 || preview.Previews[0].Recipient != "Berlin DPA" || preview.Previews[0].Lang != "de" ||
		!strings.Contains(preview.Previews[0].Text, "Ein Angreifer") || !strings.Contains(preview.Previews[0].Text, "Example GmbH") {
		t.Fatalf("preview: %+v", preview.Previews)
	}
	// Approved another day: the date of the notice is not part of what
	// was approved.
	later := spec
	later.Data.NoticeDate = spec.Data.NoticeDate.Add(26 * time.Hour)
	again, err := NewNotifier(st, nil, Sending{Organisation: org, Recipients: recipients}).PreviewNotice(ctx, later)
	if err != nil || again.Rendered != preview.Rendered {
		t.Fatalf("rendered %q then %q (%v)", preview.Rendered, again.Rendered, err)
	}

	spec.Rendered = preview.Rendered
	renamed := org
	renamed.Name = "Example AG"
	_, err = NewNotifier(st, nil, Sending{Organisation: renamed, Recipients: recipients}).PrepareNotice(ctx, spec)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != ErrTypeNoticeInvalid || !strings.Contains(app.Message(), "no longer reads as the draft approved") {
		t.Fatalf("prepare after the organisation changed: %v", err)
	}
	if _, err := NewNotifier(st, nil, Sending{Organisation: org, Recipients: recipients}).PrepareNotice(ctx, spec); err != nil {
		t.Fatalf("prepare as approved: %v", err)
	}
}

// TestNoRecipientSaysToRestartTheWorkers: the notify file is read when a
// worker starts, so the refusal of a notice with no recipient says to
// restart the workers once one is added, not only to approve again.
func TestNoRecipientSaysToRestartTheWorkers(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	spec := NoticeSpec{ID: "INC-20261123-NOREC/eu-gdpr-art33", Incident: "INC-20261123-NOREC", Rules: []string{"eu-gdpr-art33"},
		Notify: "authority", Jurisdiction: "EU", ApprovedBy: "test", ApprovedAt: time.Now(),
		Data: templates.NoticeData{IncidentID: "INC-20261123-NOREC", NoticeDate: time.Now(), DiscoveredAt: time.Now(),
			WhatHappened: "An attacker copied the table.", LikelyConsequences: "y", MeasuresTaken: "z", Recipient: "the supervisory authority"}}
	n := NewNotifier(st, nil, Sending{Organisation: DrillOrganisation})
	preview, err := n.PreviewNotice(ctx, spec)
	if err != nil || len(preview.Previews) != 1 || !strings.Contains(preview.Previews[0].Recipient, "restart the workers") {
		t.Fatalf("preview: %+v, %v", preview.Previews, err)
	}
	_, err = n.PrepareNotice(ctx, spec)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != ErrTypeNoticeInvalid || !strings.Contains(app.Message(), "restart the workers (each reads the file when it starts) and approve again") {
		t.Fatalf("prepare with no recipient: %v", err)
	}
}

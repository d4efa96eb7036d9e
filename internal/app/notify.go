package app

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"time"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/config"
	"github.com/breachctl/breachctl/internal/mailer"
	"github.com/breachctl/breachctl/internal/notifyconfig"
	"github.com/breachctl/breachctl/internal/rules"
	"github.com/breachctl/breachctl/internal/store"
)

// loadNotify reads the notify configuration: the named file, or the default
// one in the data directory, or placeholders when there is none.
func loadNotify(cfg config.Config, rs *rules.Ruleset) (*notifyconfig.Config, error) {
	path, explicit := cfg.NotifyPath()
	nc, err := notifyconfig.Load(path)
	switch {
	case err == nil:
	case !explicit && errors.Is(err, fs.ErrNotExist):
		return notifyconfig.Default(), nil
	default:
		return nil, err
	}
	if err := nc.CheckRules(rs.Has); err != nil {
		return nil, err
	}
	return nc, nil
}

// newMailer is SendGrid with an API key, else the outbox in the data
// directory, so the whole flow runs on a laptop.
func newMailer(cfg config.Config, nc *notifyconfig.Config, logger *slog.Logger) (mailer.Mailer, error) {
	if cfg.SendGrid.APIKey == "" {
		// The files hold people's addresses: sealed when there are keys
		// (`breachctl outbox show` reads them).
		logger.Info("no SENDGRID_API_KEY: notices are written as .eml files", "outbox", cfg.OutboxDir(), "sealed", cfg.Keys != nil)
		return mailer.NewSealedOutbox(cfg.OutboxDir(), cfg.Keys), nil
	}
	if nc.Placeholder {
		return nil, apperr.Invalidf("BREACHCTL_NOTIFY",
			"SENDGRID_API_KEY is set but there is no notify configuration (%s): real notices need your organisation, contact point and sender; see examples/notify.yaml", nc.File)
	}
	return mailer.NewSendGrid(cfg.SendGrid.APIKey, mailer.SendGridOptions{
		BaseURL: cfg.SendGrid.BaseURL, Concurrency: nc.Sending.Concurrency,
	}), nil
}

// newNotifier builds the notification activities.
// ambiguousWait is how long a batch SendGrid may have taken waits for the
// Event Webhook's word before it is sent again; its events usually arrive
// within a minute.
const ambiguousWait = 2 * time.Minute

func newNotifier(cfg config.Config, rs *rules.Ruleset, st *store.Store, logger *slog.Logger) (*activities.Notifier, error) {
	nc, err := loadNotify(cfg, rs)
	if err != nil {
		return nil, err
	}
	m, err := newMailer(cfg, nc, logger)
	if err != nil {
		return nil, err
	}
	s := sending(nc)
	if cfg.SendGrid.WebhookPublicKey != "" && cfg.SendGrid.APIKey != "" {
		s.AmbiguousWait = ambiguousWait
	}
	return activities.NewNotifier(st, m, s), nil
}

func sending(nc *notifyconfig.Config) activities.Sending {
	s := activities.Sending{
		From:         mailer.Address(nc.From),
		Organisation: nc.Organisation,
		Concurrency:  nc.Sending.Concurrency,
		Rate:         nc.Sending.Rate,
		PageSize:     nc.Sending.PageSize,
		Partitions:   nc.Sending.Partitions,
		Sandbox:      nc.Sending.Sandbox,
		Recipients: func(rule, notify, jurisdiction string) []activities.OrgRecipient {
			var out []activities.OrgRecipient
			for _, r := range nc.RecipientsFor(rule, notify, jurisdiction) {
				out = append(out, activities.OrgRecipient{Name: r.Name, Emails: r.Emails, Locale: r.Locale, Portal: r.Portal})
			}
			return out
		},
	}
	if nc.ReplyTo != nil {
		a := mailer.Address(*nc.ReplyTo)
		s.ReplyTo = &a
	}
	return s
}

// openStore opens the store the worker and the webhook share.
func openStore(ctx context.Context, cfg config.Config) (*store.Store, error) {
	st, err := store.Open(ctx, cfg.StoreDSN(), store.WithKeys(cfg.Keys))
	if err != nil {
		return nil, apperr.Wrap(apperr.Unavailable, err, "open the store (BREACHCTL_STORE)")
	}
	return st, nil
}

// webhookVerifier checks the Event Webhook's signatures, when a key is set.
func webhookVerifier(cfg config.Config) (*mailer.WebhookVerifier, error) {
	if cfg.SendGrid.WebhookPublicKey == "" {
		return nil, nil
	}
	v, err := mailer.NewWebhookVerifier(cfg.SendGrid.WebhookPublicKey)
	if err != nil {
		return nil, apperr.Invalidf("SENDGRID_WEBHOOK_PUBLIC_KEY", "%v", err)
	}
	return v, nil
}

package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
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

// newMailer is SendGrid with an API key, else the outbox (in the data
// directory for dev, or BREACHCTL_OUTBOX_DIR), so the whole flow runs on a
// laptop. A worker without a key is refused before this (Config.CheckWorker).
//
// With a key but no notify configuration the worker still starts, so that
// clocks, reminders and escalation go on, and says what is missing; every
// notice is refused before sending (unconfiguredMailer), on its record,
// instead of going out from a placeholder sender.
func newMailer(cfg config.Config, nc *notifyconfig.Config, logger *slog.Logger) (mailer.Mailer, error) {
	if cfg.SendGrid.APIKey == "" {
		dir := cfg.OutboxDir()
		if err := checkWritable(dir); err != nil {
			return nil, apperr.Invalidf("BREACHCTL_OUTBOX_DIR",
				"without SENDGRID_API_KEY notices are written as .eml files to %s, which cannot be written (%v): "+
					"set SENDGRID_API_KEY, or BREACHCTL_OUTBOX_DIR to a writable directory (a volume, in a container); "+
					"an outbox is for `breachctl dev`", dir, err)
		}
		// The files hold people's addresses: sealed when there are keys
		// (`breachctl outbox show` reads them).
		logger.Info("no SENDGRID_API_KEY: notices are written as .eml files", "outbox", dir, "sealed", cfg.Keys != nil)
		return mailer.NewSealedOutbox(dir, cfg.Keys), nil
	}
	if nc.Placeholder {
		path, _ := cfg.NotifyPath()
		logger.Error("no notify configuration: every notice will be refused and nothing sent until there is one "+
			"(your organisation, contact point and a SendGrid-verified sender; see examples/notify.yaml), then restart the worker",
			"expected", path, "variable", "BREACHCTL_NOTIFY")
		return unconfiguredMailer{path: path}, nil
	}
	return mailer.NewSendGrid(cfg.SendGrid.APIKey, mailer.SendGridOptions{
		BaseURL: cfg.SendGrid.BaseURL, Concurrency: nc.Sending.Concurrency,
	}), nil
}

// unconfiguredMailer refuses every batch before sending: without a notify
// configuration a notice would name a placeholder organisation and come
// from a sender nobody verified. The refusal is permanent (retrying cannot
// help until the worker restarts with a file), so the batch is recorded as
// failed with this text and the notice's clock stays open.
type unconfiguredMailer struct{ path string }

var _ mailer.Mailer = unconfiguredMailer{}

func (m unconfiguredMailer) Send(context.Context, mailer.Batch) (mailer.Result, error) {
	return mailer.Result{}, &mailer.PermanentError{Messages: []string{fmt.Sprintf(
		"no notify configuration (%s does not exist; BREACHCTL_NOTIFY names another file): nothing is sent without "+
			"the organisation, contact point and sender; add it, restart the worker and approve again", m.path)}}
}

// checkWritable makes dir if needed and writes and removes a file in it, so
// that an outbox nobody can write fails at start, not at the first notice.
func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".writable-*")
	if err != nil {
		return err
	}
	name := f.Name()
	err = f.Close()
	if rmErr := os.Remove(name); err == nil {
		err = rmErr
	}
	return err
}

// newNotifier builds the notification activities.
func newNotifier(cfg config.Config, rs *rules.Ruleset, st *store.Store, logger *slog.Logger) (*activities.Notifier, error) {
	nc, err := loadNotify(cfg, rs)
	if err != nil {
		return nil, err
	}
	if !nc.Placeholder {
		logger.Info("notify configuration", "file", nc.File, "recipients", len(nc.Recipients))
	}
	m, err := newMailer(cfg, nc, logger)
	if err != nil {
		return nil, err
	}
	s := sending(nc)
	s.StoreName = activities.StoreName(cfg.StoreDSN())
	if nc.Sending.Unconfirmed.EmailActivity && cfg.SendGrid.APIKey != "" {
		// A batch whose answer was lost is looked up by its custom args.
		s.Activity = mailer.NewActivity(cfg.SendGrid.APIKey, mailer.ActivityOptions{BaseURL: cfg.SendGrid.BaseURL})
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
		// A batch whose answer was lost waits this long for SendGrid's
		// word (events, Email Activity) before it is resent, or is held.
		UnconfirmedWait: nc.Sending.Unconfirmed.Wait,
		HoldUnconfirmed: nc.Sending.Unconfirmed.Then == notifyconfig.UnconfirmedHold,
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
func openStore(ctx context.Context, cfg config.Config, logger *slog.Logger) (*store.Store, error) {
	watchLegacySeals(cfg, logger)
	st, err := store.Open(ctx, cfg.StoreDSN(), store.WithKeys(cfg.Keys), store.WithLogger(logger))
	if err != nil {
		return nil, apperr.Wrap(apperr.Unavailable, err, "open the store (BREACHCTL_STORE)")
	}
	return st, nil
}

// sweepSnapshots deletes, now and every hour until ctx ends, the
// snapshots a killed or failed `scope` left uncommitted (people's rows and
// all), logging counts only.
func sweepSnapshots(ctx context.Context, st *store.Store, logger *slog.Logger) {
	go st.SweepEvery(ctx, time.Hour, store.SnapshotGrace, func(sw store.Swept, err error) {
		if err != nil {
			logger.Warn("sweep of unfinished snapshots failed", "error", err)
			return
		}
		logger.Info("swept unfinished snapshots", "snapshots", sw.Snapshots, "people", sw.People)
	})
}

// watchLegacySeals logs, once per kind of place (a table, the outbox),
// that a value sealed before seal contexts was opened: it still opens, but
// is not bound to where it is kept until it is written again.
func watchLegacySeals(cfg config.Config, logger *slog.Logger) {
	var seen sync.Map
	cfg.Keys.OnLegacy(func(context string) {
		kind := legacyKind(context)
		if _, dup := seen.LoadOrStore(kind, true); !dup {
			logger.Warn("opened a value sealed before it was bound to its place; it is read, and bound when written again", "kind", kind)
		}
	})
}

// legacyKind is the first part of a seal context ("5:notes;..." -> notes):
// the table or directory, never a row's key.
func legacyKind(context string) string {
	n, rest, ok := strings.Cut(context, ":")
	size, err := strconv.Atoi(n)
	if !ok || err != nil || size < 0 || size > len(rest) {
		return "unknown"
	}
	return rest[:size]
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

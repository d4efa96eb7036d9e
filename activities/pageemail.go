package activities

import (
	"context"
	"errors"
	"fmt"
	"html"

	"go.temporal.io/sdk/temporal"

	"github.com/breachctl/breachctl/internal/mailer"
)

// SendPageEmailName is the registered name of Notifier.SendPageEmail.
const SendPageEmailName = "SendPageEmail"

// PageEmailInput is one escalation page to email addresses from the
// escalation policy (people on the chain, never data subjects).
type PageEmailInput struct {
	Key     string   `json:"key"` // the page firing's key: the batch key SendGrid sees
	To      []string `json:"to"`
	Subject string   `json:"subject"`
	Text    string   `json:"text"`
}

// SendPageEmail emails a page to the addresses of an escalation step. A
// page is an alert: if SendGrid's answer is lost the retry may send it
// again, which is better than a page that never arrives.
func (n *Notifier) SendPageEmail(ctx context.Context, in PageEmailInput) error {
	b := mailer.Batch{
		Key: in.Key, From: n.sending.From, ReplyTo: n.sending.ReplyTo, Subject: in.Subject,
		Text: in.Text, HTML: "<p>" + html.EscapeString(in.Text) + "</p>",
		CustomArgs: map[string]string{"page": in.Key}, Categories: []string{"breach-page"},
		SandboxMode: n.sending.Sandbox,
	}
	for _, to := range in.To {
		k := orgKey(to)
		b.Recipients = append(b.Recipients, mailer.Recipient{Email: to, ID: fmt.Sprintf("%x", k[:])})
	}
	if err := n.limiter.Wait(ctx); err != nil {
		return err
	}
	_, err := n.mail.Send(ctx, b)
	var permanent *mailer.PermanentError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &permanent):
		return temporal.NewNonRetryableApplicationError("page email refused: "+err.Error(), ErrTypeNoticeInvalid, nil)
	}
	return n.retryError([]error{err})
}

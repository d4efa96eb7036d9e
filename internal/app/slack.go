package app

import (
	"log/slog"
	"os"

	"github.com/slack-go/slack"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/config"
	"github.com/breachctl/breachctl/internal/orchestrator"
	"github.com/breachctl/breachctl/internal/slackin"
)

// newSlack builds the handler of Slack's requests, or nil when Slack is not
// configured (no signing secret).
func newSlack(cfg config.Config, svc *orchestrator.Incidents, logger *slog.Logger) (*slackin.Handler, error) {
	s := cfg.Slack
	if s.SigningSecret == "" {
		return nil, nil
	}
	if s.BotToken == "" {
		return nil, apperr.Invalidf("SLACK_BOT_TOKEN", "required with SLACK_SIGNING_SECRET: the forms are opened through Slack's Web API")
	}
	var roles slackin.Roles
	if s.Roles != "" {
		data, err := os.ReadFile(s.Roles)
		if err != nil {
			return nil, apperr.Wrap(apperr.Invalid, err, "BREACHCTL_SLACK_ROLES")
		}
		if roles, err = slackin.ParseRoles(s.Roles, data); err != nil {
			return nil, err
		}
	}
	var opts []slack.Option
	if s.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(s.APIURL))
	}
	return slackin.New(slackin.Config{
		SigningSecret: s.SigningSecret,
		Incidents:     svc,
		Views:         slackin.SlackViews{Client: slack.New(s.BotToken, opts...)},
		Roles:         roles,
		Logger:        logger.With("component", "slack"),
	})
}

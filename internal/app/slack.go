package app

import (
	"context"
	"log/slog"
	"maps"
	"os"
	"slices"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/config"
	"github.com/breachctl/breachctl/internal/escalation"
	"github.com/breachctl/breachctl/internal/orchestrator"
	"github.com/breachctl/breachctl/internal/replay"
	"github.com/breachctl/breachctl/internal/slackin"
)

// slackClient is the Web API client, or nil without a bot token. Temporal
// retries the activities, so the client does not retry by itself.
func slackClient(cfg config.Config) *slack.Client {
	if cfg.Slack.BotToken == "" {
		return nil
	}
	var opts []slack.Option
	if cfg.Slack.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(cfg.Slack.APIURL))
	}
	return slack.New(cfg.Slack.BotToken, opts...)
}

// slackActivities posts to Slack from the worker, or nil without a bot
// token: incidents then have no channel.
func slackActivities(cfg config.Config) *activities.Slack {
	c := slackClient(cfg)
	if c == nil {
		return nil
	}
	return activities.NewSlack(c, activities.SlackSettings{Responders: cfg.Slack.Responders})
}

// newSlack builds the handler of Slack's requests, or nil when Slack is not
// configured (no signing secret). guard is the replay store it shares with
// the intake and SendGrid's webhook. The people breachctl invites and pages
// (responders, escalation targets) have the responder role whatever the
// roles file says, so that they can acknowledge what they are told to.
func newSlack(cfg config.Config, svc *orchestrator.Incidents, guard *replay.Guard, logger *slog.Logger) (*slackin.Handler, error) {
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
	paged, err := pagedSlackUsers(cfg)
	if err != nil {
		return nil, err
	}
	return slackin.New(slackin.Config{
		SigningSecret: s.SigningSecret,
		Incidents:     svc,
		Views:         slackin.SlackViews{Client: slackClient(cfg)},
		Roles:         roles.WithResponders(paged),
		Logger:        logger.With("component", "slack"),
		Replay:        guard,
	})
}

// pagedSlackUsers are the Slack users breachctl invites to every incident
// channel or pages (BREACHCTL_SLACK_RESPONDERS, the escalation file's Slack
// targets and on-call people), in a stable order without repeats.
func pagedSlackUsers(cfg config.Config) ([]string, error) {
	users := slices.Clone(cfg.Slack.Responders)
	if cfg.Escalation != "" {
		esc, err := escalation.Load(cfg.Escalation)
		if err != nil {
			return nil, err
		}
		for _, p := range esc.Policies {
			for _, st := range p.Steps {
				for _, t := range st.Targets {
					if t.Kind == escalation.SlackUser {
						users = append(users, t.ID)
					}
				}
			}
		}
		for _, role := range slices.Sorted(maps.Keys(esc.OnCall)) {
			if t := esc.OnCall[role]; t.Kind == escalation.SlackUser {
				users = append(users, t.ID)
			}
		}
	}
	slices.Sort(users)
	return slices.Compact(users), nil
}

// startSocketMode runs Socket Mode, when an app token is set, until stop is
// called; it returns stop.
func startSocketMode(cfg config.Config, h *slackin.Handler, logger *slog.Logger) (stop func()) {
	if h == nil || cfg.Slack.AppToken == "" {
		return func() {}
	}
	opts := []slack.Option{slack.OptionAppLevelToken(cfg.Slack.AppToken)}
	if cfg.Slack.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(cfg.Slack.APIURL))
	}
	client := socketmode.New(slack.New(cfg.Slack.BotToken, opts...))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := h.RunSocketMode(ctx, client); err != nil {
			logger.Error("slack socket mode stopped", "error", err)
		}
	}()
	logger.Info("slack socket mode on")
	return func() { cancel(); <-done }
}

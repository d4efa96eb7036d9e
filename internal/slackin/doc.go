// Package slackin takes Slack requests in: it verifies each request's
// signature (slack-go's SecretsVerifier, 5-minute window), refuses one it
// took before (Config.Replay, the replay store the intake and SendGrid's
// webhook share: 401, nothing done), parses the
// `/breach` slash command and interactivity payloads, checks the user's
// role (Roles, read by ParseRoles), and turns each request into one call on
// Incidents with the actor "slack:<user id>", so the timeline says who did
// it.
//
// Approving a notice (the approve_notice button, `/breach approve`) opens
// a form for its texts; approve.go says how refusals reach the person.
// Where the notice needs two approvers the form records a draft, which the
// pinned summary and `/breach status` show with Preview, Approve draft and
// Reject buttons (drafts.go).
//
// Slack waits 3 s for an answer. Help, refusals, malformed text and
// `scope` are answered at once; anything that asks the incident service is
// acknowledged at once and finished in a goroutine that posts the result to
// the request's response_url through a Responder. Handler.Wait waits for
// that work (tests; shutdown). Forms are opened through Views while Slack
// waits, because a trigger ID expires within seconds.
//
// `/breach assign INC ROLE @person` gives someone a role on the incident;
// Slack sends the mention as <@U0123ABCD|name>, which becomes the person
// slack:U0123ABCD (assign.go).
//
// `/breach scope INC` answers with the CLI command: scoping reads the
// affected people from exports or a database with the data map, and
// people's data never passes through Slack.
//
// Logs carry incident IDs, Slack user IDs, action names and error kinds,
// never what people typed: titles, notes and reasons can hold personal
// data. Errors reach Slack users through one mapping (userMessage), without
// their internal causes.
package slackin

package incident

import (
	"regexp"
	"strings"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
)

// An incident ID reads INC-20261120-7K3QX: the UTC day it was opened and five
// Crockford base32 characters, short enough to type into a CLI or Slack.
var idPattern = regexp.MustCompile(`^INC-[0-9]{8}-[0-9A-HJKMNP-TV-Z]{5}$`)

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewID builds an incident ID from the opening time and random bytes (at
// least 4; the caller supplies them so this stays pure).
func NewID(openedAt time.Time, random []byte) string {
	var n uint64
	for _, b := range random[:4] {
		n = n<<8 | uint64(b)
	}
	suffix := make([]byte, 5)
	for i := range suffix {
		suffix[i] = crockford[n&31]
		n >>= 5
	}
	return "INC-" + openedAt.UTC().Format("20060102") + "-" + string(suffix)
}

// ParseID accepts an ID in any case and returns it in canonical form.
func ParseID(s string) (string, error) {
	id := strings.ToUpper(strings.TrimSpace(s))
	if !idPattern.MatchString(id) {
		return "", apperr.Invalidf("incident", "%q is not an incident ID like INC-20261120-7K3QX", s)
	}
	return id, nil
}

// WorkflowID is the Temporal workflow ID of an incident. Every workflow ID is
// built by a helper like this one and never by hand.
func WorkflowID(id string) string { return "incident/" + id }

// IDFromWorkflowID is the inverse of WorkflowID.
func IDFromWorkflowID(wfID string) (string, bool) {
	return strings.CutPrefix(wfID, "incident/")
}

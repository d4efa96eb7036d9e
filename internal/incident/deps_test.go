package incident_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDomainPackagesStayPure keeps Temporal, Slack, HTTP and the SendGrid
// client out of the domain packages: they must stay plain Go that workflow
// code can call deterministically and tests can use alone.
func TestDomainPackagesStayPure(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../incident", "../rules", "../apperr").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"go.temporal.io/", "github.com/slack-go/", "github.com/sendgrid/", "net/http"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("a domain package depends on %s", dep)
			}
		}
	}
}

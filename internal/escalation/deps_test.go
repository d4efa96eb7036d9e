package escalation

import (
	"os/exec"
	"strings"
	"testing"
)

// The package is domain code: workflows call it, so it must stay free of
// Temporal, Slack and HTTP.
func TestNoOutsideDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"go.temporal.io/", "github.com/slack-go/", "net/http"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("imports %s", dep)
			}
		}
	}
}

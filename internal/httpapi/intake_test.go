package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestIntakeRoutes(t *testing.T) {
	post := func(h http.Handler, path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{}`)))
		b, _ := io.ReadAll(rec.Body)
		return rec.Code, string(b)
	}
	off := New(Deps{})
	for _, p := range []string{"/intake/v1/alerts", "/intake/v1/alertmanager"} {
		if code, body := post(off, p); code != http.StatusNotFound || !strings.Contains(body, "BREACHCTL_INTAKE_SECRETS") || !strings.Contains(body, "BREACHCTL_INTAKE_TOKENS") {
			t.Errorf("%s without intake: %d %s; want 404 naming the variables", p, code, body)
		}
	}
	var got []string
	on := New(Deps{Intake: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.Path)
		w.WriteHeader(http.StatusAccepted)
	})})
	for _, p := range []string{"/intake/v1/alerts", "/intake/v1/alertmanager"} {
		if code, _ := post(on, p); code != http.StatusAccepted {
			t.Errorf("%s with intake: %d", p, code)
		}
	}
	if len(got) != 2 {
		t.Errorf("intake saw %v", got)
	}
}

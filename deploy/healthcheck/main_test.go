package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestTarget(t *testing.T) {
	cases := []struct {
		addr, path, want string
	}{
		{"", "/readyz", "http://127.0.0.1:8080/readyz"},
		{":8080", "/readyz", "http://127.0.0.1:8080/readyz"},
		{" :9000 ", "healthz", "http://127.0.0.1:9000/healthz"},
		{"0.0.0.0:8081", "/healthz", "http://127.0.0.1:8081/healthz"},
		{"[::]:8082", "/readyz", "http://127.0.0.1:8082/readyz"},
		{"127.0.0.1:8080", "/readyz", "http://127.0.0.1:8080/readyz"},
		{"[::1]:8080", "/readyz", "http://[::1]:8080/readyz"},
	}
	for _, c := range cases {
		got, err := target(c.addr, c.path)
		if err != nil {
			t.Errorf("target(%q, %q): %v", c.addr, c.path, err)
			continue
		}
		if got != c.want {
			t.Errorf("target(%q, %q) = %q, want %q", c.addr, c.path, got, c.want)
		}
	}
	for _, bad := range []string{"8080", "localhost", "127.0.0.1:"} {
		if _, err := target(bad, "/readyz"); err == nil || !strings.Contains(err.Error(), "BREACHCTL_HTTP_ADDR") {
			t.Errorf("target(%q) error = %v, want one naming BREACHCTL_HTTP_ADDR", bad, err)
		}
	}
}

func TestProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()

	if err := probe(srv.URL+"/healthz", time.Second); err != nil {
		t.Errorf("probe of a 200: %v", err)
	}
	if err := probe(srv.URL+"/readyz", time.Second); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("probe of a 503 = %v, want an error with the status", err)
	}
	srv.Close()
	if err := probe(srv.URL+"/healthz", time.Second); err == nil {
		t.Error("probe of a closed server succeeded")
	}
}

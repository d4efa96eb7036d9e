// Command healthcheck is the container health probe for `breachctl serve`.
// The runtime image is distroless (no shell, curl or wget), so the Dockerfile
// builds this next to breachctl and docker-compose.yml runs it as
//
//	/healthcheck [path]
//
// It GETs http://127.0.0.1:<port><path> (path /readyz by default) and exits
// 0 on a 2xx answer, 1 on anything else. The port is taken from
// BREACHCTL_HTTP_ADDR, as the server does, so the probe follows the server
// when its address changes.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

const defaultAddr = ":8080"

func main() {
	path := "/readyz"
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	url, err := target(os.Getenv("BREACHCTL_HTTP_ADDR"), path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		os.Exit(1)
	}
	if err := probe(url, 3*time.Second); err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		os.Exit(1)
	}
}

// target turns the server's listen address into the URL to probe: a
// wildcard or empty host becomes the loopback address.
func target(addr, path string) (string, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		addr = defaultAddr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("BREACHCTL_HTTP_ADDR %q: %w", addr, err)
	}
	if port == "" {
		return "", fmt.Errorf("BREACHCTL_HTTP_ADDR %q has no port", addr)
	}
	switch host {
	case "", "0.0.0.0", "::", "[::]":
		host = "127.0.0.1"
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return "http://" + net.JoinHostPort(host, port) + path, nil
}

func probe(url string, timeout time.Duration) error {
	c := &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

package devserver

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"
)

// uiServer is the Temporal Web UI, serving its embedded assets and proxying
// its API calls to the frontend.
type uiServer struct {
	srv  *uiserver.Server
	done chan struct{} // closed when srv.Start returns
}

// startUI serves the UI on ip:port and waits until it answers its health
// check. The caller must have checked that the port is free: ui-server exits
// the process when it cannot listen.
func startUI(ctx context.Context, ip string, port int, frontendAddr, namespace, codecEndpoint string) (*uiServer, error) {
	srv := uiserver.NewServer(uioptions.WithConfigProvider(&uiconfig.Config{
		Host:                ip,
		Port:                port,
		TemporalGRPCAddress: frontendAddr,
		EnableUI:            true,
		DefaultNamespace:    namespace,
		// Plain HTTP on loopback: cookies cannot be marked Secure.
		CORS:             uiconfig.CORS{CookieInsecure: true},
		HideLogs:         true,
		DisableNewsFetch: true, // no calls out of the machine
		Codec:            uiCodec(codecEndpoint),
	}))
	u := &uiServer{srv: srv, done: make(chan struct{})}
	go func() {
		defer close(u.done)
		_ = srv.Start() // returns nil once stopped; exits the process on a listen error
	}()

	base := "http://" + net.JoinHostPort(ip, strconv.Itoa(port))
	readyCtx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	err := retry(readyCtx, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /healthz: %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		u.stop()
		return nil, fmt.Errorf("wait for the Web UI at %s: %w", base, err)
	}
	return u, nil
}

// uiCodec is the UI's codec setting. The browser calls the codec itself;
// IncludeCredentials sends the cookie its sign-in set, as the UI has no way
// to send a token. A decode that fails is most often a browser not signed
// in (the endpoint answers 401): the UI says so and links to the sign-in
// page, instead of its own "Codec Server could not connect".
func uiCodec(endpoint string) uiconfig.Codec {
	if endpoint == "" {
		return uiconfig.Codec{}
	}
	return uiconfig.Codec{
		Endpoint:            endpoint,
		IncludeCredentials:  true,
		DefaultErrorMessage: CodecSignInMessage,
		DefaultErrorLink:    strings.TrimSuffix(endpoint, "/") + "/login",
	}
}

// CodecSignInMessage is what the Temporal UI says when it cannot decode
// (dev's embedded UI and the compose stack's).
const CodecSignInMessage = "Payloads are encrypted: sign in to breachctl's codec endpoint with BREACHCTL_CODEC_TOKEN, then reload"

// stop closes the UI's listener and connections and waits (briefly) for its
// server goroutine to end.
func (u *uiServer) stop() {
	u.srv.Stop()
	select {
	case <-u.done:
	case <-time.After(5 * time.Second):
	}
}

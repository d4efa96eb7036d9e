package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Codec is the payload codec endpoint: the Temporal UI (and `temporal
// --codec-endpoint ... --codec-auth "Bearer ..."`) post encrypted payloads
// to /codec/decode and show what comes back. It decrypts for whoever
// presents the token, so it is never open: a request needs the token as a
// bearer token, or the cookie that signing in at /codec/login sets (the UI
// cannot send a token of its own; with IncludeCredentials it sends cookies).
type Codec struct {
	// Handler serves POST .../encode and .../decode (codec.HTTPHandler).
	Handler http.Handler
	// Token is what a caller must present (BREACHCTL_CODEC_TOKEN).
	Token string
	// Origins are the browser origins allowed to call it: the Temporal
	// UI's, and this server's own, where the login form is (SelfOrigins).
	// A request from a browser page of any other origin is refused.
	Origins []string
}

const (
	codecCookie = "breachctl_codec"
	// maxCodecBody bounds a request: the UI sends a page of history's
	// payloads at once, each at most Temporal's 2 MB blob limit.
	maxCodecBody = 32 << 20
	// codecReadTimeout bounds reading an authenticated request's body.
	codecReadTimeout = 2 * time.Minute
)

// codecRoutes mounts the endpoint; without a Codec every route says how to
// turn it on.
func codecRoutes(mux *http.ServeMux, c *Codec) {
	if c == nil || c.Handler == nil || c.Token == "" {
		off := func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusNotFound, map[string]string{
				"error": "the codec endpoint is off: set BREACHCTL_ENCRYPTION_KEYS and BREACHCTL_CODEC_TOKEN"})
		}
		mux.HandleFunc("/codec/", off)
		return
	}
	mux.HandleFunc("OPTIONS /codec/{op}", c.preflight)
	mux.HandleFunc("POST /codec/{op}", c.serve)
	mux.HandleFunc("GET /codec/login", c.loginForm)
}

// allowOrigin sets the CORS headers for an allowed origin. A request with
// an Origin that is not allowed is refused: a page on another site must not
// drive the endpoint with the operator's cookie, nor try tokens at the
// login form. What is allowed is the list in Origins, never judged from the
// request's Host: a page on a name its attacker points at this server (DNS
// rebinding) sends a Host equal to its own origin.
func (c *Codec) allowOrigin(w http.ResponseWriter, r *http.Request) bool {
	w.Header().Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true // not from a browser page (the CLI, curl): the token decides
	}
	if !c.originAllowed(origin) {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	return true
}

// originAllowed reports whether origin is one of Origins: the Temporal
// UI's and this server's own (where its login form is served), as the
// composition root lists them.
func (c *Codec) originAllowed(origin string) bool {
	return slices.Contains(c.Origins, origin)
}

// SelfOrigins are the origins a browser on this machine reaches a server
// listening on addr (host:port) by: the address itself, and for a loopback
// or every-interface listener, 127.0.0.1, localhost and [::1] at its port.
// A server reached under any other name (a proxy's public name) lists that
// origin in BREACHCTL_CODEC_CORS_ORIGINS.
func SelfOrigins(addr string) []string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !(ip.IsLoopback() || ip.IsUnspecified())) {
		return []string{"http://" + addr, "https://" + addr}
	}
	var out []string
	for _, h := range []string{"127.0.0.1", "localhost", "[::1]"} {
		out = append(out, "http://"+h+":"+port)
	}
	return out
}

func (c *Codec) preflight(w http.ResponseWriter, r *http.Request) {
	if !c.allowOrigin(w, r) || r.Header.Get("Origin") == "" {
		http.Error(w, "origin not allowed (BREACHCTL_CODEC_CORS_ORIGINS)", http.StatusForbidden)
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "POST")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace")
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

func (c *Codec) serve(w http.ResponseWriter, r *http.Request) {
	if !c.allowOrigin(w, r) {
		http.Error(w, "origin not allowed (BREACHCTL_CODEC_CORS_ORIGINS)", http.StatusForbidden)
		return
	}
	switch r.PathValue("op") {
	case "login":
		c.login(w, r)
		return
	case "encode", "decode":
	default:
		http.NotFound(w, r)
		return
	}
	if !c.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="breachctl codec"`)
		http.Error(w, "a bearer token (BREACHCTL_CODEC_TOKEN) is required", http.StatusUnauthorized)
		return
	}
	// Authenticated: only now may it send a large body, and take longer
	// over it than the server's read timeout allows the unauthenticated.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(codecReadTimeout))
	r.Body = http.MaxBytesReader(w, r.Body, maxCodecBody)
	c.Handler.ServeHTTP(w, r)
}

// authorized compares hashes in constant time, so neither the token nor
// its length leaks through timing.
func (c *Codec) authorized(r *http.Request) bool {
	var got string
	if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		got = strings.TrimSpace(v)
	} else if ck, err := r.Cookie(codecCookie); err == nil {
		return ck.Value != "" && subtle.ConstantTimeCompare([]byte(ck.Value), []byte(c.cookieValue())) == 1
	}
	return c.matches(got)
}

// cookieValue is what the login cookie holds: a hash of the token, so the
// browser keeps neither the token nor characters a cookie cannot carry.
func (c *Codec) cookieValue() string {
	sum := sha256.Sum256([]byte("breachctl codec cookie\x00" + c.Token))
	return hex.EncodeToString(sum[:])
}

func (c *Codec) matches(token string) bool {
	if token == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(token)), sha256.Sum256([]byte(c.Token))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

const loginPage = `<!doctype html><title>breachctl codec</title>
<p>Sign this browser in to the payload codec, so the Temporal UI can show decrypted payloads.</p>
<form method="post" action="/codec/login"><label>Codec token (BREACHCTL_CODEC_TOKEN)
<input type="password" name="token" autofocus></label> <button>Sign in</button></form>
<p>%s</p>`

func (c *Codec) loginForm(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, loginPage, "")
}

// login sets the cookie for a right token. SameSite=Strict keeps other
// sites from sending it; HttpOnly keeps scripts (the UI's included) from
// reading it.
func (c *Codec) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	token := r.PostFormValue("token")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if !c.matches(token) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, loginPage, "Wrong token.")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: codecCookie, Value: c.cookieValue(), Path: "/codec/",
		MaxAge: int((12 * time.Hour).Seconds()), HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
	fmt.Fprintf(w, loginPage, "Signed in for 12 hours: reload the Temporal UI.")
}

package httpapi

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

const testCodecToken = "codec-token-0123456789"

func codecServer(t *testing.T, c *Codec) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(New(Deps{Codec: c}))
	t.Cleanup(srv.Close)
	return srv
}

// echoCodec stands for codec.HTTPHandler: it answers what the path asked.
var echoCodec = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	_, _ = w.Write([]byte(r.URL.Path + " " + string(body)))
})

func post(t *testing.T, c *http.Client, u string, header map[string]string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(`{"payloads":[]}`))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestCodecNeedsTheToken(t *testing.T) {
	srv := codecServer(t, &Codec{Handler: echoCodec, Token: testCodecToken, Origins: []string{"http://ui.example"}})
	c := srv.Client()
	for name, h := range map[string]map[string]string{
		"no token":    nil,
		"wrong token": {"Authorization": "Bearer codec-token-0123456780"},
		"basic auth":  {"Authorization": "Basic " + testCodecToken},
	} {
		if code, hdr, _ := post(t, c, srv.URL+"/codec/decode", h); code != http.StatusUnauthorized || hdr.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: %d", name, code)
		}
	}
	code, _, body := post(t, c, srv.URL+"/codec/decode", map[string]string{"Authorization": "Bearer " + testCodecToken})
	if code != http.StatusOK || !strings.HasPrefix(body, "/codec/decode ") {
		t.Fatalf("with the token: %d %q", code, body)
	}
	if code, _, _ := post(t, c, srv.URL+"/codec/other", map[string]string{"Authorization": "Bearer " + testCodecToken}); code != http.StatusNotFound {
		t.Errorf("unknown operation: %d", code)
	}
}

func TestCodecCORS(t *testing.T) {
	srv := codecServer(t, &Codec{Handler: echoCodec, Token: testCodecToken, Origins: []string{"http://ui.example"}})
	c := srv.Client()
	preflight := func(origin string) (int, http.Header) {
		req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/codec/decode", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	code, h := preflight("http://ui.example")
	if code != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "http://ui.example" ||
		h.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight from the UI: %d %v", code, h)
	}
	if code, h := preflight("http://evil.example"); code != http.StatusForbidden || h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin: %d %v", code, h)
	}
	auth := "Bearer " + testCodecToken
	if code, _, _ := post(t, c, srv.URL+"/codec/decode", map[string]string{"Origin": "http://evil.example", "Authorization": auth}); code != http.StatusForbidden {
		t.Errorf("post from another origin: %d", code)
	}
	code, h, _ = post(t, c, srv.URL+"/codec/decode", map[string]string{"Origin": "http://ui.example", "Authorization": auth})
	if code != http.StatusOK || h.Get("Access-Control-Allow-Origin") != "http://ui.example" {
		t.Errorf("post from the UI: %d %v", code, h)
	}
}

func TestCodecLoginCookie(t *testing.T) {
	srv := codecServer(t, &Codec{Handler: echoCodec, Token: testCodecToken})
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	form := func(token string) int {
		resp, err := c.PostForm(srv.URL+"/codec/login", url.Values{"token": {token}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := form("wrong-token-0123456789"); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", code)
	}
	if code, _, _ := post(t, c, srv.URL+"/codec/decode", nil); code != http.StatusUnauthorized {
		t.Fatalf("before signing in: %d", code)
	}
	if code := form(testCodecToken); code != http.StatusOK {
		t.Fatalf("sign in: %d", code)
	}
	u, _ := url.Parse(srv.URL + "/codec/")
	for _, ck := range jar.Cookies(u) {
		if strings.Contains(ck.Value, testCodecToken) {
			t.Errorf("the cookie holds the token")
		}
	}
	if code, _, _ := post(t, c, srv.URL+"/codec/decode", nil); code != http.StatusOK {
		t.Fatalf("signed in: %d", code)
	}
}

func TestCodecOffWithoutAToken(t *testing.T) {
	for _, c := range []*Codec{nil, {Handler: echoCodec}} {
		srv := codecServer(t, c)
		code, _, body := post(t, srv.Client(), srv.URL+"/codec/decode", map[string]string{"Authorization": "Bearer x"})
		if code != http.StatusNotFound || !strings.Contains(body, "BREACHCTL_CODEC_TOKEN") {
			t.Errorf("%+v: %d %q", c, code, body)
		}
	}
}

// TestCodecRefusesRebinding: a page at a name its attacker resolves to this
// server sends Host and Origin equal to each other; neither its preflight,
// nor a decode, nor a token tried at the login form gets through. The
// server's own origins (SelfOrigins) and the UI's do.
func TestCodecRefusesRebinding(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	self := SelfOrigins(srv.Listener.Addr().String())
	srv.Config.Handler = New(Deps{Codec: &Codec{Handler: echoCodec, Token: testCodecToken,
		Origins: append([]string{"http://ui.example"}, self...)}})
	srv.Start()
	t.Cleanup(srv.Close)
	_, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "http://"), ":")
	evil := "rebound.example:" + port
	send := func(method, path, host, origin string, body io.Reader, header map[string]string) int {
		req, _ := http.NewRequest(method, srv.URL+path, body)
		req.Host = host
		req.Header.Set("Origin", origin)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	auth := map[string]string{"Authorization": "Bearer " + testCodecToken}
	for _, c := range []struct {
		name, method, path, host, origin string
		body                             string
		header                           map[string]string
		want                             int
	}{
		{"rebound preflight", http.MethodOptions, "/codec/decode", evil, "http://" + evil, "", map[string]string{"Access-Control-Request-Method": "POST"}, http.StatusForbidden},
		{"rebound decode", http.MethodPost, "/codec/decode", evil, "http://" + evil, "{}", auth, http.StatusForbidden},
		{"rebound login", http.MethodPost, "/codec/login", evil, "http://" + evil, "token=" + testCodecToken, form, http.StatusForbidden},
		{"own login form", http.MethodPost, "/codec/login", strings.TrimPrefix(self[0], "http://"), self[0], "token=" + testCodecToken, form, http.StatusOK},
		{"own login form by name", http.MethodPost, "/codec/login", "localhost:" + port, "http://localhost:" + port, "token=" + testCodecToken, form, http.StatusOK},
		{"the UI", http.MethodPost, "/codec/decode", strings.TrimPrefix(self[0], "http://"), "http://ui.example", "{}", auth, http.StatusOK},
	} {
		if got := send(c.method, c.path, c.host, c.origin, strings.NewReader(c.body), c.header); got != c.want {
			t.Errorf("%s: status %d, want %d", c.name, got, c.want)
		}
	}
}

func TestSelfOrigins(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080 http://localhost:8080 http://[::1]:8080",
		"0.0.0.0:8080":   "http://127.0.0.1:8080 http://localhost:8080 http://[::1]:8080",
		"[::]:9000":      "http://127.0.0.1:9000 http://localhost:9000 http://[::1]:9000",
		"10.1.2.3:8080":  "http://10.1.2.3:8080 https://10.1.2.3:8080",
		"not an address": "",
	} {
		if got := strings.Join(SelfOrigins(addr), " "); got != want {
			t.Errorf("SelfOrigins(%q) = %q, want %q", addr, got, want)
		}
	}
}

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

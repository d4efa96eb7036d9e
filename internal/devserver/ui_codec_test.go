package devserver

import "testing"

// TestUICodecPointsAtSignIn: with a codec endpoint, the UI's error for a
// failed decode says to sign in and links to the endpoint's login page.
func TestUICodecPointsAtSignIn(t *testing.T) {
	c := uiCodec("http://127.0.0.1:8080/codec")
	if c.Endpoint != "http://127.0.0.1:8080/codec" || !c.IncludeCredentials {
		t.Errorf("endpoint %+v", c)
	}
	if c.DefaultErrorLink != "http://127.0.0.1:8080/codec/login" || c.DefaultErrorMessage != CodecSignInMessage {
		t.Errorf("error message %q, link %q", c.DefaultErrorMessage, c.DefaultErrorLink)
	}
	if off := uiCodec(""); off.Endpoint != "" || off.DefaultErrorLink != "" || off.IncludeCredentials {
		t.Errorf("without an endpoint: %+v", off)
	}
}

package codec

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/breachctl/breachctl/internal/seal"
)

type facts struct {
	Title       string
	Description string
}

func keyring(t *testing.T, ids ...string) (*seal.Keyring, []string) {
	t.Helper()
	var entries []string
	for _, id := range ids {
		e, err := seal.NewEntry(id)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	k, err := seal.Parse(strings.Join(entries, ","))
	if err != nil {
		t.Fatal(err)
	}
	return k, entries
}

func TestRoundTripAndRotation(t *testing.T) {
	k1, entries := keyring(t, "k1")
	dc := DataConverter(k1)
	in := facts{Title: "Bucket with customer uploads exposed", Description: "An attacker listed the bucket"}
	p, err := dc.ToPayload(in)
	if err != nil {
		t.Fatal(err)
	}
	if enc := string(p.Metadata[converter.MetadataEncoding]); enc != EncodingEncrypted {
		t.Fatalf("encoding %q", enc)
	}
	if id := string(p.Metadata[MetadataKeyID]); id != "k1" {
		t.Fatalf("key ID %q", id)
	}
	if bytes.Contains(p.Data, []byte("Bucket")) || bytes.Contains(p.Data, []byte("json/plain")) {
		t.Fatal("the payload is readable")
	}
	var out facts
	if err := dc.FromPayload(p, &out); err != nil || out != in {
		t.Fatalf("round trip: %+v, %v", out, err)
	}

	// A new key in front: new payloads use it, old ones still decode.
	k2entry, err := seal.NewEntry("k2")
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := seal.Parse(k2entry + "," + entries[0])
	if err != nil {
		t.Fatal(err)
	}
	dc2 := DataConverter(rotated)
	out = facts{}
	if err := dc2.FromPayload(p, &out); err != nil || out != in {
		t.Fatalf("old payload after rotation: %+v, %v", out, err)
	}
	p2, _ := dc2.ToPayload(in)
	if id := string(p2.Metadata[MetadataKeyID]); id != "k2" {
		t.Fatalf("after rotation the key ID is %q, want k2", id)
	}

	// Unknown key ID: the error names it.
	if err := dc.FromPayload(p2, &out); err == nil || !strings.Contains(err.Error(), `"k2"`) {
		t.Fatalf("decoding under a keyring without k2: %v", err)
	}
	// No keys at all: the error says encryption is on and no key is set.
	if err := DataConverter(nil).FromPayload(p, &out); err == nil || !strings.Contains(err.Error(), "no encryption keys are configured") {
		t.Fatalf("decoding without keys: %v", err)
	}
	// A plain payload, as a client without the key sends, is refused
	// wherever keys are set, naming the cause; without keys it passes.
	plain, _ := converter.GetDefaultDataConverter().ToPayload(in)
	out = facts{}
	var pe *PlainPayloadError
	if err := dc.FromPayload(plain, &out); !errors.As(err, &pe) || !strings.Contains(err.Error(), "BREACHCTL_ENCRYPTION_KEYS") || out != (facts{}) {
		t.Fatalf("plain payload under keys: %+v, %v", out, err)
	}
	if _, err := New(k1).Decode([]*commonpb.Payload{p, plain}); !errors.As(err, &pe) {
		t.Fatalf("a plain payload among encrypted ones: %v", err)
	}
	if err := DataConverter(nil).FromPayload(plain, &out); err != nil || out != in {
		t.Fatalf("plain payload without keys: %+v, %v", out, err)
	}
	// The failure converter's encoded attributes, plain, are not taken
	// either: the message stays the placeholder.
	f := FailureConverter(nil, DataConverter(nil)).ErrorToFailure(temporal.NewApplicationError("a plain failure", "t"))
	f.EncodedAttributes, _ = converter.GetDefaultDataConverter().ToPayload(map[string]string{"message": "forged"})
	if err := FailureConverter(k1, dc).FailureToError(f); strings.Contains(err.Error(), "forged") {
		t.Fatalf("plain encoded attributes taken: %v", err)
	}
}

func TestTamperedPayloadFails(t *testing.T) {
	k, _ := keyring(t, "k1")
	dc := DataConverter(k)
	p, _ := dc.ToPayload("Ransomware on billing")
	p.Data[len(p.Data)-1] ^= 1
	var s string
	if err := dc.FromPayload(p, &s); !errors.Is(err, seal.ErrTampered) {
		t.Fatalf("tampered payload: %v", err)
	}
}

func TestFailureMessagesAreEncrypted(t *testing.T) {
	k, _ := keyring(t, "k1")
	dc := DataConverter(k)
	fc := FailureConverter(k, dc)
	f := fc.ErrorToFailure(temporal.NewApplicationError("notice for ana@example.com failed", "test"))
	if strings.Contains(f.GetMessage(), "ana@") || strings.Contains(f.GetStackTrace(), "ana@") {
		t.Fatalf("failure readable: %q", f.GetMessage())
	}
	if enc := string(f.GetEncodedAttributes().GetMetadata()[converter.MetadataEncoding]); enc != EncodingEncrypted {
		t.Fatalf("encoded attributes %q", enc)
	}
	err := fc.FailureToError(f)
	if !strings.Contains(err.Error(), "ana@example.com") {
		t.Fatalf("decoded failure: %v", err)
	}
}

func TestHTTPHandlerDecodes(t *testing.T) {
	k, _ := keyring(t, "k1")
	p, _ := DataConverter(k).ToPayload("Bucket exposed")
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{p}})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	HTTPHandler(k).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/codec/decode", bytes.NewReader(body)))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var out commonpb.Payloads
	if err := protojson.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	if len(out.Payloads) != 1 || string(out.Payloads[0].Data) != `"Bucket exposed"` {
		t.Fatalf("decoded %v", &out)
	}
}

// The endpoint that shows a history to a person shows a plain payload as
// it is, beside encrypted ones.
func TestHTTPHandlerShowsPlainPayloads(t *testing.T) {
	k, _ := keyring(t, "k1")
	enc, _ := DataConverter(k).ToPayload("Bucket exposed")
	plain, _ := converter.GetDefaultDataConverter().ToPayload("written without the key")
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{enc, plain}})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	HTTPHandler(k).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/codec/decode", bytes.NewReader(body)))
	var out commonpb.Payloads
	if rec.Code != http.StatusOK || protojson.Unmarshal(rec.Body.Bytes(), &out) != nil || len(out.Payloads) != 2 ||
		string(out.Payloads[1].Data) != `"written without the key"` {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}

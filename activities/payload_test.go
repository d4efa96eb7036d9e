package activities

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeRecipient checks that the fast path answers what encoding/json
// answers, for any payload.
func FuzzDecodeRecipient(f *testing.F) {
	for _, s := range []string{
		`{"id":"u1","email":"ana@example.com","name":"Ana Souza","locale":"pt-BR","country":"BR","categories":["name","email"]}`,
		`{"email":"a\u00e9@example.com","name":"Zoë \"Z\""}`,
		`{"email":null,"name":"x","n":12.5e3,"ok":true,"no":false}`,
		`{"email":"a@b","email":"c@d"}`,
		` { "name" : "Bob" , "locale":"de" } `,
		`{}`, `[]`, `{"a":{"b":1}}`, `{"email":1}`, `{"email":"x"`, "{\"name\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		var want recipientPayload
		wantErr := json.Unmarshal(p, &want)
		got, err := decodeRecipient(p)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%q: error %v, encoding/json says %v", p, err, wantErr)
		}
		if err == nil && got != want {
			t.Fatalf("%q: %+v, encoding/json says %+v", p, got, want)
		}
	})
}

func BenchmarkDecodeRecipient(b *testing.B) {
	p := []byte(`{"id":"u123456","email":"person-123456@example.org","name":"Person 123456","locale":"de-DE","country":"DE","categories":["name","email","password_hash"]}`)
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeRecipient(p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var r recipientPayload
			if err := json.Unmarshal(p, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Package codec is breachctl's Temporal payload codec: every payload (workflow
// and activity inputs and results, memos, signals, updates, queries,
// heartbeats, and failure messages through the failure converter) is sealed
// with AES-256-GCM before it leaves the process, so the Temporal database
// holds no readable incident text or personal data. Search attributes are
// not payloads the codec sees: they stay plain, for listing.
//
// An encrypted payload is {"encoding": "binary/encrypted",
// "encryption-key-id": ID} with data = nonce || ciphertext || tag of the
// whole original payload (metadata and data). A payload without that
// encoding passes through on decoding, so histories written before
// encryption stay readable.
package codec

import (
	"fmt"
	"net/http"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"

	"github.com/breachctl/breachctl/internal/seal"
)

// Metadata of an encrypted payload.
const (
	EncodingEncrypted = "binary/encrypted"
	MetadataKeyID     = "encryption-key-id"
)

// PayloadCodec seals payloads under a keyring's first key and opens them
// under any of its keys. With a nil keyring it encodes nothing and refuses,
// naming the key, to decode an encrypted payload: a client without the key
// says why it cannot read a history rather than failing on an unknown
// encoding.
type PayloadCodec struct {
	keys *seal.Keyring
}

var _ converter.PayloadCodec = (*PayloadCodec)(nil)

// New returns the codec over keys (nil: encryption off).
func New(keys *seal.Keyring) *PayloadCodec { return &PayloadCodec{keys: keys} }

// Encode seals each payload.
func (c *PayloadCodec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	if c.keys == nil {
		return payloads, nil
	}
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encrypt payload: %w", err)
		}
		id, data, err := c.keys.SealRaw(nil, plain)
		if err != nil {
			return nil, fmt.Errorf("encrypt payload: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(EncodingEncrypted),
				MetadataKeyID:              []byte(id),
			},
			Data: data,
		}
	}
	return out, nil
}

// Decode opens each encrypted payload and passes the others through.
func (c *PayloadCodec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != EncodingEncrypted {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		plain, err := c.keys.OpenRaw(nil, id, p.GetData())
		if err != nil {
			return nil, fmt.Errorf("decrypt payload: %w", err)
		}
		var orig commonpb.Payload
		if err := proto.Unmarshal(plain, &orig); err != nil {
			return nil, fmt.Errorf("decrypt payload with key %q: %w", id, err)
		}
		out[i] = &orig
	}
	return out, nil
}

// DataConverter is the SDK's default converter with the codec over keys.
func DataConverter(keys *seal.Keyring) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), New(keys))
}

// FailureConverter moves failure messages and stack traces into an
// encoded payload (sealed by dc), so an error that quotes incident text
// is not stored in the clear. Without keys it is the SDK's default.
func FailureConverter(keys *seal.Keyring, dc converter.DataConverter) converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          dc,
		EncodeCommonAttributes: keys != nil,
	})
}

// HTTPHandler serves POST .../encode and .../decode in the remote codec
// protocol the Temporal UI and CLI speak. It does no authentication: the
// caller mounts it behind some (internal/httpapi does).
func HTTPHandler(keys *seal.Keyring) http.Handler {
	return converter.NewPayloadCodecHTTPHandler(New(keys))
}

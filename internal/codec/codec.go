// Package codec is breachctl's Temporal payload codec: every payload (workflow
// and activity inputs and results, memos, signals, updates, queries,
// heartbeats, and failure messages through the failure converter) is sealed
// with AES-256-GCM before it leaves the process, so the Temporal database
// holds no readable incident text or personal data. Search attributes are
// not payloads the codec sees: they stay plain, for listing.
//
// An encrypted payload is {"encoding": "binary/encrypted",
// "encryption-key-id": ID} with data = nonce || ciphertext || tag of the
// whole original payload (metadata and data).
//
// Where keys are set, every payload must be encrypted: decoding one that is
// not is an error naming the cause (PlainPayloadError), in workers and
// clients alike. A client without the key would otherwise write in the
// clear into an encrypted namespace, and a worker take what it wrote (a
// close with its reason readable in Temporal's database). Without keys,
// plain payloads pass and an encrypted one is refused, naming its key.
// The remote codec endpoint, which only shows payloads to a person, shows
// plain ones as they are.
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
	// acceptPlain passes plain payloads through on decoding even with
	// keys: for the endpoint that shows a history to a person.
	acceptPlain bool
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

// PlainPayloadError is the error of decoding a payload that is not
// encrypted while keys are set.
type PlainPayloadError struct {
	Encoding string // the payload's encoding, like json/plain
}

func (e *PlainPayloadError) Error() string {
	return fmt.Sprintf("refused a payload that is not encrypted (encoding %q) while encryption keys are set: "+
		"it was sent by a client without the key (BREACHCTL_ENCRYPTION_KEYS), or written before encryption was turned on", e.Encoding)
}

// Decode opens each encrypted payload. With keys, a plain payload is a
// *PlainPayloadError; without, it passes through.
func (c *PayloadCodec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if enc := string(p.GetMetadata()[converter.MetadataEncoding]); enc != EncodingEncrypted {
			if c.keys != nil && !c.acceptPlain {
				return nil, &PlainPayloadError{Encoding: enc}
			}
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
// caller mounts it behind some (internal/httpapi does). It shows a plain
// payload as it is: a person reading a history should see one that a
// client without the key wrote.
func HTTPHandler(keys *seal.Keyring) http.Handler {
	return converter.NewPayloadCodecHTTPHandler(&PayloadCodec{keys: keys, acceptPlain: true})
}

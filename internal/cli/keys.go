package cli

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/seal"
)

type keygenOptions struct {
	id    string
	token bool
}

func newKeygenCmd(g *globals) *cobra.Command {
	o := &keygenOptions{}
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Print a new encryption key entry for BREACHCTL_ENCRYPTION_KEYS (or, with --token, a codec token)",
		Long: `Print a new AES-256 key as an entry of BREACHCTL_ENCRYPTION_KEYS, ID:BASE64.
The first entry of that variable encrypts; every entry decrypts. To rotate, put
the new entry in front and keep the old ones after it for as long as anything
encrypted under them is kept (Temporal histories for their retention, the
store for good).

With --token it prints a random token for BREACHCTL_CODEC_TOKEN instead.`,
		Example: `  export BREACHCTL_ENCRYPTION_KEYS="$(breachctl keygen),$BREACHCTL_ENCRYPTION_KEYS"
  export BREACHCTL_CODEC_TOKEN="$(breachctl keygen --token)"`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return o.run(g) },
	}
	cmd.Flags().StringVar(&o.id, "id", "", "the key's ID (default k, today's date and a random part, like k20261123-3f9a0c)")
	cmd.Flags().BoolVar(&o.token, "token", false, "print a codec token instead of a key")
	return cmd
}

func (o *keygenOptions) run(g *globals) error {
	if o.token {
		if o.id != "" {
			return apperr.Invalidf("--id", "a token has no ID")
		}
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return err
		}
		token := base64.RawURLEncoding.EncodeToString(raw)
		if g.json() {
			return writeJSON(g.env.Stdout, map[string]string{"token": token})
		}
		_, err := fmt.Fprintln(g.env.Stdout, token)
		return err
	}
	id := o.id
	if id == "" {
		// The date, and a random part: a key made to rotate one made the
		// same day must not share its ID.
		suffix := make([]byte, 3)
		if _, err := rand.Read(suffix); err != nil {
			return err
		}
		id = "k" + g.env.Now().UTC().Format("20060102") + "-" + hex.EncodeToString(suffix)
	}
	entry, err := seal.NewEntry(id)
	if err != nil {
		return apperr.Invalidf("--id", "%v", err)
	}
	if g.json() {
		return writeJSON(g.env.Stdout, map[string]string{"id": id, "entry": entry})
	}
	_, err = fmt.Fprintln(g.env.Stdout, entry)
	return err
}

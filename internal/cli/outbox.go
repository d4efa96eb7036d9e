package cli

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/mailer"
	"github.com/breachctl/breachctl/internal/seal"
)

func newOutboxCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "outbox",
		Short: "Read the outbox: the notices dev writes as files when no SendGrid key is set",
		Long: `Read the outbox (<data dir>/outbox), where notices go as RFC 5322 files when
no SendGrid key is set. With BREACHCTL_ENCRYPTION_KEYS the files are sealed
(.eml.sealed), since they hold people's addresses; these commands open them
with the same keys. Plain .eml files are read as they are.`,
	}
	cmd.AddCommand(newOutboxListCmd(g), newOutboxShowCmd(g))
	return cmd
}

type outboxOptions struct {
	dir   string
	files []string
}

func newOutboxListCmd(g *globals) *cobra.Command {
	o := &outboxOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the outbox's messages: file, recipient, subject",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			keys, dir, err := o.setup(g)
			if err != nil {
				return err
			}
			files, err := outboxFiles(dir)
			if err != nil {
				return err
			}
			return listOutbox(g, keys, files)
		},
	}
	cmd.Flags().StringVar(&o.dir, "dir", "", "the outbox directory (default <data dir>/outbox)")
	return cmd
}

func newOutboxShowCmd(g *globals) *cobra.Command {
	o := &outboxOptions{}
	cmd := &cobra.Command{
		Use:   "show FILE... | show --dir DIR",
		Short: "Print messages of the outbox, decrypted",
		Example: `  breachctl outbox show .breachctl/outbox/INC-...eml.sealed
  breachctl outbox show --dir .breachctl/outbox`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.files = args
			if (len(args) == 0) == (o.dir == "") {
				return apperr.Invalidf("FILE", "give the files to show, or --dir")
			}
			keys, _, err := o.setup(g)
			if err != nil {
				return err
			}
			files := o.files
			if o.dir != "" {
				if files, err = outboxFiles(o.dir); err != nil {
					return err
				}
			}
			return showOutbox(g, keys, files)
		},
	}
	cmd.Flags().StringVar(&o.dir, "dir", "", "show every message in this outbox directory")
	return cmd
}

// setup reads the keys and the outbox directory from the configuration.
func (o *outboxOptions) setup(g *globals) (*seal.Keyring, string, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, "", err
	}
	dir := o.dir
	if dir == "" {
		dir = cfg.OutboxDir()
	}
	return cfg.Keys, dir, nil
}

// outboxFiles lists an outbox's messages, sealed or plain, by name.
func outboxFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, apperr.Wrap(apperr.NotFound, err, "read the outbox %s", dir)
	}
	var files []string
	for _, e := range entries {
		name := e.Name()
		if e.Type().IsRegular() && !strings.HasPrefix(name, ".") &&
			(strings.HasSuffix(name, ".eml") || strings.HasSuffix(name, ".eml"+mailer.SealedSuffix)) {
			files = append(files, filepath.Join(dir, name))
		}
	}
	slices.Sort(files)
	return files, nil
}

func readOutboxMessage(keys *seal.Keyring, path string) ([]byte, error) {
	msg, err := mailer.ReadOutboxFile(path, keys)
	if err != nil {
		var unknown *seal.UnknownKeyError
		if errors.As(err, &unknown) {
			return nil, apperr.Wrap(apperr.Invalid, err, "%s is encrypted: set BREACHCTL_ENCRYPTION_KEYS to the keys dev ran with", filepath.Base(path))
		}
		return nil, apperr.Wrap(apperr.Invalid, err, "read %s", path)
	}
	return msg, nil
}

func showOutbox(g *globals, keys *seal.Keyring, files []string) error {
	type shown struct {
		File    string `json:"file"`
		Message string `json:"message"`
	}
	var out []shown
	for i, f := range files {
		msg, err := readOutboxMessage(keys, f)
		if err != nil {
			return err
		}
		if g.json() {
			out = append(out, shown{File: f, Message: string(msg)})
			continue
		}
		if len(files) > 1 {
			if i > 0 {
				fmt.Fprintln(g.env.Stdout)
			}
			fmt.Fprintf(g.env.Stdout, "==> %s <==\n", f)
		}
		if _, err := g.env.Stdout.Write(msg); err != nil {
			return err
		}
	}
	if g.json() {
		if out == nil {
			out = []shown{}
		}
		return writeJSON(g.env.Stdout, out)
	}
	return nil
}

type outboxEntry struct {
	File    string `json:"file"`
	To      string `json:"to"`
	Subject string `json:"subject"`
	Date    string `json:"date"`
	Sealed  bool   `json:"sealed"`
}

func listOutbox(g *globals, keys *seal.Keyring, files []string) error {
	entries := []outboxEntry{}
	dec := new(mime.WordDecoder)
	for _, f := range files {
		msg, err := readOutboxMessage(keys, f)
		if err != nil {
			return err
		}
		m, err := mail.ReadMessage(bytes.NewReader(msg))
		if err != nil {
			return apperr.Wrap(apperr.Invalid, err, "%s is not a message", filepath.Base(f))
		}
		subject, err := dec.DecodeHeader(m.Header.Get("Subject"))
		if err != nil {
			subject = m.Header.Get("Subject")
		}
		// Names as a person reads them, not as MIME encodes them.
		to, err := dec.DecodeHeader(m.Header.Get("To"))
		if err != nil {
			to = m.Header.Get("To")
		}
		entries = append(entries, outboxEntry{File: filepath.Base(f), To: to, Subject: subject,
			Date: m.Header.Get("Date"), Sealed: strings.HasSuffix(f, mailer.SealedSuffix)})
	}
	if g.json() {
		return writeJSON(g.env.Stdout, entries)
	}
	t := newTable(g.env.Stdout)
	fmt.Fprintln(t, "FILE\tTO\tSUBJECT")
	for _, e := range entries {
		fmt.Fprintf(t, "%s\t%s\t%s\n", e.File, e.To, e.Subject)
	}
	return t.Flush()
}

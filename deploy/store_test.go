package deploy

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachctl/breachctl/internal/config"
	"github.com/breachctl/breachctl/internal/store"
	"github.com/breachctl/breachctl/internal/testpg"
)

// TestStoreInit runs postgres/init-store.sh, as the breachctl-database job
// does, against the machine's PostgreSQL, then opens the store as breachctl
// does from BREACHCTL_STORE and BREACHCTL_STORE_PASSWORD: the role may do
// what the store needs (migrate its own database) and nothing else, and the
// password it was given, with every character a URL trips on, is the one
// breachctl sends. The machine's server trusts local connections, so the
// password is checked against the role's SCRAM verifier instead of by
// logging in.
func TestStoreInit(t *testing.T) {
	if _, err := exec.LookPath("psql"); err != nil {
		t.Fatal("psql is not installed: the store's init job needs it (apt-get install postgresql-client)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := url.Parse(testpg.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		t.Fatalf("PostgreSQL at %s: %v", admin.Host, err)
	}
	defer conn.Close(ctx)

	var rnd [5]byte
	_, _ = rand.Read(rnd[:])
	suffix := hex.EncodeToString(rnd[:])
	role, db, other := "breachctl_store_"+suffix, "breachctl_store_"+suffix, "temporal_like_"+suffix
	exec1 := func(sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec1("CREATE DATABASE " + other)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin.String())
		if err != nil {
			t.Errorf("clean up: %v", err)
			return
		}
		defer conn.Close(ctx)
		for _, sql := range []string{"DROP DATABASE IF EXISTS " + db + " WITH (FORCE)", "DROP DATABASE IF EXISTS " + other + " WITH (FORCE)", "DROP ROLE IF EXISTS " + role} {
			if _, err := conn.Exec(ctx, sql); err != nil {
				t.Errorf("clean up: %s: %v", sql, err)
			}
		}
	})

	run := func(password string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, "sh", "postgres/init-store.sh")
		cmd.Env = append(os.Environ(), pgEnv(admin)...)
		cmd.Env = append(cmd.Env, "STORE_ROLE="+role, "STORE_DATABASE="+db, "STORE_PASSWORD="+password, "REVOKE_DATABASES="+other+" no_such_database")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("init-store.sh: %v\n%s", err, out)
		} else if strings.Contains(string(out), password) {
			t.Errorf("init-store.sh prints the password:\n%s", out)
		}
	}
	password := `p/a#s%w'o"r\d:@?&=+ ;$x`
	run(password)

	// Least privilege: a login role and nothing more, owner of its
	// database only, which PUBLIC may not enter; not even allowed into the
	// other databases named.
	var super, createDB, createRole, repl, bypass, login bool
	var verifier string
	if err := conn.QueryRow(ctx, `SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin, rolpassword
		FROM pg_authid WHERE rolname = $1`, role).Scan(&super, &createDB, &createRole, &repl, &bypass, &login, &verifier); err != nil {
		t.Fatal(err)
	}
	if super || createDB || createRole || repl || bypass || !login {
		t.Errorf("role %s: superuser %v createdb %v createrole %v replication %v bypassrls %v login %v; want login only",
			role, super, createDB, createRole, repl, bypass, login)
	}
	checkScram(t, verifier, password)
	var owner string
	var publicOnStore, canOther bool
	if err := conn.QueryRow(ctx, `SELECT pg_get_userbyid(datdba),
		EXISTS (SELECT FROM aclexplode(coalesce(datacl, acldefault('d', datdba))) WHERE grantee = 0),
		has_database_privilege($2, $3, 'CONNECT')
		FROM pg_database WHERE datname = $1`, db, role, other).Scan(&owner, &publicOnStore, &canOther); err != nil {
		t.Fatal(err)
	}
	if owner != role || publicOnStore || canOther {
		t.Errorf("database %s: owner %s (want %s), PUBLIC has rights %v, %s may connect to %s: %v", db, owner, role, publicOnStore, role, other, canOther)
	}

	// breachctl opens (and migrates) its store as that role, the password
	// given apart and escaped into the URL.
	storeURL := url.URL{Scheme: "postgres", User: url.User(role), Host: admin.Host, Path: "/" + db, RawQuery: "sslmode=disable"}
	cfg, err := config.Load(func(k string) string {
		return map[string]string{"BREACHCTL_STORE": storeURL.String(), "BREACHCTL_STORE_PASSWORD": password}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, cfg.StoreDSN())
	if err != nil {
		t.Fatalf("the store as %s: %v", role, err)
	}
	_ = st.Close()

	// An older stack's store, made as the superuser: its tables are handed
	// over, and a new password in .env takes effect on the next start.
	storeAdmin := *admin
	storeAdmin.Path = "/" + db
	ac, err := pgx.Connect(ctx, storeAdmin.String())
	if err != nil {
		t.Fatal(err)
	}
	_, err = ac.Exec(ctx, "CREATE TABLE legacy (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY)")
	ac.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	run("another#one")
	ac, err = pgx.Connect(ctx, storeAdmin.String())
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close(ctx)
	var notOwned int
	if err := ac.QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S', 'i') AND pg_get_userbyid(c.relowner) <> $1`, role).Scan(&notOwned); err != nil {
		t.Fatal(err)
	}
	if notOwned != 0 {
		t.Errorf("%d tables, sequences or indexes in %s are not owned by %s after a second run", notOwned, db, role)
	}
	if err := conn.QueryRow(ctx, `SELECT rolpassword FROM pg_authid WHERE rolname = $1`, role).Scan(&verifier); err != nil {
		t.Fatal(err)
	}
	checkScram(t, verifier, "another#one")
}

// pgEnv is the libpq environment for an admin URL.
func pgEnv(u *url.URL) []string {
	env := []string{"PGHOST=" + u.Hostname(), "PGUSER=" + u.User.Username(), "PGDATABASE=" + strings.TrimPrefix(u.Path, "/")}
	if p := u.Port(); p != "" {
		env = append(env, "PGPORT="+p)
	}
	if pw, ok := u.User.Password(); ok {
		env = append(env, "PGPASSWORD="+pw)
	}
	return env
}

// checkScram checks a PostgreSQL SCRAM-SHA-256 verifier
// ("SCRAM-SHA-256$iterations:salt$StoredKey:ServerKey", RFC 5802 and 7677)
// against a password: StoredKey = SHA-256(HMAC(SaltedPassword, "Client Key")).
// The passwords here are ASCII, which SASLprep leaves alone.
func checkScram(t *testing.T, verifier, password string) {
	t.Helper()
	var iter, salt, stored string
	if rest, ok := strings.CutPrefix(verifier, "SCRAM-SHA-256$"); ok {
		params, keys, _ := strings.Cut(rest, "$")
		iter, salt, _ = strings.Cut(params, ":")
		stored, _, _ = strings.Cut(keys, ":")
	}
	n, err := strconv.Atoi(iter)
	saltBytes, err2 := base64.StdEncoding.DecodeString(salt)
	storedBytes, err3 := base64.StdEncoding.DecodeString(stored)
	if err != nil || err2 != nil || err3 != nil {
		t.Fatalf("not a SCRAM-SHA-256 verifier: %.14s…", verifier)
	}
	salted, err := pbkdf2.Key(sha256.New, password, saltBytes, n, sha256.Size)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, salted)
	mac.Write([]byte("Client Key"))
	sum := sha256.Sum256(mac.Sum(nil))
	if !hmac.Equal(sum[:], storedBytes) {
		t.Errorf("the role's password is not %s", fmt.Sprintf("the %d-character one given", len(password)))
	}
}

package deploy

import (
	"bufio"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/breachctl/breachctl/internal/config"
)

// notPassed are variables internal/config reads that the compose file does
// not give breachctl's services, and why.
var notPassed = map[string]string{
	"BREACHCTL_ACTOR":     "who the CLI acts as: `docker compose exec -e BREACHCTL_ACTOR=...`",
	"BREACHCTL_DATA_DIR":  "`breachctl dev`'s data directory; the stack has a store, a config directory and no outbox by default",
	"BREACHCTL_RETENTION": "`breachctl dev`'s namespace; the namespace job reads it for the stack's",
	"SLACK_API_URL":       "tests",
	"BREACHCTL_HTTP_ADDR": "fixed for serve in the file (and in the image); the worker serves no HTTP",
}

// temporalConnection are the TEMPORAL_* variables beyond the address and
// namespace: only for a cluster elsewhere (compose.cloud.yaml).
var temporalConnection = []string{
	"TEMPORAL_API_KEY", "TEMPORAL_TLS", "TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH",
	"TEMPORAL_TLS_SERVER_CA_CERT_PATH", "TEMPORAL_TLS_SERVER_NAME",
}

// dotEnv is .env as a user makes it: env.example copied, then the given
// values set.
func dotEnv(t *testing.T, set map[string]string) []string {
	t.Helper()
	f, err := os.Open("env.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if name, value, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			vars[name] = value
		}
	}
	for k, v := range set {
		vars[k] = v
	}
	var env []string
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// load loads the compose files as `docker compose -f ... config` does, with
// only the given environment (neither the shell's nor a .env file).
func load(t *testing.T, env []string, files ...string) (*types.Project, error) {
	t.Helper()
	paths := []string{filepath.Join(repoRoot, "docker-compose.yml")}
	paths = append(paths, files...)
	opts, err := cli.NewProjectOptions(paths, cli.WithWorkingDirectory(repoRoot), cli.WithEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

func mustLoad(t *testing.T, env []string, files ...string) *types.Project {
	t.Helper()
	p, err := load(t, env, files...)
	if err != nil {
		var args strings.Builder
		for _, f := range files {
			args.WriteString(" -f deploy/" + f)
		}
		t.Fatalf("docker compose -f docker-compose.yml%s config: %v", args.String(), err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("no service %s (services: %v)", name, p.ServiceNames())
	}
	return s
}

func environ(s types.ServiceConfig) map[string]string {
	m := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			m[k] = *v
		}
	}
	return m
}

// serviceConfig is the configuration a breachctl service's process loads,
// as config.Load reads it from the container's environment.
func serviceConfig(t *testing.T, s types.ServiceConfig) config.Config {
	t.Helper()
	env := environ(s)
	// Load looks for the configuration directory: give it the one the
	// service mounts there, on this side.
	if dir := env["BREACHCTL_CONFIG_DIR"]; dir != "" {
		env["BREACHCTL_CONFIG_DIR"] = hostPath(t, s, dir)
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("%s: config.Load: %v", s.Name, err)
	}
	return cfg
}

// hostPath is the host directory a service mounts at target.
func hostPath(t *testing.T, s types.ServiceConfig, target string) string {
	t.Helper()
	for _, v := range s.Volumes {
		if v.Target == target {
			if v.Type != types.VolumeTypeBind {
				t.Fatalf("%s: %s is a %s, not a directory of this checkout", s.Name, target, v.Type)
			}
			return v.Source
		}
	}
	t.Fatalf("%s: nothing is mounted at %s", s.Name, target)
	return ""
}

func mount(s types.ServiceConfig, target string) (types.ServiceVolumeConfig, bool) {
	for _, v := range s.Volumes {
		if v.Target == target {
			return v, true
		}
	}
	return types.ServiceVolumeConfig{}, false
}

// checkPassThrough: a breachctl service gets every variable internal/config
// reads (but notPassed and skip), and no variable breachctl does not read.
func checkPassThrough(t *testing.T, s types.ServiceConfig, reads map[string][]string, skip []string) {
	t.Helper()
	env := environ(s)
	for _, name := range configReads(reads) {
		_, theirs := notOurs[name]
		if _, ok := notPassed[name]; ok || theirs || slices.Contains(skip, name) {
			continue
		}
		if _, ok := env[name]; !ok {
			t.Errorf("%s is not given %s, which breachctl reads (%s)", s.Name, name, strings.Join(reads[name], ", "))
		}
	}
	for name := range env {
		if _, ok := reads[name]; !ok {
			t.Errorf("%s is given %s, which breachctl never reads", s.Name, name)
		}
	}
}

// checkStore: the store URL the service ends up with points at a database
// of the project, as the role and database the init job makes, with its
// password, not as PostgreSQL's superuser.
func checkStore(t *testing.T, p *types.Project, s types.ServiceConfig, cfg config.Config) {
	t.Helper()
	pc, err := pgxpool.ParseConfig(cfg.StoreDSN())
	if err != nil {
		t.Fatalf("%s: the store URL does not parse: %v", s.Name, err)
	}
	cc := pc.ConnConfig
	if _, ok := p.Services[cc.Host]; !ok {
		t.Errorf("%s: the store is on %q, which is no service of the project (%v)", s.Name, cc.Host, p.ServiceNames())
	}
	job := environ(service(t, p, "breachctl-database"))
	if cc.User != job["STORE_ROLE"] || cc.Database != job["STORE_DATABASE"] || cc.Password != job["STORE_PASSWORD"] {
		t.Errorf("%s: the store is user %q database %q; the init job makes role %q database %q (and the passwords differ: %v)",
			s.Name, cc.User, cc.Database, job["STORE_ROLE"], job["STORE_DATABASE"], cc.Password != job["STORE_PASSWORD"])
	}
	if super := environ(service(t, p, "postgresql"))["POSTGRES_USER"]; cc.User == super {
		t.Errorf("%s: the store connects as %q, PostgreSQL's superuser", s.Name, super)
	}
	if dep, ok := s.DependsOn["breachctl-database"]; !ok || dep.Condition != types.ServiceConditionCompletedSuccessfully {
		t.Errorf("%s does not wait for breachctl-database to complete: %+v", s.Name, s.DependsOn)
	}
	if cfg.Store == "" || !strings.HasPrefix(cfg.StoreDSN(), "postgres://") {
		t.Errorf("%s: the store is %q, not the stack's PostgreSQL", s.Name, cfg.StoreDSN())
	}
}

// checkWorker: the worker's notices can go out, it mounts the configuration
// directory read-only, and compose waits longer than its stop timeout.
func checkWorker(t *testing.T, w types.ServiceConfig, cfg config.Config) {
	t.Helper()
	if err := cfg.CheckWorker(); err != nil {
		t.Errorf("the worker would refuse to start: %v", err)
	}
	if v, ok := mount(w, environ(w)["BREACHCTL_CONFIG_DIR"]); !ok || !v.ReadOnly {
		t.Errorf("the configuration directory is not mounted read-only: %+v", v)
	}
	if fi, err := os.Stat(cfg.ConfigDir); err != nil || !fi.IsDir() {
		t.Errorf("the configuration directory %s is not in the checkout: %v", cfg.ConfigDir, err)
	}
	if w.StopGracePeriod == nil || time.Duration(*w.StopGracePeriod) < cfg.WorkerStopTimeout+15*time.Second {
		t.Errorf("stop_grace_period %v: compose would kill the worker before its stop timeout (%s) and the recording after it",
			w.StopGracePeriod, cfg.WorkerStopTimeout)
	}
}

func TestComposeLocal(t *testing.T) {
	reads := envReads(t)
	p := mustLoad(t, dotEnv(t, map[string]string{"SENDGRID_API_KEY": "SG.key", "BREACHCTL_STORE_PASSWORD": "p/a#s%w:rd@x"}))
	for _, name := range []string{"postgresql", "temporal-schema", "temporal", "temporal-namespace", "temporal-ui",
		"breachctl-database", "breachctl-worker", "breachctl-serve"} {
		service(t, p, name)
	}
	worker, serve := service(t, p, "breachctl-worker"), service(t, p, "breachctl-serve")
	for _, s := range []types.ServiceConfig{worker, serve} {
		checkPassThrough(t, s, reads, temporalConnection)
		cfg := serviceConfig(t, s)
		if _, ok := p.Services[strings.Split(cfg.Temporal.Address, ":")[0]]; !ok {
			t.Errorf("%s: Temporal at %q, no service of the project", s.Name, cfg.Temporal.Address)
		}
		checkStore(t, p, s, cfg)
	}
	checkWorker(t, worker, serviceConfig(t, worker))

	// The store's job runs after Temporal's databases exist and closes them
	// to PUBLIC.
	job := service(t, p, "breachctl-database")
	if _, ok := job.DependsOn["temporal-schema"]; !ok {
		t.Errorf("breachctl-database does not wait for temporal-schema: %+v", job.DependsOn)
	}
	revoked := strings.Fields(environ(job)["REVOKE_DATABASES"])
	temporal := environ(service(t, p, "temporal"))
	for _, db := range []string{temporal["DBNAME"], temporal["VISIBILITY_DBNAME"]} {
		if !slices.Contains(revoked, db) {
			t.Errorf("breachctl-database leaves Temporal's database %q open to PUBLIC (REVOKE_DATABASES %v)", db, revoked)
		}
	}

	// The UI's pages call serve's codec endpoint at the address a browser
	// on this host reaches, from an origin serve allows, with the cookie.
	ui := service(t, p, "temporal-ui")
	uiEnv := environ(ui)
	u, err := url.Parse(uiEnv["TEMPORAL_CODEC_ENDPOINT"])
	if err != nil || u.Path != "/codec" {
		t.Fatalf("TEMPORAL_CODEC_ENDPOINT %q: want serve's /codec", uiEnv["TEMPORAL_CODEC_ENDPOINT"])
	}
	if !published(serve, u.Hostname(), u.Port()) {
		t.Errorf("TEMPORAL_CODEC_ENDPOINT %s: serve publishes no port there (%+v)", u, serve.Ports)
	}
	if uiEnv["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] != "true" {
		t.Error("the UI does not send the codec sign-in cookie (TEMPORAL_CODEC_INCLUDE_CREDENTIALS)")
	}
	// A failed decode (most often: not signed in) says so and links to the
	// same endpoint's sign-in page, not "Codec Server could not connect".
	if link := uiEnv["TEMPORAL_CODEC_DEFAULT_ERROR_LINK"]; link != u.String()+"/login" {
		t.Errorf("TEMPORAL_CODEC_DEFAULT_ERROR_LINK %q, want %s/login", link, u)
	}
	if msg := uiEnv["TEMPORAL_CODEC_DEFAULT_ERROR_MESSAGE"]; !strings.Contains(msg, "sign in") {
		t.Errorf("TEMPORAL_CODEC_DEFAULT_ERROR_MESSAGE %q does not say to sign in", msg)
	}
	origins := serviceConfig(t, serve).Codec.CORSOrigins
	for _, port := range ui.Ports {
		origin := "http://" + port.HostIP + ":" + port.Published
		if !slices.Contains(origins, origin) {
			t.Errorf("serve does not let the UI's origin %s call the codec endpoint (%v)", origin, origins)
		}
	}
	if len(ui.Ports) == 0 {
		t.Error("the UI publishes no port")
	}

	// Without a SendGrid key the worker refuses to start (an outbox is
	// for dev) unless the outbox override gives it one on a volume.
	noKey := mustLoad(t, dotEnv(t, nil))
	if err := serviceConfig(t, service(t, noKey, "breachctl-worker")).CheckWorker(); err == nil {
		t.Error("with no SENDGRID_API_KEY the worker would start and write an outbox nobody reads")
	}
	withOutbox := mustLoad(t, dotEnv(t, nil), "compose.outbox.yaml")
	ow := service(t, withOutbox, "breachctl-worker")
	ocfg := serviceConfig(t, ow)
	if err := ocfg.CheckWorker(); err != nil {
		t.Errorf("with compose.outbox.yaml: %v", err)
	}
	if v, ok := mount(ow, ocfg.OutboxDir()); !ok || v.ReadOnly || v.Type != types.VolumeTypeVolume {
		t.Errorf("the outbox %s is not on a writable volume: %+v", ocfg.OutboxDir(), v)
	}
	// A new named volume takes the ownership of the image's directory:
	// the image must have it, owned by the containers' user.
	dockerfile, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	owned := false
	for _, line := range strings.Split(string(dockerfile), "\n") {
		f := strings.Fields(line)
		if len(f) == 5 && f[0] == "COPY" && f[2] == "--chown=65532:65532" && strings.HasSuffix(f[3], "/") &&
			filepath.Join(f[4], filepath.Base(ocfg.OutboxDir())) == ocfg.OutboxDir() {
			owned = true
		}
	}
	if !owned {
		t.Errorf("the Dockerfile makes no %s owned by uid 65532 for the outbox volume", ocfg.OutboxDir())
	}
}

func published(s types.ServiceConfig, host, port string) bool {
	return slices.ContainsFunc(s.Ports, func(p types.ServicePortConfig) bool { return p.HostIP == host && p.Published == port })
}

func TestComposeCloud(t *testing.T) {
	reads := envReads(t)
	env := dotEnv(t, map[string]string{
		"SENDGRID_API_KEY":   "SG.key",
		"TEMPORAL_ADDRESS":   "ns.acct.tmprl.cloud:7233",
		"TEMPORAL_NAMESPACE": "ns.acct",
		"TEMPORAL_API_KEY":   "key",
	})
	p := mustLoad(t, env, "compose.cloud.yaml")
	got := p.ServiceNames()
	slices.Sort(got)
	if want := []string{"breachctl-database", "breachctl-serve", "breachctl-worker", "postgresql"}; !slices.Equal(got, want) {
		t.Errorf("services %v, want %v: the stack's Temporal stays off, the store's database on", got, want)
	}
	worker := service(t, p, "breachctl-worker")
	for _, s := range []types.ServiceConfig{worker, service(t, p, "breachctl-serve")} {
		checkPassThrough(t, s, reads, nil)
		cfg := serviceConfig(t, s)
		if cfg.Temporal.Address != "ns.acct.tmprl.cloud:7233" || cfg.Temporal.Namespace != "ns.acct" || !cfg.Temporal.UsesTLS() {
			t.Errorf("%s: Temporal %+v, want the cluster from the environment over TLS", s.Name, cfg.Temporal)
		}
		checkStore(t, p, s, cfg)
		if v, ok := mount(s, "/etc/breachctl/tls"); !ok || !v.ReadOnly {
			t.Errorf("%s: deploy/tls is not mounted read-only: %+v", s.Name, v)
		}
	}
	checkWorker(t, worker, serviceConfig(t, worker))

	_, err := load(t, dotEnv(t, nil), "compose.cloud.yaml")
	if err == nil || !strings.Contains(err.Error(), "TEMPORAL_ADDRESS") {
		t.Errorf("without TEMPORAL_ADDRESS: %v; want compose to say it must be set", err)
	}
}

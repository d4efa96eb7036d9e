package devserver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/breachctl/breachctl/internal/perm"
)

// Defaults for Options.
const (
	DefaultIP        = "127.0.0.1"
	DefaultRetention = 30 * 24 * time.Hour
	// MinRetention is the server's minimum retention for a local namespace
	// (system.namespaceMinRetentionLocal).
	MinRetention = time.Hour
)

const (
	clusterName   = "active"
	dataStoreName = "sqlite-default"
)

// Options configures Start.
type Options struct {
	// DataDir holds temporal.db (with its WAL files) and server-version.json.
	// It is created (0700) if missing.
	DataDir string
	// Namespace is created on every boot if it does not exist.
	Namespace string
	// Retention is the namespace's workflow-execution retention, enforced on
	// every boot. Zero means DefaultRetention; less than MinRetention is an error.
	Retention time.Duration
	// IP is the bind address of every listener. Default DefaultIP.
	IP string
	// FrontendPort is the gRPC frontend port; 0 picks a free port.
	FrontendPort int
	// HTTPPort is the frontend's HTTP API port; 0 picks a free port.
	HTTPPort int
	// UIPort is the Web UI port; 0 picks a free port, -1 disables the UI.
	UIPort int
	// CodecEndpoint is the payload codec the UI's browser pages call to
	// show encrypted payloads decrypted ("http://127.0.0.1:8080/codec"),
	// with the browser's cookies (the endpoint's sign-in); "" for none.
	CodecEndpoint string
	// SearchAttributes are the namespace's custom search attributes,
	// registered on every boot. An attribute that exists with another type is
	// an error.
	SearchAttributes map[string]enumspb.IndexedValueType
	// Logger receives the server's logs. Nil discards them.
	Logger *slog.Logger
	// LogLevel is the lowest level passed to Logger. Nil means slog.LevelWarn,
	// which keeps `breachctl dev` quiet.
	LogLevel slog.Leveler
}

// Server is a running embedded Temporal server.
type Server struct {
	namespace    string
	dbPath       string
	frontendAddr string
	httpAddr     string
	uiAddr       string

	temporal temporal.Server
	logger   serverLogger
	ui       *uiServer

	stopOnce sync.Once
	stopErr  error
}

// FrontendAddress is the host:port of the gRPC frontend, e.g. "127.0.0.1:7233".
func (s *Server) FrontendAddress() string { return s.frontendAddr }

// HTTPAddress is the host:port of the frontend's HTTP API.
func (s *Server) HTTPAddress() string { return s.httpAddr }

// UIAddress is the Web UI's URL, e.g. "http://127.0.0.1:8233", or "" when
// the UI is disabled.
func (s *Server) UIAddress() string { return s.uiAddr }

// Namespace is the namespace Start registered.
func (s *Server) Namespace() string { return s.namespace }

// DBPath is the path of the SQLite database file.
func (s *Server) DBPath() string { return s.dbPath }

// Stop stops the Web UI, then the server. It is safe to call more than once;
// later calls return the first call's result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if s.ui != nil {
			s.ui.stop()
		}
		s.logger.mute()
		if err := s.temporal.Stop(); err != nil {
			s.stopErr = fmt.Errorf("stop temporal server: %w", err)
		}
	})
	return s.stopErr
}

// Start boots the server on opts.DataDir and returns once the frontend
// answers, the namespace has the requested retention and search attributes,
// and the UI (if any) serves. ctx bounds that wait; the server outlives ctx
// until Stop.
//
// Start returns a *VersionMismatchError when DataDir holds a database made by
// another server or schema version, and a *PortInUseError when a requested
// port is taken.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	logger := discardLogger()
	if opts.Logger != nil {
		logger = slog.New(levelFilter{min: opts.LogLevel, h: opts.Logger.Handler()})
	}

	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	// The path goes into a SQLite URI ("file:<path>?<params>") unescaped.
	if strings.ContainsAny(dataDir, "?#%") {
		return nil, fmt.Errorf("data dir %q: the path must not contain '?', '#' or '%%'", dataDir)
	}
	// The directory and the database hold incident text (in the clear when
	// encryption is off): only their owner may read them, whatever the
	// umask, and whatever an older release left (logged when changed).
	dirFixed, err := perm.PrivateDir(dataDir)
	if err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	dbPath := filepath.Join(dataDir, DBFileName)
	markerPath := filepath.Join(dataDir, MarkerFileName)
	// An empty file is what a start cut off before the schema left: new.
	dbExists, err := nonEmptyFile(dbPath)
	if err != nil {
		return nil, err
	}
	filesFixed, err := perm.PrivateFiles(append(perm.SQLite(dbPath), markerPath)...)
	if err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if dirFixed != nil {
		filesFixed = append([]perm.Fixed{*dirFixed}, filesFixed...)
	}
	for _, f := range filesFixed {
		logger.Warn("made private what other users could read", "path", f.Path, "was", fmt.Sprintf("%04o", f.Was))
	}
	if dbExists {
		if err := checkMarker(dbPath, markerPath); err != nil {
			return nil, err
		}
	}

	// Ports: the three the user sees first, so that a busy one is reported
	// by the number the user asked for; then the internal services'.
	ports := struct{ frontend, http, ui, history, matching, worker int }{
		frontend: opts.FrontendPort, http: opts.HTTPPort, ui: opts.UIPort,
	}
	reqs := []portRequest{
		{"frontend gRPC", &ports.frontend},
		{"frontend HTTP", &ports.http},
	}
	if opts.UIPort >= 0 {
		reqs = append(reqs, portRequest{"Web UI", &ports.ui})
	}
	reqs = append(reqs,
		portRequest{"history", &ports.history},
		portRequest{"matching", &ports.matching},
		portRequest{"worker", &ports.worker})
	if err := reservePorts(opts.IP, reqs); err != nil {
		return nil, err
	}
	hostPort := func(port int) string { return net.JoinHostPort(opts.IP, strconv.Itoa(port)) }

	sqlCfg := &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: dbPath,
		ConnectAttributes: map[string]string{
			"mode":         "rwc",
			"journal_mode": "wal",
			"synchronous":  "2", // FULL: a committed transaction survives power loss
		},
	}
	if !dbExists {
		// Made 0600 before SQLite opens it, so the -wal and -shm files
		// SQLite makes beside it take the same mode.
		if err := perm.CreatePrivate(dbPath); err != nil {
			return nil, fmt.Errorf("create %s: %w", dbPath, err)
		}
		if err := sqliteschema.SetupSchema(sqlCfg); err != nil {
			return nil, fmt.Errorf("create schema in %s: %w", dbPath, err)
		}
		if err := writeMarker(markerPath, time.Now()); err != nil {
			return nil, err
		}
	}
	nsCfg, err := sqliteschema.NewNamespaceConfig(clusterName, opts.Namespace, false, opts.SearchAttributes)
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", opts.Namespace, err)
	}
	// Used only when the namespace is new; an existing one is updated below.
	nsCfg.Detail.Config.Retention = durationpb.New(opts.Retention)
	if err := sqliteschema.CreateNamespaces(sqlCfg, nsCfg); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", opts.Namespace, err)
	}

	s := &Server{
		logger:       newServerLogger(logger),
		namespace:    opts.Namespace,
		dbPath:       dbPath,
		frontendAddr: hostPort(ports.frontend),
		httpAddr:     hostPort(ports.http),
	}
	cfg := serverConfig(opts.IP, sqlCfg, s.frontendAddr, s.httpAddr, ports.frontend, ports.http,
		ports.history, ports.matching, ports.worker)
	hosts := map[primitives.ServiceName]static.Hosts{
		primitives.FrontendService: static.SingleLocalHost(s.frontendAddr),
		primitives.HistoryService:  static.SingleLocalHost(hostPort(ports.history)),
		primitives.MatchingService: static.SingleLocalHost(hostPort(ports.matching)),
		primitives.WorkerService:   static.SingleLocalHost(hostPort(ports.worker)),
	}
	srv, err := startTemporal(
		temporal.WithConfig(cfg),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(s.logger),
		temporal.WithDynamicConfigClient(dynamicConfig()),
	)
	if err != nil {
		return nil, err
	}
	s.temporal = srv

	if err := configureNamespace(ctx, s.frontendAddr, opts, logger); err != nil {
		_ = s.Stop()
		return nil, err
	}

	if opts.UIPort >= 0 {
		s.ui, err = startUI(ctx, opts.IP, ports.ui, s.frontendAddr, opts.Namespace, opts.CodecEndpoint)
		if err != nil {
			_ = s.Stop()
			return nil, err
		}
		s.uiAddr = "http://" + hostPort(ports.ui)
	}
	return s, nil
}

func (o Options) withDefaults() (Options, error) {
	if o.DataDir == "" {
		return o, errors.New("data dir is required")
	}
	if o.Namespace == "" {
		return o, errors.New("namespace is required")
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.Retention < MinRetention {
		return o, fmt.Errorf("retention %s is below the server's minimum of %s", o.Retention, MinRetention)
	}
	if o.IP == "" {
		o.IP = DefaultIP
	}
	if o.UIPort < -1 {
		return o, fmt.Errorf("UI port %d: use -1 to disable the UI, 0 for a free port", o.UIPort)
	}
	if o.FrontendPort < 0 || o.HTTPPort < 0 {
		return o, errors.New("frontend and HTTP ports must be 0 (free port) or positive")
	}
	if o.LogLevel == nil {
		o.LogLevel = slog.LevelWarn
	}
	return o, nil
}

// startTemporal builds and starts the server. The server reports some start-up
// failures (a port taken since reservePorts, for one) through Logger.Fatal;
// serverLogger panics with a *fatalError there, which this turns into an error.
func startTemporal(opts ...temporal.ServerOption) (srv temporal.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			fe, ok := r.(*fatalError)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("start temporal server: %w", fe)
		}
	}()
	srv, err = temporal.NewServer(opts...)
	if err != nil {
		return nil, fmt.Errorf("create temporal server: %w", err)
	}
	// On failure, Start has already stopped what it started.
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("start temporal server: %w", err)
	}
	return srv, nil
}

// serverConfig is a single-node cluster: four services on their own ports of
// ip, SQLite for persistence and visibility, no archival.
func serverConfig(ip string, sqlCfg *config.SQL, frontendAddr, httpAddr string,
	frontendPort, httpPort, historyPort, matchingPort, workerPort int,
) *config.Config {
	rpc := func(grpcPort int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: grpcPort, BindOnIP: ip}}
	}
	frontend := rpc(frontendPort)
	frontend.RPC.HTTPPort = httpPort
	return &config.Config{
		Global: config.Global{
			Membership: config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: ip},
		},
		Persistence: config.Persistence{
			DefaultStore:     dataStoreName,
			VisibilityStore:  dataStoreName,
			NumHistoryShards: 1,
			DataStores:       map[string]config.DataStore{dataStoreName: {SQL: sqlCfg}},
		},
		ClusterMetadata: &cluster.Config{
			EnableGlobalNamespace:    false,
			FailoverVersionIncrement: 10,
			MasterClusterName:        clusterName,
			CurrentClusterName:       clusterName,
			ClusterInformation: map[string]cluster.ClusterInformation{
				clusterName: {
					Enabled:                true,
					InitialFailoverVersion: 1,
					RPCAddress:             frontendAddr,
					HTTPAddress:            httpAddr,
				},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services: map[string]config.Service{
			string(primitives.FrontendService): frontend,
			string(primitives.HistoryService):  rpc(historyPort),
			string(primitives.MatchingService): rpc(matchingPort),
			string(primitives.WorkerService):   rpc(workerPort),
		},
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{
			Archival: config.ArchivalNamespaceDefaults{
				History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
				Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
			},
		},
		// The server's own worker (system workflows) dials the frontend here;
		// the server panics at start-up without it.
		PublicClient: config.PublicClient{HostPort: frontendAddr},
	}
}

// dynamicConfig holds the settings of a responsive single-node dev server,
// the ones the Temporal CLI's dev server uses.
func dynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		// Not forceSearchAttributesCacheRefreshOnRead, which the CLI's dev
		// server sets: it re-reads cluster metadata for every row a list
		// returns (1,000 open incidents: 350 ms a list instead of 150). With SQL
		// visibility the custom attributes are fixed columns mapped per
		// namespace, which that cache does not hold.
		dynamicconfig.ForceNexusEndpointRefreshOnRead.Key(): true,
		// The defaults are sized for a shared database behind many hosts.
		dynamicconfig.FrontendPersistenceMaxQPS.Key(): 10000,
		dynamicconfig.HistoryPersistenceMaxQPS.Key():  45000,
		// One host: a smaller history cache than a cluster node's.
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): 8096,
		// The UI lists and counts workflows often.
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
		// One page for thousands of incidents: SQL visibility sorts every
		// matching row for each page, so fewer, larger pages list faster.
		dynamicconfig.FrontendVisibilityMaxPageSize.Key(): 10000,

		// One matching host needs no task-queue partitions. With the default
		// four, matching's own calls to load child partitions hold up its
		// graceful stop for 2 s. Never raise the write partitions above the
		// read partitions, or tasks in the extra partitions go unread.
		dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():  1,
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): 1,

		// The worker service never stops the SDK workers of its scanners and
		// of the parent-close-policy processor (server v1.32.1,
		// service/worker/scanner/scanner.go: "Nothing is gracefully stopping
		// these workers"); after Stop they would poll the old frontend
		// address for the life of the process. Without the processor,
		// history applies parent close policies itself. The scanners only
		// tidy task queues and history branches, which a dev database can
		// do without.
		dynamicconfig.EnableParentClosePolicyWorker.Key(): false,
		dynamicconfig.TaskQueueScannerEnabled.Key():       false,
		dynamicconfig.HistoryScannerEnabled.Key():         false,
	}
}

func nonEmptyFile(path string) (bool, error) {
	fi, err := os.Stat(path)
	switch {
	case err == nil:
		return fi.Size() > 0, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("stat %s: %w", path, err)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

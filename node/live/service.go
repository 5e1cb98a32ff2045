package live

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/netutil"

	"dagger/node"
	"dagger/node/live/api"
	"dagger/node/live/keyfile"
	"dagger/node/live/metrics"
	"dagger/node/live/store"
	"dagger/node/payment"
	"dagger/node/tx"
	"dagger/provision"
	"dagger/transport"
	"dagger/transport/p2p"
)

// OpenOptions are what a config file does not say.
type OpenOptions struct {
	// Rejoin: the node lost its store (see node.LedgerConfig.Rejoin).
	Rejoin  bool
	Logger  *slog.Logger
	Version string
}

// Service is a running node: the runtime plus what it owns — the store,
// libp2p, the host's provisioner, the payment chain and the HTTP server.
type Service struct {
	log   *slog.Logger
	rt    *Runtime
	db    *store.DB
	host  *p2p.Host
	lv    *provision.Libvirt
	fwd   *provision.Forwarder // publishes the VMs' SSH ports, with [provision] advertise
	prov  *provision.Async
	chain *payment.AsyncChain
	srv   *http.Server
	ln    net.Listener
	// httpErr receives the HTTP server's failure.
	httpErr chan error
}

// NewLogger builds the structured logger a config asks for.
func NewLogger(c LogSection, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("log.level %q: %v", c.Level, err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// Open starts a node from its config: it opens the store (a store that
// cannot be read stops it here, never a silent fresh start), replays it,
// joins the network, and serves the API. Close undoes it.
func Open(cfg *Config, o OpenOptions) (s *Service, err error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	key, err := keyfile.Load(cfg.Path(cfg.Node.Key))
	if err != nil {
		return nil, err
	}
	gen, err := LoadGenesis(cfg.Path(cfg.Node.Genesis))
	if err != nil {
		return nil, err
	}
	svc := &Service{log: log, httpErr: make(chan error, 1)}
	s = svc
	defer func() {
		if err != nil {
			svc.Close() // s is nil by now: "return nil, err" set it
			s = nil
		}
	}()
	pub := key.Public().(ed25519.PublicKey)
	dataDir := cfg.Path(cfg.Node.DataDir)
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if s.db, err = store.Open(dataDir, store.Options{Backend: cfg.Store.Backend, Key: pub, Logger: log}); err != nil {
		return nil, err
	}
	nodeID, err := p2p.PeerIDOf(pub)
	if err != nil {
		return nil, err
	}
	ncfg := nodeConfig(cfg, o.Rejoin)
	var self tx.Key
	copy(self[:], pub)
	if cfg.Provision.Driver == "libvirt" {
		capacity, err := hostCapacity(cfg, gen, self)
		if err != nil {
			return nil, err
		}
		lcfg := provision.LibvirtConfig{URI: cfg.Provision.URI, Socket: cfg.Provision.Socket,
			Prefix: cfg.Provision.DomainPrefix, Capacity: capacity, Pool: cfg.Provision.Pool,
			ImageDir: cfg.Provision.ImageDir, Images: cfg.Provision.Images, Network: cfg.Provision.Network, SeedDir: cfg.Provision.SeedDir}
		if err := checkImages(cfg.Provision); err != nil {
			return nil, err
		}
		if cfg.Provision.Advertise != "" {
			publish, err := newPublisher(cfg.Provision, log)
			if err != nil {
				return nil, err
			}
			lcfg.Publish, s.fwd = publish, publish.Forwarder
		}
		lv, err := provision.NewLibvirt(lcfg)
		if err != nil {
			if s.fwd != nil {
				s.fwd.Close()
			}
			return nil, fmt.Errorf("libvirt: %w", err)
		}
		if s.prov, err = provision.NewAsync(lv, provision.AsyncConfig{}); err != nil {
			lv.Close()
			if s.fwd != nil {
				s.fwd.Close()
			}
			return nil, fmt.Errorf("libvirt: %w", err)
		}
		s.lv = lv
		ncfg.Provisioner = s.prov
	}
	if cfg.Solana.RPC != "" {
		rpc, err := payment.NewRPC(payment.RPCConfig{Endpoint: cfg.Solana.RPC, Commitment: cfg.Solana.Commitment})
		if err != nil {
			return nil, fmt.Errorf("solana: %w", err)
		}
		s.chain = payment.NewAsyncChain(rpc, payment.AsyncConfig{})
		ncfg.Chain = s.chain
	} else {
		log.Warn("solana.rpc is empty: payments are checked offline and never confirmed on chain; use this only on test clusters")
	}
	m := metrics.New()
	opt := Options{Key: key, Genesis: gen.Cluster, Store: s.db, Node: ncfg, Logger: log, Metrics: m, Version: o.Version, NodeID: string(nodeID),
		CheckWorkers: cfg.Node.CheckWorkers}
	if s.prov != nil {
		opt.Provision = asyncCounters{s.prov}
	}
	if s.chain != nil {
		opt.Payments = s.chain
	}
	s.rt = New(opt)
	var peers []string
	for _, op := range gen.Cluster.Operators {
		if id := transport.PeerID(op.PeerID); id != nodeID {
			peers = append(peers, gen.Addrs[id]...)
		}
	}
	peers = append(peers, cfg.P2P.Peers...)
	if s.host, err = p2p.New(p2p.Config{Key: key, Listen: cfg.P2P.Listen, Peers: peers, Logger: log}, s.rt.Deliver); err != nil {
		return nil, fmt.Errorf("p2p: %w", err)
	}
	m.Registry().MustRegister(refusalCounters(s.host)...)
	if err := s.rt.Start(hostTransport{s.host}); err != nil {
		return nil, err
	}
	if s.ln, err = net.Listen("tcp", cfg.API.Listen); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	s.serveAPI(cfg.API, m, o.Version)
	log.Info("serving", "api", "http://"+s.ln.Addr().String(), "metrics", "http://"+s.ln.Addr().String()+"/metrics", "p2p", s.host.Addrs())
	return s, nil
}

// serveAPI serves the API and /metrics on s.ln, holding at most
// api.max_connections (see apiConnections) of its connections at a time;
// the server's failure goes to s.httpErr.
func (s *Service) serveAPI(c APISection, m *metrics.Metrics, version string) {
	s.ln = netutil.LimitListener(s.ln, apiConnections(c.MaxConnections))
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dagger_api_opaque_refused_total",
		Help: "Application transactions POST /v1/opaque turned away, by reason: busy (the queue is full: slow down), rejected, malformed, too_large, rate_limited, disabled, unavailable."},
		[]string{"reason"})
	m.Registry().MustRegister(refused)
	handler := api.NewServer(s.rt, api.Options{Logger: s.log, MaxBodyBytes: c.MaxBodyBytes, Version: version, Metrics: m.Handler(),
		ClientRate: c.ClientRate, LoopbackOnly: loopbackOnly(s.ln.Addr()),
		Opaque: c.Opaque, OpaqueRefused: func(reason string, n int) { refused.WithLabelValues(reason).Add(float64(n)) }})
	if c.Pprof {
		handler = withPprof(handler)
	}
	// Every response is bounded in time: a waiting submission takes at
	// most api.DefaultMaxWait, a snapshot download sets its own deadline.
	s.srv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: api.DefaultMaxWait + time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	go func() { s.httpErr <- s.srv.Serve(s.ln) }()
}

// withPprof serves Go's profiles under /debug/pprof/ beside api.
func withPprof(api http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/", api)
	return mux
}

// loopbackOnly says whether the API listens on a loopback address only.
func loopbackOnly(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// apiConnections is the API's connection cap: the configured one, or a
// quarter of the process's descriptor limit, at most
// DefaultMaxAPIConnections, at least 16.
func apiConnections(configured int) int {
	if configured > 0 {
		return configured
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return DefaultMaxAPIConnections
	}
	return int(max(16, min(DefaultMaxAPIConnections, lim.Cur/4)))
}

// hostCapacity is what this operator's host offers: its entry in the
// genesis file, or for an operator that joined later, the member.json next
// to the config (what it asked to join with).
func hostCapacity(cfg *Config, g Genesis, self tx.Key) (provision.Capacity, error) {
	for _, op := range g.Cluster.Operators {
		if op.Key == self {
			return provision.Capacity{VCPU: op.Capacity.VCPU, MemoryMiB: op.Capacity.MemoryMiB, DiskGiB: op.Capacity.DiskGiB}, nil
		}
	}
	path := cfg.Path("member.json")
	m, err := LoadMember(path)
	if err != nil {
		return provision.Capacity{}, fmt.Errorf("provision.driver is libvirt, this operator is not in the genesis file, "+
			"and its capacity cannot be read from %s (written by 'dagger node init'): %w", path, err)
	}
	if k, err := tx.ParseKey(m.Key); err != nil || k != self {
		return provision.Capacity{}, fmt.Errorf("provision.driver is libvirt and this operator is not in the genesis file; "+
			"%s describes operator %s, not this node's key %s", path, m.Key, self)
	}
	return provision.Capacity{VCPU: m.Capacity.VCPU, MemoryMiB: m.Capacity.MemoryMiB, DiskGiB: m.Capacity.DiskGiB}, nil
}

// APIAddr is the address the API listens on.
func (s *Service) APIAddr() string { return s.ln.Addr().String() }

// Runtime returns the node's runtime.
func (s *Service) Runtime() *Runtime { return s.rt }

// Wait returns nil when ctx is done (a signal), or the error that stopped
// the node: a fault, or the HTTP server failing.
func (s *Service) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case <-s.rt.Done():
		return s.rt.Fault()
	case err := <-s.httpErr:
		return fmt.Errorf("api: %w", err)
	}
}

// Close stops the node cleanly: the API stops taking requests, the loop
// stops, then the network, the host's worker and the store close. It is
// safe on a partly opened service.
func (s *Service) Close() error {
	var errs []error
	if s.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("api: %w", err))
		}
		cancel()
	}
	if s.rt != nil && s.rt.nd != nil {
		s.rt.Close()
	}
	if s.host != nil {
		if err := s.host.Close(); err != nil {
			errs = append(errs, fmt.Errorf("p2p: %w", err))
		}
	}
	if s.prov != nil {
		s.prov.Close()
	}
	if s.lv != nil {
		s.lv.Close()
	}
	if s.fwd != nil {
		s.fwd.Close()
	}
	if s.chain != nil {
		s.chain.Close()
	}
	if s.db != nil {
		if err := s.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("store: %w", err))
		}
	}
	return errors.Join(errs...)
}

// hostTransport adapts *p2p.Host to the runtime's Transport.
type hostTransport struct{ *p2p.Host }

func (h hostTransport) SetAllowed(members, pending []transport.PeerID) {
	h.Host.SetAllowed(members)
	h.Host.SetPending(pending)
}

func (h hostTransport) Counters() (received, sent, dropped uint64) {
	st := h.Host.Stats()
	return st.BytesIn, st.BytesOut, st.Dropped
}

// refusalCounters export the host's counts of connections closed before
// they became an allowed peer's, read at each scrape.
func refusalCounters(h *p2p.Host) []prometheus.Collector {
	counter := func(name, help string, v func(p2p.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v(h.Stats())) })
	}
	return []prometheus.Collector{
		counter("dagger_network_handshakes_refused_total", "Inbound connections closed on arrival because their source, or all sources, had too many unfinished handshakes.",
			func(s p2p.Stats) uint64 { return s.HandshakesRefused }),
		counter("dagger_network_handshakes_timed_out_total", "Inbound connections closed because their handshake took too long.",
			func(s p2p.Stats) uint64 { return s.HandshakesTimedOut }),
		counter("dagger_network_peers_refused_total", "Connections closed after the handshake because the peer is not allowed.",
			func(s p2p.Stats) uint64 { return s.PeersRefused }),
	}
}

// asyncCounters reads the provisioner's counts for metrics.
type asyncCounters struct{ *provision.Async }

func (a asyncCounters) Counters() (ops, fails map[string]uint64) {
	st := a.Stats()
	ops, fails = map[string]uint64{}, map[string]uint64{}
	for name, o := range map[string]provision.OpStats{"define": st.Define, "start": st.Start, "stop": st.Stop, "destroy": st.Destroy} {
		ops[name], fails[name] = o.Calls, o.Failures
	}
	return ops, fails
}

// newPublisher makes the forwarder that publishes running VMs at the
// host's advertised address, and checks now that nftables can be used, so
// that a node that cannot reach its VMs says so at its start.
func newPublisher(p ProvisionSection, log *slog.Logger) (*provision.PublishConfig, error) {
	lo, hi, err := p.forwardPorts()
	if err != nil {
		return nil, err
	}
	f, err := provision.NewForwarder(provision.ForwarderConfig{Table: p.ForwardTable, PortMin: lo, PortMax: hi, NetNS: p.ForwardNetNS})
	if err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	if _, err := f.Published(); err != nil {
		f.Close()
		return nil, fmt.Errorf("provision.advertise is set, but the node cannot forward ports to its VMs: %w", err)
	}
	onError := func(err error) {
		if err != nil {
			log.Warn("some running VMs are not reachable: their ports are not forwarded", "err", err)
		} else {
			log.Info("every running VM is reachable again")
		}
	}
	return &provision.PublishConfig{Advertise: p.Advertise, Forwarder: f, OnError: onError}, nil
}

// checkImages makes sure every image the host says it offers is there.
func checkImages(p ProvisionSection) error {
	for _, name := range p.Images {
		path := filepath.Join(p.ImageDir, name+".qcow2")
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("provision.images offers %q, but %s cannot be read: %w", name, path, err)
		}
	}
	return nil
}

// nodeConfig is the part of the node's configuration the config file
// sets.
func nodeConfig(cfg *Config, rejoin bool) node.Config {
	ncfg := node.Config{AutoApprove: cfg.Node.AutoApprove, KeepEpochs: cfg.Store.KeepEpochs}
	ncfg.Ledger.LeaderTimeout = cfg.Node.LeaderTimeout.Duration
	ncfg.Ledger.MinRoundInterval = cfg.Node.MinRoundInterval.Duration
	ncfg.Ledger.Rejoin = rejoin
	ncfg.Ledger.MaxEventTxBytes = cfg.Node.MaxEventTxBytes
	ncfg.Ledger.MaxQueueBytes = cfg.Node.MaxQueueBytes
	return ncfg
}

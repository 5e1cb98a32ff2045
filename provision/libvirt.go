package provision

import (
	"crypto/sha256"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
	"libvirt.org/go/libvirtxml"
)

// Defaults of LibvirtConfig.
const (
	DefaultLibvirtURI    = "qemu:///system"
	DefaultLibvirtSocket = "/var/run/libvirt/libvirt-sock"
	DefaultDomainPrefix  = "dagger-"
	DefaultStoragePool   = "default"
	DefaultImageDir      = "/var/lib/dagger/images"
	DefaultSeedDir       = "/var/lib/dagger/seeds"
	DefaultNetwork       = "default"
	DefaultDialTimeout   = 5 * time.Second
)

// MetadataNamespace names the element in a domain's <metadata> that holds
// the VM's Spec; a restarted node reads it back to adopt its domains.
const MetadataNamespace = "urn:dagger:vm:1"

// maxMetadataBytes bounds what the metadata decoder reads: the largest Spec
// with XML escaping of every byte of its strings stays well below it.
const maxMetadataBytes = 64 << 10

// LibvirtConfig configures a libvirt host. The zero value of each field but
// Capacity takes its default.
type LibvirtConfig struct {
	// URI is the driver the daemon opens: qemu:///system in production,
	// test:///default for tests. It names no transport: the daemon is
	// reached through Socket.
	URI string
	// Socket is the daemon's unix socket.
	Socket string
	// DialTimeout bounds a connection attempt, so that a call while the
	// daemon is away fails rather than hangs.
	DialTimeout time.Duration
	// Capacity is what the operator offers the cluster on this host; the
	// host's real size is the operator's business.
	Capacity Capacity
	// Prefix starts the name of every domain this node owns. Domains
	// without it are never listed, changed or destroyed, so the host may
	// run other domains, and two nodes may share a host with two
	// prefixes.
	Prefix string
	// DomainType is the <domain type>: kvm by default, test for a test://
	// URI.
	DomainType string
	// Pool is the storage pool that holds the VMs' disks.
	Pool string
	// ImageDir holds the base images: Spec.Image "debian-12" is
	// ImageDir/debian-12.qcow2, the read-only backing file of each VM's
	// copy-on-write disk.
	ImageDir string
	// Images, if not empty, are the image names this host offers: Define
	// refuses any other with ErrNoImage, so that the VM fails here with
	// a reason its owner can read and the cluster tries another host.
	// Empty offers whatever ImageDir holds.
	Images []string
	// Network is the libvirt network the VMs' interface joins.
	Network string
	// Publish, if not nil, makes running VMs reachable: List fills in
	// their Access.
	Publish *PublishConfig
	// SeedDir holds each VM's cloud-init seed, <Prefix><id>-seed.iso,
	// which its domain reads as a CD-ROM: the hypervisor must be able to
	// read it.
	SeedDir string
}

// Libvirt provisions VMs as persistent libvirt domains, talking to the
// daemon over its RPC socket. It is safe for concurrent use; calls are
// serialised, because Define checks and then takes capacity.
//
// Each domain carries its Spec in its <metadata>, so a Libvirt that starts
// on a host already running VMs adopts them: List returns them with their
// Specs and their reservations count against the capacity.
//
// Calls wait for the daemon (milliseconds, seconds for a slow host): the
// node's loop uses Libvirt through Async.
type Libvirt struct {
	cfg LibvirtConfig

	mu   sync.Mutex
	conn *golibvirt.Libvirt // nil until dialled, and after the connection is lost
	// reserved holds the Specs of this node's domains: rebuilt from the
	// host by every List and after every reconnect, kept up to date by
	// Define and Destroy in between, so that Capacity and Define need no
	// walk over all domains.
	reserved map[string]Spec
	scanned  bool // reserved reflects the host since the last (re)connect
	// marks says what libvirt does not remember, applied while the
	// domain is shut off: a start that failed, a stop that cleared a
	// crash.
	marks map[string]mark
	// publishErr is why the last List could not publish some VMs.
	publishErr error
}

type mark struct {
	state  State
	reason string
}

var _ Host = (*Libvirt)(nil)

// NewLibvirt checks cfg and returns a Libvirt that dials the daemon on its
// first call, so that a node can start before its daemon does.
func NewLibvirt(cfg LibvirtConfig) (*Libvirt, error) {
	if cfg.URI == "" {
		cfg.URI = DefaultLibvirtURI
	}
	if cfg.Socket == "" {
		cfg.Socket = DefaultLibvirtSocket
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultDomainPrefix
	}
	if cfg.DomainType == "" {
		cfg.DomainType = "kvm"
		if strings.HasPrefix(cfg.URI, "test:") {
			cfg.DomainType = "test"
		}
	}
	if cfg.Pool == "" {
		cfg.Pool = DefaultStoragePool
	}
	if cfg.ImageDir == "" {
		cfg.ImageDir = DefaultImageDir
	}
	if cfg.Network == "" {
		cfg.Network = DefaultNetwork
	}
	if cfg.SeedDir == "" {
		cfg.SeedDir = DefaultSeedDir
	}
	c := cfg.Capacity
	switch {
	case c.VCPU == 0 || c.MemoryMiB == 0 || c.DiskGiB == 0:
		return nil, fmt.Errorf("provision: libvirt capacity %v: every part must be positive", c)
	case cfg.DialTimeout < 0:
		return nil, fmt.Errorf("provision: libvirt dial timeout %v: must not be negative", cfg.DialTimeout)
	case !filepath.IsAbs(cfg.ImageDir):
		return nil, fmt.Errorf("provision: libvirt image directory %q: want an absolute path", cfg.ImageDir)
	case !filepath.IsAbs(cfg.SeedDir):
		return nil, fmt.Errorf("provision: libvirt seed directory %q: want an absolute path", cfg.SeedDir)
	}
	// The prefix becomes part of domain and volume names; holding it to
	// the ID alphabet keeps those names safe in XML, paths and shells.
	if err := checkID(cfg.Prefix); err != nil {
		return nil, fmt.Errorf("provision: libvirt domain prefix %q: want 1 to %d letters, digits, '-' or '_'", cfg.Prefix, MaxIDBytes)
	}
	return &Libvirt{cfg: cfg, reserved: map[string]Spec{}, marks: map[string]mark{}}, nil
}

// Close drops the connection to the daemon. A later call dials again.
func (l *Libvirt) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return nil
	}
	c := l.conn
	l.conn, l.scanned = nil, false
	if !c.IsConnected() {
		return nil
	}
	if err := c.Disconnect(); err != nil {
		return fmt.Errorf("provision: disconnect from libvirt: %w", err)
	}
	return nil
}

// connect returns the connection, dialling the daemon when there is none or
// it was lost, so that a daemon that comes back serves the next call.
func (l *Libvirt) connect(op, id string) (*golibvirt.Libvirt, error) {
	if l.conn != nil && l.conn.IsConnected() {
		return l.conn, nil
	}
	l.conn, l.scanned = nil, false
	c := golibvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(l.cfg.Socket), dialers.WithLocalTimeout(l.cfg.DialTimeout)))
	if err := c.ConnectToURI(golibvirt.ConnectURI(l.cfg.URI)); err != nil {
		return nil, fmt.Errorf("%s: %w: open %s on the libvirt daemon at %s (is libvirtd running?): %v",
			strings.TrimSpace(op+" "+id), ErrHostDown, l.cfg.URI, l.cfg.Socket, err)
	}
	l.conn = c
	return c, nil
}

// fail wraps err of op on id. An error that did not come from the daemon
// (a broken socket, an interrupted call) or that says the daemon's own
// connection is gone means the host is unreachable: the connection is
// dropped, and the next call dials again.
func (l *Libvirt) fail(op, id string, err error) error {
	var lerr golibvirt.Error
	if errors.As(err, &lerr) && lerr.Code != uint32(golibvirt.ErrNoConnect) && lerr.Code != uint32(golibvirt.ErrRPC) {
		return fmt.Errorf("%s %s: %w", op, id, err)
	}
	if l.conn != nil && l.conn.IsConnected() {
		_ = l.conn.Disconnect()
	}
	l.conn, l.scanned = nil, false
	return fmt.Errorf("%s %s: %w: %v", op, id, ErrHostDown, err)
}

func hasCode(err error, code golibvirt.ErrorNumber) bool {
	var lerr golibvirt.Error
	return errors.As(err, &lerr) && lerr.Code == uint32(code)
}

func (l *Libvirt) domainName(id string) string { return l.cfg.Prefix + id }
func (l *Libvirt) volumeName(id string) string { return l.cfg.Prefix + id + ".qcow2" }
func (l *Libvirt) seedPath(id string) string {
	return filepath.Join(l.cfg.SeedDir, l.cfg.Prefix+id+"-seed.iso")
}

// removeSeed deletes the VM's seed if there is one.
func (l *Libvirt) removeSeed(id string) error {
	if err := os.Remove(l.seedPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// lookup finds this node's domain id.
func (l *Libvirt) lookup(op, id string) (*golibvirt.Libvirt, golibvirt.Domain, error) {
	if err := checkID(id); err != nil {
		return nil, golibvirt.Domain{}, fmt.Errorf("%s: %w", op, err)
	}
	c, err := l.connect(op, id)
	if err != nil {
		return nil, golibvirt.Domain{}, err
	}
	d, err := c.DomainLookupByName(l.domainName(id))
	if golibvirt.IsNotFound(err) {
		return nil, golibvirt.Domain{}, fmt.Errorf("%s %s: %w", op, id, ErrNotFound)
	}
	if err != nil {
		return nil, golibvirt.Domain{}, l.fail(op, id, err)
	}
	return c, d, nil
}

// scan rebuilds the reservations from the host and returns this node's
// domains, sorted by ID.
func (l *Libvirt) scan(op string) ([]Domain, error) {
	c, err := l.connect(op, "")
	if err != nil {
		return nil, err
	}
	all, _, err := c.ConnectListAllDomains(1, golibvirt.ConnectListDomainsActive|golibvirt.ConnectListDomainsInactive)
	if err != nil {
		return nil, l.fail(op, "", err)
	}
	out := make([]Domain, 0, len(all))
	for _, d := range all {
		id, ok := strings.CutPrefix(d.Name, l.cfg.Prefix)
		// A name that is the prefix and something no ID can be was not
		// made by Define: it is not ours to touch.
		if !ok || checkID(id) != nil {
			continue
		}
		dom, err := l.describe(c, d, id)
		if err != nil {
			if hasCode(err, golibvirt.ErrNoDomain) {
				continue // undefined between the listing and now
			}
			return nil, l.fail(op, id, err)
		}
		out = append(out, dom)
	}
	slices.SortFunc(out, func(a, b Domain) int { return strings.Compare(a.ID, b.ID) })
	clear(l.reserved)
	for _, d := range out {
		if d.Spec.VCPU != 0 {
			l.reserved[d.ID] = d.Spec
		}
	}
	for id := range l.marks {
		if _, ok := l.reserved[id]; !ok {
			delete(l.marks, id)
		}
	}
	l.scanned = true
	return out, nil
}

// describe reads the state and Spec of the domain d, ours under id. A domain
// that has the prefix but no readable Spec is reported failed, reserving
// nothing, so that the controller destroys it and defines it afresh.
func (l *Libvirt) describe(c *golibvirt.Libvirt, d golibvirt.Domain, id string) (Domain, error) {
	st, reason, err := c.DomainGetState(d, 0)
	if err != nil {
		return Domain{}, err
	}
	raw, err := c.DomainGetMetadata(d, int32(golibvirt.DomainMetadataElement), golibvirt.OptString{MetadataNamespace}, golibvirt.DomainAffectCurrent)
	var spec Spec
	switch {
	case hasCode(err, golibvirt.ErrNoDomainMetadata):
		err = errors.New("no dagger metadata")
	case err != nil:
		return Domain{}, err
	default:
		spec, err = decodeMetadata([]byte(raw))
		if err == nil && spec.ID != id {
			err = fmt.Errorf("metadata names VM %q", spec.ID)
		}
	}
	if err != nil {
		return Domain{ID: id, State: StateFailed, Reason: "unreadable domain: " + err.Error(), Spec: Spec{ID: id}}, nil
	}
	s, why := stateOf(golibvirt.DomainState(st), reason)
	if m, ok := l.marks[id]; ok && golibvirt.DomainState(st) == golibvirt.DomainShutoff {
		s, why = m.state, m.reason
	}
	return Domain{ID: id, State: s, Reason: why, Spec: spec}, nil
}

// stateOf maps libvirt's state and its reason onto the lifecycle. libvirt
// cannot tell a booting guest from a running one, so a started domain is
// running at once. A paused domain is neither running nor dead (libvirt
// starts guests paused; an operator or an I/O error may pause one): it is
// reported booting, which the controller leaves alone.
func stateOf(st golibvirt.DomainState, reason int32) (State, string) {
	switch st {
	case golibvirt.DomainRunning, golibvirt.DomainBlocked, golibvirt.DomainPmsuspended:
		return StateRunning, ""
	case golibvirt.DomainShutdown: // shutting down: the guest still runs
		return StateRunning, ""
	case golibvirt.DomainNostate:
		return StateBooting, ""
	case golibvirt.DomainPaused:
		if golibvirt.DomainPausedReason(reason) == golibvirt.DomainPausedCrashed {
			return StateCrashed, "guest crashed (paused by libvirt)"
		}
		return StateBooting, ""
	case golibvirt.DomainShutoff:
		switch golibvirt.DomainShutoffReason(reason) {
		case golibvirt.DomainShutoffCrashed:
			return StateCrashed, "guest crashed"
		case golibvirt.DomainShutoffFailed:
			return StateFailed, "libvirt could not start the domain"
		}
		return StateDefined, ""
	case golibvirt.DomainCrashed:
		if golibvirt.DomainCrashedReason(reason) == golibvirt.DomainCrashedPanicked {
			return StateCrashed, "guest kernel panicked"
		}
		return StateCrashed, "guest crashed"
	}
	return StateFailed, fmt.Sprintf("unknown libvirt domain state %d", st)
}

// reservations makes sure reserved reflects the host.
func (l *Libvirt) reservations(op, id string) error {
	if _, err := l.connect(op, id); err != nil {
		return err
	}
	if l.scanned {
		return nil
	}
	_, err := l.scan(op)
	return err
}

// free is the capacity no domain reserves. Adopted domains may reserve
// more than an operator who lowered the capacity now offers, and their
// metadata holds whatever the host kept; free is then zero, not wrapped
// around.
func (l *Libvirt) free() Capacity {
	var vcpu, mem, disk uint64
	for _, s := range l.reserved {
		vcpu = satAdd(vcpu, uint64(s.VCPU))
		mem = satAdd(mem, s.MemoryMiB)
		disk = satAdd(disk, s.DiskGiB)
	}
	total := l.cfg.Capacity
	return Capacity{
		VCPU:      uint32(uint64(total.VCPU) - min(uint64(total.VCPU), vcpu)),
		MemoryMiB: total.MemoryMiB - min(total.MemoryMiB, mem),
		DiskGiB:   total.DiskGiB - min(total.DiskGiB, disk),
	}
}

func satAdd(a, b uint64) uint64 {
	if a+b < a {
		return ^uint64(0)
	}
	return a + b
}

// Define writes the VM's cloud-init seed, creates its disk as a
// copy-on-write volume over its image and defines the domain, not started.
func (l *Libvirt) Define(spec Spec) error {
	if err := checkSpec(spec); err != nil {
		return fmt.Errorf("define: %w", err)
	}
	if err := checkImage(spec.Image); err != nil {
		return fmt.Errorf("define %s: %w", spec.ID, err)
	}
	if len(l.cfg.Images) > 0 && !slices.Contains(l.cfg.Images, spec.Image) {
		return fmt.Errorf("define %s: %w: %q; this host offers %s", spec.ID, ErrNoImage, spec.Image, strings.Join(l.cfg.Images, ", "))
	}
	// The Spec travels through XML and back when the domain is adopted;
	// one that would not come back the same is refused now, not found
	// mangled after a restart.
	if back, err := decodeMetadata(encodeMetadata(spec)); err != nil || back != spec {
		return fmt.Errorf("define %s: %w: the spec does not survive XML (invalid UTF-8 or control characters?)", spec.ID, ErrInvalid)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.reservations("define", spec.ID); err != nil {
		return err
	}
	c := l.conn
	switch _, err := c.DomainLookupByName(l.domainName(spec.ID)); {
	case err == nil:
		return fmt.Errorf("define %s: %w", spec.ID, ErrExists)
	case !golibvirt.IsNotFound(err):
		return l.fail("define", spec.ID, err)
	}
	free := l.free()
	switch {
	case len(l.reserved) >= MaxDomains:
		return fmt.Errorf("define %s: %w: the host holds %d VMs, its limit", spec.ID, ErrCapacity, MaxDomains)
	case !free.Fits(spec):
		return fmt.Errorf("define %s: %w: it needs %v, %v of %v is free",
			spec.ID, ErrCapacity, SpecCapacity(spec), free, l.cfg.Capacity)
	}
	pool, err := c.StoragePoolLookupByName(l.cfg.Pool)
	if err != nil {
		if hasCode(err, golibvirt.ErrNoStoragePool) {
			return fmt.Errorf("define %s: no storage pool %q on the host: create it or set the pool in the provisioner's config", spec.ID, l.cfg.Pool)
		}
		return l.fail("define", spec.ID, err)
	}
	// A seed left from an interrupted destroy is replaced whole.
	if err := writeSeed(l.seedPath(spec.ID), seedOf(spec)); err != nil {
		return fmt.Errorf("define %s: write its cloud-init seed (is %s writable?): %w", spec.ID, l.cfg.SeedDir, err)
	}
	// A volume without a domain is left from a destroy that the host
	// interrupted; its name is ours, and a new VM starts on a fresh disk.
	if err := l.deleteVolume(c, pool, spec.ID); err != nil {
		_ = l.removeSeed(spec.ID)
		return l.fail("define", spec.ID, err)
	}
	vol, err := c.StorageVolCreateXML(pool, string(l.volumeXML(spec)), 0)
	if err != nil {
		_ = l.removeSeed(spec.ID)
		return l.fail("define", spec.ID, err)
	}
	if _, err := c.DomainDefineXMLFlags(string(l.domainXML(spec)), 0); err != nil {
		_ = c.StorageVolDelete(vol, golibvirt.StorageVolDeleteNormal)
		_ = l.removeSeed(spec.ID)
		return l.fail("define", spec.ID, err)
	}
	l.reserved[spec.ID] = spec
	delete(l.marks, spec.ID)
	return nil
}

// deleteVolume deletes the VM's disk if there is one.
func (l *Libvirt) deleteVolume(c *golibvirt.Libvirt, pool golibvirt.StoragePool, id string) error {
	vol, err := c.StorageVolLookupByName(pool, l.volumeName(id))
	if hasCode(err, golibvirt.ErrNoStorageVol) {
		return nil
	}
	if err != nil {
		return err
	}
	return c.StorageVolDelete(vol, golibvirt.StorageVolDeleteNormal)
}

// checkImage keeps an image name to one file in the image directory.
func checkImage(image string) error {
	for i := 0; i < len(image); i++ {
		c := image[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("%w: image %q: want letters, digits, '-', '_' and '.'", ErrInvalid, image)
		}
	}
	if image[0] == '.' {
		return fmt.Errorf("%w: image %q: must not start with '.'", ErrInvalid, image)
	}
	return nil
}

// Start boots the domain. libvirt starts the guest before it returns, so a
// start it refuses is a failed boot: the error is returned, and the VM is
// StateFailed until it is started, stopped or destroyed.
func (l *Libvirt) Start(id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, d, err := l.lookup("start", id)
	if err != nil {
		return err
	}
	st, _, err := c.DomainGetState(d, 0)
	if err != nil {
		return l.fail("start", id, err)
	}
	switch golibvirt.DomainState(st) {
	case golibvirt.DomainShutoff:
	case golibvirt.DomainCrashed:
		// A crashed guest kept for inspection must be torn down before
		// it can boot again.
		if err := c.DomainDestroy(d); err != nil {
			return l.fail("start", id, err)
		}
	default:
		return nil
	}
	delete(l.marks, id)
	if err := l.ensureSeed(c, d, id); err != nil {
		if !errors.Is(err, ErrHostDown) {
			l.marks[id] = mark{state: StateFailed, reason: err.Error()}
		}
		return err
	}
	if err := c.DomainCreate(d); err != nil {
		err = l.fail("start", id, err)
		if !errors.Is(err, ErrHostDown) {
			l.marks[id] = mark{state: StateFailed, reason: err.Error()}
		}
		return err
	}
	return nil
}

// ensureSeed writes the seed of the domain d, ours under id, again from the
// Spec in its metadata if it is missing: a host whose seed directory was
// cleaned, or a domain defined before seeds were.
func (l *Libvirt) ensureSeed(c *golibvirt.Libvirt, d golibvirt.Domain, id string) error {
	path := l.seedPath(id)
	switch _, err := os.Stat(path); {
	case err == nil:
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("start %s: its cloud-init seed: %w", id, err)
	}
	raw, err := c.DomainGetMetadata(d, int32(golibvirt.DomainMetadataElement), golibvirt.OptString{MetadataNamespace}, golibvirt.DomainAffectCurrent)
	if hasCode(err, golibvirt.ErrNoDomainMetadata) {
		return fmt.Errorf("start %s: its cloud-init seed is missing and there is no dagger metadata to build it from", id)
	}
	if err != nil {
		return l.fail("start", id, err)
	}
	spec, err := decodeMetadata([]byte(raw))
	if err == nil && spec.ID != id {
		err = fmt.Errorf("metadata names VM %q", spec.ID)
	}
	if err != nil {
		return fmt.Errorf("start %s: its cloud-init seed is missing and cannot be built again: %w", id, err)
	}
	if err := writeSeed(path, seedOf(spec)); err != nil {
		return fmt.Errorf("start %s: write its cloud-init seed again (is %s writable?): %w", id, l.cfg.SeedDir, err)
	}
	return nil
}

// Stop asks the guest to shut down (ACPI); the domain is StateDefined once
// the guest has done so.
func (l *Libvirt) Stop(id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, d, err := l.lookup("stop", id)
	if err != nil {
		return err
	}
	st, _, err := c.DomainGetState(d, 0)
	if err != nil {
		return l.fail("stop", id, err)
	}
	switch golibvirt.DomainState(st) {
	case golibvirt.DomainShutoff:
		// Nothing runs; what remains is a crash or a failure libvirt
		// remembers, which the stop clears as it would on a running VM.
		l.marks[id] = mark{state: StateDefined}
		return nil
	case golibvirt.DomainShutdown, golibvirt.DomainNostate:
		return nil
	}
	if err := c.DomainShutdown(d); err != nil && !hasCode(err, golibvirt.ErrOperationInvalid) {
		return l.fail("stop", id, err)
	}
	return nil
}

// Destroy kills the guest if it runs, undefines the domain and deletes its
// disk and its seed.
func (l *Libvirt) Destroy(id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, d, err := l.lookup("destroy", id)
	if errors.Is(err, ErrNotFound) {
		delete(l.reserved, id)
		l.dropVolume(id)
		_ = l.removeSeed(id)
		return err
	}
	if err != nil {
		return err
	}
	// A domain that is not running answers "operation invalid": there is
	// nothing to kill.
	if err := c.DomainDestroy(d); err != nil && !hasCode(err, golibvirt.ErrOperationInvalid) {
		return l.fail("destroy", id, err)
	}
	err = c.DomainUndefineFlags(d, golibvirt.DomainUndefineManagedSave|golibvirt.DomainUndefineSnapshotsMetadata)
	if err != nil && !golibvirt.IsNotFound(err) {
		return l.fail("destroy", id, err)
	}
	delete(l.reserved, id)
	delete(l.marks, id)
	seedErr := l.removeSeed(id)
	pool, err := c.StoragePoolLookupByName(l.cfg.Pool)
	if err == nil {
		err = l.deleteVolume(c, pool, id)
	}
	if err != nil {
		return l.fail("destroy", id, fmt.Errorf("the domain is gone but its disk %s remains: %w", l.volumeName(id), err))
	}
	if seedErr != nil {
		return fmt.Errorf("destroy %s: the domain is gone but its seed remains: %w", id, seedErr)
	}
	return nil
}

// dropVolume deletes the disk of a domain that is gone, left when the
// host failed between undefining a domain and deleting its disk. It is
// best effort: the next Define of the id replaces the disk anyway, as it
// does the seed.
func (l *Libvirt) dropVolume(id string) {
	c := l.conn
	if c == nil {
		return
	}
	if pool, err := c.StoragePoolLookupByName(l.cfg.Pool); err == nil {
		_ = l.deleteVolume(c, pool, id)
	}
}

// State returns the domain as libvirt sees it now.
func (l *Libvirt) State(id string) (Domain, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, d, err := l.lookup("state", id)
	if err != nil {
		return Domain{}, err
	}
	dom, err := l.describe(c, d, id)
	if err != nil {
		return Domain{}, l.fail("state", id, err)
	}
	return dom, nil
}

// List returns this node's domains, sorted by ID; domains without the
// prefix are not listed.
//
// With LibvirtConfig.Publish, each running VM whose guest has an address
// comes with its Access, a port of the host forwarded to its SSH; the
// forwards of VMs that no longer run are removed. A VM that cannot be
// published (the port range is full, nftables failed) is listed without
// access, and PublishErr says why.
func (l *Libvirt) List() ([]Domain, error) {
	l.mu.Lock()
	doms, err := l.scan("list")
	l.mu.Unlock()
	if err != nil || l.cfg.Publish == nil {
		return doms, err
	}
	perr := l.publish(doms)
	l.mu.Lock()
	changed := (perr == nil) != (l.publishErr == nil) || perr != nil && perr.Error() != l.publishErr.Error()
	l.publishErr = perr
	l.mu.Unlock()
	if changed && l.cfg.Publish.OnError != nil {
		l.cfg.Publish.OnError(perr)
	}
	return doms, nil
}

// PublishErr returns why the last List could not publish some VMs' access,
// or nil.
func (l *Libvirt) PublishErr() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.publishErr
}

// Capacity returns the configured capacity and what of it this node's
// domains do not reserve.
func (l *Libvirt) Capacity() (total, free Capacity, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.reservations("capacity", ""); err != nil {
		return Capacity{}, Capacity{}, err
	}
	return l.cfg.Capacity, l.free(), nil
}

// vmXML is the Spec as DAGGER stores it in a domain's <metadata>. Its
// element name matches in any namespace, because libvirt returns the
// element without one.
type vmXML struct {
	XMLName   xml.Name
	ID        string `xml:"id"`
	VCPU      uint32 `xml:"vcpu"`
	MemoryMiB uint64 `xml:"memory_mib"`
	DiskGiB   uint64 `xml:"disk_gib"`
	Image     string `xml:"image"`
	SSHKey    string `xml:"ssh_key"`
}

func vmOf(s Spec) vmXML {
	return vmXML{XMLName: xml.Name{Space: MetadataNamespace, Local: "vm"}, ID: s.ID, VCPU: s.VCPU,
		MemoryMiB: s.MemoryMiB, DiskGiB: s.DiskGiB, Image: s.Image, SSHKey: s.SSHKey}
}

// mustMarshal marshals what this file builds: structs of strings and
// numbers, which encoding/xml always encodes. It indents, for the
// operator who reads them in libvirt's logs.
func mustMarshal(v any) []byte { return indent(v, "") }

// indent marshals v with its lines after the first starting with prefix,
// as one element inside another.
func indent(v any, prefix string) []byte {
	b, err := xml.MarshalIndent(v, prefix, "  ")
	if err != nil {
		panic(fmt.Sprintf("provision: marshal %T: %v", v, err))
	}
	return b
}

func encodeMetadata(s Spec) []byte { return mustMarshal(vmOf(s)) }

// decodeMetadata reads a Spec back from a domain's metadata element and
// checks it as Define would, since the host may hold anything.
func decodeMetadata(b []byte) (Spec, error) {
	if len(b) > maxMetadataBytes {
		return Spec{}, fmt.Errorf("%w: metadata of %d bytes: want at most %d", ErrInvalid, len(b), maxMetadataBytes)
	}
	var v vmXML
	if err := xml.Unmarshal(b, &v); err != nil {
		return Spec{}, fmt.Errorf("%w: metadata: %v", ErrInvalid, err)
	}
	if v.XMLName.Local != "vm" {
		return Spec{}, fmt.Errorf("%w: metadata element <%s>: want <vm>", ErrInvalid, v.XMLName.Local)
	}
	s := Spec{ID: v.ID, VCPU: v.VCPU, MemoryMiB: v.MemoryMiB, DiskGiB: v.DiskGiB, Image: v.Image, SSHKey: v.SSHKey}
	if err := checkSpec(s); err != nil {
		return Spec{}, err
	}
	return s, nil
}

// domainUUID derives the domain's UUID from its name, so that a domain
// defined again after a lost Define reply gets the same identity: a version
// 8 (custom) UUID holding the start of a SHA-256 of the name.
func domainUUID(name string) string {
	h := sha256.Sum256([]byte("dagger domain " + name))
	h[6] = 0x80 | h[6]&0x0f
	h[8] = 0x80 | h[8]&0x3f
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// domainXML is the domain Define sends. Only what DAGGER sets is filled
// in; libvirt fills in the rest.
func (l *Libvirt) domainXML(s Spec) []byte {
	name := l.domainName(s.ID)
	return mustMarshal(&libvirtxml.Domain{
		Type:     l.cfg.DomainType,
		Name:     name,
		UUID:     domainUUID(name),
		Metadata: &libvirtxml.DomainMetadata{XML: "\n" + string(indent(vmOf(s), "    ")) + "\n  "},
		// uint holds every memory a Spec from the cluster can ask for
		// (tx.MaxMemoryMiB), on 32-bit hosts too.
		Memory: &libvirtxml.DomainMemory{Unit: "MiB", Value: uint(s.MemoryMiB)},
		VCPU:   &libvirtxml.DomainVCPU{Value: uint(s.VCPU)},
		OS: &libvirtxml.DomainOS{Type: &libvirtxml.DomainOSType{Type: "hvm"},
			BootDevices: []libvirtxml.DomainBootDevice{{Dev: "hd"}}},
		// ACPI, without which a guest ignores Stop.
		Features: &libvirtxml.DomainFeatureList{ACPI: &libvirtxml.DomainFeature{}, APIC: &libvirtxml.DomainFeatureAPIC{}},
		// A crashed guest is torn down, not kept paused: the controller
		// replaces it, and a kept guest holds the host's memory.
		OnCrash: "destroy",
		Devices: &libvirtxml.DomainDeviceList{
			Disks: []libvirtxml.DomainDisk{
				{Device: "disk", Driver: &libvirtxml.DomainDiskDriver{Name: "qemu", Type: "qcow2"},
					Source: &libvirtxml.DomainDiskSource{Volume: &libvirtxml.DomainDiskSourceVolume{Pool: l.cfg.Pool, Volume: l.volumeName(s.ID)}},
					Target: &libvirtxml.DomainDiskTarget{Dev: "vda", Bus: "virtio"}},
				// The seed, on SATA: q35 machines have no IDE bus, and
				// libvirt adds an AHCI controller to pc ones.
				{Device: "cdrom", Driver: &libvirtxml.DomainDiskDriver{Name: "qemu", Type: "raw"},
					Source:   &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: l.seedPath(s.ID)}},
					Target:   &libvirtxml.DomainDiskTarget{Dev: "sda", Bus: "sata"},
					ReadOnly: &libvirtxml.DomainDiskReadOnly{}},
			},
			Interfaces: []libvirtxml.DomainInterface{{
				Source: &libvirtxml.DomainInterfaceSource{Network: &libvirtxml.DomainInterfaceSourceNetwork{Network: l.cfg.Network}},
				Model:  &libvirtxml.DomainInterfaceModel{Type: "virtio"},
			}},
		},
	})
}

func (l *Libvirt) volumeXML(s Spec) []byte {
	qcow2 := &libvirtxml.StorageVolumeTargetFormat{Type: "qcow2"}
	return mustMarshal(&libvirtxml.StorageVolume{
		Name:     l.volumeName(s.ID),
		Capacity: &libvirtxml.StorageVolumeSize{Unit: "GiB", Value: s.DiskGiB},
		Target:   &libvirtxml.StorageVolumeTarget{Format: qcow2},
		BackingStore: &libvirtxml.StorageVolumeBackingStore{Path: filepath.Join(l.cfg.ImageDir, s.Image+".qcow2"),
			Format: qcow2},
	})
}

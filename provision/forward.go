package provision

// Port forwarding: a port of the host, DNATed to a guest's SSH port, so that
// a customer reaches a VM behind libvirt's NAT network with
// ssh -p PORT user@HOST. The rules live in an nftables table that DAGGER
// owns, written over netlink; see the package comment for what an operator
// must allow.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// Defaults of ForwarderConfig.
const (
	DefaultForwardTable = "dagger"
	// The default range holds 1,000 forwards: a host that offers more VMs
	// needs a larger one.
	DefaultPortMin   = 22000
	DefaultPortMax   = 22999
	DefaultGuestPort = 22
)

// Errors of a Forwarder, wrapped with detail.
var (
	// ErrPortsExhausted says every port of the range forwards to a VM.
	ErrPortsExhausted = errors.New("provision: no free port to forward")
	// ErrNftables says the host's nftables cannot be used at all: the
	// process lacks the privilege, or the kernel the support.
	ErrNftables = errors.New("provision: nftables unavailable")
)

// The chains of DAGGER's table. The forwards are rules of publish, a regular
// chain that both nat base chains jump to, so that each forward is one rule.
const (
	chainPrerouting = "prerouting"
	chainOutput     = "output"
	chainForward    = "forward"
	chainPublish    = "publish"
)

// forwardLabel starts the comment of every forward rule; the VM's id
// follows. A rule in the publish chain without it is not DAGGER's.
const forwardLabel = "dagger-vm:"

// maxBatchForwards bounds the forwards changed by one netlink batch. The
// kernel acknowledges every message of a batch, and echoes every rule added,
// before the Forwarder reads any answer, and those answers must fit the
// socket's receive buffer (208 KiB by default): a batch of 128 replaced
// forwards overflows it (ENOBUFS), 64 do not, 32 leave a margin for hosts
// with a smaller buffer. A batch of 32 is also far below the send buffer's
// limit on the batch itself (a forward rule takes a few hundred bytes).
const maxBatchForwards = 32

// maxShortNamed bounds the VMs an ErrPortsExhausted names.
const maxShortNamed = 8

// ipsDstNAT is conntrack's status bit of a connection whose destination was
// translated (IPS_DST_NAT in linux/netfilter/nf_conntrack_common.h).
const ipsDstNAT = 1 << 5

// ForwarderConfig configures a Forwarder. The zero value of each field takes
// its default.
type ForwarderConfig struct {
	// Table names DAGGER's nftables table, of family ip. DAGGER owns it
	// whole: it rewrites the base chains' rules on every change. Two
	// nodes on one host need two tables and two port ranges.
	Table string
	// PortMin and PortMax bound the host's ports given to VMs, both
	// included: the range bounds how many VMs can be reached.
	PortMin, PortMax uint16
	// GuestPort is the port every forward reaches on its guest.
	GuestPort uint16
	// NetNS is the path of the network namespace whose nftables the
	// Forwarder writes (/run/netns/NAME, /proc/PID/ns/net); empty means
	// the namespace of the process.
	NetNS string
}

// Forward is one published VM: the host's Port leads to Guest.
type Forward struct {
	ID    string
	Port  uint16
	Guest netip.AddrPort
}

// Forwarder publishes VMs' SSH ports on ports of the host through nftables
// DNAT rules, one rule per VM, labelled with its id. It keeps no state of its
// own: every call reads the rules back from the kernel, so a node that
// restarts adopts the forwards it had, and ports survive the restart. It is
// safe for concurrent use; calls are serialised, because each reads the rules
// and then changes them. Two Forwarders on one table (two processes, or two
// in one) must not change it at once: each plans from what it read, so the
// two could give one port to two VMs.
type Forwarder struct {
	cfg   ForwarderConfig
	table *nftables.Table

	mu sync.Mutex
	ns *os.File // the namespace; nil for the process's own
}

// NewForwarder checks cfg and opens its namespace; it touches no rule, so a
// node can start before it may change the host's firewall.
func NewForwarder(cfg ForwarderConfig) (*Forwarder, error) {
	if cfg.Table == "" {
		cfg.Table = DefaultForwardTable
	}
	if cfg.PortMin == 0 && cfg.PortMax == 0 {
		cfg.PortMin, cfg.PortMax = DefaultPortMin, DefaultPortMax
	}
	if cfg.GuestPort == 0 {
		cfg.GuestPort = DefaultGuestPort
	}
	if checkID(cfg.Table) != nil {
		return nil, fmt.Errorf("provision: forward table %q: want 1 to %d letters, digits, '-' or '_'", cfg.Table, MaxIDBytes)
	}
	if cfg.PortMin == 0 || cfg.PortMin > cfg.PortMax {
		return nil, fmt.Errorf("provision: forward ports %d-%d: want 1 <= min <= max", cfg.PortMin, cfg.PortMax)
	}
	f := &Forwarder{cfg: cfg, table: &nftables.Table{Name: cfg.Table, Family: nftables.TableFamilyIPv4}}
	if cfg.NetNS != "" {
		ns, err := os.Open(cfg.NetNS)
		if err != nil {
			return nil, fmt.Errorf("provision: forward namespace: %w", err)
		}
		f.ns = ns
	}
	return f, nil
}

// Close releases the namespace. The rules stay: they are the host's state.
func (f *Forwarder) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ns == nil {
		return nil
	}
	err := f.ns.Close()
	f.ns = nil
	return err
}

// Publish makes sure the host forwards a port to guest's GuestPort for VM id
// and returns the port. It is idempotent: the same id and guest keep their
// port; a new guest address replaces the rule and keeps the port. A new VM
// gets the lowest free port of the range, or ErrPortsExhausted.
func (f *Forwarder) Publish(id string, guest netip.Addr) (uint16, error) {
	want, err := f.wanted(map[string]netip.Addr{id: guest})
	if err != nil {
		return 0, fmt.Errorf("publish %s: %w", id, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ports, err := f.apply("publish "+id, want, false)
	if err != nil {
		return 0, err
	}
	return ports[id], nil
}

// Unpublish removes VM id's forward. A VM without one is not an error: the
// caller may repeat an Unpublish whose effect it has not seen.
func (f *Forwarder) Unpublish(id string) error {
	op := "unpublish " + id
	if err := checkID(id); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.conn(op)
	if err != nil {
		return err
	}
	held, ok, err := f.read(c, op)
	if err != nil || !ok {
		return err
	}
	var del []uint64
	for _, h := range held {
		if h.id == id {
			del = append(del, h.handle)
		}
	}
	return f.write(c, op, change{del: del})
}

// Published reads back the forwards the kernel holds, by VM id. A VM with
// two rules (written by hand) is listed with the first.
func (f *Forwarder) Published() (map[string]Forward, error) {
	const op = "list forwards"
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.conn(op)
	if err != nil {
		return nil, err
	}
	held, _, err := f.read(c, op)
	if err != nil {
		return nil, err
	}
	out := map[string]Forward{}
	for _, h := range held {
		if _, dup := out[h.id]; h.id != "" && h.shaped && !dup {
			out[h.id] = Forward{ID: h.id, Port: h.port, Guest: h.guest}
		}
	}
	return out, nil
}

// Reconcile makes the forwards those of want, VM id to guest address, and
// returns each VM's port. Forwards that already match are adopted as they
// are, so a node that restarts keeps its ports; a forward to another guest
// address is replaced on its port; labelled forwards of VMs not in want are
// removed; VMs without one get the lowest free ports, in order of id. When
// the range runs out, the VMs that fit are published, the others are left
// out of the map and the error wraps ErrPortsExhausted.
func (f *Forwarder) Reconcile(want map[string]netip.Addr) (map[string]uint16, error) {
	const op = "reconcile forwards"
	if len(want) > MaxDomains {
		return nil, fmt.Errorf("%s: %w: %d VMs, the host holds at most %d", op, ErrInvalid, len(want), MaxDomains)
	}
	w, err := f.wanted(want)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.apply(op, w, true)
}

// wanted checks the VMs' ids and addresses and adds the guest port.
func (f *Forwarder) wanted(want map[string]netip.Addr) (map[string]netip.AddrPort, error) {
	out := make(map[string]netip.AddrPort, len(want))
	for id, addr := range want {
		if err := checkID(id); err != nil {
			return nil, err
		}
		addr = addr.Unmap()
		if !addr.Is4() || !addr.IsGlobalUnicast() {
			return nil, fmt.Errorf("%w: guest address %v of %s: want an IPv4 unicast address", ErrInvalid, addr, id)
		}
		out[id] = netip.AddrPortFrom(addr, f.cfg.GuestPort)
	}
	return out, nil
}

// apply makes sure the table is in place, reads the forwards, and changes
// them to want; prune removes the labelled forwards of VMs not in want.
func (f *Forwarder) apply(op string, want map[string]netip.AddrPort, prune bool) (map[string]uint16, error) {
	c, err := f.conn(op)
	if err != nil {
		return nil, err
	}
	if err := f.ensure(c, op); err != nil {
		return nil, err
	}
	held, _, err := f.read(c, op)
	if err != nil {
		return nil, err
	}
	ch := plan(held, want, prune, f.cfg.PortMin, f.cfg.PortMax)
	if err := f.write(c, op, ch); err != nil {
		return nil, err
	}
	if len(ch.short) > 0 {
		// A few ids say which; thousands would drown the message.
		named := strings.Join(ch.short[:min(len(ch.short), maxShortNamed)], ", ")
		if len(ch.short) > maxShortNamed {
			named += ", ..."
		}
		return ch.ports, fmt.Errorf("%s: %w: ports %d-%d are all taken; %d VMs without one (%s): widen the range",
			op, ErrPortsExhausted, f.cfg.PortMin, f.cfg.PortMax, len(ch.short), named)
	}
	return ch.ports, nil
}

func (f *Forwarder) conn(op string) (*nftables.Conn, error) {
	if f.cfg.NetNS == "" {
		return nftables.New()
	}
	if f.ns == nil {
		return nil, fmt.Errorf("%s: the forwarder is closed", op)
	}
	return nftables.New(nftables.WithNetNSFd(int(f.ns.Fd())))
}

func (f *Forwarder) chain(name string) *nftables.Chain {
	return &nftables.Chain{Name: name, Table: f.table}
}

// ensure creates the table and its chains if missing, and writes the base
// chains' rules afresh, in one transaction: a table that an operator
// flushed, or a base chain that someone changed, is repaired by the next
// change, and the forwards in publish are kept.
func (f *Forwarder) ensure(c *nftables.Conn, op string) error {
	accept := nftables.ChainPolicyAccept
	c.AddTable(f.table)
	c.AddChain(f.chain(chainPublish))
	base := []struct {
		name  string
		typ   nftables.ChainType
		hook  *nftables.ChainHook
		prio  *nftables.ChainPriority
		exprs []expr.Any
	}{
		// Traffic from outside, to an address of the host.
		{chainPrerouting, nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest,
			slices.Concat(localDest(), jump(chainPublish))},
		// Connections the host makes to its own addresses. Loopback is
		// left out: a packet from 127.0.0.1 may not leave the host, so a
		// connection to 127.0.0.1:PORT would hang instead of being
		// refused.
		{chainOutput, nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest,
			slices.Concat(notLoopback(), localDest(), jump(chainPublish))},
		{chainForward, nftables.ChainTypeFilter, nftables.ChainHookForward, nftables.ChainPriorityFilter,
			dnatAccepted()},
	}
	for _, b := range base {
		ch := &nftables.Chain{Name: b.name, Table: f.table, Type: b.typ, Hooknum: b.hook, Priority: b.prio, Policy: &accept}
		c.AddChain(ch)
		c.FlushChain(ch)
		c.AddRule(&nftables.Rule{Table: f.table, Chain: ch, Exprs: b.exprs})
	}
	if err := c.Flush(); err != nil {
		what := fmt.Sprintf("%s: set up table ip %s", op, f.cfg.Table)
		// The batch creates everything its rules refer to, so what the
		// kernel cannot find is the module of an expression.
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("%s: %w: the kernel lacks a module of DAGGER's rules (nft_nat, nft_fib_ipv4, nft_ct): %v", what, ErrNftables, err)
		}
		return nftablesError(what, err)
	}
	return nil
}

// read returns the rules of the publish chain, in the kernel's order, and
// whether the table exists; a missing table holds no forward.
func (f *Forwarder) read(c *nftables.Conn, op string) ([]held, bool, error) {
	if _, err := c.ListTableOfFamily(f.cfg.Table, nftables.TableFamilyIPv4); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, false, nil
		}
		return nil, false, nftablesError(fmt.Sprintf("%s: read table ip %s", op, f.cfg.Table), err)
	}
	rules, err := c.GetRules(f.table, f.chain(chainPublish))
	if err != nil {
		return nil, true, fmt.Errorf("%s: read chain %s of table ip %s: %w", op, chainPublish, f.cfg.Table, err)
	}
	out := make([]held, len(rules))
	for i, r := range rules {
		out[i] = parseRule(r)
	}
	return out, true, nil
}

// write applies ch in batches of at most maxBatchForwards forwards. A
// forward that is replaced is deleted and added in one batch, so it never
// goes missing. A failed batch leaves the ones before it applied, and may
// itself have been applied when only its answers were lost: the next call
// reads back what the kernel holds.
func (f *Forwarder) write(c *nftables.Conn, op string, ch change) error {
	publish := f.chain(chainPublish)
	n, total := 0, 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		if err := c.Flush(); err != nil {
			return nftablesError(fmt.Sprintf("%s: change %d forwards of table ip %s", op, n, f.cfg.Table), err)
		}
		total += n
		n = 0
		return nil
	}
	step := func(del uint64, add *Forward) error {
		if del != 0 {
			if err := c.DelRule(&nftables.Rule{Table: f.table, Chain: publish, Handle: del}); err != nil {
				return err
			}
		}
		if add != nil {
			c.AddRule(&nftables.Rule{Table: f.table, Chain: publish, Exprs: forwardExprs(add.Port, add.Guest), UserData: label(add.ID)})
		}
		if n++; n >= maxBatchForwards {
			return flush()
		}
		return nil
	}
	for _, r := range ch.replace {
		if err := step(r.del, &r.add); err != nil {
			return err
		}
	}
	for _, h := range ch.del {
		if err := step(h, nil); err != nil {
			return err
		}
	}
	for i := range ch.add {
		if err := step(0, &ch.add[i]); err != nil {
			return err
		}
	}
	return flush()
}

// nftablesError wraps err of op, saying what to do when nftables cannot be
// used at all.
func nftablesError(op string, err error) error {
	switch {
	case errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES):
		return fmt.Errorf("%s: %w: permission denied: the node needs root, or CAP_NET_ADMIN, to use the host's nftables", op, ErrNftables)
	case errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.EAFNOSUPPORT) || errors.Is(err, unix.EOPNOTSUPP):
		return fmt.Errorf("%s: %w: the kernel lacks nftables support (nf_tables): %v", op, ErrNftables, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// held is a rule of the publish chain as read back.
type held struct {
	handle uint64
	id     string // the VM of a labelled rule; empty for a rule not DAGGER's
	shaped bool   // the rule is a forward as DAGGER writes them
	port   uint16
	guest  netip.AddrPort
}

func parseRule(r *nftables.Rule) held {
	h := held{handle: r.Handle}
	h.id, _ = parseLabel(r.UserData)
	h.port, h.guest, h.shaped = parseForward(r.Exprs)
	return h
}

// label is the comment of VM id's rule, in the TLV form that nft prints as
// comment "dagger-vm:ID".
func label(id string) []byte {
	return userdata.AppendString(nil, userdata.TypeComment, forwardLabel+id)
}

// parseLabel returns the VM id of a rule's comment, if the comment is
// DAGGER's label of a valid id.
func parseLabel(ud []byte) (string, bool) {
	// userdata.Get trusts the TLV lengths; a comment that claims more
	// bytes than there are is not one DAGGER wrote.
	for rest := ud; len(rest) > 0; {
		if len(rest) < 2 || len(rest) < 2+int(rest[1]) {
			return "", false
		}
		rest = rest[2+int(rest[1]):]
	}
	comment, ok := userdata.GetString(ud, userdata.TypeComment)
	if !ok {
		return "", false
	}
	id, ok := strings.CutPrefix(comment, forwardLabel)
	if !ok || checkID(id) != nil {
		return "", false
	}
	return id, true
}

// forwardExprs is a forward's rule: tcp dport PORT dnat ip to GUEST.
func forwardExprs(port uint16, guest netip.AddrPort) []expr.Any {
	a := guest.Addr().As4()
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, port)},
		&expr.Immediate{Register: 1, Data: a[:]},
		&expr.Immediate{Register: 2, Data: binary.BigEndian.AppendUint16(nil, guest.Port())},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	}
}

// parseForward reads a rule that forwardExprs wrote; any other rule is not
// a forward.
func parseForward(exprs []expr.Any) (port uint16, guest netip.AddrPort, ok bool) {
	if len(exprs) != 7 {
		return 0, netip.AddrPort{}, false
	}
	meta, ok0 := exprs[0].(*expr.Meta)
	proto, ok1 := exprs[1].(*expr.Cmp)
	pl, ok2 := exprs[2].(*expr.Payload)
	dport, ok3 := exprs[3].(*expr.Cmp)
	addr, ok4 := exprs[4].(*expr.Immediate)
	gport, ok5 := exprs[5].(*expr.Immediate)
	nat, ok6 := exprs[6].(*expr.NAT)
	if !ok0 || !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 {
		return 0, netip.AddrPort{}, false
	}
	switch {
	case meta.Key != expr.MetaKeyL4PROTO || meta.SourceRegister || meta.Register != 1,
		proto.Op != expr.CmpOpEq || proto.Register != 1 || !slices.Equal(proto.Data, []byte{unix.IPPROTO_TCP}),
		pl.OperationType != expr.PayloadLoad || pl.DestRegister != 1 || pl.Base != expr.PayloadBaseTransportHeader || pl.Offset != 2 || pl.Len != 2,
		dport.Op != expr.CmpOpEq || dport.Register != 1 || len(dport.Data) != 2,
		addr.Register != 1 || len(addr.Data) != 4,
		gport.Register != 2 || len(gport.Data) != 2,
		// The kernel reads an absent maximum as the minimum, and says so
		// when it dumps the rule.
		nat.Type != expr.NATTypeDestNAT || nat.Family != unix.NFPROTO_IPV4 ||
			nat.RegAddrMin != 1 || (nat.RegAddrMax != 0 && nat.RegAddrMax != 1) ||
			nat.RegProtoMin != 2 || (nat.RegProtoMax != 0 && nat.RegProtoMax != 2) ||
			nat.Random || nat.FullyRandom || nat.Persistent || nat.Prefix:
		return 0, netip.AddrPort{}, false
	}
	port = binary.BigEndian.Uint16(dport.Data)
	guest = netip.AddrPortFrom(netip.AddrFrom4([4]byte(addr.Data)), binary.BigEndian.Uint16(gport.Data))
	if port == 0 || guest.Port() == 0 {
		return 0, netip.AddrPort{}, false
	}
	return port, guest, true
}

// localDest matches packets to an address of the host (fib daddr type
// local), so that traffic the host routes to elsewhere is never forwarded.
func localDest() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.NativeEndian.AppendUint32(nil, unix.RTN_LOCAL)},
	}
}

// notLoopback matches packets not to 127.0.0.0/8.
func notLoopback() []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{255, 0, 0, 0}, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{127, 0, 0, 0}},
	}
}

func jump(chain string) []expr.Any {
	return []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: chain}}
}

// dnatAccepted accepts the packets of translated connections (ct status
// dnat). An accept ends only this chain: another table's drop or reject
// still applies, which is why the operator must allow them too.
func dnatAccepted() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binary.NativeEndian.AppendUint32(nil, ipsDstNAT), Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
		&expr.Verdict{Kind: expr.VerdictAccept},
	}
}

// change is what plan decides: forwards to replace (a rule deleted and its
// successor added), rules to delete and forwards to add; ports holds the
// port of every wanted VM that has one afterwards, short the wanted VMs that
// found none.
type change struct {
	replace []replacement
	del     []uint64
	add     []Forward
	ports   map[string]uint16
	short   []string
}

type replacement struct {
	del uint64
	add Forward
}

// plan computes how to go from the rules held to the forwards wanted. It is
// deterministic: rules are considered in the kernel's order, new VMs in
// order of id, each taking the lowest port of [lo, hi] that no rule keeps.
// A rule that is not DAGGER's keeps its port and is never touched; so does
// a labelled forward of a VM not wanted, unless prune.
func plan(held []held, want map[string]netip.AddrPort, prune bool, lo, hi uint16) change {
	ch := change{ports: make(map[string]uint16, len(want))}
	taken := map[uint16]bool{}
	for _, h := range held {
		if _, wanted := want[h.id]; h.id == "" || (!wanted && !prune) {
			if h.shaped {
				taken[h.port] = true
			}
		}
	}
	for _, h := range held {
		if h.id == "" {
			continue
		}
		guest, wanted := want[h.id]
		_, has := ch.ports[h.id]
		switch {
		case !wanted && !prune:
		case !wanted, has, !h.shaped, h.port < lo || h.port > hi, taken[h.port]:
			ch.del = append(ch.del, h.handle)
		default:
			ch.ports[h.id] = h.port
			taken[h.port] = true
			if h.guest != guest {
				ch.replace = append(ch.replace, replacement{del: h.handle, add: Forward{ID: h.id, Port: h.port, Guest: guest}})
			}
		}
	}
	missing := make([]string, 0, len(want))
	for id := range want {
		if _, ok := ch.ports[id]; !ok {
			missing = append(missing, id)
		}
	}
	slices.Sort(missing)
	next := uint32(lo)
	for _, id := range missing {
		for next <= uint32(hi) && taken[uint16(next)] {
			next++
		}
		if next > uint32(hi) {
			ch.short = append(ch.short, id)
			continue
		}
		port := uint16(next)
		taken[port] = true
		ch.ports[id] = port
		ch.add = append(ch.add, Forward{ID: id, Port: port, Guest: want[id]})
	}
	return ch
}

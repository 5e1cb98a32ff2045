package provision

// Tests of Forwarder's parts that need no kernel: the plan from the rules
// held to the forwards wanted, the label, and the rule's shape.

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

func ap(s string) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr(s), 22) }

// fw is a labelled forward rule as read back.
func fw(handle uint64, id string, port uint16, guest string) held {
	return held{handle: handle, id: id, shaped: true, port: port, guest: ap(guest)}
}

func TestForwardPlan(t *testing.T) {
	const lo, hi = 100, 103
	for _, tc := range []struct {
		name    string
		held    []held
		want    map[string]string // id -> guest
		prune   bool
		ports   map[string]uint16
		del     []uint64
		replace []replacement
		add     []Forward
		short   []string
	}{
		{
			name:  "an empty host: lowest ports in order of id",
			want:  map[string]string{"b": "10.0.0.2", "a": "10.0.0.1", "c": "10.0.0.3"},
			ports: map[string]uint16{"a": 100, "b": 101, "c": 102},
			add:   []Forward{{"a", 100, ap("10.0.0.1")}, {"b", 101, ap("10.0.0.2")}, {"c", 102, ap("10.0.0.3")}},
		},
		{
			name:  "matching forwards are adopted untouched",
			held:  []held{fw(7, "b", 100, "10.0.0.2"), fw(8, "a", 103, "10.0.0.1")},
			want:  map[string]string{"a": "10.0.0.1", "b": "10.0.0.2"},
			prune: true,
			ports: map[string]uint16{"a": 103, "b": 100},
		},
		{
			name:    "a guest that moved keeps its port",
			held:    []held{fw(7, "a", 102, "10.0.0.1")},
			want:    map[string]string{"a": "10.0.0.9"},
			ports:   map[string]uint16{"a": 102},
			replace: []replacement{{7, Forward{"a", 102, ap("10.0.0.9")}}},
		},
		{
			name:  "strays are removed and their ports reused, when pruning",
			held:  []held{fw(7, "x", 100, "10.0.0.7"), fw(8, "a", 101, "10.0.0.1")},
			want:  map[string]string{"a": "10.0.0.1", "b": "10.0.0.2"},
			prune: true,
			ports: map[string]uint16{"a": 101, "b": 100},
			del:   []uint64{7},
			add:   []Forward{{"b", 100, ap("10.0.0.2")}},
		},
		{
			name:  "other VMs' forwards are kept and hold their ports, when not pruning",
			held:  []held{fw(7, "x", 100, "10.0.0.7")},
			want:  map[string]string{"a": "10.0.0.1"},
			ports: map[string]uint16{"a": 101},
			add:   []Forward{{"a", 101, ap("10.0.0.1")}},
		},
		{
			name:  "a rule not DAGGER's holds its port and is never deleted",
			held:  []held{{handle: 5, shaped: true, port: 100, guest: ap("10.0.0.5")}, {handle: 6}},
			want:  map[string]string{"a": "10.0.0.1"},
			prune: true,
			ports: map[string]uint16{"a": 101},
			add:   []Forward{{"a", 101, ap("10.0.0.1")}},
		},
		{
			name:  "a labelled forward on a port a foreign rule holds moves",
			held:  []held{{handle: 5, shaped: true, port: 100, guest: ap("10.0.0.5")}, fw(7, "a", 100, "10.0.0.1")},
			want:  map[string]string{"a": "10.0.0.1"},
			prune: true,
			ports: map[string]uint16{"a": 101},
			del:   []uint64{7},
			add:   []Forward{{"a", 101, ap("10.0.0.1")}},
		},
		{
			name:  "a forward outside the range moves into it",
			held:  []held{fw(7, "a", 9000, "10.0.0.1")},
			want:  map[string]string{"a": "10.0.0.1"},
			prune: true,
			ports: map[string]uint16{"a": 100},
			del:   []uint64{7},
			add:   []Forward{{"a", 100, ap("10.0.0.1")}},
		},
		{
			name:  "a second rule of one VM is deleted, the first kept",
			held:  []held{fw(7, "a", 101, "10.0.0.1"), fw(8, "a", 100, "10.0.0.1")},
			want:  map[string]string{"a": "10.0.0.1"},
			ports: map[string]uint16{"a": 101},
			del:   []uint64{8},
		},
		{
			name:  "two VMs on one port: the first keeps it",
			held:  []held{fw(7, "a", 100, "10.0.0.1"), fw(8, "b", 100, "10.0.0.2")},
			want:  map[string]string{"a": "10.0.0.1", "b": "10.0.0.2"},
			prune: true,
			ports: map[string]uint16{"a": 100, "b": 101},
			del:   []uint64{8},
			add:   []Forward{{"b", 101, ap("10.0.0.2")}},
		},
		{
			name:  "a labelled rule of another shape is replaced",
			held:  []held{{handle: 7, id: "a"}},
			want:  map[string]string{"a": "10.0.0.1"},
			ports: map[string]uint16{"a": 100},
			del:   []uint64{7},
			add:   []Forward{{"a", 100, ap("10.0.0.1")}},
		},
		{
			name:  "a full range leaves the last ids out",
			held:  []held{fw(7, "x", 101, "10.0.0.7")},
			want:  map[string]string{"a": "10.0.0.1", "b": "10.0.0.2", "c": "10.0.0.3", "d": "10.0.0.4"},
			ports: map[string]uint16{"a": 100, "b": 102, "c": 103},
			add:   []Forward{{"a", 100, ap("10.0.0.1")}, {"b", 102, ap("10.0.0.2")}, {"c", 103, ap("10.0.0.3")}},
			short: []string{"d"},
		},
		{
			name:  "nothing wanted, pruning: every labelled rule goes",
			held:  []held{fw(7, "a", 100, "10.0.0.1"), {handle: 8, id: "b"}, {handle: 9}},
			prune: true,
			ports: map[string]uint16{},
			del:   []uint64{7, 8},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := map[string]netip.AddrPort{}
			for id, g := range tc.want {
				want[id] = ap(g)
			}
			// Map order must not matter: plan the same case many times.
			for range 20 {
				ch := plan(tc.held, want, tc.prune, lo, hi)
				if got, wantCh := fmt.Sprint(ch.ports, ch.del, ch.replace, ch.add, ch.short),
					fmt.Sprint(tc.ports, tc.del, tc.replace, tc.add, tc.short); got != wantCh {
					t.Fatalf("plan: ports, del, replace, add, short\n got %s\nwant %s", got, wantCh)
				}
			}
		})
	}
}

// At the top of the port space the search for a free port must stop, not
// wrap around to port 0.
func TestForwardPlan_RangeEndingAtTheLastPort(t *testing.T) {
	ch := plan(nil, map[string]netip.AddrPort{"a": ap("10.0.0.1"), "b": ap("10.0.0.2")}, true, 65535, 65535)
	if !slices.Equal(ch.short, []string{"b"}) || ch.ports["a"] != 65535 || len(ch.ports) != 1 {
		t.Fatalf("ports %v, short %v; want a on 65535 and b short", ch.ports, ch.short)
	}
}

func TestForwardLabel_RoundTrip(t *testing.T) {
	id := strings.Repeat("f", MaxIDBytes)
	got, ok := parseLabel(label(id))
	if !ok || got != id {
		t.Fatalf("parseLabel(label(%q)) = %q, %v", id, got, ok)
	}
	for _, tc := range []struct {
		name string
		ud   []byte
	}{
		{"no user data", nil},
		{"another comment", []byte("\x00\x09operator\x00")},
		{"the label without an id", []byte("\x00\x0bdagger-vm:\x00")},
		{"an id no VM can have", []byte("\x00\x0ddagger-vm:a/\x00")},
		{"a length past the end", []byte("\x00\x40dagger-vm:a\x00")},
		{"a lone type byte", []byte("\x00")},
		{"the label under another type", []byte("\x01\x0cdagger-vm:a\x00")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if id, ok := parseLabel(tc.ud); ok {
				t.Fatalf("parseLabel(%q) = %q, want not DAGGER's", tc.ud, id)
			}
		})
	}
}

func TestForwardRule_RoundTrip(t *testing.T) {
	guest := netip.MustParseAddrPort("192.168.122.45:22")
	port, got, ok := parseForward(forwardExprs(22042, guest))
	if !ok || port != 22042 || got != guest {
		t.Fatalf("parseForward(forwardExprs(22042, %v)) = %d, %v, %v", guest, port, got, ok)
	}
	// Rules of other shapes are not forwards.
	udp := forwardExprs(22042, guest)
	udp[1] = &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_UDP}}
	snat := forwardExprs(22042, guest)
	snat[6] = &expr.NAT{Type: expr.NATTypeSourceNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2}
	for name, exprs := range map[string][]expr.Any{
		"empty":            nil,
		"udp":              udp,
		"snat":             snat,
		"one expression":   forwardExprs(22042, guest)[:1],
		"an extra verdict": append(forwardExprs(22042, guest), &expr.Verdict{Kind: expr.VerdictAccept}),
		"port 0":           forwardExprs(0, guest),
		"base rule":        dnatAccepted(),
	} {
		if _, _, ok := parseForward(exprs); ok {
			t.Errorf("%s: parsed as a forward", name)
		}
	}
}

func TestForwardErrors_SayWhatToDo(t *testing.T) {
	for _, tc := range []struct {
		err         error
		unavailable bool
		says        string
	}{
		{unix.EPERM, true, "needs root"},
		{fmt.Errorf("conn.Receive: %w", unix.EPERM), true, "CAP_NET_ADMIN"},
		{unix.EPROTONOSUPPORT, true, "lacks nftables"},
		{unix.EOPNOTSUPP, true, "lacks nftables"},
		{unix.EBUSY, false, "device or resource busy"},
	} {
		err := nftablesError("publish a", tc.err)
		if errors.Is(err, ErrNftables) != tc.unavailable || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("nftablesError(%v) = %v; want unavailable %v, saying %q", tc.err, err, tc.unavailable, tc.says)
		}
	}
}

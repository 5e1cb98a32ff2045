package linear

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const ms1 = int64(time.Millisecond)

// op builds an operation that ran from call to ret milliseconds.
func op(client int, kind Kind, vm string, call, ret int64, ok bool) Op {
	o := Op{Client: client, Kind: kind, VM: vm, Call: call * ms1, Return: ret * ms1}
	if kind == Get {
		o.Found = ok
	} else {
		o.OK = ok
	}
	return o
}

func pending(client int, kind Kind, vm string, call int64) Op {
	return Op{Client: client, Kind: kind, VM: vm, Call: call * ms1, Pending: true}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{Create: "create", Delete: "delete", Get: "get", 0: "Kind(0)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", uint8(k), got, want)
		}
	}
}

// TestSpecification runs small histories whose verdict follows from the
// sequential specification alone.
func TestSpecification(t *testing.T) {
	tests := []struct {
		name string
		ops  []Op
		ok   bool
	}{
		{"empty history", nil, true},
		{"sequential life of a VM", []Op{
			op(0, Get, "a", 0, 1, false),
			op(0, Create, "a", 2, 3, true),
			op(1, Get, "a", 4, 5, true),
			op(0, Create, "a", 6, 7, false), // replayed create: rejected
			op(0, Delete, "a", 8, 9, true),
			op(1, Get, "a", 10, 11, false),
			op(0, Delete, "a", 12, 13, false),
		}, true},
		{"rejected create changes nothing", []Op{
			op(0, Create, "a", 0, 1, false),
			op(1, Get, "a", 2, 3, false),
		}, true},
		{"zero-length operations", []Op{
			op(0, Create, "a", 1, 1, true),
			op(1, Get, "a", 1, 1, true),
			op(2, Get, "a", 2, 2, true),
		}, true},
		{"concurrent reads straddle a create", []Op{
			op(0, Create, "a", 0, 100, true),
			op(1, Get, "a", 10, 20, false),
			op(2, Get, "a", 30, 40, true),
			op(1, Get, "a", 50, 150, true),
		}, true},
		{"concurrent delete and reads", []Op{
			op(0, Create, "a", 0, 10, true),
			op(0, Delete, "a", 20, 100, true),
			op(1, Get, "a", 30, 40, true),
			op(2, Get, "a", 50, 60, false),
			op(3, Delete, "a", 70, 110, false),
			op(1, Get, "a", 120, 130, false),
		}, true},
		{"concurrent creates: one wins", []Op{
			op(0, Create, "a", 0, 50, true),
			op(1, Create, "a", 10, 40, false),
			op(2, Get, "a", 60, 70, true),
		}, true},
		{"stale read after create", []Op{
			op(0, Create, "a", 0, 10, true),
			op(1, Get, "a", 20, 30, false),
		}, false},
		{"read found after delete", []Op{
			op(0, Create, "a", 0, 10, true),
			op(0, Delete, "a", 20, 30, true),
			op(1, Get, "a", 40, 50, true),
		}, false},
		{"double successful create", []Op{
			op(0, Create, "a", 0, 10, true),
			op(1, Create, "a", 20, 30, true),
		}, false},
		{"concurrent successful creates", []Op{
			op(0, Create, "a", 0, 30, true),
			op(1, Create, "a", 10, 20, true),
		}, false},
		{"delete of a VM never created", []Op{
			op(0, Delete, "a", 0, 10, true),
		}, false},
		{"delete fails while the VM exists", []Op{
			op(0, Create, "a", 0, 10, true),
			op(0, Delete, "a", 20, 30, false),
		}, false},
		{"read flips back", []Op{
			op(0, Create, "a", 0, 10, true),
			op(1, Get, "a", 20, 30, true),
			op(2, Get, "a", 40, 50, false),
		}, false},
		{"pending create then found", []Op{
			pending(0, Create, "a", 0),
			op(1, Get, "a", 20, 30, true),
		}, true},
		{"pending create then not found", []Op{
			pending(0, Create, "a", 0),
			op(1, Get, "a", 20, 30, false),
		}, true},
		{"pending create then not found then found", []Op{
			pending(0, Create, "a", 0),
			op(1, Get, "a", 20, 30, false),
			op(1, Get, "a", 40, 50, true),
		}, true},
		{"pending create then found then not found", []Op{
			pending(0, Create, "a", 0),
			op(1, Get, "a", 20, 30, true),
			op(2, Get, "a", 40, 50, false),
		}, false},
		{"pending create cannot explain a read before its call", []Op{
			op(1, Get, "a", 0, 10, true),
			pending(0, Create, "a", 20),
		}, false},
		{"pending create after a successful one", []Op{
			op(0, Create, "a", 0, 10, true),
			pending(1, Create, "a", 20),
			op(2, Get, "a", 30, 40, true),
		}, true},
		{"pending delete may take effect", []Op{
			op(0, Create, "a", 0, 10, true),
			pending(0, Delete, "a", 20),
			op(1, Get, "a", 30, 40, true),
			op(1, Get, "a", 50, 60, false),
		}, true},
		{"pending delete may not take effect", []Op{
			op(0, Create, "a", 0, 10, true),
			pending(0, Delete, "a", 20),
			op(1, Get, "a", 30, 40, true),
			op(0, Delete, "a", 50, 60, true),
		}, true},
		{"pending delete does not resurrect", []Op{
			op(0, Create, "a", 0, 10, true),
			pending(0, Delete, "a", 20),
			op(1, Get, "a", 30, 40, false),
			op(1, Get, "a", 50, 60, true),
		}, false},
		{"pending get constrains nothing", []Op{
			op(0, Create, "a", 0, 10, true),
			pending(1, Get, "a", 20),
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Check(tc.ops, 0)
			if r.Linearizable != tc.ok {
				t.Fatalf("Linearizable = %v, want %v\n%s", r.Linearizable, tc.ok, r.Describe())
			}
			if r.Unknown {
				t.Errorf("Unknown with no timeout")
			}
			wantFailed := []string(nil)
			if !tc.ok {
				wantFailed = []string{"a"}
			}
			if !slices.Equal(r.Failed, wantFailed) {
				t.Errorf("Failed = %q, want %q", r.Failed, wantFailed)
			}
			if r.Ops != len(tc.ops) {
				t.Errorf("Ops = %d, want %d", r.Ops, len(tc.ops))
			}
		})
	}
}

func TestStaleReadIsNamed(t *testing.T) {
	r := Check([]Op{
		op(0, Create, "vm-7", 0, 10, true),
		op(1, Get, "vm-7", 20, 30, false),
	}, 0)
	if r.Linearizable || !slices.Equal(r.Failed, []string{"vm-7"}) {
		t.Fatalf("Linearizable = %v, Failed = %q; want false, [vm-7]", r.Linearizable, r.Failed)
	}
	d := r.Describe()
	lines := strings.Split(d, "\n")
	if !strings.Contains(lines[0], "vm-7") || !strings.Contains(lines[0], "not linearizable") {
		t.Errorf("Describe does not name vm-7 as not linearizable:\n%s", d)
	}
	if len(lines) != 3 {
		t.Fatalf("Describe has %d lines, want a header and 2 operations:\n%s", len(lines), d)
	}
	if want := "client 0   create [0.000ms, 10.000ms] -> created"; !strings.Contains(lines[1], want) || strings.Contains(lines[1], "<-") {
		t.Errorf("Describe's create line = %q, want %q unmarked", lines[1], want)
	}
	if want := "client 1   get    [20.000ms, 30.000ms] -> not found   <- fits no linearization"; !strings.HasSuffix(lines[2], want) {
		t.Errorf("Describe's get line = %q, want the stale get marked: %q", lines[2], want)
	}
}

// TestPartitionsAreIndependent checks that a failure in one VM neither
// hides the others' success nor spreads to them.
func TestPartitionsAreIndependent(t *testing.T) {
	ops := []Op{
		op(0, Create, "vm-c", 0, 10, true),
		op(0, Create, "vm-b", 0, 10, true),
		op(1, Create, "vm-a", 5, 15, true),
		op(2, Get, "vm-b", 20, 30, false), // stale
		op(2, Get, "vm-a", 20, 30, true),
		op(3, Create, "vm-d", 20, 30, true),
		op(3, Create, "vm-d", 40, 50, true), // second success
		op(1, Delete, "vm-c", 20, 30, true),
		op(1, Get, "vm-c", 40, 50, false),
		pending(2, Create, "vm-e", 60),
	}
	r := Check(ops, 0)
	if r.Linearizable || r.Unknown {
		t.Fatalf("Linearizable = %v, Unknown = %v; want false, false", r.Linearizable, r.Unknown)
	}
	if want := []string{"vm-b", "vm-d"}; !slices.Equal(r.Failed, want) {
		t.Errorf("Failed = %q, want %q", r.Failed, want)
	}
	if r.VMs != 5 || r.Ops != len(ops) {
		t.Errorf("VMs, Ops = %d, %d; want 5, %d", r.VMs, r.Ops, len(ops))
	}
	d := r.Describe()
	if !strings.HasPrefix(d, "VM vm-b is not linearizable") || !strings.Contains(d, "also not linearizable: vm-d") {
		t.Errorf("Describe should explain vm-b and list vm-d:\n%s", d)
	}
	for _, vm := range []string{"vm-a", "vm-c", "vm-e"} {
		if strings.Contains(d, vm) {
			t.Errorf("Describe mentions %s, which is linearizable:\n%s", vm, d)
		}
	}
}

func TestWriteHTML(t *testing.T) {
	r := Check([]Op{
		op(0, Create, "vm-7", 0, 10, true),
		op(1, Get, "vm-7", 20, 30, false),
		op(1, Create, "vm-8", 0, 10, true),
	}, 0)
	path := filepath.Join(t.TempDir(), "history.html")
	if err := r.WriteHTML(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<html", "get(vm-7) -\\u003e not found", "create(vm-8) -\\u003e created", "vm vm-7", "not linearizable"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("visualization lacks %q", want)
		}
	}
	if err := r.WriteHTML(filepath.Join(t.TempDir(), "missing", "history.html")); err == nil {
		t.Errorf("WriteHTML into a missing directory succeeded")
	}
}

// TestOutputIsDeterministic checks the whole output over a history that
// leaves porcupine several partial linearizations per VM to report: each
// of the concurrent successful creates starts one.
func TestOutputIsDeterministic(t *testing.T) {
	var ops []Op
	for v := range 6 {
		vm := fmt.Sprintf("vm-%d", v)
		for c := range 5 {
			ops = append(ops, op(c, Create, vm, int64(c), 100, true))
		}
		ops = append(ops, op(5, Get, vm, 110, 120, true))
	}
	var pages [][]byte
	var descriptions []string
	for range 5 {
		r := Check(ops, 0)
		if len(r.Failed) != 6 {
			t.Fatalf("Failed = %q, want all 6 VMs", r.Failed)
		}
		path := filepath.Join(t.TempDir(), "history.html")
		if err := r.WriteHTML(path); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, b)
		descriptions = append(descriptions, r.Describe())
	}
	for i := 1; i < len(pages); i++ {
		if !bytes.Equal(pages[i], pages[0]) {
			t.Errorf("visualization %d differs from the first", i)
		}
		if descriptions[i] != descriptions[0] {
			t.Errorf("description %d differs from the first:\n%s\n%s", i, descriptions[i], descriptions[0])
		}
	}
}

// TestTimeoutIsUnknownNotFailure checks that VMs the timeout cut short are
// reported as undecided rather than blamed.
func TestTimeoutIsUnknownNotFailure(t *testing.T) {
	ops := []Op{
		op(0, Create, "a", 0, 10, true),
		op(1, Get, "a", 20, 30, false),
	}
	r := Check(ops, time.Nanosecond)
	if r.Linearizable || !r.Unknown || len(r.Failed) != 0 {
		t.Fatalf("Linearizable, Unknown, Failed = %v, %v, %q; want false, true, none", r.Linearizable, r.Unknown, r.Failed)
	}
	if d := r.Describe(); !strings.Contains(d, "timed out") || !strings.Contains(d, "(a)") {
		t.Errorf("Describe does not report the timeout on a: %s", d)
	}
	if err := r.WriteHTML(filepath.Join(t.TempDir(), "history.html")); err != nil {
		t.Fatal(err)
	}
	if r := Check(ops, time.Minute); r.Unknown || !slices.Equal(r.Failed, []string{"a"}) {
		t.Errorf("with a minute: Unknown, Failed = %v, %q; want false, [a]", r.Unknown, r.Failed)
	}
}

func TestMalformedOpsPanic(t *testing.T) {
	for name, o := range map[string]Op{
		"no kind":            {VM: "a"},
		"return before call": {Kind: Get, VM: "a", Call: 10, Return: 5},
		"kind out of range":  {Kind: Get + 1, VM: "a"},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Check accepted %+v", o)
				}
			}()
			Check([]Op{o}, 0)
		})
	}
}

// history is a run against an atomic implementation of the VM objects:
// every operation takes effect at one instant between its call and its
// return, so the history is linearizable by construction.
func history(rng *rand.Rand, n, vms, clients int) []Op {
	type vm struct{ created, deleted bool }
	objects := make([]vm, vms)
	ops := make([]Op, 0, n)
	for i := range n {
		at := int64(i) * 10 * ms1
		v := rng.IntN(vms)
		o := Op{
			Client: rng.IntN(clients),
			Kind:   Kind(1 + rng.IntN(3)),
			VM:     fmt.Sprintf("vm-%d", v),
			Call:   at - rng.Int64N(40*ms1),
			Return: at + rng.Int64N(40*ms1),
		}
		s := &objects[v]
		// A pending operation may or may not take effect.
		o.Pending = rng.IntN(20) == 0
		apply := !o.Pending || rng.IntN(2) == 0
		switch o.Kind {
		case Create:
			o.OK = !s.created && rng.IntN(5) != 0 // payment rejected now and then
			if apply && o.OK {
				s.created = true
			}
		case Delete:
			o.OK = s.created && !s.deleted
			if apply && o.OK {
				s.deleted = true
			}
		case Get:
			o.Found = s.created && !s.deleted
		}
		ops = append(ops, o)
	}
	return ops
}

func TestAtomicHistoriesAreLinearizable(t *testing.T) {
	for seed := range uint64(50) {
		ops := history(rand.New(rand.NewPCG(seed, 1)), 200, 5, 4)
		if r := Check(ops, 0); !r.Linearizable {
			t.Fatalf("seed %d: %s", seed, r.Describe())
		}
	}
}

// TestFlippedReadIsCaught flips the answer of a read that overlaps no
// operation able to change its VM, so exactly one answer explains it.
func TestFlippedReadIsCaught(t *testing.T) {
	flipped := 0
	for seed := range uint64(50) {
		ops := history(rand.New(rand.NewPCG(seed, 2)), 200, 5, 4)
		i := isolatedRead(ops)
		if i < 0 {
			continue
		}
		flipped++
		ops[i].Found = !ops[i].Found
		r := Check(ops, 0)
		if r.Linearizable || !slices.Equal(r.Failed, []string{ops[i].VM}) {
			t.Fatalf("seed %d: flipped get %+v; Failed = %q, want [%s]", seed, ops[i], r.Failed, ops[i].VM)
		}
		if !strings.Contains(r.Describe(), "<- fits no linearization") {
			t.Errorf("seed %d: Describe marks no operation:\n%s", seed, r.Describe())
		}
	}
	if flipped < 25 {
		t.Fatalf("only %d of 50 histories had a read to flip", flipped)
	}
}

// isolatedRead finds a returned get that no create or delete on its VM
// that could have taken effect overlaps.
func isolatedRead(ops []Op) int {
	for i, g := range ops {
		if g.Kind != Get || g.Pending {
			continue
		}
		overlaps := slices.ContainsFunc(ops, func(o Op) bool {
			if o.VM != g.VM || o.Kind == Get || !(o.OK || o.Pending) {
				return false
			}
			return o.Call <= g.Return && (o.Pending || o.Return >= g.Call)
		})
		if !overlaps {
			return i
		}
	}
	return -1
}

func BenchmarkCheck(b *testing.B) {
	ops := history(rand.New(rand.NewPCG(1, 1)), 20_000, 2_000, 32)
	b.ReportAllocs()
	for b.Loop() {
		if r := Check(ops, 0); !r.Linearizable {
			b.Fatal(r.Describe())
		}
	}
}

// TestLostVMs: the cluster may end a VM by itself; a delete or get that
// reports the loss is explained only after a create, and the VM stays lost.
func TestLostVMs(t *testing.T) {
	created := Op{Client: 0, Kind: Create, VM: "v", Call: 0, Return: 10, OK: true}
	cases := []struct {
		name string
		ops  []Op
		want bool
	}{
		{"a get sees the loss after the create", []Op{created, {Client: 1, Kind: Get, VM: "v", Call: 20, Return: 30, Lost: true}}, true},
		{"a delete sees the loss", []Op{created, {Client: 0, Kind: Delete, VM: "v", Call: 20, Return: 30, Lost: true}}, true},
		{"a loss without a create", []Op{{Client: 1, Kind: Get, VM: "v", Call: 20, Return: 30, Lost: true}}, false},
		{"found after the loss was seen", []Op{created, {Client: 1, Kind: Get, VM: "v", Call: 20, Return: 30, Lost: true},
			{Client: 2, Kind: Get, VM: "v", Call: 40, Return: 50, Found: true}}, false},
		{"a stale never-existed is not a loss", []Op{created, {Client: 1, Kind: Get, VM: "v", Call: 20, Return: 30}}, false},
		{"a loss after a delete", []Op{created, {Client: 0, Kind: Delete, VM: "v", Call: 20, Return: 30, OK: true},
			{Client: 1, Kind: Get, VM: "v", Call: 40, Return: 50, Lost: true}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if r := Check(tc.ops, 0); r.Linearizable != tc.want {
				t.Fatalf("linearizable %v, want %v: %s", r.Linearizable, tc.want, r.Describe())
			}
		})
	}
}

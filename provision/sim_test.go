package provision_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"dagger/provision"
)

var testHost = provision.Capacity{VCPU: 8, MemoryMiB: 16384, DiskGiB: 100}

// testClock is the runtime's clock, moved only by the test.
type testClock struct{ ns int64 }

func (c *testClock) now() int64              { return c.ns }
func (c *testClock) advance(d time.Duration) { c.ns += int64(d) }
func newClock() *testClock {
	return &testClock{ns: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()}
}

// testSSHKey is the OpenSSH public key of the ed25519 key whose seed is 32
// bytes of 0x01.
const testSSHKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c"

func spec(id string, vcpu uint32, mem, disk uint64) provision.Spec {
	return provision.Spec{ID: id, VCPU: vcpu, MemoryMiB: mem, DiskGiB: disk, Image: "debian-12", SSHKey: testSSHKey + " op@host"}
}

func newSim(t *testing.T, clk *testClock, mod func(*provision.SimConfig)) *provision.Sim {
	t.Helper()
	cfg := provision.SimConfig{Capacity: testHost, BootTime: 2 * time.Second, Now: clk.now}
	if mod != nil {
		mod(&cfg)
	}
	hv, err := provision.NewSim(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return hv
}

// scriptT is what runScript needs of a *testing.T, so that a test can
// check that a wrong script fails.
type scriptT interface {
	Helper()
	Fatalf(format string, args ...any)
}

var scriptErrs = map[string]error{
	"notfound": provision.ErrNotFound,
	"exists":   provision.ErrExists,
	"capacity": provision.ErrCapacity,
	"invalid":  provision.ErrInvalid,
	"hostdown": provision.ErrHostDown,
}

// runScript drives hv by a script, one command a line:
//
//	define ID [VCPU MiB GiB]   (default 1 vCPU, 1024 MiB, 10 GiB)
//	start|stop|destroy|crash ID
//	kill | revive | fail N (FailNextBoots) | wait DURATION
//	state ID STATE [REASON]    the VM's state and its reason (none if not given)
//	free VCPU MiB GiB          the unreserved capacity
//	list [ID:STATE ...]        every VM, in List's order
//	down true|false            whether the host is dead
//
// A command must succeed unless it ends in "-> ERR", where ERR is one of
// scriptErrs' names or "error" for any error.
func runScript(t scriptT, hv *provision.Sim, clk *testClock, script string) {
	t.Helper()
	for n, line := range strings.Split(script, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cmd, wantErr, _ := strings.Cut(line, "->")
		wantErr = strings.TrimSpace(wantErr)
		f := strings.Fields(cmd)
		arg := func(i int) string {
			if i >= len(f) {
				t.Fatalf("line %d %q: missing argument %d", n+1, line, i)
			}
			return f[i]
		}
		num := func(i int) uint64 {
			v, err := strconv.ParseUint(arg(i), 10, 64)
			if err != nil {
				t.Fatalf("line %d %q: %v", n+1, line, err)
			}
			return v
		}
		var err error
		var check func() string // what differs from the line's expectation
		switch f[0] {
		case "define":
			s := spec(arg(1), 1, 1024, 10)
			if len(f) > 2 {
				s = spec(arg(1), uint32(num(2)), num(3), num(4))
			}
			err = hv.Define(s)
		case "start":
			err = hv.Start(arg(1))
		case "stop":
			err = hv.Stop(arg(1))
		case "destroy":
			err = hv.Destroy(arg(1))
		case "crash":
			err = hv.Crash(arg(1))
		case "kill":
			hv.Kill()
		case "revive":
			hv.Revive()
		case "fail":
			k, perr := strconv.Atoi(arg(1))
			if perr != nil {
				t.Fatalf("line %d %q: %v", n+1, line, perr)
			}
			hv.FailNextBoots(k)
		case "wait":
			d, perr := time.ParseDuration(arg(1))
			if perr != nil {
				t.Fatalf("line %d %q: %v", n+1, line, perr)
			}
			clk.advance(d)
		case "state":
			var d provision.Domain
			d, err = hv.State(arg(1))
			check = func() string {
				if d.ID != arg(1) || d.Spec.ID != arg(1) {
					return fmt.Sprintf("domain %+v for id %s", d, arg(1))
				}
				if got := d.State.String(); got != arg(2) {
					return fmt.Sprintf("state %s", got)
				}
				if reason := strings.Join(f[3:], " "); d.Reason != reason {
					return fmt.Sprintf("reason %q", d.Reason)
				}
				return ""
			}
		case "free":
			var free, total provision.Capacity
			total, free, err = hv.Capacity()
			check = func() string {
				if total != testHost {
					return fmt.Sprintf("total %v", total)
				}
				if want := (provision.Capacity{VCPU: uint32(num(1)), MemoryMiB: num(2), DiskGiB: num(3)}); free != want {
					return fmt.Sprintf("free %v", free)
				}
				return ""
			}
		case "list":
			var doms []provision.Domain
			doms, err = hv.List()
			check = func() string {
				got := make([]string, len(doms))
				for i, d := range doms {
					got[i] = d.ID + ":" + d.State.String()
				}
				if !slices.Equal(got, f[1:]) {
					return fmt.Sprintf("list %v", got)
				}
				return ""
			}
		case "down":
			check = func() string {
				if got := strconv.FormatBool(hv.Down()); got != arg(1) {
					return "down " + got
				}
				return ""
			}
		default:
			t.Fatalf("line %d %q: unknown command", n+1, line)
		}
		switch {
		case wantErr == "" && err != nil:
			t.Fatalf("line %d %q: %v", n+1, line, err)
		case wantErr == "error" && err == nil,
			wantErr != "" && wantErr != "error" && !errors.Is(err, scriptErrs[wantErr]):
			t.Fatalf("line %d %q: error %v, want %s", n+1, line, err, wantErr)
		case err == nil && check != nil:
			if diff := check(); diff != "" {
				t.Fatalf("line %d %q: got %s", n+1, line, diff)
			}
		}
	}
}

// TestSimScripts is the lifecycle of a VM and the errors of every call,
// on a host of 8 vCPU, 16384 MiB, 100 GiB that boots in 2s.
func TestSimScripts(t *testing.T) {
	for _, tc := range []struct{ name, script string }{
		{"lifecycle: define, boot, run, stop, destroy", `
			define a
			state a defined
			free 7 15360 90
			start a
			state a booting
			wait 1999ms
			state a booting
			wait 1ms
			state a running
			wait 1h
			state a running
			stop a
			state a defined
			# a stopped VM keeps its reservation, so it can start again
			free 7 15360 90
			destroy a
			state a -> notfound
			free 8 16384 100
			list
		`},
		{"start and stop are idempotent", `
			define a
			stop a
			state a defined
			start a
			wait 1s
			# a repeated start does not restart the boot
			start a
			wait 1s
			state a running
			start a
			state a running
			stop a
			stop a
			state a defined
		`},
		{"stop of a booting VM", `
			define a
			start a
			wait 1s
			stop a
			state a defined
			wait 5s
			state a defined
			start a
			wait 2s
			state a running
		`},
		{"errors of absent and duplicate VMs", `
			define a
			define a -> exists
			start x -> notfound
			stop x -> notfound
			destroy x -> notfound
			crash x -> notfound
			state x -> notfound
			destroy a
			destroy a -> notfound
			define a
		`},
		{"capacity: reservation, exhaustion, release", `
			define a 4 8192 50
			define b 4 8192 50
			free 0 0 0
			define c 1 1 1 -> capacity
			destroy a
			define c 1 1 1
			free 3 8191 49
			list b:defined c:defined
		`},
		{"capacity: each dimension alone refuses", `
			define v 9 1 1 -> capacity
			define m 1 16385 1 -> capacity
			define d 1 1 101 -> capacity
			define all 8 16384 100
			free 0 0 0
		`},
		{"capacity: a refused define reserves nothing", `
			define a 2 2048 20
			define big 7 1 1 -> capacity
			free 6 14336 80
			list a:defined
		`},
		{"destroy frees a VM in every state", `
			define r 2 2048 20
			define b 2 2048 20
			define c 2 2048 20
			define f 2 2048 20
			start r
			wait 2s
			start b
			start c
			crash c
			fail 1
			start f
			wait 1s
			list b:booting c:crashed f:booting r:running
			wait 1s
			list b:running c:crashed f:failed r:running
			free 0 8192 20
			destroy r
			destroy b
			destroy c
			destroy f
			free 8 16384 100
		`},
		{"crash of a running guest, and restart", `
			define a
			start a
			wait 2s
			crash a
			state a crashed guest crashed (simulated)
			wait 10s
			state a crashed guest crashed (simulated)
			start a
			state a booting
			wait 2s
			state a running
		`},
		{"crash of a booting guest", `
			define a
			start a
			crash a
			wait 2s
			state a crashed guest crashed (simulated)
		`},
		{"crash needs a guest", `
			define a
			crash a -> error
			state a defined
			fail 1
			start a
			wait 2s
			state a failed boot failed (simulated)
			crash a -> error
			start a
			wait 2s
			crash a
			crash a -> error
			# a stopped VM has no reason to be anything but defined
			stop a
			state a defined
		`},
		{"FailNextBoots: the next n boots fail, then boots succeed", `
			fail 2
			define a
			define b
			define c
			start a
			start b
			start c
			# the failure shows when the boot would have finished
			state a booting
			wait 2s
			list a:failed b:failed c:running
			state a failed boot failed (simulated)
			start a
			state a booting
			wait 2s
			state a running
		`},
		{"FailNextBoots replaces its count; 0 cancels", `
			fail 3
			fail 0
			define a
			start a
			wait 2s
			state a running
			fail 5
			fail 1
			stop a
			start a
			stop a
			start a
			wait 2s
			state a running
		`},
		{"stop clears a failure", `
			fail 1
			define a
			start a
			wait 2s
			state a failed boot failed (simulated)
			stop a
			state a defined
		`},
		{"kill: every VM is gone and every call fails until revive", `
			define a 2 2048 20
			define b
			start a
			wait 2s
			down false
			kill
			down true
			define c -> hostdown
			start a -> hostdown
			stop a -> hostdown
			destroy a -> hostdown
			crash a -> hostdown
			state a -> hostdown
			list -> hostdown
			free 0 0 0 -> hostdown
			kill
			revive
			down false
			list
			free 8 16384 100
			state a -> notfound
			define a 2 2048 20
			start a
			wait 2s
			state a running
			revive
			state a running
		`},
		{"FailNextBoots outlives a kill", `
			fail 1
			kill
			revive
			define a
			start a
			wait 2s
			state a failed boot failed (simulated)
		`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			runScript(t, newSim(t, clk, nil), clk, tc.script)
		})
	}
}

// The script harness must be able to fail, or every script above passes
// vacuously.
func TestScriptHarnessFails(t *testing.T) {
	for _, script := range []string{
		"define a\nstate a running",
		"define a\nstart a\nstate a running",
		"define a\ndefine a",
		"define a -> exists",
		"define a\nstart a\nwait 2s\ncrash a\nstate a crashed wrong reason",
		"free 8 16384 99",
		"define b\ndefine a\nlist b:defined a:defined",
		"down true",
	} {
		clk := newClock()
		hv := newSim(t, clk, nil)
		rec := &failRecorder{}
		func() {
			defer func() {
				if r := recover(); r != nil && r != rec {
					panic(r)
				}
			}()
			runScript(rec, hv, clk, script)
		}()
		if rec.msg == "" {
			t.Errorf("script %q passed", script)
		}
	}
}

// failRecorder stops a script at its first failure, as t.Fatalf would.
type failRecorder struct{ msg string }

func (r *failRecorder) Helper() {}
func (r *failRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	panic(r)
}

func TestSimBootTimeZeroRunsAtOnce(t *testing.T) {
	clk := newClock()
	hv := newSim(t, clk, func(c *provision.SimConfig) { c.BootTime = 0 })
	runScript(t, hv, clk, `
		define a
		start a
		state a running
	`)
}

// A wall clock may step back; a VM that was seen running stays running.
func TestSimClockSteppingBack(t *testing.T) {
	clk := newClock()
	hv := newSim(t, clk, nil)
	runScript(t, hv, clk, `
		define a
		start a
		wait 2s
		state a running
		wait -10s
		state a running
		define b
		start b
		wait 11s
		state b booting
		wait 1s
		state b running
	`)
}

func TestSimCapacityErrorSaysWhy(t *testing.T) {
	hv := newSim(t, newClock(), nil)
	if err := hv.Define(spec("a", 4, 8192, 50)); err != nil {
		t.Fatal(err)
	}
	err := hv.Define(spec("b", 5, 1024, 10))
	if !errors.Is(err, provision.ErrCapacity) {
		t.Fatalf("%v, want ErrCapacity", err)
	}
	for _, want := range []string{"define b", "needs 5 vCPU, 1024 MiB memory, 10 GiB disk",
		"4 vCPU, 8192 MiB memory, 50 GiB disk of 8 vCPU, 16384 MiB memory, 100 GiB disk is free"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
}

func TestSimMaxDomains(t *testing.T) {
	big := provision.Capacity{VCPU: 2 * provision.MaxDomains, MemoryMiB: 1 << 40, DiskGiB: 1 << 40}
	hv := newSim(t, newClock(), func(c *provision.SimConfig) { c.Capacity = big })
	id := func(i int) string { return fmt.Sprintf("%04x", i) }
	for i := range provision.MaxDomains {
		if err := hv.Define(spec(id(i), 1, 1, 1)); err != nil {
			t.Fatalf("define %d: %v", i, err)
		}
	}
	err := hv.Define(spec(id(provision.MaxDomains), 1, 1, 1))
	if !errors.Is(err, provision.ErrCapacity) || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("define beyond the limit: %v, want ErrCapacity naming the limit", err)
	}
	if _, free, _ := hv.Capacity(); free.VCPU != provision.MaxDomains {
		t.Fatalf("free %v after a refused define", free)
	}
	if err := hv.Destroy(id(0)); err != nil {
		t.Fatal(err)
	}
	if err := hv.Define(spec(id(provision.MaxDomains), 1, 1, 1)); err != nil {
		t.Fatalf("define after freeing a slot: %v", err)
	}
}

func TestSimRejectsInvalidSpecs(t *testing.T) {
	hex64 := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name string
		mod  func(*provision.Spec)
		ok   bool
	}{
		{"a cluster VM id", func(s *provision.Spec) { s.ID = hex64 }, true},
		{"dashes and underscores", func(s *provision.Spec) { s.ID = "vm-1_a" }, true},
		{"longest image and key", func(s *provision.Spec) {
			s.Image = strings.Repeat("i", provision.MaxImageBytes)
			s.SSHKey = strings.Repeat("k", provision.MaxSSHKeyBytes)
		}, true},
		{"no SSH key", func(s *provision.Spec) { s.SSHKey = "" }, true},
		{"empty id", func(s *provision.Spec) { s.ID = "" }, false},
		{"oversized id", func(s *provision.Spec) { s.ID = hex64 + "a" }, false},
		{"id with a slash", func(s *provision.Spec) { s.ID = "../etc" }, false},
		{"id with a space", func(s *provision.Spec) { s.ID = "a b" }, false},
		{"id with a dot", func(s *provision.Spec) { s.ID = "a.b" }, false},
		{"zero vCPU", func(s *provision.Spec) { s.VCPU = 0 }, false},
		{"zero memory", func(s *provision.Spec) { s.MemoryMiB = 0 }, false},
		{"zero disk", func(s *provision.Spec) { s.DiskGiB = 0 }, false},
		{"zero spec", func(s *provision.Spec) { *s = provision.Spec{ID: "a"} }, false},
		{"no image", func(s *provision.Spec) { s.Image = "" }, false},
		{"oversized image", func(s *provision.Spec) { s.Image = strings.Repeat("i", provision.MaxImageBytes+1) }, false},
		{"oversized SSH key", func(s *provision.Spec) { s.SSHKey = strings.Repeat("k", provision.MaxSSHKeyBytes+1) }, false},
		{"SSH key of two lines", func(s *provision.Spec) { s.SSHKey = testSSHKey + "\n" + testSSHKey }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hv := newSim(t, newClock(), nil)
			s := spec("a", 1, 1024, 10)
			tc.mod(&s)
			err := hv.Define(s)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, provision.ErrInvalid) {
				t.Fatalf("%v, want ErrInvalid", err)
			}
			if doms, _ := hv.List(); len(doms) != 0 {
				t.Fatalf("a rejected spec left %v", doms)
			}
		})
	}
}

func TestNewSimValidates(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		mod  func(*provision.SimConfig)
		ok   bool
	}{
		{"defaults", func(*provision.SimConfig) {}, true},
		{"instant boots", func(c *provision.SimConfig) { c.BootTime = 0 }, true},
		{"every boot fails", func(c *provision.SimConfig) { c.BootFailure, c.Rand = 1, rng }, true},
		{"no vCPU", func(c *provision.SimConfig) { c.Capacity.VCPU = 0 }, false},
		{"no memory", func(c *provision.SimConfig) { c.Capacity.MemoryMiB = 0 }, false},
		{"no disk", func(c *provision.SimConfig) { c.Capacity.DiskGiB = 0 }, false},
		{"negative boot time", func(c *provision.SimConfig) { c.BootTime = -time.Second }, false},
		{"no clock", func(c *provision.SimConfig) { c.Now = nil }, false},
		{"negative boot failure", func(c *provision.SimConfig) { c.BootFailure, c.Rand = -0.1, rng }, false},
		{"boot failure above 1", func(c *provision.SimConfig) { c.BootFailure, c.Rand = 1.1, rng }, false},
		{"NaN boot failure", func(c *provision.SimConfig) { c.BootFailure, c.Rand = math.NaN(), rng }, false},
		{"boot failures without a source", func(c *provision.SimConfig) { c.BootFailure = 0.5 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := provision.SimConfig{Capacity: testHost, BootTime: time.Second, Now: newClock().now}
			tc.mod(&cfg)
			hv, err := provision.NewSim(cfg)
			if tc.ok != (err == nil) || (hv == nil) == tc.ok {
				t.Fatalf("NewSim: %v, %v; want ok %v", hv, err, tc.ok)
			}
		})
	}
}

// bootOutcomes boots n VMs on a host failing boots with probability p and
// reports which failed, in start order.
func bootOutcomes(t *testing.T, seed uint64, p float64, failFirst, n int) []bool {
	t.Helper()
	clk := newClock()
	hv := newSim(t, clk, func(c *provision.SimConfig) {
		c.Capacity = provision.Capacity{VCPU: uint32(n), MemoryMiB: uint64(n), DiskGiB: uint64(n)}
		c.BootFailure = p
		if p > 0 {
			c.Rand = rand.New(rand.NewPCG(seed, seed+1))
		}
	})
	hv.FailNextBoots(failFirst)
	for i := range n {
		id := fmt.Sprintf("%04x", i)
		if err := hv.Define(spec(id, 1, 1, 1)); err != nil {
			t.Fatal(err)
		}
		if err := hv.Start(id); err != nil {
			t.Fatal(err)
		}
	}
	clk.advance(2 * time.Second)
	doms, err := hv.List()
	if err != nil {
		t.Fatal(err)
	}
	failed := make([]bool, len(doms))
	for i, d := range doms {
		switch d.State {
		case provision.StateFailed:
			failed[i] = true
		case provision.StateRunning:
		default:
			t.Fatalf("%s is %s after its boot time", d.ID, d.State)
		}
	}
	return failed
}

func count(b []bool) (k int) {
	for _, v := range b {
		if v {
			k++
		}
	}
	return k
}

func TestSimBootFailureIsSeeded(t *testing.T) {
	const n = 200
	for _, tc := range []struct {
		name      string
		p         float64
		min, max  int
		failFirst int
	}{
		{"never", 0, 0, 0, 0},
		{"always", 1, n, n, 0},
		{"half", 0.5, n / 4, 3 * n / 4, 0},
		{"a tenth", 0.1, 1, n / 4, 0},
		{"never, but the first three forced", 0, 3, 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := bootOutcomes(t, 7, tc.p, tc.failFirst, n)
			if k := count(a); k < tc.min || k > tc.max {
				t.Fatalf("%d of %d boots failed, want %d to %d", k, n, tc.min, tc.max)
			}
			if b := bootOutcomes(t, 7, tc.p, tc.failFirst, n); !slices.Equal(a, b) {
				t.Fatal("the same seed gave different outcomes")
			}
			if tc.failFirst > 0 && !(a[0] && a[tc.failFirst-1]) {
				t.Fatalf("forced failures did not fail: %v", a[:tc.failFirst])
			}
		})
	}
	if a, b := bootOutcomes(t, 7, 0.5, 0, n), bootOutcomes(t, 8, 0.5, 0, n); slices.Equal(a, b) {
		t.Fatal("different seeds gave the same outcomes: the source is not used")
	}
}

// A forced failure draws from the source like any boot, so the boots after
// it fare as they would have without it.
func TestSimFailNextBootsKeepsTheDraws(t *testing.T) {
	plain := bootOutcomes(t, 3, 0.5, 0, 50)
	forced := bootOutcomes(t, 3, 0.5, 2, 50)
	if !forced[0] || !forced[1] {
		t.Fatalf("the forced boots: %v", forced[:2])
	}
	if !slices.Equal(plain[2:], forced[2:]) {
		t.Fatalf("forcing two failures changed later outcomes:\n%v\n%v", plain[2:], forced[2:])
	}
}

func TestSimListIsSortedAndCopied(t *testing.T) {
	hv := newSim(t, newClock(), nil)
	ids := []string{"c0", "0a", "ff", "1b", "A9", "b_", "b-", "00"}
	for _, id := range ids {
		if err := hv.Define(spec(id, 1, 1, 1)); err != nil {
			t.Fatal(err)
		}
	}
	doms, err := hv.List()
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(doms))
	for i, d := range doms {
		got[i] = d.ID
	}
	want := slices.Sorted(slices.Values(ids))
	if !slices.Equal(got, want) {
		t.Fatalf("List order %v, want %v", got, want)
	}
	doms[0].State, doms[0].Spec.VCPU = provision.StateRunning, 99
	if d, _ := hv.State(want[0]); d.State != provision.StateDefined || d.Spec.VCPU != 1 {
		t.Fatalf("changing List's result changed the host: %+v", d)
	}
}

// TestSimDeterminism drives two hosts with one seeded random workload and
// compares everything they said; along the way, the reserved capacity of
// the listed VMs plus the free capacity must always be the whole host.
func TestSimDeterminism(t *testing.T) {
	run := func(hostSeed uint64) string {
		clk := newClock()
		hv := newSim(t, clk, func(c *provision.SimConfig) {
			c.BootFailure = 0.3
			c.Rand = rand.New(rand.NewPCG(hostSeed, 0))
		})
		work := rand.New(rand.NewPCG(42, 42))
		var out strings.Builder
		for step := range 2000 {
			id := fmt.Sprintf("%02x", work.IntN(12))
			var err error
			switch op := work.IntN(10); op {
			case 0:
				err = hv.Define(spec(id, uint32(1+work.IntN(3)), uint64(1+work.IntN(4096)), uint64(1+work.IntN(30))))
			case 1, 2:
				err = hv.Start(id)
			case 3:
				err = hv.Stop(id)
			case 4:
				err = hv.Destroy(id)
			case 5:
				err = hv.Crash(id)
			case 6:
				if work.IntN(20) == 0 {
					hv.Kill()
				} else {
					hv.Revive()
				}
			case 7:
				hv.FailNextBoots(work.IntN(3) - 1)
			default:
				clk.advance(time.Duration(work.IntN(3000)) * time.Millisecond)
			}
			doms, lerr := hv.List()
			total, free, cerr := hv.Capacity()
			fmt.Fprintf(&out, "%d %v | %v %v | %v\n", step, err, doms, lerr, free)
			if (lerr == nil) != (cerr == nil) {
				t.Fatalf("step %d: List %v but Capacity %v", step, lerr, cerr)
			}
			if lerr != nil {
				continue
			}
			used := provision.Capacity{}
			for _, d := range doms {
				used = used.Add(d.Spec)
			}
			if sum := (provision.Capacity{VCPU: used.VCPU + free.VCPU, MemoryMiB: used.MemoryMiB + free.MemoryMiB,
				DiskGiB: used.DiskGiB + free.DiskGiB}); sum != total {
				t.Fatalf("step %d: reserved %v plus free %v is not the host's %v", step, used, free, total)
			}
		}
		return out.String()
	}
	a, b := run(1), run(1)
	if a != b {
		t.Fatal("the same seeds gave different runs")
	}
	for _, want := range []string{"running", "failed", "crashed", "booting", "host is down", "lacks capacity"} {
		if !strings.Contains(a, want) {
			t.Errorf("the workload never reached %q; it tests less than it claims", want)
		}
	}
	if a == run(2) {
		t.Fatal("a different host seed gave the same run: boot failures ignore the source")
	}
}

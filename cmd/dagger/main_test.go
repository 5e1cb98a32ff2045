package main

import (
	"bytes"
	"strings"
	"testing"
)

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestDemoCommitsAndAgrees(t *testing.T) {
	code, out, errs := runCLI("demo", "--nodes", "7", "--equivocators", "2", "--rounds", "12", "--txs", "3")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "Agreement: every honest node's commit sequence is a prefix") {
		t.Fatalf("no agreement line:\n%s", out)
	}
	if !strings.Contains(out, "equivocator") {
		t.Fatalf("equivocators not shown:\n%s", out)
	}
}

func TestDemoIsReproducibleFromItsSeed(t *testing.T) {
	_, a, _ := runCLI("demo", "--seed", "5", "--rounds", "10")
	_, b, _ := runCLI("demo", "--seed", "5", "--rounds", "10")
	_, c, _ := runCLI("demo", "--seed", "6", "--rounds", "10")
	if a != b {
		t.Fatal("one seed gave two outputs")
	}
	if a == c {
		t.Fatal("two seeds gave one output")
	}
}

func TestBadUsageExitsTwo(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"nosuch"},
		{"demo", "--nodes", "0"},
		{"demo", "--nodes", "4", "--equivocators", "2"},
		{"demo", "--bogus"},
	} {
		if code, _, errs := runCLI(args...); code != 2 || errs == "" {
			t.Errorf("%q: exit %d, stderr %q; want 2 with a message", args, code, errs)
		}
	}
}

func TestVersionPrints(t *testing.T) {
	code, out, _ := runCLI("version")
	if code != 0 || !strings.HasPrefix(out, "dagger ") {
		t.Fatalf("exit %d, %q", code, out)
	}
}

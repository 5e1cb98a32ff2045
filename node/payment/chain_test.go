package payment

import "testing"

func TestMemChainFinalizesAtTheRecordedTime(t *testing.T) {
	now := int64(100)
	c := NewMemChain(func() int64 { return now })
	sig, failed, unknown := Signature{1}, Signature{2}, Signature{3}
	c.Record(sig, 200)
	c.RecordFailed(failed)
	steps := []struct {
		at   int64
		sig  Signature
		want Status
	}{
		{100, sig, StatusPending},
		{199, sig, StatusPending},
		{200, sig, StatusFinalized},
		{300, sig, StatusFinalized},
		{300, failed, StatusFailed},
		{300, unknown, StatusNotFound},
	}
	for _, s := range steps {
		now = s.at
		got, err := c.Status(s.sig)
		if err != nil || got != s.want {
			t.Fatalf("at %d: status of %s = %v %v, want %v", s.at, s.sig, got, err, s.want)
		}
	}
}

func TestMemChainLandsASignatureOnce(t *testing.T) {
	c := NewMemChain(func() int64 { return 50 })
	sig := Signature{7}
	c.Record(sig, 10)
	c.Record(sig, 1000)
	c.RecordFailed(sig)
	if got, _ := c.Status(sig); got != StatusFinalized {
		t.Fatalf("status %v: a later record changed a landed transaction", got)
	}
	failed := Signature{8}
	c.RecordFailed(failed)
	c.Record(failed, 0)
	if got, _ := c.Status(failed); got != StatusFailed {
		t.Fatalf("status %v: a failed transaction was made to succeed", got)
	}
}

func TestStatusNames(t *testing.T) {
	for s, want := range map[Status]string{
		StatusNotFound: "not-found", StatusPending: "pending", StatusFinalized: "finalized",
		StatusFailed: "failed", Status(9): "status(9)",
	} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(s), s.String(), want)
		}
	}
}

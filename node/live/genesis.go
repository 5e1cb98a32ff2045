package live

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"dagger/node/cluster"
	"dagger/node/payment"
	"dagger/node/tx"
	"dagger/transport"
	"dagger/transport/p2p"
)

// MaxGenesisBytes bounds a genesis file: a thousand operators fit.
const MaxGenesisBytes = 1 << 20

// GenesisFile is the JSON form of a cluster's genesis, which every
// operator of the first committee runs with. Durations are Go durations
// ("30s"), keys hex, Solana addresses base58.
type GenesisFile struct {
	// TimeUnixNs is the consensus time the cluster starts at.
	TimeUnixNs    int64        `json:"time_unix_ns"`
	Treasury      string       `json:"treasury"`
	Price         GenesisPrice `json:"price"`
	EpochLength   string       `json:"epoch_length,omitempty"`
	StatusTimeout string       `json:"status_timeout,omitempty"`
	MaxAttempts   int          `json:"max_attempts,omitempty"`
	// PendingTimeout is how long a paid VM may wait for a host with room
	// before it fails with its payment recorded as owed to its owner.
	PendingTimeout string          `json:"pending_timeout,omitempty"`
	Operators      []GenesisMember `json:"operators"`
}

// GenesisPrice is the price of a VM, in lamports per hour.
type GenesisPrice struct {
	VCPUHour      uint64 `json:"vcpu_hour_lamports"`
	MemoryGiBHour uint64 `json:"memory_gib_hour_lamports"`
	DiskGiBHour   uint64 `json:"disk_gib_hour_lamports"`
}

// GenesisMember is a founding operator.
type GenesisMember struct {
	// Key is the operator's identity key (hex); its libp2p peer id is
	// derived from it.
	Key string `json:"key"`
	// Addrs are libp2p multiaddrs the operator listens on, without the
	// /p2p/ part: the other nodes dial them.
	Addrs    []string        `json:"addrs"`
	Region   string          `json:"region"`
	Capacity GenesisCapacity `json:"capacity"`
	// Payout is the operator's Solana address (base58); empty means its key.
	Payout string `json:"payout,omitempty"`
	Weight uint64 `json:"weight,omitempty"`
}

// GenesisCapacity is what an operator's host offers.
type GenesisCapacity struct {
	VCPU      uint32 `json:"vcpu"`
	MemoryMiB uint64 `json:"memory_mib"`
	DiskGiB   uint64 `json:"disk_gib"`
}

// Genesis is a parsed genesis file: the cluster's genesis plus where to
// reach its operators.
type Genesis struct {
	Cluster cluster.Genesis
	// Addrs are each operator's multiaddrs, with /p2p/<id>, by peer id.
	Addrs map[transport.PeerID][]string
}

// LoadGenesis reads and checks a genesis file.
func LoadGenesis(path string) (Genesis, error) {
	f, err := os.Open(path)
	if err != nil {
		return Genesis{}, fmt.Errorf("genesis: %w", err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxGenesisBytes+1)); err != nil {
		return Genesis{}, fmt.Errorf("genesis %s: %w", path, err)
	}
	g, err := ParseGenesis(buf.Bytes())
	if err != nil {
		return Genesis{}, fmt.Errorf("genesis %s: %w", path, err)
	}
	return g, nil
}

// ParseGenesis decodes and checks a genesis file's contents.
func ParseGenesis(data []byte) (Genesis, error) {
	if len(data) > MaxGenesisBytes {
		return Genesis{}, fmt.Errorf("%d bytes: want at most %d", len(data), MaxGenesisBytes)
	}
	var gf GenesisFile
	if err := decodeStrict(data, &gf); err != nil {
		return Genesis{}, err
	}
	return gf.Genesis()
}

// Genesis checks the file and returns what it describes.
func (gf GenesisFile) Genesis() (Genesis, error) {
	var g Genesis
	treasury, err := payment.ParseAddress(gf.Treasury)
	if err != nil {
		return g, fmt.Errorf("treasury: %w", err)
	}
	p := cluster.Params{Treasury: treasury, MaxAttempts: gf.MaxAttempts,
		Price: cluster.Price{VCPUHour: gf.Price.VCPUHour, MemoryGiBHour: gf.Price.MemoryGiBHour, DiskGiBHour: gf.Price.DiskGiBHour}}
	if p.EpochLength, err = parseDuration("epoch_length", gf.EpochLength); err != nil {
		return g, err
	}
	if p.StatusTimeout, err = parseDuration("status_timeout", gf.StatusTimeout); err != nil {
		return g, err
	}
	if p.PendingTimeout, err = parseDuration("pending_timeout", gf.PendingTimeout); err != nil {
		return g, err
	}
	if len(gf.Operators) == 0 {
		return g, errors.New("no operators: the first committee needs at least one")
	}
	g.Cluster = cluster.Genesis{Time: gf.TimeUnixNs, Params: p}
	g.Addrs = map[transport.PeerID][]string{}
	for i, m := range gf.Operators {
		op, addrs, err := m.operator()
		if err != nil {
			return g, fmt.Errorf("operator %d: %w", i, err)
		}
		if _, dup := g.Addrs[transport.PeerID(op.PeerID)]; dup {
			return g, fmt.Errorf("operator %d: key %s appears twice", i, op.Key)
		}
		g.Addrs[transport.PeerID(op.PeerID)] = addrs
		g.Cluster.Operators = append(g.Cluster.Operators, op)
	}
	// The state machine's own checks (weights, regions, capacities) run
	// here too, so a bad file fails before any store is touched.
	if _, err := cluster.New(g.Cluster, nil); err != nil {
		return g, err
	}
	return g, nil
}

// Operator is the operator m describes, as the cluster knows it: its key,
// the libp2p peer id derived from it, region, capacity, payout (its own
// key's address by default) and weight.
func (m GenesisMember) Operator() (cluster.GenesisOperator, error) {
	op, _, err := m.operator()
	return op, err
}

func (m GenesisMember) operator() (cluster.GenesisOperator, []string, error) {
	var op cluster.GenesisOperator
	key, err := tx.ParseKey(m.Key)
	if err != nil {
		return op, nil, err
	}
	id, err := p2p.PeerIDOf(ed25519.PublicKey(key[:]))
	if err != nil {
		return op, nil, fmt.Errorf("key %s: %w", key, err)
	}
	payout := payment.Address(key)
	if m.Payout != "" {
		if payout, err = payment.ParseAddress(m.Payout); err != nil {
			return op, nil, fmt.Errorf("payout: %w", err)
		}
	}
	w := m.Weight
	if w == 0 {
		w = 1
	}
	addrs := make([]string, len(m.Addrs))
	for i, a := range m.Addrs {
		addrs[i] = a + "/p2p/" + string(id)
	}
	op = cluster.GenesisOperator{Key: key, PeerID: string(id), Region: m.Region, Weight: w, Payout: [32]byte(payout),
		Capacity: tx.Capacity{VCPU: m.Capacity.VCPU, MemoryMiB: m.Capacity.MemoryMiB, DiskGiB: m.Capacity.DiskGiB}}
	return op, addrs, nil
}

func parseDuration(name, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s %q: want a duration such as 30s", name, s)
	}
	return d, nil
}

// Encode returns the file's JSON, indented for people to read.
func (gf GenesisFile) Encode() []byte {
	out, _ := json.MarshalIndent(gf, "", "  ") // plain structs always encode
	return append(out, '\n')
}

// Default prices and rules of a new genesis file, in lamports per hour.
const (
	DefaultVCPUHour      = 1_000_000
	DefaultMemoryGiBHour = 500_000
	DefaultDiskGiBHour   = 10_000
)

// NewGenesisFile assembles a genesis file from the founding operators'
// entries, with default prices and timings.
func NewGenesisFile(start time.Time, treasury payment.Address, members []GenesisMember) GenesisFile {
	return GenesisFile{
		TimeUnixNs:  start.UnixNano(),
		Treasury:    treasury.String(),
		Price:       GenesisPrice{VCPUHour: DefaultVCPUHour, MemoryGiBHour: DefaultMemoryGiBHour, DiskGiBHour: DefaultDiskGiBHour},
		EpochLength: cluster.DefaultEpochLength.String(), StatusTimeout: cluster.DefaultStatusTimeout.String(),
		MaxAttempts: cluster.DefaultMaxAttempts, PendingTimeout: cluster.DefaultPendingTimeout.String(),
		Operators: members,
	}
}

// LoadMember reads a member.json written by Init.
func LoadMember(path string) (GenesisMember, error) {
	var m GenesisMember
	data, err := os.ReadFile(path)
	if err != nil {
		return m, err
	}
	if len(data) > MaxGenesisBytes {
		return m, fmt.Errorf("%s: %d bytes: want at most %d", path, len(data), MaxGenesisBytes)
	}
	if err := decodeStrict(data, &m); err != nil {
		return m, fmt.Errorf("%s: %w", path, err)
	}
	if _, _, err := m.operator(); err != nil {
		return m, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// decodeStrict decodes one JSON object into v: unknown fields and trailing
// data are errors, so a misspelt key is never silently ignored.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if dec.More() {
		return errors.New("decode: data after the object")
	}
	return nil
}

package scenario

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written in YAML as Go writes durations: "10s",
// "250ms", "1m30s", "-2s", or a bare "0". A bare number other than 0 is an
// error rather than nanoseconds or seconds, because either guess is a
// silent factor of a billion when wrong.
type Duration time.Duration

// D is the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML reads a duration scalar. Negative values are accepted here;
// Parse rejects them everywhere except in clock_skew.offset.
func (d *Duration) UnmarshalYAML(n *yaml.Node) (err error) {
	*d, err = unmarshalUnit(n, durationWant, parseDuration)
	return err
}

// decodeYAML is UnmarshalYAML for Parse.
func (d *Duration) decodeYAML(dec *decoder, n *yaml.Node, path string) (err error) {
	*d, err = decodeUnit(dec, n, path, durationWant, parseDuration)
	return err
}

const durationWant = "a duration such as 10s"

// MarshalYAML writes the form UnmarshalYAML reads.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

func parseDuration(s string) (Duration, error) {
	if s == "0" {
		return 0, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		if plainNumber(s) {
			return 0, fmt.Errorf("%q has no unit; write e.g. %ss or %sms", clip(s), clip(s), clip(s))
		}
		return 0, fmt.Errorf("%q is not a duration; write e.g. 10s, 250ms or 1m30s", clip(s))
	}
	return Duration(v), nil
}

// Bandwidth is a rate in bits per second, written in YAML with a unit:
// "9600bps", "512kbps", "100Mbps", "1Gbps" (decimal multipliers; fractions
// such as "2.5Gbps" are fine while the result is a whole number of bits per
// second). 0 means unlimited.
type Bandwidth uint64

// MaxBandwidth bounds a node's uplink (1000Gbps): far above any real link,
// low enough that bytes-to-time arithmetic cannot overflow.
const MaxBandwidth Bandwidth = 1_000_000_000_000

var bandwidthUnits = []struct {
	name string
	mult uint64
}{
	// Longest first, so "Gbps" is not read as "G" followed by "bps".
	{"Gbps", 1_000_000_000},
	{"Mbps", 1_000_000},
	{"kbps", 1_000},
	{"bps", 1},
}

// String writes the largest unit that keeps the value whole, so the result
// parses back to the same value.
func (b Bandwidth) String() string {
	if b == 0 {
		return "unlimited"
	}
	for _, u := range bandwidthUnits {
		if uint64(b)%u.mult == 0 {
			return strconv.FormatUint(uint64(b)/u.mult, 10) + u.name
		}
	}
	return strconv.FormatUint(uint64(b), 10) + "bps" // not reached: bps divides everything
}

// UnmarshalYAML reads a bandwidth scalar such as 1Gbps.
func (b *Bandwidth) UnmarshalYAML(n *yaml.Node) (err error) {
	*b, err = unmarshalUnit(n, bandwidthWant, parseBandwidth)
	return err
}

// decodeYAML is UnmarshalYAML for Parse.
func (b *Bandwidth) decodeYAML(d *decoder, n *yaml.Node, path string) (err error) {
	*b, err = decodeUnit(d, n, path, bandwidthWant, parseBandwidth)
	return err
}

const bandwidthWant = "a bandwidth such as 1Gbps"

// MarshalYAML writes the form UnmarshalYAML reads.
func (b Bandwidth) MarshalYAML() (any, error) {
	if b == 0 {
		return "0", nil
	}
	return b.String(), nil
}

var errBandwidthUnit = errors.New("use bps, kbps, Mbps or Gbps (bits per second), e.g. 1Gbps")

func parseBandwidth(s string) (Bandwidth, error) {
	if s == "0" {
		return 0, nil
	}
	num, mult := "", uint64(0)
	for _, u := range bandwidthUnits {
		if strings.HasSuffix(s, u.name) {
			num, mult = s[:len(s)-len(u.name)], u.mult
			break
		}
	}
	if mult == 0 {
		if plainNumber(s) {
			return 0, fmt.Errorf("%q has no unit; %w", clip(s), errBandwidthUnit)
		}
		return 0, fmt.Errorf("%q is not a bandwidth; %w", clip(s), errBandwidthUnit)
	}
	whole, frac, hasDot := strings.Cut(num, ".")
	if !digits(whole) || (hasDot && !digits(frac)) {
		// Catches "1 Gbps", "1TGbps", "mbps" (empty number) and "-1Gbps"
		// alike: the part before the unit must be a plain decimal number.
		return 0, fmt.Errorf("%q is not a bandwidth; %w", clip(s), errBandwidthUnit)
	}
	tooBig := fmt.Errorf("%q is more than the %s limit", clip(s), MaxBandwidth)
	w, err := strconv.ParseUint(whole, 10, 64)
	if err != nil || w > uint64(MaxBandwidth)/mult {
		return 0, tooBig
	}
	v := w * mult
	frac = strings.TrimRight(frac, "0")
	if frac != "" {
		// mult is at most 1e9, so a whole result has at most 9 fractional
		// digits, and f*mult stays below 1e18.
		if len(frac) > 9 {
			return 0, fmt.Errorf("%q is not a whole number of bits per second", clip(s))
		}
		f, _ := strconv.ParseUint(frac, 10, 64)
		scale := uint64(1)
		for range len(frac) {
			scale *= 10
		}
		if f*mult%scale != 0 {
			return 0, fmt.Errorf("%q is not a whole number of bits per second", clip(s))
		}
		v += f * mult / scale
	}
	if v > uint64(MaxBandwidth) {
		return 0, tooBig
	}
	return Bandwidth(v), nil
}

// unmarshalUnit reads a scalar with parse, for yaml.Unmarshal: errors
// name the line.
func unmarshalUnit[T any](n *yaml.Node, want string, parse func(string) (T, error)) (T, error) {
	var zero T
	if n.Kind != yaml.ScalarNode {
		return zero, fmt.Errorf("line %d: expected %s, got %s", n.Line, want, describe(n))
	}
	v, err := parse(n.Value)
	if err != nil {
		return zero, fmt.Errorf("line %d: %w", n.Line, err)
	}
	return v, nil
}

// decodeUnit reads a scalar with parse, for Parse: errors name the file,
// the line or override, and the field.
func decodeUnit[T any](d *decoder, n *yaml.Node, path, want string, parse func(string) (T, error)) (T, error) {
	var zero T
	if err := d.scalar(n, path, want); err != nil {
		return zero, err
	}
	v, err := parse(n.Value)
	if err != nil {
		return zero, d.errorf(n, "%s: %w", path, err)
	}
	return v, nil
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// plainNumber reports whether s looks like a number without a unit, to tell
// a missing unit from plain garbage in messages.
func plainNumber(s string) bool {
	seen := false
	for i := range len(s) {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			seen = true
		case c == '-' || c == '+' || c == '.':
		default:
			return false
		}
	}
	return seen
}

// clip shortens a user-supplied string quoted in an error message, so that a
// megabyte of garbage does not become a megabyte of error.
func clip(s string) string {
	const maxLen = 64
	if len(s) <= maxLen {
		return s
	}
	cut := maxLen
	for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
		cut--
	}
	return s[:cut] + "..."
}

// describe names what a node holds, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "nothing"
		}
		return strconv.Quote(clip(n.Value))
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

package config

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Duration is a span of time, written in the file with a unit as Go's
// time.ParseDuration reads it ("500ms", "10s", "5m", "1h30m"); the bare
// number 0 means zero. Convert with time.Duration(d).
type Duration time.Duration

// String returns d as the file would write it: "10s", "5m", "1h30m",
// "500ms" (time.Duration's form without trailing zero units).
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// parseDuration reads a duration as the file writes it, with a unit
// ("10s") or as the number 0. Negative durations are refused.
func parseDuration(s string) (Duration, error) {
	v, err := time.ParseDuration(s) // accepts "0" without a unit
	if err != nil {
		if f, ferr := strconv.ParseFloat(s, 64); ferr == nil && f > 0 {
			return 0, fmt.Errorf("want a duration with a unit, got %s (write %ss for seconds, or use ms, m, h)", clip(s), clip(s))
		} else if ferr == nil && f < 0 {
			return 0, fmt.Errorf("want a duration of 0 or more, got %s", clip(s))
		}
		return 0, fmt.Errorf("want a duration like 500ms, 10s, 5m or 1h30m, got %s", quote(s))
	}
	if v < 0 {
		return 0, fmt.Errorf("want a duration of 0 or more, got %s", clip(s))
	}
	return Duration(v), nil
}

// Bytes is a size in bytes. The file writes it as an integer (bytes) or as
// an integer and a unit: B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB
// (powers of 1024), as in "64MiB" or "500 KB".
type Bytes int64

// Units of Bytes.
const (
	KB  Bytes = 1000
	MB  Bytes = 1000 * KB
	GB  Bytes = 1000 * MB
	KiB Bytes = 1 << 10
	MiB Bytes = 1 << 20
	GiB Bytes = 1 << 30
)

// byteUnit is a unit of Bytes as the file writes it.
type byteUnit struct {
	name string
	size Bytes
}

// byteUnits are the units ParseBytes knows, binary first and largest first
// within each family, so String picks the largest that divides a size.
var byteUnits = []byteUnit{
	{"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB},
	{"GB", GB}, {"MB", MB}, {"KB", KB}, {"kB", KB},
	{"B", 1},
}

// ParseBytes reads a size such as "64MiB", "500 KB" or "1048576"
// (bytes): a non-negative decimal integer, optionally followed by a space
// and one of the units B, KB (or kB), MB, GB, KiB, MiB, GiB.
func ParseBytes(s string) (Bytes, error) {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	digits, unit := s[:i], strings.TrimPrefix(s[i:], " ")
	if digits == "" || s != strings.TrimSpace(s) || strings.HasPrefix(unit, ".") {
		return 0, fmt.Errorf("want a size like 65536, 500KB or 64MiB, got %s", quote(s))
	}
	mult := Bytes(1)
	if unit != "" {
		j := slices.IndexFunc(byteUnits, func(u byteUnit) bool { return u.name == unit })
		if j < 0 {
			return 0, fmt.Errorf("want a size with unit B, KB, MB, GB, KiB, MiB or GiB, got %s", quote(s))
		}
		mult = byteUnits[j].size
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || Bytes(n) > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %s is too large", quote(s))
	}
	return Bytes(n) * mult, nil
}

// String returns b with the largest unit that divides it exactly, binary
// units first: "64MiB", "500KB", "1023B".
func (b Bytes) String() string {
	for _, u := range byteUnits {
		if b != 0 && b%u.size == 0 {
			return strconv.FormatInt(int64(b/u.size), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// Command is a command catd runs: either a shell command line, run with
// /bin/sh -c, or a program and its arguments, run directly. The zero
// Command runs nothing.
//
// The file writes a command line as a string and a program with its
// arguments as a list of strings:
//
//	command: "logger -t catd cat seen"
//	command: ["/usr/bin/logger", "-t", "catd", "cat seen"]
type Command struct {
	// Shell is a command line for /bin/sh -c; "" when Argv is used.
	Shell string
	// Argv is the program (a path, or a name looked up in PATH) and its
	// arguments; nil when Shell is used.
	Argv []string
}

// IsZero reports whether c runs nothing.
func (c Command) IsZero() bool { return c.Shell == "" && len(c.Argv) == 0 }

// Args returns the program and arguments to run c: /bin/sh -c and the
// command line, or a copy of Argv. It returns nil for the zero Command.
func (c Command) Args() []string {
	if c.Shell != "" {
		return []string{"/bin/sh", "-c", c.Shell}
	}
	return slices.Clone(c.Argv)
}

// Equal reports whether c and d run the same thing.
func (c Command) Equal(d Command) bool {
	return c.Shell == d.Shell && slices.Equal(c.Argv, d.Argv)
}

// String returns the command line, or the argv as a Go string slice.
func (c Command) String() string {
	if c.Argv != nil {
		return fmt.Sprintf("%q", c.Argv)
	}
	return c.Shell
}

// check reports what is wrong with a Command built in code or decoded.
func (c Command) check() error {
	switch {
	case c.Shell != "" && c.Argv != nil:
		return errors.New("want a command line or a list of words, not both")
	case c.Argv != nil && len(c.Argv) == 0:
		return errors.New(`want at least the program in the list, or "" for no command`)
	case c.Argv != nil && c.Argv[0] == "":
		return errors.New("want a program as the first word, got an empty string")
	case strings.ContainsRune(c.Shell, 0) || slices.ContainsFunc(c.Argv, func(s string) bool { return strings.ContainsRune(s, 0) }):
		return errors.New("want a command without NUL bytes")
	}
	return nil
}

// quote quotes s for an error message, clipped (see clip).
func quote(s string) string { return strconv.Quote(clip(s)) }

// clip cuts s to 40 bytes and an ellipsis, so that junk in a file makes
// short error messages.
func clip(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

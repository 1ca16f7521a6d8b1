package config_test

import (
	"os"
	"runtime"
	"strings"
	"testing"

	"catd/config"
)

// TestParseBoundsItsWork: the YAML parser builds a whole node tree before
// the config is decoded, about 250 bytes a node; a 1 MiB file of list
// items used to take 140 MB. Parse now refuses data over 1 MiB, or with
// more than 10,000 lines and separators, before parsing it, and what it
// does parse costs a few MB at most.
func TestParseBoundsItsWork(t *testing.T) {
	example, err := os.ReadFile("../systemd/catd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const mb = 1 << 20
	for _, tc := range []struct {
		name  string
		data  string
		says  string // "" if it parses
		alloc uint64 // at most, bytes
	}{
		{"the example file", string(example), "", 2 * mb},
		{"1 MiB flow list", "x: [" + strings.Repeat("0,", mb/2-4) + "0]\n", "more than 10000 lines and YAML separators", 64 << 10},
		{"1 MiB block list", "x:\n" + strings.Repeat("- 0\n", mb/4-2), "more than 10000 lines", 64 << 10},
		{"1 MiB of keys", strings.Repeat("a: 0\n", mb/5), "more than 10000 lines", 64 << 10},
		{"1 MiB command", "on_detect:\n  command: [" + strings.Repeat("a,", mb/2-20) + "a]\n", "more than 10000", 64 << 10},
		{"2 MiB comment", "#" + strings.Repeat("x", 2*mb), "2097153 bytes, more than the 1048576 (1 MiB) a config file may hold", 64 << 10},
		{"list at the limit", "x: [" + strings.Repeat("[],", 4990) + "[]]\n", "x: unknown key", 8 * mb},
		{"keys-only mapping at the limit", "x: {" + strings.Repeat("a,", 9990) + "a}\n", "x: unknown key", 8 * mb},
		{"command at the limit", "on_detect:\n  command: [" + strings.Repeat("a,", 9990) + "a]\n", "", 8 * mb},
		{"keys at the limit", strings.Repeat("a: 0\n", 4999), "duplicate key", 8 * mb},
		{"1 MiB comment", "#" + strings.Repeat("x", mb-1), "", 8 * mb},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			data := []byte(tc.data)
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := config.Parse("catd.yaml", data)
			runtime.ReadMemStats(&after)
			n := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes: %d bytes allocated", len(tc.data), n)
			if tc.says == "" && err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tc.says != "" && (err == nil || !strings.Contains(err.Error(), tc.says)) {
				t.Fatalf("Parse: %.300v; want an error saying %q", err, tc.says)
			}
			if n > tc.alloc {
				t.Errorf("Parse allocated %d bytes, want at most %d", n, tc.alloc)
			}
		})
	}
}

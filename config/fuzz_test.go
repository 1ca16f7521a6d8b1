package config_test

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"catd/config"
)

// FuzzConfig checks that Parse never panics, and that what it accepts is
// valid and parses the same way again.
func FuzzConfig(f *testing.F) {
	if data, err := os.ReadFile("../systemd/catd.yaml"); err == nil {
		f.Add(data)
	}
	for _, s := range []string{
		"",
		fullFile,
		"detect:\n  threshold: 1.5\n  thresold: 0.5\n",
		"x: &n 3\ndetect:\n  on_frames: *n\n",
		"source: \"test:\"\n---\nsource: test:\n",
		"detect:\n\ton_frames: 2\n",
		"on_detect:\n  command: [notify, 3, {a: b}]\n",
		"snapshots: {max_bytes: 9000000000GiB, enabled: yes}\n",
		"detect: {roi: [0, 0, 0, 0]}\nstats_every: 10\n",
		"? [a, b]\n: 1\n<<: {}\n",
		"model: cats.safetensors\n",
		"- a\n- b\n",
		"x: [" + strings.Repeat("0,", 5001) + "0]\n", // just over the item limit
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse("catd.yaml", data)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse(%q) accepted a config that Validate refuses: %v", data, err)
		}
		again, err := config.Parse("catd.yaml", data)
		if err != nil || !reflect.DeepEqual(c, again) {
			t.Fatalf("Parse(%q) twice: %+v then %+v, %v", data, c, again, err)
		}
	})
}

package config_test

import (
	"errors"
	"image"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"catd/config"
)

// problems returns the *Error values that err joins, in order.
func problems(t *testing.T, err error) []*config.Error {
	t.Helper()
	if err == nil {
		return nil
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var out []*config.Error
	for _, e := range errs {
		var ce *config.Error
		if !errors.As(e, &ce) {
			t.Fatalf("error %q (%T) is not a *config.Error", e, e)
		}
		out = append(out, ce)
	}
	return out
}

func TestDefaultValidates(t *testing.T) {
	c := config.Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
}

func TestParseEmptyIsDefault(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"newlines", "\n\n\n"},
		{"spaces", "   \n  \n"},
		{"comments", "# catd\n\n   # nothing set\n"},
		{"document start", "---\n"},
		{"document start and end", "---\n...\n"},
		{"null document", "~\n"},
		{"null values", "source:\nmodel: ~\ndetect: null\nstats_every:\nsnapshots:\n  max_bytes: ~\nserial: {port: null}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse("catd.yaml", []byte(tc.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if want := config.Default(); !reflect.DeepEqual(c, want) {
				t.Errorf("Parse = %+v, want Default() %+v", c, want)
			}
		})
	}
}

const fullFile = `# every key, none at its default
source: "exec:rpicam-vid -t 0 -n --codec mjpeg -o -"
model: /var/lib/catd/cats.safetensors
memory_limit: 40MiB
detect:
  threshold: 0.65
  on_frames: 4
  off_frames: 10
  fit: letterbox
  roi: [120, 300, 520, 480]
  int8: true
stats_every: 1m30s
snapshots:
  enabled: false
  max_count: 1_000
  max_bytes: 1 GB
  min_interval: 0
on_detect:
  command:
    - /usr/local/bin/notify
    - "cat at the door"
  events: [cat_present, cat_gone, trained]
  timeout: 500ms
  min_interval: 0s
  env: [MQTT_HOST, XDG_RUNTIME_DIR]
checkpoint:
  every: 1h
  keep: 5
learn:
  enabled: false
  optimizer: adam
  lr: 0.001
  momentum: 0.8
  schedule: exp:0.001
  batch: 8
  steps: 100
  every: 10m
  patience: 8
  train_last: 2
  val_share: 0.25
  margin: 0.05
  anchor: 0.1
  wise: 0.8
  replay_per_class: 200
  duty: 0.25
review:
  enabled: false
  band: 0.1
  min_interval: 1m
  max_count: 50
  max_bytes: 8MiB
http:
  listen: 127.0.0.1:8080
  password_file: /etc/catd/web-password
  cert_file: /etc/catd/cert.pem
  key_file: /etc/catd/key.pem
serial:
  port: /dev/ttyGS0
  baud: 9600
  format: json
mqtt:
  broker: ssl://broker.lan:8884
  ca_file: ca.pem
  pinned_cert: "sha256:AB:cd:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef"
  username: catd
  password_file: /etc/catd/mqtt.pass
  client_id: catd-door
  topic_prefix: home/catflap
  discovery_prefix: ""
  p_cat_every: 30s
  share_labels: true
  share_topic: home/catd-labels
log:
  level: debug
`

func fullConfig() config.Config {
	return config.Config{
		Source:      "exec:rpicam-vid -t 0 -n --codec mjpeg -o -",
		Model:       "/var/lib/catd/cats.safetensors",
		MemoryLimit: 40 * config.MiB,
		Detect: config.Detect{
			Threshold: 0.65,
			OnFrames:  4,
			OffFrames: 10,
			Fit:       "letterbox",
			ROI:       image.Rect(120, 300, 520, 480),
			Int8:      true,
		},
		StatsEvery: config.Duration(90 * time.Second),
		Snapshots: config.Snapshots{
			Enabled:     false,
			MaxCount:    1000,
			MaxBytes:    config.GB,
			MinInterval: 0,
		},
		OnDetect: config.OnDetect{
			Command:     config.Command{Argv: []string{"/usr/local/bin/notify", "cat at the door"}},
			Events:      []string{"cat_present", "cat_gone", "trained"},
			Timeout:     config.Duration(500 * time.Millisecond),
			MinInterval: 0,
			Env:         []string{"MQTT_HOST", "XDG_RUNTIME_DIR"},
		},
		Checkpoint: config.Checkpoint{Every: config.Duration(time.Hour), Keep: 5},
		Learn: config.Learn{Enabled: false, Optimizer: "adam", LR: 0.001, Momentum: 0.8, Schedule: "exp:0.001",
			Batch: 8, Steps: 100, Every: config.Duration(10 * time.Minute), Patience: 8, TrainLast: 2, ValShare: 0.25,
			Margin: 0.05, Anchor: 0.1, Wise: 0.8, ReplayPerClass: 200, Duty: 0.25},
		Review: config.Review{Enabled: false, Band: 0.1, MinInterval: config.Duration(time.Minute), MaxCount: 50,
			MaxBytes: 8 * config.MiB},
		HTTP: config.HTTP{Listen: "127.0.0.1:8080", PasswordFile: "/etc/catd/web-password", CertFile: "/etc/catd/cert.pem",
			KeyFile: "/etc/catd/key.pem"},
		Serial: config.Serial{Port: "/dev/ttyGS0", Baud: 9600, Format: "json"},
		MQTT: config.MQTT{Broker: "ssl://broker.lan:8884", CAFile: "ca.pem",
			PinnedCert: "sha256:AB:cd:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef:ef",
			Username:   "catd", PasswordFile: "/etc/catd/mqtt.pass", ClientID: "catd-door", TopicPrefix: "home/catflap",
			DiscoveryPrefix: "", PCatEvery: config.Duration(30 * time.Second), ShareLabels: true, ShareTopic: "home/catd-labels"},
		Log: config.Log{Level: "debug"},
	}
}

func TestParseFullFile(t *testing.T) {
	c, err := config.Parse("catd.yaml", []byte(fullFile))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if want := fullConfig(); !reflect.DeepEqual(c, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", c, want)
	}
	// Every key differs from its default, so the file exercises all of them.
	if got, want := config.Diff(config.Default(), c), config.Keys(); !slices.Equal(got, want) {
		t.Errorf("Diff(Default, full) = %q, want every key %q", got, want)
	}
}

// TestParseValues checks the spellings each kind of value accepts.
func TestParseValues(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		check    func(c config.Config) bool
	}{
		{"threshold int 0", "detect: {threshold: 0}", func(c config.Config) bool { return c.Detect.Threshold == 0 }},
		{"threshold float", "detect: {threshold: 0.5}", func(c config.Config) bool { return c.Detect.Threshold == 0.5 }},
		{"threshold exponent", "detect: {threshold: 5e-1}", func(c config.Config) bool { return c.Detect.Threshold == 0.5 }},
		{"int hex", "detect: {on_frames: 0x10}", func(c config.Config) bool { return c.Detect.OnFrames == 16 }},
		{"int underscores", "snapshots: {max_count: 10_000}", func(c config.Config) bool { return c.Snapshots.MaxCount == 10000 }},
		{"bool true", "snapshots: {enabled: true}", func(c config.Config) bool { return c.Snapshots.Enabled }},
		{"bool False", "snapshots: {enabled: False}", func(c config.Config) bool { return !c.Snapshots.Enabled }},
		{"duration 0", "stats_every: 0", func(c config.Config) bool { return c.StatsEvery == 0 }},
		{"duration quoted 0", `stats_every: "0"`, func(c config.Config) bool { return c.StatsEvery == 0 }},
		{"duration 1h30m", "stats_every: 1h30m", func(c config.Config) bool { return c.StatsEvery == config.Duration(90*time.Minute) }},
		{"duration ms", "on_detect: {timeout: 250ms}", func(c config.Config) bool { return c.OnDetect.Timeout == config.Duration(250*time.Millisecond) }},
		{"bytes int", "snapshots: {max_bytes: 65536}", func(c config.Config) bool { return c.Snapshots.MaxBytes == 64*config.KiB }},
		{"bytes hex", "snapshots: {max_bytes: 0x100000}", func(c config.Config) bool { return c.Snapshots.MaxBytes == config.MiB }},
		{"bytes KB", "snapshots: {max_bytes: 500KB}", func(c config.Config) bool { return c.Snapshots.MaxBytes == 500_000 }},
		{"bytes kB", "snapshots: {max_bytes: 500kB}", func(c config.Config) bool { return c.Snapshots.MaxBytes == 500_000 }},
		{"bytes space MiB", "snapshots: {max_bytes: 2 MiB}", func(c config.Config) bool { return c.Snapshots.MaxBytes == 2<<20 }},
		{"bytes GiB", "snapshots: {max_bytes: 3GiB}", func(c config.Config) bool { return c.Snapshots.MaxBytes == 3<<30 }},
		{"bytes B", "snapshots: {max_bytes: 70000B}", func(c config.Config) bool { return c.Snapshots.MaxBytes == 70000 }},
		{"command shell", `on_detect: {command: "logger cat | wc"}`, func(c config.Config) bool {
			return c.OnDetect.Command.Equal(config.Command{Shell: "logger cat | wc"})
		}},
		{"command argv", `on_detect: {command: [logger, "-t", catd]}`, func(c config.Config) bool {
			return c.OnDetect.Command.Equal(config.Command{Argv: []string{"logger", "-t", "catd"}})
		}},
		{"command off", `on_detect: {command: ""}`, func(c config.Config) bool { return c.OnDetect.Command.IsZero() }},
		{"env empty", `on_detect: {env: []}`, func(c config.Config) bool { return c.OnDetect.Env == nil }},
		{"env block", "on_detect:\n  env:\n    - MQTT_HOST\n    - \"_X1\"\n", func(c config.Config) bool {
			return slices.Equal(c.OnDetect.Env, []string{"MQTT_HOST", "_X1"})
		}},
		{"roi empty", "detect: {roi: []}", func(c config.Config) bool { return c.Detect.ROI == image.Rectangle{} }},
		{"roi block", "detect:\n  roi:\n    - 0\n    - 0\n    - 1\n    - 1\n", func(c config.Config) bool { return c.Detect.ROI == image.Rect(0, 0, 1, 1) }},
		{"source test", "source: \"test:\"", func(c config.Config) bool { return c.Source == "test:" }},
		{"serial off", `serial: {port: ""}`, func(c config.Config) bool { return c.Serial.Port == "" }},
		{"format JSON", "serial: {format: json}", func(c config.Config) bool { return c.Serial.Format == "json" }},
		{"unicode in command", `on_detect: {command: "echo 🐈"}`, func(c config.Config) bool { return c.OnDetect.Command.Shell == "echo 🐈" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse("catd.yaml", []byte(tc.in))
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if !tc.check(c) {
				t.Errorf("Parse(%q) = %+v", tc.in, c)
			}
		})
	}
}

func TestParseModelPath(t *testing.T) {
	for _, tc := range []struct{ name, file, model, want string }{
		{"relative to the file's folder", "/etc/catd/catd.yaml", "cats.safetensors", "/etc/catd/cats.safetensors"},
		{"relative with dots", "/etc/catd/catd.yaml", "../models/m.safetensors", "/etc/models/m.safetensors"},
		{"absolute kept", "/etc/catd/catd.yaml", "/opt/m.safetensors", "/opt/m.safetensors"},
		{"bare file name", "catd.yaml", "m.safetensors", "m.safetensors"},
		{"relative file name", "conf/catd.yaml", "m.safetensors", "conf/m.safetensors"},
		{"built-in", "/etc/catd/catd.yaml", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse(tc.file, []byte("model: "+quoteYAML(tc.model)+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			if c.Model != tc.want {
				t.Errorf("Parse(%q) model %q = %q, want %q", tc.file, tc.model, c.Model, tc.want)
			}
		})
	}
}

func quoteYAML(s string) string { return `"` + s + `"` }

// want is one expected problem of a file named catd.yaml.
type want struct {
	line int
	key  string
	msg  string // a substring of Msg
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []want
	}{
		// Keys.
		{"unknown key with suggestion", "detect:\n  thresold: 0.5\n",
			[]want{{2, "detect.thresold", `unknown key (did you mean "threshold"?)`}}},
		{"key in the wrong section", "source: \"test:\"\nthreshold: 0.5\n",
			[]want{{2, "threshold", `unknown key (did you mean "detect.threshold"?)`}}},
		{"unknown key far from all", "colour: red\n",
			[]want{{1, "colour", "unknown key"}}},
		{"key case", "Source: test:?w=64\n",
			[]want{{1, "Source", `unknown key (did you mean "source"?)`}}},
		{"duplicate key", "source: \"test:\"\nmodel: \"\"\nsource: \"test:\"\n",
			[]want{{3, "source", "duplicate key (first set on line 1)"}}},
		{"duplicate key in a section", "serial:\n  baud: 9600\n  baud: 9600\n",
			[]want{{3, "serial.baud", "duplicate key (first set on line 2)"}}},
		{"key not a name", "? [a, b]\n: 1\n",
			[]want{{1, "", "want a key name, got a list"}}},
		{"merge key", "detect:\n  <<: {on_frames: 3}\n",
			[]want{{2, "detect", "merge keys (<<) are not supported"}}},

		// on_detect.events.
		{"hook event unknown", "on_detect:\n  events: [cat_present, stats]\n",
			[]want{{2, "on_detect.events", `want some of cat_present, cat_gone, trained, config_reloaded, config_refused, checkpoint, error, got "stats"`}}},
		{"hook event twice", "on_detect:\n  events: [cat_gone, cat_gone]\n",
			[]want{{2, "on_detect.events", `"cat_gone" given twice`}}},
		{"hook events none", "on_detect:\n  events: []\n",
			[]want{{2, "on_detect.events", "want at least one of cat_present"}}},

		// mqtt.
		{"mqtt broker scheme", "mqtt:\n  broker: mqtt://broker.lan\n",
			[]want{{2, "mqtt.broker", "want tcp://HOST[:PORT] or ssl://HOST[:PORT] (scheme tcp or ssl)"}}},
		{"mqtt password in the address", "mqtt:\n  broker: tcp://catd:hunter2@broker.lan\n",
			[]want{{2, "mqtt.broker", `"tcp://catd:xxxxx@broker.lan": no user or password in the address`}}},
		{"mqtt port", "mqtt:\n  broker: tcp://broker.lan:99999\n",
			[]want{{2, "mqtt.broker", `port "99999": want 1..65535`}}},
		{"mqtt CA without TLS", "mqtt:\n  broker: tcp://broker.lan\n  ca_file: ca.pem\n",
			[]want{{3, "mqtt.ca_file", "a CA file needs an ssl:// broker"}}},
		{"mqtt bad pin", "mqtt:\n  broker: ssl://broker.lan\n  pinned_cert: md5:abcd\n",
			[]want{{3, "mqtt.pinned_cert", "want sha256: and the certificate's 64 hex digits"}}},
		{"mqtt password without user", "mqtt:\n  broker: tcp://broker.lan\n  password_file: /etc/catd/pw\n",
			[]want{{3, "mqtt.password_file", "a password needs a username"}}},
		{"mqtt client id", "mqtt:\n  client_id: catd kitchen\n",
			[]want{{2, "mqtt.client_id", "want 1 to 64 of A-Z a-z 0-9 _ . -"}}},
		{"mqtt wildcard prefix", "mqtt:\n  topic_prefix: catd/#\n  discovery_prefix: $SYS\n",
			[]want{{2, "mqtt.topic_prefix", "holds a wildcard"}, {3, "mqtt.discovery_prefix", "starts with $"}}},
		{"mqtt share_topic", "mqtt:\n  share_topic: \"\"\n",
			[]want{{2, "mqtt.share_topic", "empty"}}},
		{"mqtt p_cat_every", "mqtt:\n  p_cat_every: 100ms\n",
			[]want{{2, "mqtt.p_cat_every", "want a duration of 1s or more, got 100ms"}}},

		// learn and review.
		{"unknown optimizer", "learn:\n  optimizer: rmsprop\n",
			[]want{{2, "learn.optimizer", `want sgd, momentum or adam, got "rmsprop"`}}},
		{"learning rate zero", "learn:\n  lr: 0\n",
			[]want{{2, "learn.lr", "want a number in (0, 1], got 0"}}},
		{"bad schedule", "learn:\n  schedule: cosine\n",
			[]want{{2, "learn.schedule", `got "cosine"`}}},
		{"momentum one", "learn:\n  momentum: 1\n",
			[]want{{2, "learn.momentum", "want a number in [0, 1), got 1"}}},
		{"val share too big", "learn:\n  val_share: 0.95\n",
			[]want{{2, "learn.val_share", "want a number in (0, 0.9], got 0.95"}}},
		{"wise zero", "learn:\n  wise: 0\n",
			[]want{{2, "learn.wise", "want a number in (0, 1], got 0"}}},
		{"wise above one", "learn:\n  wise: 1.5\n",
			[]want{{2, "learn.wise", "want a number in (0, 1], got 1.5"}}},
		{"tiny replay", "learn:\n  replay_per_class: 3\n",
			[]want{{2, "learn.replay_per_class", "want an integer in 10..100000, got 3"}}},

		// on_detect.env.
		{"env not a list", "on_detect:\n  env: MQTT_HOST\n",
			[]want{{2, "on_detect.env", `want a list of strings ([] or ["NAME", ...]), got "MQTT_HOST"`}}},
		{"env with a number", "on_detect:\n  env: [A, 5]\n",
			[]want{{2, "on_detect.env", "want a list of strings, got 5 in it (put it in quotes)"}}},
		{"env with a bad name", "on_detect:\n  env: [A, \"B=1\"]\n",
			[]want{{2, "on_detect.env", `want names of environment variables (letters, digits and _, not starting with a digit), got "B=1"`}}},
		{"review band", "review:\n  band: 0.7\n",
			[]want{{2, "review.band", "want a number in [0, 0.5], got 0.7"}}},

		// Types.
		{"string for a number", "detect:\n  threshold: \"0.5\"\n",
			[]want{{2, "detect.threshold", `want a number, got "0.5" (a string: remove the quotes)`}}},
		{"word for a number", "detect: {threshold: high}\n",
			[]want{{1, "detect.threshold", `want a number, got "high"`}}},
		{"mapping for a string", "source:\n  uri: test:?w=64\n",
			[]want{{1, "source", "want a string, got a mapping"}}},
		{"number for a string", "source: 5\n",
			[]want{{1, "source", "want a string, got 5 (put it in quotes"}}},
		{"float for an int", "detect:\n  on_frames: 2.5\n",
			[]want{{2, "detect.on_frames", "want an integer, got 2.5"}}},
		{"huge int", "detect:\n  on_frames: 18446744073709551615\n",
			[]want{{2, "detect.on_frames", "want an integer, got 18446744073709551615 (too large)"}}},
		{"yes for a bool", "snapshots:\n  enabled: yes\n",
			[]want{{2, "snapshots.enabled", `got "yes" (YAML 1.1 booleans such as yes, no, on and off are not accepted: write true or false)`}}},
		{"off for a bool", "snapshots: {enabled: Off}\n",
			[]want{{1, "snapshots.enabled", "write true or false"}}},
		{"quoted bool", "snapshots:\n  enabled: \"true\"\n",
			[]want{{2, "snapshots.enabled", `want true or false, got "true"`}}},
		{"scalar for a section", "detect: 5\n",
			[]want{{1, "detect", "want a mapping of keys such as threshold:, got 5"}}},
		{"list for a section", "serial:\n  - /dev/ttyS0\n",
			[]want{{1, "serial", "want a mapping of keys such as port:, got a list"}}},
		{"custom tag", "source: !uri test:?w=64\n",
			[]want{{1, "source", `want a string, got "test:?w=64" tagged !uri`}}},

		// Durations and sizes.
		{"duration without unit", "stats_every: 10\n",
			[]want{{1, "stats_every", "want a duration with a unit, got 10 (write 10s for seconds"}}},
		{"quoted duration without unit", "checkpoint:\n  every: \"300\"\n",
			[]want{{2, "checkpoint.every", "want a duration with a unit, got 300"}}},
		{"negative duration", "snapshots:\n  min_interval: -5s\n",
			[]want{{2, "snapshots.min_interval", "want a duration of 0 or more, got -5s"}}},
		{"negative bare duration", "on_detect: {min_interval: -5}\n",
			[]want{{1, "on_detect.min_interval", "want a duration of 0 or more, got -5"}}},
		{"word for a duration", "stats_every: often\n",
			[]want{{1, "stats_every", `want a duration like 500ms, 10s, 5m or 1h30m, got "often"`}}},
		{"list for a duration", "stats_every: [10s]\n",
			[]want{{1, "stats_every", "want a duration like 500ms, 10s, 5m or 1h30m, got a list"}}},
		{"unknown size unit", "snapshots:\n  max_bytes: 64XB\n",
			[]want{{2, "snapshots.max_bytes", `want a size with unit B, KB, MB, GB, KiB, MiB or GiB, got "64XB"`}}},
		{"fractional size", "snapshots:\n  max_bytes: 1.5GiB\n",
			[]want{{2, "snapshots.max_bytes", `want a size like 65536, 500KB or 64MiB, got "1.5GiB"`}}},
		{"negative size", "snapshots:\n  max_bytes: -1\n",
			[]want{{2, "snapshots.max_bytes", "want a size of 0 or more, got -1"}}},
		{"size overflow", "snapshots:\n  max_bytes: 9000000000GiB\n",
			[]want{{2, "snapshots.max_bytes", "is too large"}}},

		// Ranges.
		{"threshold above 1", "detect:\n  threshold: 1.5\n",
			[]want{{2, "detect.threshold", "want a number in (0, 1), got 1.5"}}},
		{"threshold int 1", "detect:\n  threshold: 1\n",
			[]want{{2, "detect.threshold", "want a number in (0, 1), got 1"}}},
		{"threshold negative", "detect: {threshold: -0.1}\n",
			[]want{{1, "detect.threshold", "got -0.1"}}},
		{"threshold NaN", "detect: {threshold: .nan}\n",
			[]want{{1, "detect.threshold", "got NaN"}}},
		{"on_frames 0", "detect:\n  on_frames: 0\n",
			[]want{{2, "detect.on_frames", "want an integer in 1..1000, got 0"}}},
		{"off_frames 1001", "detect:\n\n  off_frames: 1001\n",
			[]want{{3, "detect.off_frames", "want an integer in 1..1000, got 1001"}}},
		{"fit", "detect:\n  fit: zoom\n",
			[]want{{2, "detect.fit", `want crop, letterbox or stretch, got "zoom"`}}},
		{"roi corners swapped", "detect:\n  roi: [10, 0, 5, 5]\n",
			[]want{{2, "detect.roi", "0 <= x0 < x1 and 0 <= y0 < y1, got [10, 0, 5, 5]"}}},
		{"roi negative", "detect:\n  roi: [-1, 0, 5, 5]\n",
			[]want{{2, "detect.roi", "got [-1, 0, 5, 5]"}}},
		{"roi of three", "detect:\n  roi: [1, 2, 3]\n",
			[]want{{2, "detect.roi", "want [x0, y0, x1, y1] in frame pixels, or [] for the whole frame, got a list of 3"}}},
		{"roi zero", "detect:\n  roi: [0, 0, 0, 0]\n",
			[]want{{2, "detect.roi", "write [] for the whole frame"}}},
		{"roi corner not a number", "detect:\n  roi:\n    - 0\n    - top\n    - 5\n    - 5\n",
			[]want{{4, "detect.roi", `want an integer, got "top"`}}},
		{"roi scalar", "detect: {roi: 5}\n",
			[]want{{1, "detect.roi", "got 5"}}},
		{"stats_every below 1s", "stats_every: 500ms\n",
			[]want{{1, "stats_every", "want 0 (off) or a duration of 1s or more, got 500ms"}}},
		{"memory_limit small", "memory_limit: 4MiB\n",
			[]want{{1, "memory_limit", "want 0 (off) or a size of 8MiB or more, got 4MiB"}}},
		{"memory_limit negative", "memory_limit: -1\n",
			[]want{{1, "memory_limit", ""}}},
		{"max_count 0", "snapshots:\n  max_count: 0\n",
			[]want{{2, "snapshots.max_count", "want an integer in 1..1000000, got 0"}}},
		{"max_bytes small", "snapshots:\n  max_bytes: 1KiB\n",
			[]want{{2, "snapshots.max_bytes", "want a size of 64KiB or more, got 1KiB"}}},
		{"timeout short", "on_detect:\n  timeout: 50ms\n",
			[]want{{2, "on_detect.timeout", "want a duration from 100ms to 1h, got 50ms"}}},
		{"timeout long", "on_detect:\n  timeout: 2h\n",
			[]want{{2, "on_detect.timeout", "got 2h"}}},
		{"checkpoint every", "checkpoint:\n  every: 5s\n",
			[]want{{2, "checkpoint.every", "want a duration of 10s or more, got 5s"}}},
		{"checkpoint keep", "checkpoint:\n  keep: 1\n",
			[]want{{2, "checkpoint.keep", "want an integer in 2..100, got 1"}}},
		{"serial port relative", "serial:\n  port: ttyS0\n",
			[]want{{2, "serial.port", `want a device path such as /dev/ttyGS0, or "" for none, got "ttyS0"`}}},
		{"serial baud", "serial:\n  baud: 12345\n",
			[]want{{2, "serial.baud", "want a standard rate (1200, 1800,"}}},
		{"serial format", "serial:\n  format: xml\n",
			[]want{{2, "serial.format", `want text or json, got "xml"`}}},
		{"log level", "log:\n  level: verbose\n",
			[]want{{2, "log.level", `want debug, info, warn or error, got "verbose"`}}},
		{"source scheme", "source: \"foo:bar\"\n",
			[]want{{1, "source", `unknown scheme "foo"`}}},
		{"source empty", "source: \"\"\n",
			[]want{{1, "source", "no scheme"}}},
		{"source bad option", "source: \"test:?fps=fast\"\n",
			[]want{{1, "source", "fps"}}},
		{"model NUL", "model: \"a\\0b\"\n",
			[]want{{1, "model", `want the path of a model file, got "a\x00b"`}}},

		// Commands.
		{"command number", "on_detect:\n  command: 42\n",
			[]want{{2, "on_detect.command", "want a command line"}}},
		{"command empty list", "on_detect:\n  command: []\n",
			[]want{{2, "on_detect.command", `want at least the program in the list, or "" for no command`}}},
		{"command empty program", "on_detect:\n  command: [\"\", x]\n",
			[]want{{2, "on_detect.command", "want a program as the first word, got an empty string"}}},
		{"command word not a string", "on_detect:\n  command:\n    - notify\n    - 3\n",
			[]want{{4, "on_detect.command", "want a list of strings, got 3 in it (put it in quotes)"}}},
		{"command word a mapping", "on_detect:\n  command:\n    - notify\n    - {a: b}\n",
			[]want{{4, "on_detect.command", "want a list of strings, got a mapping in it"}}},

		// The file as a whole.
		{"anchor", "detect: &d\n  on_frames: 2\n",
			[]want{{1, "detect", "anchors are not supported (&d)"}}},
		{"alias", "x: &n 3\ndetect:\n  on_frames: *n\n",
			[]want{{1, "x", "unknown key"}, {3, "detect.on_frames", "aliases are not supported (*n)"}}},
		{"alias in a list", "x: &p notify\non_detect:\n  command:\n    - *p\n",
			[]want{{1, "x", "unknown key"}, {4, "on_detect.command", "aliases are not supported"}}},
		{"two documents", "source: \"test:\"\n---\nsource: \"test:\"\n",
			[]want{{2, "", "want one YAML document, found a second"}}},
		{"empty second document", "source: \"test:\"\n---\n",
			[]want{{2, "", "want one YAML document"}}},
		{"top-level list", "- source\n- test:\n",
			[]want{{1, "", "want a mapping of keys (source: …, detect: …), got a list"}}},
		{"top-level scalar", "\n\nhello\n",
			[]want{{3, "", `want a mapping of keys (source: …, detect: …), got "hello"`}}},
		{"syntax error", "source: \"test:\"\ndetect:\n  on_frames: 2\n bad\n",
			[]want{{4, "", "YAML syntax: "}}},
		{"unclosed list", "detect:\n  roi: [1, 2\nlog:\n  level: info\n",
			[]want{{2, "", "YAML syntax: did not find expected ',' or ']'"}}},
		{"tab indentation", "detect:\n\ton_frames: 2\n",
			[]want{{2, "", "YAML syntax: found character that cannot start any token"}}},
		{"unknown alias", "detect:\n  on_frames: *n\n",
			[]want{{0, "", "YAML syntax: unknown anchor 'n' referenced"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("catd.yaml", []byte(tc.in))
			got := problems(t, err)
			if len(got) != len(tc.want) {
				t.Fatalf("Parse(%q): %d problems, want %d:\n%v", tc.in, len(got), len(tc.want), err)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.File != "catd.yaml" || g.Line != w.line || g.Key != w.key || !strings.Contains(g.Msg, w.msg) {
					t.Errorf("Parse(%q) problem %d = {File %q, Line %d, Key %q, Msg %q}, want {catd.yaml, %d, %q, …%q…}",
						tc.in, i, g.File, g.Line, g.Key, g.Msg, w.line, w.key, w.msg)
				}
			}
		})
	}
}

func TestParseReportsEveryProblemByLine(t *testing.T) {
	in := `detect:
  threshold: 1.5
  on_frames: 2.5
  thresold: 0.5
serial:
  baud: 12345
  port: tty
log: {level: loud, extra: 1}
`
	_, err := config.Parse("/etc/catd/catd.yaml", []byte(in))
	wantText := `/etc/catd/catd.yaml:2: detect.threshold: want a number in (0, 1), got 1.5 (or 0: the model's own)
/etc/catd/catd.yaml:3: detect.on_frames: want an integer, got 2.5
/etc/catd/catd.yaml:4: detect.thresold: unknown key (did you mean "threshold"?)
/etc/catd/catd.yaml:6: serial.baud: want a standard rate (1200, 1800, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 500000, 576000, 921600, 1000000, 1152000, 1500000, 2000000, 2500000, 3000000, 3500000, 4000000), got 12345
/etc/catd/catd.yaml:7: serial.port: want a device path such as /dev/ttyGS0, or "" for none, got "tty"
/etc/catd/catd.yaml:8: log.extra: unknown key
/etc/catd/catd.yaml:8: log.level: want debug, info, warn or error, got "loud"`
	if err == nil || err.Error() != wantText {
		t.Errorf("Parse error =\n%v\nwant\n%s", err, wantText)
	}
	var e *config.Error
	if !errors.As(err, &e) || e.Line != 2 || e.Key != "detect.threshold" {
		t.Errorf("errors.As: %+v, want the first problem, detect.threshold on line 2", e)
	}
}

func TestParseCapsProblems(t *testing.T) {
	var b strings.Builder
	for i := range 30 {
		b.WriteString("unknown_" + strings.Repeat("x", i) + ": 1\n")
	}
	_, err := config.Parse("catd.yaml", []byte(b.String()))
	got := problems(t, err)
	if len(got) != 21 {
		t.Fatalf("%d problems, want 20 and a note:\n%v", len(got), err)
	}
	if last := got[20]; last.Line != 21 || last.Msg != "too many problems: 10 more not shown" {
		t.Errorf("last problem %+v, want the note on line 21", last)
	}
	if got[19].Line != 20 {
		t.Errorf("problem 20 on line %d, want 20", got[19].Line)
	}
}

func TestParseErrorReturnsZeroConfig(t *testing.T) {
	c, err := config.Parse("catd.yaml", []byte("source: \"test:\"\ndetect: {on_frames: 0}\n"))
	if err == nil {
		t.Fatal("no error")
	}
	if !reflect.DeepEqual(c, config.Config{}) {
		t.Errorf("Parse returned %+v with an error, want the zero Config", c)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *config.Config)
		key    string // "" if valid
		msg    string
	}{
		{"default", func(c *config.Config) {}, "", ""},
		{"threshold just below 1", func(c *config.Config) { c.Detect.Threshold = 0.999 }, "", ""},
		{"threshold 1", func(c *config.Config) { c.Detect.Threshold = 1 }, "detect.threshold", "want a number in (0, 1), got 1"},
		{"on_frames 1000", func(c *config.Config) { c.Detect.OnFrames = 1000 }, "", ""},
		{"on_frames -1", func(c *config.Config) { c.Detect.OnFrames = -1 }, "detect.on_frames", "got -1"},
		{"fit empty", func(c *config.Config) { c.Detect.Fit = "" }, "", ""},
		{"fit bad", func(c *config.Config) { c.Detect.Fit = "fill" }, "detect.fit", `got "fill"`},
		{"roi", func(c *config.Config) { c.Detect.ROI = image.Rect(0, 0, 10, 10) }, "", ""},
		{"roi empty height", func(c *config.Config) { c.Detect.ROI = image.Rectangle{Max: image.Pt(10, 0)} }, "detect.roi", "got [0, 0, 10, 0]"},
		{"stats_every off", func(c *config.Config) { c.StatsEvery = 0 }, "", ""},
		{"stats_every 1s", func(c *config.Config) { c.StatsEvery = config.Duration(time.Second) }, "", ""},
		{"stats_every 999ms", func(c *config.Config) { c.StatsEvery = config.Duration(999 * time.Millisecond) }, "stats_every", "got 999ms"},
		{"stats_every negative", func(c *config.Config) { c.StatsEvery = config.Duration(-time.Second) }, "stats_every", "got -1s"},
		{"max_bytes 64KiB", func(c *config.Config) { c.Snapshots.MaxBytes = 64 * config.KiB }, "", ""},
		{"max_bytes 64KB", func(c *config.Config) { c.Snapshots.MaxBytes = 64 * config.KB }, "snapshots.max_bytes", "got 64KB"},
		{"max_count 1000000", func(c *config.Config) { c.Snapshots.MaxCount = 1_000_000 }, "", ""},
		{"snapshot interval negative", func(c *config.Config) { c.Snapshots.MinInterval = -1 }, "snapshots.min_interval", "want a duration of 0 or more, got -1ns"},
		{"timeout 100ms", func(c *config.Config) { c.OnDetect.Timeout = config.Duration(100 * time.Millisecond) }, "", ""},
		{"timeout 1h", func(c *config.Config) { c.OnDetect.Timeout = config.Duration(time.Hour) }, "", ""},
		{"timeout 0", func(c *config.Config) { c.OnDetect.Timeout = 0 }, "on_detect.timeout", "got 0s"},
		{"command both", func(c *config.Config) { c.OnDetect.Command = config.Command{Shell: "a", Argv: []string{"b"}} }, "on_detect.command", "not both"},
		{"command NUL", func(c *config.Config) { c.OnDetect.Command = config.Command{Argv: []string{"a", "b\x00"}} }, "on_detect.command", "NUL"},
		{"checkpoint 10s", func(c *config.Config) { c.Checkpoint.Every = config.Duration(10 * time.Second) }, "", ""},
		{"keep 100", func(c *config.Config) { c.Checkpoint.Keep = 100 }, "", ""},
		{"keep 101", func(c *config.Config) { c.Checkpoint.Keep = 101 }, "checkpoint.keep", "got 101"},
		{"port", func(c *config.Config) { c.Serial.Port = "/dev/ttyUSB0" }, "", ""},
		{"port COM3", func(c *config.Config) { c.Serial.Port = "COM3" }, "serial.port", `got "COM3"`},
		{"baud 4000000", func(c *config.Config) { c.Serial.Baud = 4_000_000 }, "", ""},
		{"baud 0", func(c *config.Config) { c.Serial.Baud = 0 }, "serial.baud", "got 0"},
		{"level", func(c *config.Config) { c.Log.Level = "warn" }, "", ""},
		{"level trace", func(c *config.Config) { c.Log.Level = "trace" }, "log.level", `got "trace"`},
		{"source test", func(c *config.Config) { c.Source = "test:?w=64&h=64" }, "", ""},
		{"source v4l2 option", func(c *config.Config) { c.Source = "v4l2:/dev/video0?bogus=1" }, "source", "v4l2"},
		{"source none", func(c *config.Config) { c.Source = "" }, "source", "no scheme"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := config.Default()
			tc.change(&c)
			err := c.Validate()
			got := problems(t, err)
			if tc.key == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("Validate = %v, want one problem with %s", err, tc.key)
			}
			if g := got[0]; g.File != "" || g.Line != 0 || g.Key != tc.key || !strings.Contains(g.Msg, tc.msg) {
				t.Errorf("Validate problem %+v, want {Key %q, Msg …%q…} without file or line", g, tc.key, tc.msg)
			}
			if want := tc.key + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Validate = %q, want it to start with %q", err, want)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	for _, tc := range []struct {
		e    config.Error
		want string
	}{
		{config.Error{File: "catd.yaml", Line: 12, Key: "detect.threshold", Msg: "bad"}, "catd.yaml:12: detect.threshold: bad"},
		{config.Error{File: "catd.yaml", Line: 3, Msg: "YAML syntax: x"}, "catd.yaml:3: YAML syntax: x"},
		{config.Error{File: "catd.yaml", Msg: "YAML syntax: x"}, "catd.yaml: YAML syntax: x"},
		{config.Error{Key: "serial.port", Msg: "bad"}, "serial.port: bad"},
		{config.Error{Line: 4, Key: "log.level", Msg: "bad"}, "line 4: log.level: bad"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%+v.Error() = %q, want %q", tc.e, got, tc.want)
		}
	}
}

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *config.Config)
		want   []string
	}{
		{"nothing", func(c *config.Config) {}, nil},
		{"source", func(c *config.Config) { c.Source = "test:" }, []string{"source"}},
		{"threshold and port in schema order", func(c *config.Config) {
			c.Serial.Port = "/dev/ttyGS0"
			c.Detect.Threshold = 0.5
			c.Source = "test:"
		}, []string{"source", "detect.threshold", "serial.port"}},
		{"roi", func(c *config.Config) { c.Detect.ROI = image.Rect(1, 1, 2, 2) }, []string{"detect.roi"}},
		{"command shell", func(c *config.Config) { c.OnDetect.Command.Shell = "true" }, []string{"on_detect.command"}},
		{"command argv", func(c *config.Config) { c.OnDetect.Command.Argv = []string{"true"} }, []string{"on_detect.command"}},
		{"same min_interval name in two sections", func(c *config.Config) { c.OnDetect.MinInterval = 0 }, []string{"on_detect.min_interval"}},
		{"env", func(c *config.Config) { c.OnDetect.Env = []string{"MQTT_HOST"} }, []string{"on_detect.env"}},
		{"bytes and duration", func(c *config.Config) {
			c.Snapshots.MaxBytes++
			c.Checkpoint.Every++
		}, []string{"snapshots.max_bytes", "checkpoint.every"}},
		{"log level", func(c *config.Config) { c.Log.Level = "debug" }, []string{"log.level"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := config.Default()
			new := config.Default()
			tc.change(&new)
			if got := config.Diff(old, new); !slices.Equal(got, tc.want) {
				t.Errorf("Diff = %q, want %q", got, tc.want)
			}
			if got := config.Diff(new, old); !slices.Equal(got, tc.want) {
				t.Errorf("Diff reversed = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDiffEqualCommands(t *testing.T) {
	a, b := config.Default(), config.Default()
	a.OnDetect.Command.Argv = []string{"notify", "cat"}
	b.OnDetect.Command.Argv = []string{"notify", "cat"}
	if got := config.Diff(a, b); got != nil {
		t.Errorf("Diff of equal argv in different slices = %q, want nil", got)
	}
}

func TestDiffEqualEnv(t *testing.T) {
	a, b := config.Default(), config.Default()
	a.OnDetect.Env = []string{"A", "B"}
	b.OnDetect.Env = []string{"A", "B"}
	if got := config.Diff(a, b); got != nil {
		t.Errorf("Diff of equal env in different slices = %q, want nil", got)
	}
}

func TestKeys(t *testing.T) {
	want := []string{
		"source", "model", "memory_limit",
		"detect.threshold", "detect.on_frames", "detect.off_frames", "detect.fit", "detect.roi", "detect.int8",
		"stats_every",
		"snapshots.enabled", "snapshots.max_count", "snapshots.max_bytes", "snapshots.min_interval",
		"on_detect.command", "on_detect.events", "on_detect.timeout", "on_detect.min_interval", "on_detect.env",
		"checkpoint.every", "checkpoint.keep",
		"learn.enabled", "learn.optimizer", "learn.lr", "learn.momentum", "learn.schedule", "learn.batch",
		"learn.steps", "learn.every", "learn.patience", "learn.train_last", "learn.val_share", "learn.margin", "learn.anchor",
		"learn.wise", "learn.replay_per_class", "learn.duty",
		"review.enabled", "review.band", "review.min_interval", "review.max_count", "review.max_bytes",
		"http.listen", "http.password_file", "http.cert_file", "http.key_file",
		"serial.port", "serial.baud", "serial.format",
		"mqtt.broker", "mqtt.ca_file", "mqtt.pinned_cert", "mqtt.username", "mqtt.password_file", "mqtt.client_id",
		"mqtt.topic_prefix", "mqtt.discovery_prefix", "mqtt.p_cat_every", "mqtt.share_labels", "mqtt.share_topic",
		"log.level",
	}
	if got := config.Keys(); !slices.Equal(got, want) {
		t.Errorf("Keys() = %q, want %q", got, want)
	}
}

func TestValueStrings(t *testing.T) {
	for _, tc := range []struct {
		v    interface{ String() string }
		want string
	}{
		{config.Duration(10 * time.Second), "10s"},
		{config.Duration(5 * time.Minute), "5m"},
		{config.Duration(time.Hour), "1h"},
		{config.Duration(90 * time.Minute), "1h30m"},
		{config.Duration(1500 * time.Millisecond), "1.5s"},
		{config.Duration(0), "0s"},
		{64 * config.MiB, "64MiB"},
		{config.Bytes(1536), "1536B"},
		{500 * config.KB, "500KB"},
		{config.Bytes(0), "0B"},
		{config.Bytes(7), "7B"},
		{config.Command{Shell: "echo hi"}, "echo hi"},
		{config.Command{Argv: []string{"echo", "hi there"}}, `["echo" "hi there"]`},
	} {
		if got := tc.v.String(); got != tc.want {
			t.Errorf("%T(%v).String() = %q, want %q", tc.v, tc.v, got, tc.want)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want config.Bytes
		ok   bool
	}{
		{"0", 0, true},
		{"65536", 65536, true},
		{"64KiB", 64 << 10, true},
		{"64 KiB", 64 << 10, true},
		{"1GB", 1_000_000_000, true},
		{"8GiB", 8 << 30, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"+5", 0, false},
		{"-5", 0, false},
		{"5 ", 0, false},
		{"5  MiB", 0, false},
		{"5mib", 0, false},
		{"5TB", 0, false},
		{"1.5MiB", 0, false},
		{"9223372036854775807", 1<<63 - 1, true},
		{"9223372036854775807B", 1<<63 - 1, true},
		{"9223372036854775807KB", 0, false},
	} {
		got, err := config.ParseBytes(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestCommandArgs(t *testing.T) {
	if got := (config.Command{Shell: "a | b"}).Args(); !slices.Equal(got, []string{"/bin/sh", "-c", "a | b"}) {
		t.Errorf("shell Args = %q", got)
	}
	argv := []string{"notify", "cat"}
	got := (config.Command{Argv: argv}).Args()
	got[0] = "changed"
	if argv[0] != "notify" {
		t.Error("Args returned Argv itself, want a copy")
	}
	if got := (config.Command{}).Args(); got != nil {
		t.Errorf("zero Args = %q, want nil", got)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/catd.yaml"
	data := []byte("model: cats.safetensors\ndetect:\n  on_frames: 0\n")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, got, err := config.Load(path)
	if string(got) != string(data) {
		t.Errorf("Load returned %q, want the file's bytes", got)
	}
	if e := problems(t, err); len(e) != 1 || e[0].File != path || e[0].Line != 3 {
		t.Errorf("Load error %v, want one problem at %s:3", err, path)
	}

	if err := os.WriteFile(path, []byte("model: cats.safetensors\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _, err := config.Load(path)
	if err != nil || c.Model != dir+"/cats.safetensors" {
		t.Errorf("Load = model %q, %v; want %s/cats.safetensors", c.Model, err, dir)
	}

	_, _, err = config.Load(dir + "/missing.yaml")
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), dir+"/missing.yaml") {
		t.Errorf("Load(missing) = %v, want a not-exist error naming the path", err)
	}

	big := dir + "/big.yaml"
	if err := os.WriteFile(big, make([]byte, 2<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := config.Load(big); err == nil || !strings.Contains(err.Error(), big) {
		t.Errorf("Load(2 MiB file) = %v, want an error naming it", err)
	}
}

// TestExampleFile checks systemd/catd.yaml, the file users install: it is
// Default written out, and it shows every key.
func TestExampleFile(t *testing.T) {
	data, err := os.ReadFile("../systemd/catd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse("systemd/catd.yaml", data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if d := config.Diff(config.Default(), c); d != nil {
		t.Errorf("systemd/catd.yaml differs from Default() in %q", d)
	}
	if !reflect.DeepEqual(c, config.Default()) {
		t.Errorf("systemd/catd.yaml = %+v, want Default() %+v", c, config.Default())
	}
	// Each key must be written as a key (not just mentioned in a comment),
	// under its section: "  threshold:" after "detect:".
	lines := strings.Split(string(data), "\n")
	sectionStart := regexp.MustCompile(`^\S`)
	for _, key := range config.Keys() {
		section, name, nested := strings.Cut(key, ".")
		if !nested {
			name, section = section, ""
		}
		in, found := section == "", false
		for _, l := range lines {
			if section != "" && sectionStart.MatchString(l) {
				in = strings.HasPrefix(l, section+":")
			}
			indent := ""
			if section != "" {
				indent = "  "
			}
			if in && strings.HasPrefix(l, indent+name+":") {
				found = true
			}
		}
		if !found {
			t.Errorf("systemd/catd.yaml does not set %s", key)
		}
	}
}

// TestREADMEDocumentsEveryKey checks that the README's configuration
// section names every key, as `detect.threshold`.
func TestREADMEDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range config.Keys() {
		if !strings.Contains(string(data), "`"+key+"`") {
			t.Errorf("README.md does not document `%s`", key)
		}
	}
}

// TestMQTTPathsRelativeToTheFile: ca_file and password_file, like model,
// are relative to the config file's folder.
func TestMQTTPathsRelativeToTheFile(t *testing.T) {
	c, err := config.Parse("/etc/catd/catd.yaml", []byte("mqtt:\n  broker: ssl://b\n  ca_file: ca.pem\n  username: u\n  password_file: ../secrets/mqtt\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.MQTT.CAFile != "/etc/catd/ca.pem" || c.MQTT.PasswordFile != "/etc/secrets/mqtt" {
		t.Errorf("ca_file %q, password_file %q; want /etc/catd/ca.pem, /etc/secrets/mqtt", c.MQTT.CAFile, c.MQTT.PasswordFile)
	}
}

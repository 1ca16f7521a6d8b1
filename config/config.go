package config

import (
	"errors"
	"fmt"
	"image"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"catd/camera"
	"catd/internal/childenv"
	"catd/internal/regfile"
	"catd/mqtt"
	"catd/optim"
	"catd/preprocess"
	"catd/serialctl"
)

// Config is catd's configuration. Its yaml tags are the keys of the file;
// the order of its fields is the order of the schema (Keys, Diff).
//
// A Config holds plain values: fields that name a choice (Detect.Fit,
// Serial.Format, Log.Level) are strings, checked by Validate, so that
// command-line flags can be laid over a parsed file and checked the same
// way. A Config holds slices (OnDetect.Command.Argv, OnDetect.Env), so it
// is not comparable with ==; Diff(a, b) == nil tells whether two are equal.
type Config struct {
	// Source is the frame source URI, as camera.Open reads it:
	// "v4l2:/dev/video0", "exec:rpicam-vid -t 0 -n --codec mjpeg -o -",
	// "file:/path?fps=2", "dir:/path", "test:".
	Source string `yaml:"source"`
	// Model is the path of the model file; "" means the model built into
	// catd. Parse makes a relative path relative to the config file's
	// directory.
	Model string `yaml:"model"`
	// MemoryLimit is the soft limit of the Go runtime's memory (heap and
	// the rest it manages): the garbage collector runs more often near it.
	// 0 turns it off; otherwise at least 8 MiB.
	MemoryLimit Bytes `yaml:"memory_limit"`
	// Detect is how frames become cat_present and cat_gone events.
	Detect Detect `yaml:"detect"`
	// StatsEvery is the period of the stats event; 0 turns it off.
	// Otherwise it is at least 1 s.
	StatsEvery Duration `yaml:"stats_every"`
	// Snapshots are the frames saved while a cat is present.
	Snapshots Snapshots `yaml:"snapshots"`
	// OnDetect is a command run when a cat is reported.
	OnDetect OnDetect `yaml:"on_detect"`
	// Checkpoint is how the model learnt on the device is saved.
	Checkpoint Checkpoint `yaml:"checkpoint"`
	// Learn is the on-device fine-tuning on the user's labels.
	Learn Learn `yaml:"learn"`
	// Review is the queue of frames saved for the user to label.
	Review Review `yaml:"review"`
	// HTTP is the web page on the board (package web).
	HTTP HTTP `yaml:"http"`
	// Serial is the serial console (events out, commands in).
	Serial Serial `yaml:"serial"`
	// MQTT publishes to an MQTT broker and announces catd to Home
	// Assistant (package mqtt).
	MQTT MQTT `yaml:"mqtt"`
	// Log is what catd logs.
	Log Log `yaml:"log"`
}

// Detect is how frames become events.
type Detect struct {
	// Threshold is the p(cat) at or above which a frame counts as showing
	// a cat, in (0, 1); 0 means the threshold stored in the model.
	Threshold float64 `yaml:"threshold"`
	// OnFrames is the number of consecutive frames at or above Threshold
	// that report a cat, 1..1000.
	OnFrames int `yaml:"on_frames"`
	// OffFrames is the number of consecutive frames below Threshold that
	// clear it, 1..1000.
	OffFrames int `yaml:"off_frames"`
	// Fit is how a frame is fitted to the model's square input: "crop",
	// "letterbox" or "stretch" (preprocess.ParseFit).
	Fit string `yaml:"fit"`
	// ROI is the region of interest in frame pixels, Min inclusive and
	// Max exclusive, written [x0, y0, x1, y1] in the file; the zero
	// Rectangle (written []) is the whole frame.
	ROI image.Rectangle `yaml:"roi"`
	// Int8 runs the model in 8-bit integers (package fixedpoint): the
	// built-in model's int8 version is built in; any other model is
	// quantized on the camera's frames (and the labels) after start, and
	// again after each accepted learning round.
	Int8 bool `yaml:"int8"`
}

// Snapshots are JPEG frames saved while a cat is present. The oldest are
// deleted to stay within MaxCount files and MaxBytes bytes.
type Snapshots struct {
	// Enabled turns saving snapshots on.
	Enabled bool `yaml:"enabled"`
	// MaxCount is the number of snapshot files kept, 1..1,000,000.
	MaxCount int `yaml:"max_count"`
	// MaxBytes is the total size of the snapshots kept, at least 64 KiB.
	MaxBytes Bytes `yaml:"max_bytes"`
	// MinInterval is the shortest time between two snapshots; 0 saves
	// every frame that shows a cat.
	MinInterval Duration `yaml:"min_interval"`
}

// OnDetect is a command run on events: each time a cat is reported
// (cat_present), and on the other events Events names.
type OnDetect struct {
	// Command is what is run; the zero Command (written "") runs nothing.
	Command Command `yaml:"command"`
	// Events are the events the command runs on (CATD_EVENT tells which),
	// some of HookEvents; each has its own MinInterval and runs one at a
	// time. Default [cat_present].
	Events []string `yaml:"events"`
	// Timeout is how long the command may run before it is killed,
	// 100 ms..1 h.
	Timeout Duration `yaml:"timeout"`
	// MinInterval is the shortest time between the starts of two runs;
	// reports in between run nothing. 0 runs it on every report.
	MinInterval Duration `yaml:"min_interval"`
	// Env names variables of catd's environment that the command gets as
	// well (when catd has them), at most MaxEnv: ["MQTT_HOST"]. Otherwise
	// it gets only PATH, HOME, LANG, LC_*, TZ and the CATD_ variables, not
	// catd's whole environment (see package hook). nil (written []) names
	// none.
	Env []string `yaml:"env"`
}

// MaxEnv is the most variable names OnDetect.Env may hold.
const MaxEnv = 100

// HookEvents are the events on_detect.events may name: the daemon's event
// kinds (daemon.EventKind) but stats.
var HookEvents = []string{"cat_present", "cat_gone", "trained", "config_reloaded", "config_refused", "checkpoint", "error"}

// Checkpoint is how the weights learnt on the device are saved.
type Checkpoint struct {
	// Every is the period of checkpoints, at least 10 s; a checkpoint is
	// written only if the weights changed since the last one.
	Every Duration `yaml:"every"`
	// Keep is the number of checkpoint generations kept, 2..100.
	Keep int `yaml:"keep"`
}

// Learn is how catd fine-tunes its model on the labels the user gives
// (files dropped in <state>/labels/cat and labels/noncat, or the serial
// label command).
type Learn struct {
	// Enabled turns learning on; labels are still taken and kept when off.
	Enabled bool `yaml:"enabled"`
	// Optimizer is sgd, momentum (V <- beta V + g; theta <- theta - eta V)
	// or adam; switching keeps the weights.
	Optimizer string `yaml:"optimizer"`
	// LR is the learning rate eta (eta0 of a schedule), in (0, 1].
	LR float64 `yaml:"lr"`
	// Momentum is beta of the momentum rule, in [0, 1).
	Momentum float64 `yaml:"momentum"`
	// Schedule is the learning rate over training steps: constant,
	// piecewise:STEP=LR,... or exp:LAMBDA (eta0 * exp(-lambda t)).
	Schedule string `yaml:"schedule"`
	// Batch is the examples per step, 1..256.
	Batch int `yaml:"batch"`
	// Steps is the training steps per round, 1..10000.
	Steps int `yaml:"steps"`
	// Every is the least time from one round to the next (at least 1s).
	// Rounds run when labels came since the last round, and go on until
	// Patience rounds in a row brought no gain; then, while labels wait
	// that no accepted round has used, they are retried at doubling
	// intervals (learn.Pacer).
	Every Duration `yaml:"every"`
	// Patience is how many rounds in a row may bring no gain (1% of
	// held-out loss or 0.005 of held-out ROC AUC) before rounds back off,
	// 1..1000. Rounds are random draws: one that fails is often followed
	// by one that gains.
	Patience int `yaml:"patience"`
	// TrainLast, if positive, trains only the last TrainLast layers with
	// weights (less memory and compute); 0 trains all.
	TrainLast int `yaml:"train_last"`
	// ValShare is the share of each class's labels held out to judge each
	// round, in (0, 0.9] (at least 3 of a class once it has 9).
	ValShare float64 `yaml:"val_share"`
	// Margin is how much the held-out loss may rise in an accepted round,
	// as a fraction in [0, 1], besides one standard error of its change.
	Margin float64 `yaml:"margin"`
	// Anchor is how strongly learning holds the weights near the model it
	// started from (lambda of an L2 pull, "L2-SP", weighted parameter by
	// parameter by the model's importance where it has one), in [0, 10]:
	// higher forgets less of what the model knew and learns a very
	// different household more slowly; 0 turns it off.
	Anchor float64 `yaml:"anchor"`
	// Wise is the share of the trained weights in the model learning
	// publishes, in (0, 1]: the rest is the model it started from (the
	// weight interpolation of WiSE-FT). Lower forgets less of what the
	// model knew and keeps less of what the labels taught; 1 publishes
	// the trained weights.
	Wise float64 `yaml:"wise"`
	// ReplayPerClass is how many labelled examples of each class are kept
	// (and replayed so that new labels do not erase old knowledge),
	// 10..100000; each costs the model input's size on disk (12 KiB at 64x64).
	ReplayPerClass int `yaml:"replay_per_class"`
	// Duty is the share of one core training may take, in (0, 1], so that
	// it does not starve inference.
	Duty float64 `yaml:"duty"`
}

// Review is the queue of frames the model was unsure about, saved for the
// user to label by moving them into a label folder.
type Review struct {
	// Enabled turns the queue on.
	Enabled bool `yaml:"enabled"`
	// Band: frames with |p(cat) - threshold| < Band are saved, as are the
	// frames of cat_present and cat_gone changes; in [0, 0.5].
	Band float64 `yaml:"band"`
	// MinInterval is the least time between two saved frames.
	MinInterval Duration `yaml:"min_interval"`
	// MaxCount and MaxBytes bound the queue; the oldest go first.
	MaxCount int   `yaml:"max_count"`
	MaxBytes Bytes `yaml:"max_bytes"`
}

// HTTP is catd's web page: live view, region of interest, review queue,
// learning, status, events and Prometheus metrics (package web).
type HTTP struct {
	// Listen is the address the page is served on, [HOST]:PORT, such as
	// ":8787" (every interface) or "127.0.0.1:8787"; "" turns it off.
	// Port 0 takes a free port (the log says which).
	Listen string `yaml:"listen"`
	// PasswordFile holds the page's password on its first line; "" uses
	// the password catd generates on its first start and keeps in the
	// state directory (web-password, mode 0600). A relative path is
	// relative to the config file's directory.
	PasswordFile string `yaml:"password_file"`
	// CertFile and KeyFile, both set or both "", are the PEM certificate
	// (chain) and key that serve the page over HTTPS; relative paths are
	// relative to the config file's directory.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Serial is the serial console.
type Serial struct {
	// Port is the device path, such as /dev/ttyGS0 or /dev/ttyAMA0;
	// "" turns the console off.
	Port string `yaml:"port"`
	// Baud is the line speed in bits per second, one of the standard
	// rates from 1200 to 4000000 (see baudRates).
	Baud int `yaml:"baud"`
	// Format is how lines are written: "text" or "json"
	// (serialctl.ParseFormat).
	Format string `yaml:"format"`
}

// MQTT is the connection to an MQTT broker: state, events and snapshots
// published, Home Assistant discovery, commands taken (package mqtt).
type MQTT struct {
	// Broker is tcp://HOST[:PORT] or ssl://HOST[:PORT]; "" turns MQTT off.
	Broker string `yaml:"broker"`
	// CAFile is a PEM file of the certificates that may sign an ssl://
	// broker's certificate ("": the system's); PinnedCert, sha256:HEX,
	// trusts the one certificate with that fingerprint instead (with
	// CAFile too, the certificate must pass both). Parse
	// makes a relative CAFile relative to the config file's directory.
	CAFile     string `yaml:"ca_file"`
	PinnedCert string `yaml:"pinned_cert"`
	// Username authenticates to the broker ("" for none), with the
	// password held in the first line of PasswordFile (never in the config,
	// never logged; relative to the config file's directory).
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	// ClientID is the MQTT client id; "" is catd-HOST.
	ClientID string `yaml:"client_id"`
	// TopicPrefix starts catd's topics; "" is catd/HOST.
	TopicPrefix string `yaml:"topic_prefix"`
	// DiscoveryPrefix is Home Assistant's discovery prefix; "" publishes
	// no discovery.
	DiscoveryPrefix string `yaml:"discovery_prefix"`
	// PCatEvery is the least time between two p(cat) messages, at least 1 s.
	PCatEvery Duration `yaml:"p_cat_every"`
	// ShareLabels shares the labels taken here with the other boards of
	// ShareTopic, and learns from theirs (mqtt.Label).
	ShareLabels bool `yaml:"share_labels"`
	// ShareTopic is the topic the boards of a household share labels
	// under: the boards on one broker with the same ShareTopic learn from
	// each other's labels.
	ShareTopic string `yaml:"share_topic"`
}

// Log is what catd logs.
type Log struct {
	// Level is the least severe level logged: "debug", "info", "warn"
	// or "error".
	Level string `yaml:"level"`
}

// Default returns catd's built-in configuration, the one an empty file
// means; systemd/catd.yaml writes it out. It is valid.
func Default() Config {
	return Config{
		Source:      "v4l2:/dev/video0",
		MemoryLimit: 32 * MiB,
		Detect: Detect{
			OnFrames:  2,
			OffFrames: 3,
			Fit:       "crop",
		},
		StatsEvery: Duration(10 * time.Second),
		Snapshots: Snapshots{
			Enabled:     true,
			MaxCount:    200,
			MaxBytes:    64 * MiB,
			MinInterval: Duration(10 * time.Second),
		},
		OnDetect: OnDetect{
			Events:      []string{"cat_present"},
			Timeout:     Duration(10 * time.Second),
			MinInterval: Duration(60 * time.Second),
		},
		Checkpoint: Checkpoint{
			Every: Duration(5 * time.Minute),
			Keep:  2,
		},
		Learn: Learn{
			Enabled:        true,
			Optimizer:      "momentum",
			LR:             0.002,
			Momentum:       0.9,
			Schedule:       "constant",
			Batch:          16,
			Steps:          40,
			Every:          Duration(time.Minute),
			Patience:       5,
			ValShare:       0.2,
			Margin:         0.02,
			Anchor:         2,
			Wise:           1,
			ReplayPerClass: 500,
			Duty:           0.5,
		},
		Review: Review{
			Enabled:     true,
			Band:        0.15,
			MinInterval: Duration(30 * time.Second),
			MaxCount:    200,
			MaxBytes:    32 * MiB,
		},
		HTTP: HTTP{Listen: ":8787"},
		Serial: Serial{
			Baud:   115200,
			Format: "text",
		},
		MQTT: MQTT{DiscoveryPrefix: "homeassistant", PCatEvery: Duration(10 * time.Second), ShareTopic: "catd/shared"},
		Log:  Log{Level: "info"},
	}
}

// Parse reads a config file: it starts from Default and overlays the keys
// the file sets, then validates the result. name is the file's path; it
// is used in error messages and to resolve a relative Model path: with
// name "/etc/catd/catd.yaml", model "cats.safetensors" becomes
// "/etc/catd/cats.safetensors" (with a bare name such as "catd.yaml" the
// path stays relative to the working directory).
//
// Empty data, or data holding only comments, gives Default. A key whose
// value is empty, null or ~ keeps its default.
//
// On any problem Parse returns the zero Config and an error joining up to
// 20 *Error values ordered by line (see the package documentation).
func Parse(name string, data []byte) (Config, error) {
	c := Default()
	d := newDecoder(name)
	d.decode(data, &c)
	for _, p := range []*string{&c.Model, &c.MQTT.CAFile, &c.MQTT.PasswordFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(filepath.Dir(name), *p)
		}
	}
	for _, e := range c.check() {
		e.File, e.Line = name, d.lines[e.Key]
		d.errs = append(d.errs, e)
	}
	if err := join(d.errs); err != nil {
		return Config{}, err
	}
	c.HTTP.resolve(filepath.Dir(name))
	return c, nil
}

// MaxFileSize is the largest config file catd reads, in bytes (1 MiB): at
// start (Load, ReadFile), on SIGHUP and the serial reload command
// (ReadFile), and when the watched file changes (the daemon's watcher is
// given this limit). Parse refuses larger data too. A complete config
// with every comment, systemd/catd.yaml, is about 8 KB.
const MaxFileSize = 1 << 20

// Load reads the config file at path (ReadFile) and parses it (Parse). It
// returns the file's bytes too, also when they do not parse, so that a
// caller watching the file can tell unchanged content. Errors name path.
func Load(path string) (Config, []byte, error) {
	data, err := ReadFile(path)
	if err != nil {
		return Config{}, nil, err
	}
	c, err := Parse(path, data)
	return c, data, err
}

// ReadFile reads the config file at path, which must be a regular file
// (or a link to one) of at most MaxFileSize bytes. It does not wait on a
// named pipe or read a device: those are refused at once, as is a larger
// file, after reading no more than MaxFileSize+1 bytes of it. Errors name
// path; they wrap fs.ErrNotExist for a missing file.
func ReadFile(path string) ([]byte, error) {
	data, err := regfile.Read(path, MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return data, nil
}

// Validate reports every value of c out of its range or not among its
// choices, as an error joining up to 20 *Error values in schema order,
// each naming the key but no file or line ("detect.threshold: want …").
// Parse calls it; callers call it again after laying flags over a Config.
func (c *Config) Validate() error {
	return join(c.check())
}

// baudRates are the serial line speeds catd accepts, in bits per second:
// the standard rates Linux's termios knows from 1200 up.
var baudRates = []int{
	1200, 1800, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400,
	460800, 500000, 576000, 921600, 1000000, 1152000, 1500000, 2000000,
	2500000, 3000000, 3500000, 4000000,
}

// logLevels are the values of log.level.
var logLevels = []string{"debug", "info", "warn", "error"}

// check returns the problems of c, in schema order, without File and Line.
func (c *Config) check() []*Error {
	var errs []*Error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &Error{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	intIn := func(key string, v, lo, hi int) {
		if v < lo || v > hi {
			bad(key, "want an integer in %d..%d, got %d", lo, hi, v)
		}
	}
	atLeast := func(key string, v, min Duration) {
		if v < min && min == 0 {
			bad(key, "want a duration of 0 or more, got %v", v)
		} else if v < min {
			bad(key, "want a duration of %v or more, got %v", min, v)
		}
	}

	if err := checkSource(c.Source); err != nil {
		bad("source", "%v", err)
	}
	if strings.ContainsRune(c.Model, 0) {
		bad("model", "want the path of a model file, got %s", quote(c.Model))
	}

	if t := c.Detect.Threshold; t != 0 && !(t > 0 && t < 1) {
		bad("detect.threshold", "want a number in (0, 1), got %v (or 0: the model's own)", t)
	}
	intIn("detect.on_frames", c.Detect.OnFrames, 1, 1000)
	intIn("detect.off_frames", c.Detect.OffFrames, 1, 1000)
	if _, err := preprocess.ParseFit(c.Detect.Fit); err != nil {
		bad("detect.fit", "want crop, letterbox or stretch, got %s", quote(c.Detect.Fit))
	}
	if r := c.Detect.ROI; r != (image.Rectangle{}) {
		if r.Min.X < 0 || r.Min.Y < 0 || r.Min.X >= r.Max.X || r.Min.Y >= r.Max.Y {
			bad("detect.roi", "want [x0, y0, x1, y1] with 0 <= x0 < x1 and 0 <= y0 < y1, got %s", roiString(r))
		}
	}

	if v := c.StatsEvery; v != 0 && v < Duration(time.Second) {
		bad("stats_every", "want 0 (off) or a duration of 1s or more, got %v", v)
	}

	intIn("snapshots.max_count", c.Snapshots.MaxCount, 1, 1_000_000)
	if v := c.MemoryLimit; v != 0 && v < 8*MiB {
		bad("memory_limit", "want 0 (off) or a size of 8MiB or more, got %v", v)
	}
	if v := c.Snapshots.MaxBytes; v < 64*KiB {
		bad("snapshots.max_bytes", "want a size of 64KiB or more, got %v", v)
	}
	atLeast("snapshots.min_interval", c.Snapshots.MinInterval, 0)

	if err := c.OnDetect.Command.check(); err != nil {
		bad("on_detect.command", "%v", err)
	}
	if len(c.OnDetect.Events) == 0 {
		bad("on_detect.events", "want at least one of %s", strings.Join(HookEvents, ", "))
	}
	for i, e := range c.OnDetect.Events {
		if !slices.Contains(HookEvents, e) {
			bad("on_detect.events", "want some of %s, got %s", strings.Join(HookEvents, ", "), quote(e))
			break
		}
		if slices.Contains(c.OnDetect.Events[:i], e) {
			bad("on_detect.events", "%s given twice", quote(e))
			break
		}
	}
	if v := c.OnDetect.Timeout; v < Duration(100*time.Millisecond) || v > Duration(time.Hour) {
		bad("on_detect.timeout", "want a duration from 100ms to 1h, got %v", v)
	}
	atLeast("on_detect.min_interval", c.OnDetect.MinInterval, 0)
	if len(c.OnDetect.Env) > MaxEnv {
		bad("on_detect.env", "want at most %d variable names, got %d", MaxEnv, len(c.OnDetect.Env))
	}
	for _, name := range c.OnDetect.Env {
		if childenv.CheckName(name) != nil {
			bad("on_detect.env", "want names of environment variables (letters, digits and _, not starting with a digit), got %s", quote(name))
			break
		}
	}

	atLeast("checkpoint.every", c.Checkpoint.Every, Duration(10*time.Second))
	intIn("checkpoint.keep", c.Checkpoint.Keep, 2, 100)

	numIn := func(key string, v, lo, hi float64, loOpen bool) {
		if v < lo || v > hi || (loOpen && v == lo) || math.IsNaN(v) {
			open := "["
			if loOpen {
				open = "("
			}
			bad(key, "want a number in %s%v, %v], got %v", open, lo, hi, v)
		}
	}
	if !slices.Contains([]string{"sgd", "momentum", "adam"}, c.Learn.Optimizer) {
		bad("learn.optimizer", "want sgd, momentum or adam, got %s", quote(c.Learn.Optimizer))
	}
	numIn("learn.lr", c.Learn.LR, 0, 1, true)
	if m := c.Learn.Momentum; !(m >= 0 && m < 1) {
		bad("learn.momentum", "want a number in [0, 1), got %v", m)
	}
	if _, err := optim.ParseSchedule(c.Learn.Schedule, max(c.Learn.LR, 1e-3)); err != nil {
		bad("learn.schedule", "want constant, piecewise:STEP=LR,... or exp:LAMBDA, got %s (%v)", quote(c.Learn.Schedule), err)
	}
	intIn("learn.batch", c.Learn.Batch, 1, 256)
	intIn("learn.steps", c.Learn.Steps, 1, 10000)
	atLeast("learn.every", c.Learn.Every, Duration(time.Second))
	intIn("learn.patience", c.Learn.Patience, 1, 1000)
	intIn("learn.train_last", c.Learn.TrainLast, 0, 100)
	numIn("learn.val_share", c.Learn.ValShare, 0, 0.9, true)
	numIn("learn.margin", c.Learn.Margin, 0, 1, false)
	numIn("learn.anchor", c.Learn.Anchor, 0, 10, false)
	numIn("learn.wise", c.Learn.Wise, 0, 1, true)
	intIn("learn.replay_per_class", c.Learn.ReplayPerClass, 10, 100000)
	numIn("learn.duty", c.Learn.Duty, 0, 1, true)

	numIn("review.band", c.Review.Band, 0, 0.5, false)
	atLeast("review.min_interval", c.Review.MinInterval, 0)
	intIn("review.max_count", c.Review.MaxCount, 1, 1_000_000)
	if v := c.Review.MaxBytes; v < 64*KiB {
		bad("review.max_bytes", "want a size of 64KiB or more, got %v", v)
	}

	errs = append(errs, c.HTTP.check()...)

	if p := c.Serial.Port; p != "" && (!strings.HasPrefix(p, "/") || strings.ContainsRune(p, 0)) {
		bad("serial.port", `want a device path such as /dev/ttyGS0, or "" for none, got %s`, quote(p))
	}
	if !slices.Contains(baudRates, c.Serial.Baud) {
		bad("serial.baud", "want a standard rate (%s), got %d", joinInts(baudRates), c.Serial.Baud)
	}
	if _, err := serialctl.ParseFormat(c.Serial.Format); err != nil {
		bad("serial.format", "want text or json, got %s", quote(c.Serial.Format))
	}

	errs = append(errs, c.MQTT.check()...)

	if !slices.Contains(logLevels, c.Log.Level) {
		bad("log.level", "want debug, info, warn or error, got %s", quote(c.Log.Level))
	}
	return errs
}

// check returns the problems of the mqtt section.
func (m *MQTT) check() []*Error {
	var errs []*Error
	bad := func(key string, err error) {
		msg := err.Error()
		if i := strings.Index(msg, ": "); i >= 0 && strings.HasPrefix(msg, "mqtt: ") {
			msg = msg[i+2:]
		}
		errs = append(errs, &Error{Key: "mqtt." + key, Msg: msg})
	}
	if m.Broker != "" {
		if err := mqtt.CheckBroker(m.Broker); err != nil {
			bad("broker", err)
		}
	}
	ssl := strings.HasPrefix(m.Broker, "ssl://")
	if strings.ContainsRune(m.CAFile, 0) {
		bad("ca_file", errors.New("want the path of a PEM file"))
	} else if m.CAFile != "" && !ssl {
		bad("ca_file", errors.New("a CA file needs an ssl:// broker"))
	}
	if m.PinnedCert != "" {
		if _, err := mqtt.ParsePin(m.PinnedCert); err != nil {
			bad("pinned_cert", err)
		} else if !ssl {
			bad("pinned_cert", errors.New("a pinned certificate needs an ssl:// broker"))
		}
	}
	if err := mqtt.CheckUsername(m.Username); err != nil {
		bad("username", err)
	}
	if strings.ContainsRune(m.PasswordFile, 0) {
		bad("password_file", errors.New("want the path of a file"))
	} else if m.PasswordFile != "" && m.Username == "" {
		bad("password_file", errors.New("a password needs a username"))
	}
	if m.ClientID != "" {
		if err := mqtt.CheckClientID(m.ClientID); err != nil {
			bad("client_id", err)
		}
	}
	if m.TopicPrefix != "" {
		if err := mqtt.CheckTopicPrefix(m.TopicPrefix); err != nil {
			bad("topic_prefix", err)
		}
	}
	if m.DiscoveryPrefix != "" {
		if err := mqtt.CheckTopicPrefix(m.DiscoveryPrefix); err != nil {
			bad("discovery_prefix", err)
		}
	}
	if err := mqtt.CheckTopicPrefix(m.ShareTopic); err != nil {
		bad("share_topic", err)
	}
	if m.PCatEvery < Duration(time.Second) {
		bad("p_cat_every", fmt.Errorf("want a duration of 1s or more, got %v", m.PCatEvery))
	}
	return errs
}

// checkSource is camera.Check: the URI's syntax, without opening anything.
func checkSource(uri string) error { return camera.Check(uri) }

func roiString(r image.Rectangle) string {
	return fmt.Sprintf("[%d, %d, %d, %d]", r.Min.X, r.Min.Y, r.Max.X, r.Max.Y)
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// Error is one problem of a config file or a Config.
type Error struct {
	File string // the file's name as given to Parse; "" from Validate
	Line int    // the line of the key in File, from 1; 0 if unknown
	Key  string // the dotted key, "detect.threshold"; "" for the whole file
	Msg  string // what is wrong, "want a number in (0, 1), got 1.5"
}

// Error returns "FILE:LINE: KEY: MSG", leaving out the parts that are
// empty or 0.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		b.WriteString("line " + strconv.Itoa(e.Line) + ": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// maxErrors is the number of problems reported at most.
const maxErrors = 20

// join sorts errs by line (keeping the order of equal lines), keeps the
// first maxErrors and a note of how many more there were, and joins
// them; nil if there are none.
func join(errs []*Error) error {
	if len(errs) == 0 {
		return nil
	}
	slices.SortStableFunc(errs, func(a, b *Error) int { return a.Line - b.Line })
	if n := len(errs); n > maxErrors {
		more := &Error{File: errs[maxErrors].File, Line: errs[maxErrors].Line,
			Msg: fmt.Sprintf("too many problems: %d more not shown", n-maxErrors)}
		errs = append(errs[:maxErrors], more)
	}
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}

// Keys returns every leaf key of the file in schema order, dotted:
// "source", "model", "detect.threshold", … A new slice each call.
func Keys() []string {
	keys := make([]string, len(schema))
	for i, l := range schema {
		keys[i] = l.key
	}
	return keys
}

// Diff returns the leaf keys whose values differ between old and new, in
// schema order: ["source", "detect.threshold", "serial.port"]. It returns
// nil if the two are equal.
func Diff(old, new Config) []string {
	var keys []string
	o, n := reflect.ValueOf(old), reflect.ValueOf(new)
	for _, l := range schema {
		a, b := o.FieldByIndex(l.index), n.FieldByIndex(l.index)
		if c, ok := a.Interface().(Command); ok {
			if !c.Equal(b.Interface().(Command)) {
				keys = append(keys, l.key)
			}
		} else if s, ok := a.Interface().([]string); ok {
			if !slices.Equal(s, b.Interface().([]string)) {
				keys = append(keys, l.key)
			}
		} else if !a.Equal(b) {
			keys = append(keys, l.key)
		}
	}
	return keys
}

// leaf is one key of the schema that holds a value.
type leaf struct {
	key   string // dotted: "detect.threshold"
	index []int  // the field's index in Config, for reflect.Value.FieldByIndex
}

// schema lists the leaf keys of Config in field order.
var schema = leaves(reflect.TypeFor[Config](), "", nil)

func leaves(t reflect.Type, prefix string, index []int) []leaf {
	var out []leaf
	for i := range t.NumField() {
		f := t.Field(i)
		key := prefix + f.Tag.Get("yaml")
		idx := append(slices.Clone(index), i)
		if isSection(f.Type) {
			out = append(out, leaves(f.Type, key+".", idx)...)
		} else {
			out = append(out, leaf{key, idx})
		}
	}
	return out
}

// isSection reports whether t is a section of the file (a mapping of
// keys), rather than a value that happens to be a struct.
func isSection(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t != reflect.TypeFor[image.Rectangle]() && t != reflect.TypeFor[Command]()
}

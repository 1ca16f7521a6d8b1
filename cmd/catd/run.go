package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"catd/config"
	"catd/daemon"
	"catd/systemd"
)

func setupRun(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
	def := config.Default()
	configPath := fs.String("config", "", "config file (YAML, see systemd/catd.yaml), watched: edits apply live (default: none, built-in defaults)")
	stateDir := stateDirFlag(fs)
	runtimeDir := runtimeDirFlag(fs)
	source := fs.String("source", def.Source, "frame source URI: v4l2:, exec:, file:, dir:, test: (see the README)")
	modelPath := fs.String("model", "", "model file (default: the model built into catd)")
	threshold := fs.Float64("threshold", 0, "decision threshold on p(cat) (default: the model's own)")
	on := fs.Int("on-frames", def.Detect.OnFrames, "consecutive frames above the threshold that report a cat")
	off := fs.Int("off-frames", def.Detect.OffFrames, "consecutive frames below the threshold that clear it")
	fit := fs.String("fit", def.Detect.Fit, "how frames are fitted to the model's square input: crop, letterbox or stretch")
	roi := fs.String("roi", "", "region of interest in frame pixels, x0,y0,x1,y1 (default: the whole frame)")
	statsEvery := fs.Duration("stats-every", time.Duration(def.StatsEvery), "period of the stats event (0 disables)")
	serialPort := fs.String("serial-port", "", "serial port for events and commands, e.g. /dev/ttyGS0 or /dev/ttyAMA0 (default: off)")
	serialBaud := fs.Int("serial-baud", def.Serial.Baud, "serial port speed")
	serialFormat := fs.String("serial-format", def.Serial.Format, "serial output: text (EVT cat_present p=0.93 frame=12) or json")
	return func(ctx context.Context, e *env, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("run takes flags only, got %q: %w", args, errUsage)
		}
		rect, err := parseROI(*roi)
		if err != nil {
			return err
		}
		// Flags given on the command line win over the file, at start and
		// at every reload.
		override := func(c *config.Config) {
			set := func(name string, f func()) {
				if fs.Changed(name) {
					f()
				}
			}
			set("source", func() { c.Source = *source })
			set("model", func() { c.Model = *modelPath })
			set("threshold", func() { c.Detect.Threshold = *threshold })
			set("on-frames", func() { c.Detect.OnFrames = *on })
			set("off-frames", func() { c.Detect.OffFrames = *off })
			set("fit", func() { c.Detect.Fit = *fit })
			set("roi", func() { c.Detect.ROI = rect })
			set("stats-every", func() { c.StatsEvery = config.Duration(*statsEvery) })
			set("serial-port", func() { c.Serial.Port = *serialPort })
			set("serial-baud", func() { c.Serial.Baud = *serialBaud })
			set("serial-format", func() { c.Serial.Format = *serialFormat })
			set("log-level", func() { c.Log.Level = fs.Lookup("log-level").Value.String() })
		}
		cfg := config.Default()
		if *configPath != "" {
			if cfg, _, err = config.Load(*configPath); err != nil {
				return err
			}
		}
		override(&cfg)
		if err := cfg.Validate(); err != nil {
			return flagError(err)
		}
		if lvl, err := zerolog.ParseLevel(cfg.Log.Level); err == nil {
			e.setLevel(lvl)
		}
		if *stateDir == "" {
			return fmt.Errorf("no state directory: give --state-dir: %w", errUsage)
		}
		opt := daemon.Options{Config: cfg, ConfigPath: *configPath, Override: override, StateDir: *stateDir,
			RuntimeDir: *runtimeDir, Version: version + " commit " + buildCommit(), Log: e.log, SetLogLevel: e.setLevel}
		if onTerminal(e.stderr) {
			// Someone trying catd by hand: a camera that is not there is
			// waited for, but they may have none at all.
			opt.WaitHint = "no camera? try --source test: (a moving test pattern) or --source file:PHOTO.jpg"
		}
		// Under systemd (Type=notify): READY, STATUS, STOPPING and watchdog pings.
		if n, err := systemd.NewNotifier(); err != nil {
			e.log.Warn().Err(err).Msg("no service manager notifications")
		} else if n.Enabled() {
			defer n.Close()
			opt.Notify = n
			if d, ok := systemd.WatchdogInterval(); ok {
				opt.Watchdog = d / 2
			}
		}
		if *configPath != "" {
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			opt.Reload = hup
		}
		return daemon.Run(ctx, opt)
	}
}

// flagOf names the flag that sets each config key.
var flagOf = map[string]string{
	"source": "--source", "model": "--model", "detect.threshold": "--threshold", "detect.on_frames": "--on-frames",
	"detect.off_frames": "--off-frames", "detect.fit": "--fit", "detect.roi": "--roi", "stats_every": "--stats-every",
	"serial.port": "--serial-port", "serial.baud": "--serial-baud", "serial.format": "--serial-format",
	"log.level": "--log-level",
}

// flagError says which flag a config error after the flags' overrides
// comes from (the file itself was checked before them).
func flagError(err error) error {
	var ce *config.Error
	if errors.As(err, &ce) {
		if f, ok := flagOf[ce.Key]; ok {
			return fmt.Errorf("%s: %s: %w", f, ce.Msg, errUsage)
		}
	}
	return fmt.Errorf("%w: %w", err, errUsage)
}

// stateDirFlag registers --state-dir, where checkpoints and snapshots
// live: by default $STATE_DIRECTORY, which systemd sets for
// StateDirectory= (/var/lib/catd), else /var/lib/catd for root, else
// $XDG_STATE_HOME/catd (~/.local/state/catd).
func stateDirFlag(fs *pflag.FlagSet) *string {
	return fs.String("state-dir", defaultStateDir(), "folder for checkpoints and snapshots")
}

func defaultStateDir() string {
	if d := os.Getenv("STATE_DIRECTORY"); d != "" {
		return strings.Split(d, ":")[0] // systemd lists one per StateDirectory= entry
	}
	if os.Geteuid() == 0 {
		return "/var/lib/catd"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "catd")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "catd")
	}
	return ""
}

// parseROI reads "x0,y0,x1,y1".
func parseROI(s string) (image.Rectangle, error) {
	if s == "" {
		return image.Rectangle{}, nil
	}
	f := strings.Split(s, ",")
	if len(f) != 4 {
		return image.Rectangle{}, fmt.Errorf("--roi %q: want x0,y0,x1,y1: %w", s, errUsage)
	}
	var v [4]int
	for i, p := range f {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 0 {
			return image.Rectangle{}, fmt.Errorf("--roi %q: %q is not a pixel coordinate: %w", s, p, errUsage)
		}
		v[i] = n
	}
	r := image.Rect(v[0], v[1], v[2], v[3])
	if r.Empty() || r.Min.X != v[0] || r.Min.Y != v[1] {
		return image.Rectangle{}, fmt.Errorf("--roi %q: x0 < x1 and y0 < y1, please: %w", s, errUsage)
	}
	return r, nil
}

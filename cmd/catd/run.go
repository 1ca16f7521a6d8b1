package main

import (
	"context"
	"fmt"
	"image"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"catd/camera"
	"catd/daemon"
	"catd/model"
	"catd/preprocess"
	"catd/serialctl"
	"catd/systemd"
)

func setupRun(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
	source := fs.String("source", "v4l2:/dev/video0", "frame source URI: test:, file:PATH, dir:PATH (more in the README)")
	modelPath := fs.String("model", "", "model file (default: the model built into catd)")
	threshold := fs.Float64("threshold", 0, "decision threshold on p(cat) (default: the model's own)")
	on := fs.Int("on-frames", 2, "consecutive frames above the threshold that report a cat")
	off := fs.Int("off-frames", 3, "consecutive frames below the threshold that clear it")
	fit := fs.String("fit", "crop", "how frames are fitted to the model's square input: crop, letterbox or stretch")
	roi := fs.String("roi", "", "region of interest in frame pixels, x0,y0,x1,y1 (default: the whole frame)")
	statsEvery := fs.Duration("stats-every", daemonStatsEvery, "period of the stats event (0 disables)")
	runtimeDir := runtimeDirFlag(fs)
	serialPort := fs.String("serial-port", "", "serial port for events and commands, e.g. /dev/ttyGS0 or /dev/ttyAMA0 (default: off)")
	serialBaud := fs.Int("serial-baud", 115200, "serial port speed")
	serialFormat := fs.String("serial-format", "text", "serial output: text (EVT cat_present p=0.93 frame=12) or json")
	return func(ctx context.Context, e *env, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("run takes flags only, got %q: %w", args, errUsage)
		}
		if fs.Changed("threshold") && !(*threshold > 0 && *threshold < 1) {
			return fmt.Errorf("--threshold %v: want a number between 0 and 1: %w", *threshold, errUsage)
		}
		ft, err := preprocess.ParseFit(*fit)
		if err != nil {
			return err
		}
		rect, err := parseROI(*roi)
		if err != nil {
			return err
		}
		format, err := serialctl.ParseFormat(*serialFormat)
		if err != nil {
			return fmt.Errorf("--serial-format: %w: %w", err, errUsage)
		}
		net, info, name, err := loadModel(*modelPath, model.Options{MaxBatch: 1})
		if err != nil {
			return err
		}
		src, err := camera.Open(*source, camera.Options{Log: e.log})
		if err != nil {
			return err
		}
		defer src.Close()
		e.log.Info().Str("model", name).Str("arch", info.Name).Str("version", version).Msg("catd starting")
		cfg := daemon.PipelineConfig{Source: src, Net: net, Info: info, Threshold: float32(*threshold),
			OnFrames: *on, OffFrames: *off, Fit: ft, ROI: rect, StatsEvery: *statsEvery}
		if *statsEvery == 0 {
			cfg.StatsEvery = -1
		}
		// Under systemd (Type=notify): READY, STOPPING and watchdog pings.
		if n, err := systemd.NewNotifier(); err != nil {
			e.log.Warn().Err(err).Msg("no service manager notifications")
		} else if n.Enabled() {
			defer n.Close()
			cfg.Notify = n
			if d, ok := systemd.WatchdogInterval(); ok {
				cfg.Watchdog = d / 2
			}
		}
		ctl := &daemon.Control{}
		cfg.Control = ctl
		cfg.ModelName = name
		if info.Name != "" {
			cfg.ModelName = info.Name + " (" + name + ")"
		}
		if *runtimeDir != "" {
			cfg.StatusPath = filepath.Join(*runtimeDir, "status.json")
		}
		if *serialPort != "" {
			con, err := serialctl.New(serialctl.Options{Port: *serialPort, Baud: *serialBaud, Format: format,
				Log: e.log.With().Str("serial", *serialPort).Logger()}, console{ctl})
			if err != nil {
				return err
			}
			cfg.OnEvent = func(ev daemon.Event) { forward(con, ev) }
			ctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- con.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					e.log.Warn().Err(err).Msg("serial console")
				}
			}()
			return daemon.RunPipeline(ctx, cfg, e.log)
		}
		return daemon.RunPipeline(ctx, cfg, e.log)
	}
}

const daemonStatsEvery = 10_000_000_000 // 10 s, as a time.Duration

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

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"catd/daemon"
)

// runtimeDirFlag registers --runtime-dir, where status.json lives: by
// default $RUNTIME_DIRECTORY, which systemd sets for RuntimeDirectory=
// (a tmpfs under /run, so the SD card sees no writes).
func runtimeDirFlag(fs *pflag.FlagSet) *string {
	return fs.String("runtime-dir", os.Getenv("RUNTIME_DIRECTORY"),
		"folder for status.json (default $RUNTIME_DIRECTORY, as systemd sets it: a tmpfs; else the state directory)")
}

// serviceRuntimeDir is where catd.service's RuntimeDirectory=catd puts
// status.json; a variable so that tests can point it elsewhere.
var serviceRuntimeDir = "/run/catd"

// statusPlaces lists the folders where "catd status" looks for status.json
// when no flag says where, in order: this process's $RUNTIME_DIRECTORY,
// the system service's runtime directory (/run/catd), a user service's
// ($XDG_RUNTIME_DIR/catd), the default state directory, and the system
// service's state directory (/var/lib/catd). Duplicates and empty names
// are left out.
func statusPlaces() []string {
	var places []string
	add := func(d string) {
		if d != "" && !slices.Contains(places, d) {
			places = append(places, d)
		}
	}
	add(os.Getenv("RUNTIME_DIRECTORY"))
	add(serviceRuntimeDir)
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		add(filepath.Join(d, "catd"))
	}
	add(defaultStateDir())
	add("/var/lib/catd")
	return places
}

func setupStatus(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
	dir := runtimeDirFlag(fs)
	stateDir := stateDirFlag(fs)
	asJSON := fs.Bool("json", false, "print status.json as it is")
	return func(_ context.Context, e *env, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("status takes no arguments: %w", errUsage)
		}
		// A flag says exactly where; without one, the places a service
		// writes to are tried in turn.
		var places []string
		switch {
		case fs.Changed("runtime-dir") && *dir != "":
			places = []string{*dir}
		case fs.Changed("state-dir") && *stateDir != "":
			places = []string{*stateDir}
		default:
			places = statusPlaces()
		}
		if len(places) == 0 {
			return fmt.Errorf("no runtime or state directory: give --runtime-dir (catd run's, e.g. /run/catd): %w", errUsage)
		}
		s, err := readStatusIn(places)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(s)
		}
		return printStatus(e.stdout, s)
	}
}

// rateWindow is the least time since start over which catd status
// shows the state directory's write rate: an hourly rate extrapolated
// from a few seconds (a checkpoint at start) says nothing.
const rateWindow = 10 * time.Minute

// printStatus prints s for people: units for sizes, the camera's state,
// and a decision that says when the latest frame disagrees with it (the
// hysteresis is waiting for more frames).
func printStatus(w io.Writer, s *daemon.Status) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n", s.State, decision(s))
	if s.CameraError != "" {
		fmt.Fprintf(&b, "camera: %s\n", s.CameraError)
	}
	fmt.Fprintf(&b, "frames %d (%.1f/s), dropped %d, corrupt %d\nsource %s, model %s, learning %s\nsince %s, updated %s\n",
		s.Frames, s.FPS, s.Dropped, s.Corrupt, s.Source, s.Model, s.Learning,
		s.Started.Format("2006-01-02 15:04:05"), s.Updated.Format("15:04:05"))
	fmt.Fprintf(&b, "state directory: %d snapshots (%s), %s written since start", s.Snapshots, humanBytes(s.SnapshotBytes),
		humanBytes(s.StateBytesWritten))
	if up := s.Updated.Sub(s.Started); up >= rateWindow {
		fmt.Fprintf(&b, " (%s/h)", humanBytes(int64(s.StateBytesPerHour)))
	}
	b.WriteString("\n")
	auc := "not measured"
	if s.HeldOutAUC != nil {
		auc = fmt.Sprintf("%.3f", *s.HeldOutAUC)
	}
	state := ""
	if s.LearningState != "" {
		state = " (" + s.LearningState + ")"
	}
	fmt.Fprintf(&b, "learning %s%s: %d cat and %d noncat labels (%d held out), %d rounds (%d accepted), held-out ROC AUC %s, %d review frames\n",
		s.Learning, state, s.LabelsCat, s.LabelsNonCat, s.LabelsHeldOut, s.Rounds, s.RoundsAccepted, auc, s.ReviewFrames)
	fmt.Fprintf(&b, "learning memory: replay %s (images on disk %s), optimizer state %s, workspace %s\n",
		humanBytes(int64(s.ReplayBytes)), humanBytes(s.ReplayDiskBytes), humanBytes(int64(s.OptimizerStateBytes)),
		humanBytes(int64(s.TrainWorkspaceBytes)))
	if s.LastRound != "" {
		fmt.Fprintf(&b, "last round: %s\n", s.LastRound)
	}
	if s.Config != "" {
		fmt.Fprintf(&b, "config %s\n", s.Config)
	}
	if s.ConfigError != "" {
		fmt.Fprintf(&b, "last config change refused: %s\n", s.ConfigError)
	}
	if s.MQTT != "" {
		fmt.Fprintf(&b, "mqtt %s, %d messages dropped\n", s.MQTT, s.MQTTDropped)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// decision says whether a cat is reported, with the latest frame's p(cat);
// when that frame is on the other side of the threshold, the decision is
// waiting for more such frames before it changes, and says so.
func decision(s *daemon.Status) string {
	if s.Frames == 0 {
		return fmt.Sprintf("no frame yet (threshold %.3f)", s.Threshold)
	}
	switch {
	case s.Cat && s.PCat < s.Threshold:
		return fmt.Sprintf("CAT (clearing: the latest frame's p=%.3f is below the threshold %.3f)", s.PCat, s.Threshold)
	case s.Cat:
		return fmt.Sprintf("CAT (p=%.3f, threshold %.3f)", s.PCat, s.Threshold)
	case s.PCat >= s.Threshold:
		return fmt.Sprintf("no cat (yet: the latest frame's p=%.3f is at or above the threshold %.3f)", s.PCat, s.Threshold)
	}
	return fmt.Sprintf("no cat (p=%.3f, threshold %.3f)", s.PCat, s.Threshold)
}

// humanBytes writes n bytes with an SI unit: 950 B, 78.7 kB, 40.4 MB.
func humanBytes(n int64) string {
	const units = "kMGTPE"
	if n < 1000 && n > -1000 {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	i := -1
	for (f >= 999.95 || f <= -999.95) && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.1f %cB", f, units[i])
}

// readStatusIn reads status.json from the first of places that has one. A
// file that is there but unreadable (permissions, a half-written file) is
// an error naming it, not a reason to look further.
func readStatusIn(places []string) (*daemon.Status, error) {
	for _, d := range places {
		s, err := daemon.ReadStatus(filepath.Join(d, "status.json"))
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			return s, err
		}
	}
	if len(places) == 1 {
		return nil, fmt.Errorf("no status in %s: is catd running with --runtime-dir %s (or --state-dir)?", places[0], places[0])
	}
	return nil, fmt.Errorf("no status.json in %s: is catd running? (\"systemctl status catd\"; or give --runtime-dir)",
		strings.Join(places, ", "))
}

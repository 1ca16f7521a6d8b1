package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

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
		cat := "no cat"
		if s.Cat {
			cat = "CAT"
		}
		_, err = fmt.Fprintf(e.stdout, "%s: %s (p=%.3f, threshold %.3f)\nframes %d (%.1f/s), dropped %d, corrupt %d\nsource %s, model %s, learning %s\nsince %s, updated %s\nstate: %d snapshots (%d bytes), %d bytes written (%.0f/h)\n",
			s.State, cat, s.PCat, s.Threshold, s.Frames, s.FPS, s.Dropped, s.Corrupt, s.Source, s.Model, s.Learning,
			s.Started.Format("2006-01-02 15:04:05"), s.Updated.Format("15:04:05"), s.Snapshots, s.SnapshotBytes,
			s.StateBytesWritten, s.StateBytesPerHour)
		if err == nil {
			auc := "not measured"
			if s.HeldOutAUC != nil {
				auc = fmt.Sprintf("%.3f", *s.HeldOutAUC)
			}
			_, err = fmt.Fprintf(e.stdout, "learning %s (%s): %d cat and %d noncat labels (%d held out), %d rounds (%d accepted), held-out ROC AUC %s, %d review frames\nlearning memory: replay %d (pixels on disk %d), optimizer state %d, workspace %d bytes\n",
				s.Learning, s.LearningState, s.LabelsCat, s.LabelsNonCat, s.LabelsHeldOut, s.Rounds, s.RoundsAccepted, auc, s.ReviewFrames,
				s.ReplayBytes, s.ReplayDiskBytes, s.OptimizerStateBytes, s.TrainWorkspaceBytes)
		}
		if err == nil && s.LastRound != "" {
			_, err = fmt.Fprintf(e.stdout, "last round: %s\n", s.LastRound)
		}
		if err == nil && s.Config != "" {
			_, err = fmt.Fprintf(e.stdout, "config %s\n", s.Config)
		}
		if err == nil && s.ConfigError != "" {
			_, err = fmt.Fprintf(e.stdout, "last config change refused: %s\n", s.ConfigError)
		}
		return err
	}
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

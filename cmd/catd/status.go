package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

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

func setupStatus(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
	dir := runtimeDirFlag(fs)
	stateDir := stateDirFlag(fs)
	asJSON := fs.Bool("json", false, "print status.json as it is")
	return func(_ context.Context, e *env, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("status takes no arguments: %w", errUsage)
		}
		if *dir == "" {
			*dir = *stateDir
		}
		if *dir == "" {
			return fmt.Errorf("no runtime or state directory: give --runtime-dir (catd run's, e.g. /run/catd): %w", errUsage)
		}
		s, err := daemon.ReadStatus(filepath.Join(*dir, "status.json"))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("no status in %s: is catd running with --runtime-dir %s (or --state-dir)? (%w)", *dir, *dir, err)
			}
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

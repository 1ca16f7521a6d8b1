package daemon

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"
)

// Status is what status.json holds: the daemon's state, rewritten about
// once a second (atomically: readers see a whole file) in the runtime
// directory, a tmpfs under systemd, so it costs the SD card nothing.
type Status struct {
	// State is "watching", "waiting for camera" (it could not be opened
	// yet: CameraError says why) or "camera stalled" (no frames lately).
	State       string    `json:"state"`
	CameraError string    `json:"camera_error,omitempty"`
	Cat         bool      `json:"cat"`   // a cat is reported present
	PCat        float32   `json:"p_cat"` // p(cat) of the latest frame
	Threshold   float32   `json:"threshold"`
	FPS         float64   `json:"fps"` // frames inferred per second over the last interval
	Frames      uint64    `json:"frames"`
	Dropped     uint64    `json:"dropped"`
	Corrupt     uint64    `json:"corrupt"`
	Source      string    `json:"source"`
	Model       string    `json:"model"`
	Learning    string    `json:"learning"` // "on" or "off"
	Started     time.Time `json:"started"`
	Updated     time.Time `json:"updated"`

	// The state directory (SD card wear): bytes written to it since start
	// (checkpoints, snapshots; status.json lives elsewhere) and per hour.
	StateBytesWritten int64   `json:"state_bytes_written"`
	StateBytesPerHour float64 `json:"state_bytes_per_hour"`
	Snapshots         int     `json:"snapshots"`
	SnapshotBytes     int64   `json:"snapshot_bytes"`
	Checkpoint        string  `json:"checkpoint,omitempty"` // the latest checkpoint loaded or written
	Config            string  `json:"config,omitempty"`     // the config file, if any
	ConfigError       string  `json:"config_error,omitempty"`
	// MQTT is "connected" or "disconnected" ("" without a broker), and
	// MQTTDropped the events it lost (queue full or not accepted).
	MQTT        string `json:"mqtt,omitempty"`
	MQTTDropped uint64 `json:"mqtt_dropped,omitempty"`

	// On-device learning: labels kept (and how many of them are held
	// out to judge rounds), rounds run (those skipped for want of labels
	// not counted) and accepted, what learning is doing (learn.Pacer's
	// State), the accepted model's ROC AUC on the held-out labels (absent
	// until measured), the last round, review frames.
	LabelsCat      int      `json:"labels_cat"`
	LabelsNonCat   int      `json:"labels_noncat"`
	LabelsHeldOut  int      `json:"labels_held_out"`
	Rounds         int64    `json:"rounds"`
	RoundsAccepted int64    `json:"rounds_accepted"`
	LearningState  string   `json:"learning_state,omitempty"`
	HeldOutAUC     *float64 `json:"held_out_auc,omitempty"`
	LastRound      string   `json:"last_round,omitempty"`
	ReviewFrames   int      `json:"review_frames"`
	// Memory of learning, in bytes: the replay buffer's examples (their
	// labels and places: the pixels stay on disk, ReplayDiskBytes), the
	// optimizer state, the training workspace.
	ReplayBytes         int   `json:"replay_bytes"`
	ReplayDiskBytes     int64 `json:"replay_disk_bytes"`
	OptimizerStateBytes int   `json:"optimizer_state_bytes"`
	TrainWorkspaceBytes int   `json:"train_workspace_bytes"`
}

// finite is x, or 0 if x is NaN or infinite.
func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}

// WriteStatus writes s to path atomically (a temporary file in the same
// folder, renamed over the old one).
// A number that is not finite, which JSON cannot hold, is written as 0:
// status.json is always written.
func WriteStatus(path string, s *Status) error {
	c := *s
	c.PCat, c.Threshold = float32(finite(float64(c.PCat))), float32(finite(float64(c.Threshold)))
	c.FPS, c.StateBytesPerHour = finite(c.FPS), finite(c.StateBytesPerHour)
	if c.HeldOutAUC != nil && finite(*c.HeldOutAUC) != *c.HeldOutAUC {
		c.HeldOutAUC = nil
	}
	b, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".status-*.json")
	if err != nil {
		return fmt.Errorf("daemon: status: %w", err)
	}
	_, werr := tmp.Write(append(b, '\n'))
	cerr := tmp.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp.Name(), 0o644)
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("daemon: status %s: %w", path, werr)
	}
	return nil
}

// ReadStatus reads a status.json written by WriteStatus.
func ReadStatus(path string) (*Status, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("daemon: status: %w", err)
	}
	var s Status
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("daemon: status %s: %w", path, err)
	}
	return &s, nil
}

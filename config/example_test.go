package config_test

import (
	"fmt"

	"catd/config"
)

// Parse reports every problem of a file, each with its line and key.
func ExampleParse() {
	file := []byte(`source: "test:"
detect:
  threshold: 1.5
  on_frames: 2.5
  thresold: 0.5
snapshots:
  enabled: yes
`)
	_, err := config.Parse("catd.yaml", file)
	fmt.Println(err)
	// Output:
	// catd.yaml:3: detect.threshold: want a number in (0, 1), got 1.5 (or 0: the model's own)
	// catd.yaml:4: detect.on_frames: want an integer, got 2.5
	// catd.yaml:5: detect.thresold: unknown key (did you mean "threshold"?)
	// catd.yaml:7: snapshots.enabled: want true or false, got "yes" (YAML 1.1 booleans such as yes, no, on and off are not accepted: write true or false)
}

// A partial file overlays the defaults.
func ExampleParse_partial() {
	c, err := config.Parse("/etc/catd/catd.yaml", []byte(`
model: cats.safetensors   # relative to /etc/catd
detect:
  roi: [120, 300, 520, 480]
snapshots:
  max_bytes: 256MiB
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Source, c.Model, c.Detect.ROI, c.Detect.OnFrames, c.Snapshots.MaxBytes, c.StatsEvery)
	// Output:
	// v4l2:/dev/video0 /etc/catd/cats.safetensors (120,300)-(520,480) 2 256MiB 10s
}

// Diff tells a reload what changed.
func ExampleDiff() {
	old := config.Default()
	new := old
	new.Detect.Threshold = 0.8
	new.Serial.Port = "/dev/ttyGS0"
	fmt.Println(config.Diff(old, new))
	// Output:
	// [detect.threshold serial.port]
}

// Flags laid over a parsed file are checked with Validate.
func ExampleConfig_Validate() {
	c := config.Default()
	c.Detect.Fit = "zoom" // from --fit
	fmt.Println(c.Validate())
	// Output:
	// detect.fit: want crop, letterbox or stretch, got "zoom"
}

package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"catd/camera"
	"catd/config"
	"catd/internal/testwait"
	"catd/mqtt/mqtttest"
)

const mqttWait = 15 * time.Second

func anyMsg(mqtttest.Msg) bool { return true }

// TestServiceOverMQTT runs catd against a real broker: a cat arriving and
// leaving turns the retained cat topic ON then OFF, with events and the
// snapshot; Home Assistant's discovery names the device; commands from
// MQTT change the running daemon and bad ones are refused; a bad mqtt
// section is refused with the old connection kept; a broker restart stops
// nothing and the state comes back; a stopped catd says offline.
func TestServiceOverMQTT(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Opts{Username: "catd", Password: "pw-9f3k"})
	r := newRig(t)
	pwFile := filepath.Join(r.dir, "mqtt.pass")
	if err := os.WriteFile(pwFile, []byte("pw-9f3k\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mqttSection := func(extra string) string {
		return fmt.Sprintf("mqtt:\n  broker: %s\n  username: catd\n  password_file: mqtt.pass\n  client_id: catd-rig\n"+
			"  topic_prefix: catd/rig\n  p_cat_every: 1s\n%s", b.URL, extra)
	}
	conf := func(source, extra string) string {
		return fmt.Sprintf("source: %s\nmodel: %s\nstats_every: 1s\n%s", source, r.model, mqttSection(extra))
	}
	s := mqtttest.Subscribe(t, b, "#", mqtttest.SubOpts{Username: "catd", Password: "pw-9f3k"})
	r.start(conf("file:/fake/dark", ""))

	s.Payload("catd/rig/availability", 0, mqttWait, "online")
	s.Payload("catd/rig/cat", 0, mqttWait, "OFF")
	d := s.WaitFor("homeassistant/binary_sensor/catd_rig/cat/config", 0, mqttWait, anyMsg)
	var disc struct {
		Device struct {
			Model     string `json:"model"`
			SWVersion string `json:"sw_version"`
		} `json:"device"`
	}
	if err := json.Unmarshal(d.Payload, &disc); err != nil || disc.Device.Model != "catd (custom model)" ||
		disc.Device.SWVersion != "test" {
		t.Errorf("discovery device %+v (%v), want model \"catd (custom model)\" and sw_version test", disc.Device, err)
	}
	st := r.status(func(s *Status) bool { return s.MQTT == "connected" })
	if st.MQTT != "connected" {
		t.Errorf("status.json mqtt %q, want connected", st.MQTT)
	}

	// A cat comes and goes.
	r.write(conf("file:/fake/bright", ""))
	r.event(EventCatPresent)
	s.Payload("catd/rig/cat", 0, mqttWait, "ON")
	late := mqtttest.Subscribe(t, b, "catd/rig/cat", mqtttest.SubOpts{Username: "catd", Password: "pw-9f3k"})
	late.WaitFor("catd/rig/cat", 0, mqttWait, func(m mqtttest.Msg) bool { return m.Retained && string(m.Payload) == "ON" })
	ev := s.WaitFor("catd/rig/event", 0, mqttWait, func(m mqtttest.Msg) bool {
		return bytes.Contains(m.Payload, []byte(`"event":"cat_present"`))
	})
	var e struct {
		Frame uint64   `json:"frame"`
		PCat  *float64 `json:"p_cat"`
	}
	if err := json.Unmarshal(ev.Payload, &e); err != nil || e.Frame == 0 || e.PCat == nil || *e.PCat < 0.5 {
		t.Errorf("cat_present event %s", ev.Payload)
	}
	snap := s.WaitFor("catd/rig/snapshot", 0, mqttWait, anyMsg)
	if img, err := jpeg.Decode(bytes.NewReader(snap.Payload)); err != nil || img.Bounds().Dx() != 8 {
		t.Errorf("snapshot: %v (%d bytes), want the 8x8 frame as JPEG", err, len(snap.Payload))
	}
	r.write(conf("file:/fake/dark", ""))
	r.event(EventCatGone)
	s.Payload("catd/rig/cat", 1, mqttWait, "OFF")
	late.Payload("catd/rig/cat", 1, mqttWait, "OFF")
	s.WaitFor("catd/rig/event", 0, mqttWait, func(m mqtttest.Msg) bool {
		return bytes.Contains(m.Payload, []byte(`"event":"cat_gone"`))
	})
	s.WaitFor("catd/rig/p_cat", 0, mqttWait, anyMsg)
	s.WaitFor("catd/rig/stats", 0, mqttWait, func(m mqtttest.Msg) bool { return bytes.Contains(m.Payload, []byte(`"fps"`)) })

	// Commands, through the console's parser.
	s.Publish("catd/rig/set/threshold", []byte("0.93"), false)
	s.WaitFor("catd/rig/reply", 0, mqttWait, func(m mqtttest.Msg) bool { return bytes.Contains(m.Payload, []byte(`"ok":true`)) })
	if thr := r.ctl.Snapshot().Threshold; thr != 0.93 {
		t.Errorf("threshold %v after set/threshold 0.93", thr)
	}
	s.Payload("catd/rig/threshold", 0, mqttWait, "0.930")
	s.Publish("catd/rig/set/threshold", []byte("1.5"), false)
	s.WaitFor("catd/rig/error", 0, mqttWait, func(m mqtttest.Msg) bool { return bytes.Contains(m.Payload, []byte("between 0 and 1")) })
	if thr := r.ctl.Snapshot().Threshold; thr != 0.93 {
		t.Errorf("threshold %v after a refused set/threshold 1.5, want 0.93", thr)
	}
	s.Publish("catd/rig/set/learn", []byte("off"), false)
	s.WaitFor("catd/rig/learning", 0, mqttWait, func(m mqtttest.Msg) bool { return bytes.Contains(m.Payload, []byte(`"enabled":false`)) })

	// A bad mqtt section is refused; the connection stays.
	r.write(conf("file:/fake/dark", "  pinned_cert: sha256:1234\n"))
	r.event(EventConfigRefused)
	s.WaitFor("catd/rig/event", 0, mqttWait, func(m mqtttest.Msg) bool {
		return bytes.Contains(m.Payload, []byte(`"event":"config_refused"`)) && bytes.Contains(m.Payload, []byte("mqtt.pinned_cert"))
	})
	if err := os.Remove(pwFile); err != nil {
		t.Fatal(err)
	}
	r.write(conf("file:/fake/dark", "  discovery_prefix: ha2\n")) // needs the password file again
	if ev := r.event(EventConfigRefused); !strings.Contains(ev.Msg, "mqtt.pass") {
		t.Errorf("refusal %q does not name the password file", ev.Msg)
	}
	if strings.Contains(r.logs.String(), "pw-9f3k") {
		t.Error("the password is in the log")
	}
	if err := os.WriteFile(pwFile, []byte("pw-9f3k\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// The broker goes away: frames go on; it comes back empty and gets
	// the state again.
	b.Stop()
	r.status(func(s *Status) bool { return s.MQTT == "disconnected" })
	r.frames(20)
	b.Restart()
	s2 := mqtttest.Subscribe(t, b, "#", mqtttest.SubOpts{Username: "catd", Password: "pw-9f3k"})
	s2.Payload("catd/rig/availability", 0, mqttWait, "online")
	s2.Payload("catd/rig/cat", 0, mqttWait, "OFF")
	s2.Payload("catd/rig/threshold", 0, mqttWait, "0.930")
	s2.WaitFor("homeassistant/switch/catd_rig/learning/config", 0, mqttWait, anyMsg)
	s2.WaitFor("catd/rig/snapshot", 0, mqttWait, anyMsg)
	testwait.For(t, "status.json to say connected", func() bool {
		st, err := ReadStatus(filepath.Join(r.dir, "state", "status.json"))
		return err == nil && st.MQTT == "connected"
	})

	// A live change of topics: the old entities go, the new topics come.
	r.write(conf("file:/fake/dark", "  discovery_prefix: ha\n"))
	s2.WaitFor("homeassistant/switch/catd_rig/learning/config", 0, mqttWait, func(m mqtttest.Msg) bool { return len(m.Payload) == 0 })
	s2.WaitFor("ha/switch/catd_rig/learning/config", 0, mqttWait, func(m mqtttest.Msg) bool { return len(m.Payload) > 0 })

	s2.WaitFor("catd/rig/availability", 1, mqttWait, anyMsg) // the new client's "online"
	n := len(s2.Messages("catd/rig/availability"))
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	s2.Payload("catd/rig/availability", n, mqttWait, "offline")
}

// TestServiceRefusesToStartWithoutItsPasswordFile: a config at start
// naming a password file that is not there fails Run, naming the file.
func TestServiceRefusesToStartWithoutItsPasswordFile(t *testing.T) {
	r := newRig(t)
	missing := filepath.Join(r.dir, "nope.pass")
	r.write(fmt.Sprintf("source: file:/fake/dark\nmodel: %s\nmqtt:\n  broker: tcp://127.0.0.1:1\n  username: catd\n  password_file: %s\n",
		r.model, missing))
	cfg, _, err := config.Load(r.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	err = Run(context.Background(), Options{Config: cfg, ConfigPath: r.cfgPath, StateDir: filepath.Join(r.dir, "state"),
		Log: zerolog.New(r.logs), OpenSource: func(uri string, _ zerolog.Logger) (camera.Source, error) {
			return &steadySource{name: uri, pix: 20}, nil
		}})
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Run = %v, want an error naming %s", err, missing)
	}
}

// TestMQTTChild is the catd killed by TestMQTTLastWillOfAKilledCatd: the
// service, a cat in view, connected to the broker CATD_MQTT_CHILD_BROKER.
func TestMQTTChild(t *testing.T) {
	url := os.Getenv("CATD_MQTT_CHILD_BROKER")
	if url == "" {
		t.Skip("the child of TestMQTTLastWillOfAKilledCatd")
	}
	cfg := config.Default()
	cfg.Source, cfg.StatsEvery = "file:/fake/bright", 0
	cfg.HTTP.Listen = "" // no web page on the machine's port 8787
	cfg.MQTT.Broker, cfg.MQTT.TopicPrefix, cfg.MQTT.ClientID = url, "catd/child", "catd-child"
	err := Run(context.Background(), Options{Config: cfg, StateDir: os.Getenv("CATD_MQTT_CHILD_DIR"),
		Log: zerolog.New(os.Stderr).Level(zerolog.WarnLevel),
		OpenSource: func(uri string, _ zerolog.Logger) (camera.Source, error) {
			return &steadySource{name: uri, pix: 250}, nil
		}})
	t.Fatal(err) // only a SIGKILL ends it
}

// TestMQTTLastWillOfAKilledCatd: a catd killed with SIGKILL (no goodbye)
// is reported offline by the broker, its last will, retained; its cat stays
// as it was last said.
func TestMQTTLastWillOfAKilledCatd(t *testing.T) {
	if os.Getenv("CATD_MQTT_CHILD_BROKER") != "" {
		t.Skip("in the child")
	}
	b := mqtttest.Start(t, mqtttest.Opts{})
	s := mqtttest.Subscribe(t, b, "catd/child/#", mqtttest.SubOpts{})
	cmd := exec.Command(os.Args[0], "-test.run=^TestMQTTChild$")
	cmd.Env = append(os.Environ(), "CATD_MQTT_CHILD_BROKER="+b.URL, "CATD_MQTT_CHILD_DIR="+t.TempDir())
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot run the test binary again: %v", err)
	}
	defer cmd.Process.Kill()
	s.Payload("catd/child/availability", 0, mqttWait, "online")
	s.WaitFor("catd/child/cat", 0, mqttWait, anyMsg)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the child ended with %v before it was killed", cmd.ProcessState)
	}
	s.Payload("catd/child/availability", 1, mqttWait, "offline")
	late := mqtttest.Subscribe(t, b, "catd/child/availability", mqtttest.SubOpts{})
	late.WaitFor("catd/child/availability", 0, mqttWait, func(m mqtttest.Msg) bool {
		return m.Retained && string(m.Payload) == "offline"
	})
}

package mqtt_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"catd/mqtt"
	"catd/mqtt/mqtttest"
)

// handler is a serialctl.Handler that records the commands it runs.
type handler struct {
	mu    sync.Mutex
	calls []string
	thr   float64
	learn bool
	fail  error // returned by Save
}

func (h *handler) record(s string) {
	h.mu.Lock()
	h.calls = append(h.calls, s)
	h.mu.Unlock()
}

func (h *handler) Calls() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.calls)
}

func (h *handler) Status() string  { h.record("status"); return "cat=false" }
func (h *handler) Version() string { h.record("version"); return "catd test" }
func (h *handler) SetThreshold(x float64) error {
	h.mu.Lock()
	h.thr = x
	h.mu.Unlock()
	h.record(fmt.Sprintf("threshold %g", x))
	return nil
}
func (h *handler) Label(class, frame string) (string, error) {
	h.record("label " + class + " " + frame)
	return "labelled " + class, nil
}
func (h *handler) Learn(on bool) error {
	h.mu.Lock()
	h.learn = on
	h.mu.Unlock()
	h.record(fmt.Sprintf("learn %v", on))
	return nil
}
func (h *handler) Save() error   { h.record("save"); return h.fail }
func (h *handler) Reload() error { h.record("reload"); return nil }

func (h *handler) state() mqtt.State {
	h.mu.Lock()
	defer h.mu.Unlock()
	return mqtt.State{PCat: 0.125, Threshold: float32(h.thr), Learning: h.learn, LearningState: "waiting for labels",
		Model: "built-in"}
}

const wait = 15 * time.Second

// startClient runs a client on b until the test ends (or stop is called).
func startClient(t *testing.T, b *mqtttest.Broker, opt mqtt.Options) (c *mqtt.Client, stop func()) {
	t.Helper()
	opt.Broker = b.URL
	if opt.TopicPrefix == "" {
		opt.TopicPrefix = "catd/test"
	}
	if opt.ClientID == "" {
		opt.ClientID = "catd-test"
	}
	opt.MinBackoff, opt.MaxBackoff, opt.Timeout = 20*time.Millisecond, 200*time.Millisecond, 5*time.Second
	if opt.Device.Model == "" {
		opt.Device = mqtt.Device{Name: "catd test", Model: "catd catsep64", SWVersion: "v1.2.3"}
	}
	c, err := mqtt.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(wait):
				var b strings.Builder
				pprof.Lookup("goroutine").WriteTo(&b, 2)
				t.Errorf("Run did not return within %v of its context's end\n%s", wait, b.String())
			}
		})
	}
	t.Cleanup(stop)
	return c, stop
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDiscoveryHasWhatHomeAssistantNeeds: every discovery config is
// retained, names a unique id, the device (identifiers, name, model,
// sw_version) and the availability topic, and the fields its component
// requires; every topic a config reads is one catd publishes retained,
// and every command topic is one catd takes.
func TestDiscoveryHasWhatHomeAssistantNeeds(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Opts{})
	h := &handler{thr: 0.5, learn: true}
	c, _ := startClient(t, b, mqtt.Options{DiscoveryPrefix: "homeassistant", Handler: h, Poll: h.state})
	c.Set(mqtt.Stats, []byte(`{"fps":4}`))
	c.Set(mqtt.Snapshot, []byte("\xff\xd8jpeg"))
	want := mqtt.Discovery(mqtt.Options{DiscoveryPrefix: "homeassistant", TopicPrefix: "catd/test", ClientID: "catd-test",
		Device: mqtt.Device{Name: "catd test", Model: "catd catsep64", SWVersion: "v1.2.3"}})
	if len(want) < 8 {
		t.Fatalf("%d discovery configs, want at least 8", len(want))
	}
	first := mqtttest.Subscribe(t, b, "#", mqtttest.SubOpts{})
	first.Payload("catd/test/availability", 0, wait, "online")
	for _, d := range want {
		first.WaitFor(d.Topic, 0, wait, func(mqtttest.Msg) bool { return true })
	}
	first.WaitFor("catd/test/snapshot", 0, wait, func(mqtttest.Msg) bool { return true })
	// What a Home Assistant starting now would find: all of it retained.
	s := mqtttest.Subscribe(t, b, "#", mqtttest.SubOpts{})
	components := map[string]int{}
	uniq := map[string]bool{}
	for _, d := range want {
		m := s.WaitFor(d.Topic, 0, wait, func(mqtttest.Msg) bool { return true })
		if !m.Retained {
			t.Errorf("%s: not retained", d.Topic)
		}
		var f map[string]any
		if err := json.Unmarshal(m.Payload, &f); err != nil {
			t.Fatalf("%s: %v", d.Topic, err)
		}
		parts := strings.Split(d.Topic, "/")
		if len(parts) != 5 || parts[0] != "homeassistant" || parts[2] != "catd_test" || parts[4] != "config" {
			t.Errorf("topic %s: want homeassistant/COMPONENT/catd_test/OBJECT/config", d.Topic)
		}
		comp := parts[1]
		components[comp]++
		id, _ := f["unique_id"].(string)
		if id == "" || uniq[id] {
			t.Errorf("%s: unique_id %q missing or repeated", d.Topic, id)
		}
		uniq[id] = true
		if n, _ := f["name"].(string); n == "" {
			t.Errorf("%s: no name", d.Topic)
		}
		dev, _ := f["device"].(map[string]any)
		ids, _ := dev["identifiers"].([]any)
		if len(ids) != 1 || ids[0] != "catd_test" || dev["name"] != "catd test" || dev["model"] != "catd catsep64" ||
			dev["sw_version"] != "v1.2.3" {
			t.Errorf("%s: device %v", d.Topic, dev)
		}
		av, _ := f["availability"].([]any)
		if len(av) != 1 || av[0].(map[string]any)["topic"] != "catd/test/availability" {
			t.Errorf("%s: availability %v", d.Topic, f["availability"])
		}
		need := map[string][]string{
			"binary_sensor": {"state_topic", "payload_on", "payload_off"},
			"sensor":        {"state_topic"},
			"image":         {"image_topic", "content_type"},
			"switch":        {"command_topic", "state_topic", "payload_on", "payload_off"},
			"number":        {"command_topic", "state_topic", "min", "max", "step"},
			"button":        {"command_topic", "payload_press"},
		}[comp]
		if need == nil {
			t.Errorf("%s: component %s unexpected", d.Topic, comp)
		}
		for _, k := range need {
			if _, ok := f[k]; !ok {
				t.Errorf("%s: no %s", d.Topic, k)
			}
		}
		// What it reads, catd publishes retained; what it commands, catd takes.
		for _, k := range []string{"state_topic", "image_topic"} {
			if topic, ok := f[k].(string); ok {
				if m := s.WaitFor(topic, 0, wait, func(mqtttest.Msg) bool { return true }); !m.Retained {
					t.Errorf("%s: %s %s is not retained", d.Topic, k, topic)
				}
			}
		}
		if topic, ok := f["command_topic"].(string); ok {
			payload := f["payload_press"]
			if payload == nil {
				payload = f["payload_on"]
			}
			if payload == nil {
				payload = "0.42"
			}
			cmd, _ := strings.CutPrefix(topic, "catd/test/set/")
			if _, err := mqtt.ParseMessage(cmd, []byte(payload.(string))); err != nil {
				t.Errorf("%s: command %s %q is refused: %v", d.Topic, topic, payload, err)
			}
		}
	}
	for _, comp := range []string{"binary_sensor", "sensor", "image", "switch", "number", "button"} {
		if components[comp] == 0 {
			t.Errorf("no %s announced", comp)
		}
	}
	if components["button"] < 3 {
		t.Errorf("%d buttons, want label cat, label no cat and save", components["button"])
	}
	if m, _ := s.Last("catd/test/threshold"); string(m.Payload) != "0.500" {
		t.Errorf("threshold state %q, want 0.500", m.Payload)
	}
	if m, _ := s.Last("catd/test/p_cat"); string(m.Payload) != "0.125" {
		t.Errorf("p_cat state %q, want 0.125", m.Payload)
	}
}

// TestPresenceRetained: ON then OFF on the cat topic, retained, and a
// subscriber arriving later finds the latest one.
func TestPresenceRetained(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Opts{})
	c, _ := startClient(t, b, mqtt.Options{})
	s := mqtttest.Subscribe(t, b, "catd/test/#", mqtttest.SubOpts{})
	s.Payload("catd/test/availability", 0, wait, "online")
	c.SetPresent(true)
	s.Payload("catd/test/cat", 0, wait, "ON")
	c.SetPresent(false)
	s.Payload("catd/test/cat", 0, wait, "OFF")
	c.Event([]byte(`{"event":"cat_gone"}`))
	if m := s.Payload("catd/test/event", 0, wait, `{"event":"cat_gone"}`); m.Retained {
		t.Error("event retained; events must not be")
	}
	late := mqtttest.Subscribe(t, b, "catd/test/cat", mqtttest.SubOpts{})
	if m := late.WaitFor("catd/test/cat", 0, wait, func(mqtttest.Msg) bool { return true }); string(m.Payload) != "OFF" || !m.Retained {
		t.Errorf("a late subscriber got %q (retained %v), want OFF retained", m.Payload, m.Retained)
	}
}

// TestCommands: commands on set/COMMAND run through the serial console's
// parser; good ones reach the handler and are answered on reply, bad ones
// are answered on error and never reach it.
func TestCommands(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Opts{})
	h := &handler{thr: 0.5}
	s := mqtttest.Subscribe(t, b, "catd/test/#", mqtttest.SubOpts{})
	// A command left retained would run again on every connection: it is
	// refused (it arrives retained when catd subscribes).
	s.Publish("catd/test/set/threshold", []byte("0.3"), true)
	c, _ := startClient(t, b, mqtt.Options{Handler: h, Poll: h.state})
	s.Payload("catd/test/availability", 0, wait, "online")
	s.WaitFor("catd/test/error", 0, wait, func(m mqtttest.Msg) bool {
		return bytes.Contains(m.Payload, []byte("retained command ignored"))
	})
	s.Publish("catd/test/set/threshold", nil, true) // cleared: an empty command, refused too
	s.WaitFor("catd/test/error", 1, wait, func(m mqtttest.Msg) bool { return bytes.Contains(m.Payload, []byte("usage")) })

	// The commands below come at the console's pace (5 a second): a
	// faster sender is rate-limited (TestCommandFlood).
	replies, errs := 0, 2
	good := func(cmd, payload, call string) {
		t.Helper()
		time.Sleep(200 * time.Millisecond)
		s.Publish("catd/test/set/"+cmd, []byte(payload), false)
		m := s.WaitFor("catd/test/reply", replies, wait, func(mqtttest.Msg) bool { return true })
		replies++
		var r struct {
			Command string `json:"command"`
			OK      bool   `json:"ok"`
		}
		if err := json.Unmarshal(m.Payload, &r); err != nil || !r.OK || r.Command != cmd {
			t.Errorf("%s %q: reply %s", cmd, payload, m.Payload)
		}
		if calls := h.Calls(); len(calls) == 0 || calls[len(calls)-1] != call {
			t.Errorf("%s %q: handler calls %q, want the last %q", cmd, payload, calls, call)
		}
	}
	bad := func(cmd string, payload []byte, says string) {
		t.Helper()
		before := len(h.Calls())
		time.Sleep(200 * time.Millisecond)
		s.Publish("catd/test/set/"+cmd, payload, false)
		m := s.WaitFor("catd/test/error", errs, wait, func(mqtttest.Msg) bool { return true })
		errs++
		var r struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		}
		if err := json.Unmarshal(m.Payload, &r); err != nil || r.OK || !strings.Contains(r.Error, says) {
			t.Errorf("%s %q: error answer %s, want one saying %q", cmd, payload, m.Payload, says)
		}
		if after := h.Calls(); len(after) != before {
			t.Errorf("%s %q reached the handler: %q", cmd, payload, after[before:])
		}
	}
	good("threshold", "0.7", "threshold 0.7")
	s.Payload("catd/test/threshold", 0, wait, "0.700") // the state follows at once
	good("learn", "off", "learn false")
	good("learn", "on", "learn true")
	s.WaitFor("catd/test/learning", 0, wait, func(m mqtttest.Msg) bool { return bytes.Contains(m.Payload, []byte(`"enabled":true`)) })
	good("label", "cat", "label cat ")
	good("label", "noncat 20261127T031500.123Z-f000001234-p0.93.jpg", "label noncat 20261127T031500.123Z-f000001234-p0.93.jpg")
	good("save", "", "save")

	bad("threshold", []byte("1.5"), "want a number between 0 and 1")
	bad("threshold", []byte("NaN"), "want a number between 0 and 1")
	bad("threshold", []byte(""), "usage: threshold X")
	bad("label", []byte("dog"), "neither cat nor noncat")
	bad("label", []byte("cat ../../etc/passwd"), "no paths")
	bad("learn", []byte("maybe"), "want on or off")
	bad("save", []byte("PRESS"), "save takes no arguments")
	bad("Threshold", []byte("0.5"), "want set/COMMAND")
	bad("rm", []byte("-rf /"), "unknown command")
	bad("threshold", []byte("0.5\n save"), "binary input ignored")
	bad("label", []byte("cat \xff\xfe"), "binary input ignored")
	bad("threshold", bytes.Repeat([]byte("9"), 300), "line too long")
	// A command the handler fails is answered with its error.
	h.fail = errors.New("disk full")
	time.Sleep(200 * time.Millisecond)
	s.Publish("catd/test/set/save", nil, false)
	s.WaitFor("catd/test/error", errs, wait, func(m mqtttest.Msg) bool { return bytes.Contains(m.Payload, []byte(`"save: disk full"`)) })
	h.fail = nil
	if got := c.Refused(); got < 13 {
		t.Errorf("Refused() = %d, want at least 13", got)
	}
	h.mu.Lock()
	thr := h.thr
	h.mu.Unlock()
	if thr != 0.7 {
		t.Errorf("threshold %v after the bad commands, want 0.7 still", thr)
	}
}

// TestCommandFlood: a flood of commands is rate-limited as the serial
// console is (a burst of 10, then 5 a second), answered "rate limited"
// once, and the rest never reaches the handler.
func TestCommandFlood(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Opts{})
	h := &handler{}
	startClient(t, b, mqtt.Options{Handler: h})
	s := mqtttest.Subscribe(t, b, "catd/test/#", mqtttest.SubOpts{})
	s.Payload("catd/test/availability", 0, wait, "online")
	start := time.Now()
	for range 100 {
		s.Publish("catd/test/set/threshold", []byte("0.6"), false)
	}
	s.WaitFor("catd/test/error", 0, wait, func(m mqtttest.Msg) bool { return bytes.Contains(m.Payload, []byte("rate limited")) })
	s.WaitFor("catd/test/reply", 9, wait, func(mqtttest.Msg) bool { return true }) // the burst is answered
	elapsed := time.Since(start)
	time.Sleep(100 * time.Millisecond)
	n := len(h.Calls())
	// The bucket holds 10 and refills at 5 a second while the flood lasts.
	if limit := 10 + int(5*elapsed.Seconds()) + 1; n < 10 || n > limit {
		t.Errorf("%d of 100 commands ran in %v, want 10..%d", n, elapsed, limit)
	}
	if got := len(s.Messages("catd/test/error")); got != 1 {
		t.Errorf("%d error answers to one flood, want 1", got)
	}
}

// TestBrokerRestart: with the broker gone, setting states and queueing
// events never blocks, events beyond the queue are dropped and counted;
// when the broker is back (empty: it keeps nothing), the client reconnects
// and publishes availability, discovery and its states again.
func TestBrokerRestart(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Opts{})
	h := &handler{thr: 0.5}
	c, _ := startClient(t, b, mqtt.Options{Handler: h, DiscoveryPrefix: "ha", Queue: 8})
	waitFor(t, "connected", c.Connected)
	c.SetPresent(true)
	c.Set(mqtt.Threshold, []byte("0.500"))
	b.Stop()
	waitFor(t, "disconnected", func() bool { return !c.Connected() })
	// The pipeline goes on: a thousand states and events, none waits.
	for i := range 1000 {
		c.Set(mqtt.Stats, fmt.Appendf(nil, `{"frames":%d}`, i))
		c.Event(fmt.Appendf(nil, `{"event":"test","n":%d}`, i))
	}
	if d := c.Dropped(); d < 1000-8 {
		t.Errorf("Dropped() = %d with a queue of 8 and 1000 events while the broker was away, want at least 992", d)
	}
	b.Restart()
	waitFor(t, "reconnected", c.Connected)
	states := map[string]string{"catd/test/availability": "online", "catd/test/cat": "ON",
		"catd/test/stats": `{"frames":999}`, "catd/test/threshold": "0.500"}
	cfgs := mqtt.Discovery(mqtt.Options{DiscoveryPrefix: "ha", TopicPrefix: "catd/test", ClientID: "catd-test"})
	first := mqtttest.Subscribe(t, b, "#", mqtttest.SubOpts{})
	for topic, want := range states {
		first.Payload(topic, 0, wait, want)
	}
	for _, d := range cfgs {
		first.WaitFor(d.Topic, 0, wait, func(m mqtttest.Msg) bool { return true })
	}
	// All of it is retained again: a subscriber arriving now finds it.
	s := mqtttest.Subscribe(t, b, "#", mqtttest.SubOpts{})
	for topic, want := range states {
		if m := s.Payload(topic, 0, wait, want); !m.Retained {
			t.Errorf("%s: not retained", topic)
		}
	}
	for _, d := range cfgs {
		s.WaitFor(d.Topic, 0, wait, func(m mqtttest.Msg) bool { return m.Retained })
	}
	// Events flow again.
	s2 := mqtttest.Subscribe(t, b, "catd/test/event", mqtttest.SubOpts{})
	c.Event([]byte(`{"event":"after"}`))
	s2.Payload("catd/test/event", 0, wait, `{"event":"after"}`)
}

// TestHungBroker: a broker that stops answering (its process stopped,
// connections open) holds no caller: states and events are taken at once
// while the client waits for the broker, and once it answers again the
// newest state goes out. A client stopped while the broker hangs returns.
func TestHungBroker(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Opts{})
	c, stop := startClient(t, b, mqtt.Options{Queue: 8})
	s := mqtttest.Subscribe(t, b, "catd/test/#", mqtttest.SubOpts{})
	s.Payload("catd/test/availability", 0, wait, "online")
	b.Pause()
	for i := range 1000 {
		c.Set(mqtt.Stats, fmt.Appendf(nil, `{"frames":%d}`, i))
		c.Event(fmt.Appendf(nil, `{"n":%d}`, i))
		c.SetPresent(i%2 == 0)
	}
	if d := c.Dropped(); d < 1000-8-1 {
		t.Errorf("Dropped() = %d, want at least 991 of 1000 events with a queue of 8 and a hung broker", d)
	}
	b.Resume()
	s.Payload("catd/test/stats", 0, wait, `{"frames":999}`)
	s.Payload("catd/test/cat", 0, wait, "OFF")
	b.Pause()
	c.SetPresent(true)
	stop() // returns, though the broker answers nothing (startClient checks)
	b.Resume()
}

// TestPCatAtMostEveryPeriod: p(cat) goes out on connecting and then only
// every PCatEvery; the polls that follow commands (which publish the state
// they changed at once) leave it alone, however often it changes.
func TestPCatAtMostEveryPeriod(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Opts{})
	h := &handler{thr: 0.5}
	var polls atomic.Int32
	poll := func() mqtt.State {
		st := h.state()
		st.PCat = float32(polls.Add(1)) / 100 // a new p(cat) at every poll
		return st
	}
	s := mqtttest.Subscribe(t, b, "catd/test/#", mqtttest.SubOpts{})
	startClient(t, b, mqtt.Options{Handler: h, Poll: poll, PCatEvery: time.Hour})
	s.Payload("catd/test/p_cat", 0, wait, "0.010")
	for i, x := range []string{"0.61", "0.62", "0.63"} {
		time.Sleep(200 * time.Millisecond) // the console's pace
		s.Publish("catd/test/set/threshold", []byte(x), false)
		s.Payload("catd/test/threshold", i+1, wait, x+"0")
	}
	if n := polls.Load(); n < 4 {
		t.Errorf("%d polls, want one on connecting and one after each command", n)
	}
	if got := s.Messages("catd/test/p_cat"); len(got) != 1 {
		t.Errorf("%d p_cat messages within the hour, want 1", len(got))
	}
}

// TestBrokerDownAtStart: a client started with no broker there keeps
// trying, and connects once the broker comes.
func TestBrokerDownAtStart(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Opts{})
	b.Stop()
	var logs syncBuffer
	c, _ := startClient(t, b, mqtt.Options{Log: zerolog.New(&logs)})
	c.SetPresent(true)
	waitFor(t, "the first failure logged", func() bool { return strings.Contains(logs.String(), "broker unavailable") })
	b.Restart()
	s := mqtttest.Subscribe(t, b, "catd/test/#", mqtttest.SubOpts{})
	s.Payload("catd/test/cat", 0, wait, "ON")
	if n := strings.Count(logs.String(), "broker unavailable"); n != 1 {
		t.Errorf("the broker being away logged %d times at warn level, want once", n)
	}
	if !strings.Contains(logs.String(), "broker back") {
		t.Error("the recovery is not logged")
	}
}

// TestGracefulStop: a client stopped says offline (retained), and with
// RetractOnStop removes its discovery configs.
func TestGracefulStop(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Opts{})
	c, stop := startClient(t, b, mqtt.Options{DiscoveryPrefix: "homeassistant"})
	s := mqtttest.Subscribe(t, b, "#", mqtttest.SubOpts{})
	s.Payload("catd/test/availability", 0, wait, "online")
	cfgs := mqtt.Discovery(mqtt.Options{DiscoveryPrefix: "homeassistant", TopicPrefix: "catd/test", ClientID: "catd-test"})
	for _, d := range cfgs {
		s.WaitFor(d.Topic, 0, wait, func(m mqtttest.Msg) bool { return len(m.Payload) > 0 })
	}
	c.RetractOnStop()
	stop()
	s.Payload("catd/test/availability", 0, wait, "offline")
	for _, d := range cfgs {
		s.WaitFor(d.Topic, 0, wait, func(m mqtttest.Msg) bool { return len(m.Payload) == 0 })
	}
	late := mqtttest.Subscribe(t, b, "homeassistant/#", mqtttest.SubOpts{})
	time.Sleep(200 * time.Millisecond)
	if n := len(late.Messages("")); n != 0 {
		t.Errorf("%d discovery configs still retained after the retraction", n)
	}
}

// childEnv makes the test binary a catd-like process that runs a client.
const childEnv = "CATD_MQTT_TEST_CHILD_BROKER"

func TestMain(m *testing.M) {
	if url := os.Getenv(childEnv); url != "" {
		c, err := mqtt.New(mqtt.Options{Broker: url, TopicPrefix: "catd/child", ClientID: "catd-child",
			MinBackoff: 20 * time.Millisecond, Log: zerolog.Nop()})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		c.SetPresent(true)
		c.Run(context.Background()) // until killed
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestLastWillOnKilledProcess: a catd process killed (SIGKILL: no goodbye)
// is reported offline by the broker, through its last will, retained.
func TestLastWillOnKilledProcess(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Opts{})
	s := mqtttest.Subscribe(t, b, "catd/child/#", mqtttest.SubOpts{})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+b.URL)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot run the test binary again (under an emulator?): %v", err)
	}
	defer cmd.Process.Kill()
	s.Payload("catd/child/availability", 0, wait, "online")
	s.Payload("catd/child/cat", 0, wait, "ON")
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	s.Payload("catd/child/availability", 1, wait, "offline")
	late := mqtttest.Subscribe(t, b, "catd/child/availability", mqtttest.SubOpts{})
	if m := late.WaitFor("catd/child/availability", 0, wait, func(mqtttest.Msg) bool { return true }); string(m.Payload) != "offline" || !m.Retained {
		t.Errorf("availability after the kill: %q (retained %v), want offline retained", m.Payload, m.Retained)
	}
}

// TestTLSAndPasswords: ssl:// with the CA file or the pinned certificate
// connects; another CA or another pin does not; a password broker takes
// the right password and refuses a wrong one.
func TestTLSAndPasswords(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Opts{TLS: true, Username: "catd", Password: "s3cret pass"})
	for _, tc := range []struct {
		name      string
		opt       mqtt.Options
		connected bool
	}{
		{"CA file", mqtt.Options{CAFile: b.CAFile, Username: "catd", Password: "s3cret pass"}, true},
		{"pinned certificate", mqtt.Options{PinnedCert: b.CertPin, Username: "catd", Password: "s3cret pass"}, true},
		{"another CA", mqtt.Options{CAFile: b.OtherCAFile, Username: "catd", Password: "s3cret pass"}, false},
		{"another pin", mqtt.Options{PinnedCert: "sha256:" + strings.Repeat("ab", 32), Username: "catd", Password: "s3cret pass"}, false},
		{"wrong password", mqtt.Options{CAFile: b.CAFile, Username: "catd", Password: "guess"}, false},
		{"no password", mqtt.Options{CAFile: b.CAFile}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			tc.opt.Log = zerolog.New(&logs)
			tc.opt.ClientID = "catd-tls-" + strings.ReplaceAll(tc.name, " ", "-")
			c, stop := startClient(t, b, tc.opt)
			if tc.connected {
				waitFor(t, "connected", c.Connected)
			} else {
				waitFor(t, "the refusal logged", func() bool { return strings.Contains(logs.String(), "broker unavailable") })
				if c.Connected() {
					t.Error("connected")
				}
			}
			stop()
			if strings.Contains(logs.String(), "s3cret") {
				t.Errorf("the password is in the log: %s", logs.String())
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

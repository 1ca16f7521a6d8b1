package daemon

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"catd/camera"
	"catd/config"
	"catd/internal/testwait"
	"catd/mqtt/mqtttest"
)

// TestBoardsShareLabels runs two catd services on one broker with
// mqtt.share_labels: a label dropped on one board is learnt by the other,
// once; after a restart (the label comes again, retained) still once; and
// the other way round. Each board's learning state is published for the
// others.
func TestBoardsShareLabels(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Opts{})
	boards := map[string]*serviceRig{"door": newRig(t), "kitchen": newRig(t)}
	conf := func(name string) string {
		return fmt.Sprintf("source: file:/fake/dark\nmodel: %s\nlearn:\n  enabled: false\nmqtt:\n  broker: %s\n"+
			"  client_id: catd-%s\n  topic_prefix: catd/%s\n  discovery_prefix: \"\"\n  share_labels: true\n",
			boards[name].model, b.URL, name, name)
	}
	for name, r := range boards {
		r.start(conf(name))
	}
	door, kitchen := boards["door"], boards["kitchen"]
	s := mqtttest.Subscribe(t, b, "catd/shared/#", mqtttest.SubOpts{})
	labels := func(r *serviceRig) (cat, noncat int) {
		st, err := ReadStatus(filepath.Join(r.dir, "state", "status.json"))
		if err != nil {
			return -1, -1
		}
		return st.LabelsCat, st.LabelsNonCat
	}
	wantLabels := func(r *serviceRig, name string, cat, noncat int) {
		t.Helper()
		r.status(func(st *Status) bool { return st.LabelsCat == cat && st.LabelsNonCat == noncat })
		if c, n := labels(r); c != cat || n != noncat {
			t.Fatalf("%s: %d cat and %d noncat labels, want %d and %d\n%s", name, c, n, cat, noncat, r.logs.String())
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))

	// A label dropped at the door reaches the kitchen.
	writeLabel(t, filepath.Join(door.dir, "state", "labels", "cat"), "tabby.png", 200, rng)
	wantLabels(door, "door", 1, 0)
	wantLabels(kitchen, "kitchen", 1, 0)
	s.WaitFor("catd/shared/boards/catd-door", 0, mqttWait, anyMsg)

	// The kitchen restarts: the label comes again (retained), and is not
	// taken twice.
	if err := kitchen.stop(); err != nil {
		t.Fatal(err)
	}
	kitchen.stopped = false
	kitchen.start(conf("kitchen"))
	testWaitLog(t, kitchen, `"message":"shared label known already"`, 1)
	wantLabels(kitchen, "kitchen", 1, 0)
	if n := strings.Count(kitchen.logs.String(), "shared label taken"); n != 1 {
		t.Errorf("the kitchen took the door's label %d times, want once", n)
	}

	// And the other way round.
	writeLabel(t, filepath.Join(kitchen.dir, "state", "labels", "noncat"), "dog.png", 30, rng)
	wantLabels(kitchen, "kitchen", 1, 1)
	wantLabels(door, "door", 1, 1)
	if n := strings.Count(door.logs.String(), "shared label taken"); n != 1 {
		t.Errorf("the door took %d shared labels, want 1 (its own never)", n)
	}
}

// testWaitLog waits until r's log holds s at least n times.
func testWaitLog(t *testing.T, r *serviceRig, s string, n int) {
	t.Helper()
	r.status(func(*Status) bool { return strings.Count(r.logs.String(), s) >= n })
	if strings.Count(r.logs.String(), s) < n {
		t.Fatalf("%q logged fewer than %d times\n%s", s, n, r.logs.String())
	}
}

// TestShareChild is one of the catd processes of
// TestTwoCatdProcessesShareLabels: the service on the state directory
// CATD_SHARE_CHILD_DIR, sharing labels through CATD_SHARE_CHILD_BROKER as
// CATD_SHARE_CHILD_ID, logging to stderr.
func TestShareChild(t *testing.T) {
	url := os.Getenv("CATD_SHARE_CHILD_BROKER")
	if url == "" {
		t.Skip("a child of TestTwoCatdProcessesShareLabels")
	}
	cfg := config.Default()
	cfg.Source, cfg.StatsEvery, cfg.Learn.Enabled = "file:/fake/dark", 0, false
	cfg.HTTP.Listen = "" // no web page on the machine's port 8787
	id := os.Getenv("CATD_SHARE_CHILD_ID")
	cfg.MQTT.Broker, cfg.MQTT.ClientID, cfg.MQTT.TopicPrefix = url, id, "catd/"+id
	cfg.MQTT.DiscoveryPrefix, cfg.MQTT.ShareLabels, cfg.MQTT.PCatEvery = "", true, config.Duration(time.Second)
	err := Run(context.Background(), Options{Config: cfg, StateDir: os.Getenv("CATD_SHARE_CHILD_DIR"),
		Log: zerolog.New(os.Stderr),
		OpenSource: func(uri string, _ zerolog.Logger) (camera.Source, error) {
			return &steadySource{name: uri, pix: 20}, nil
		}})
	t.Fatal(err) // only a kill ends it
}

// TestTwoCatdProcessesShareLabels: two catd processes on one broker, one
// label dropped on each: each learns the other's once, and a process
// killed and started again does not take it a second time.
func TestTwoCatdProcessesShareLabels(t *testing.T) {
	if os.Getenv("CATD_SHARE_CHILD_BROKER") != "" {
		t.Skip("in a child")
	}
	b := mqtttest.Start(t, mqtttest.Opts{})
	type child struct {
		dir string
		cmd *exec.Cmd
		log *syncBuffer
	}
	start := func(id, dir string) *child {
		c := &child{dir: dir, log: &syncBuffer{}}
		c.cmd = exec.Command(os.Args[0], "-test.run=^TestShareChild$")
		c.cmd.Env = append(os.Environ(), "CATD_SHARE_CHILD_BROKER="+b.URL, "CATD_SHARE_CHILD_ID="+id, "CATD_SHARE_CHILD_DIR="+dir)
		c.cmd.Stderr = c.log
		if err := c.cmd.Start(); err != nil {
			t.Skipf("cannot run the test binary again: %v", err)
		}
		t.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
		return c
	}
	kill := func(c *child) {
		c.cmd.Process.Kill()
		c.cmd.Wait()
	}
	labelsOf := func(c *child) (cat, noncat int) {
		st, err := ReadStatus(filepath.Join(c.dir, "status.json"))
		if err != nil {
			return -1, -1
		}
		return st.LabelsCat, st.LabelsNonCat
	}
	want := func(c *child, name string, cat, noncat int) {
		t.Helper()
		testwait.For(t, fmt.Sprintf("%s to hold %d cat and %d noncat labels", name, cat, noncat), func() bool {
			c1, n1 := labelsOf(c)
			return c1 == cat && n1 == noncat
		})
	}
	door, kitchen := start("catd-door", t.TempDir()), start("catd-kitchen", t.TempDir())
	want(door, "door", 0, 0) // up, with its label folders made
	want(kitchen, "kitchen", 0, 0)
	rng := rand.New(rand.NewPCG(5, 6))
	writeLabel(t, filepath.Join(door.dir, "labels", "cat"), "tabby.png", 200, rng)
	writeLabel(t, filepath.Join(kitchen.dir, "labels", "noncat"), "dog.png", 30, rng)
	want(door, "door", 1, 1)
	want(kitchen, "kitchen", 1, 1)

	kill(kitchen)
	kitchen = start("catd-kitchen", kitchen.dir)
	testwait.For(t, "the restarted kitchen to get the door's label again", func() bool {
		return strings.Contains(kitchen.log.String(), "shared label known already")
	})
	want(kitchen, "kitchen", 1, 1)
	if strings.Contains(kitchen.log.String(), "shared label taken") {
		t.Errorf("the restarted kitchen took a label again:\n%s", kitchen.log.String())
	}
}

package daemon

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

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

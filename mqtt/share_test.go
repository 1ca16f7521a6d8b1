package mqtt_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"catd/mqtt"
	"catd/mqtt/mqtttest"
)

func testLabel(board string, cat bool, seed byte) mqtt.Label {
	px := make([]byte, 4*4*3)
	for i := range px {
		px[i] = seed + byte(i)
	}
	l := mqtt.Label{Board: board, Cat: cat, W: 4, H: 4, Pixels: px, Time: time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)}
	l.Hash = sha256.Sum256(append([]byte{seed}, px...))
	return l
}

func TestParseLabel(t *testing.T) {
	l := testLabel("catd-door", true, 7)
	hash := hex.EncodeToString(l.Hash[:])
	good := mqtt.AppendLabel(nil, l)
	got, err := mqtt.ParseLabel(hash, good)
	if err != nil {
		t.Fatal(err)
	}
	if got.Board != l.Board || got.Cat != l.Cat || got.W != 4 || got.H != 4 || !bytes.Equal(got.Pixels, l.Pixels) ||
		got.Hash != l.Hash || !got.Time.Equal(l.Time) {
		t.Errorf("ParseLabel(AppendLabel(l)) = %+v, want %+v", got, l)
	}
	header, pixels, _ := bytes.Cut(good, []byte{'\n'})
	with := func(old, new string) []byte {
		return append(append([]byte(strings.Replace(string(header), old, new, 1)), '\n'), pixels...)
	}
	for _, tc := range []struct {
		name, hash string
		payload    []byte
		says       string
	}{
		{"short hash", hash[:63], good, "64 lower-case hex"},
		{"upper-case hash", strings.ToUpper(hash), good, "64 lower-case hex"},
		{"not hex", strings.Repeat("z", 64), good, "64 lower-case hex"},
		{"no header line", hash, bytes.Repeat([]byte("x"), 100), "no header line"},
		{"long header", hash, append(bytes.Repeat([]byte(" "), 600), good...), "no header line"},
		{"not JSON", hash, append([]byte("hello\n"), pixels...), "header"},
		{"unknown field", hash, with(`"v":1`, `"v":1,"x":2`), "unknown field"},
		{"version", hash, with(`"v":1`, `"v":2`), "version 2"},
		{"board", hash, with(`"board":"catd-door"`, `"board":"a/b"`), "want a client id"},
		{"class", hash, with(`"class":"cat"`, `"class":"dog"`), "want cat or noncat"},
		{"size", hash, with(`"w":4`, `"w":4000`), "want 1..256"},
		{"zero size", hash, with(`"h":4`, `"h":0`), "want 1..256"},
		{"length", hash, good[:len(good)-1], "47 bytes of pixels"},
		{"checksum", hash, append(good[:len(good)-1:len(good)-1], good[len(good)-1]^1), "SHA-256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := mqtt.ParseLabel(tc.hash, tc.payload); err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("ParseLabel = %v, want an error saying %q", err, tc.says)
			}
		})
	}
}

// FuzzParseLabel: any payload parses or is refused, never panics; what
// parses has the pixels its header promises, and writes back the same.
func FuzzParseLabel(f *testing.F) {
	l := testLabel("catd-a", false, 1)
	f.Add(hex.EncodeToString(l.Hash[:]), mqtt.AppendLabel(nil, l))
	f.Add(strings.Repeat("0", 64), []byte("{}\n"))
	f.Fuzz(func(t *testing.T, hash string, payload []byte) {
		got, err := mqtt.ParseLabel(hash, payload)
		if err != nil {
			return
		}
		if len(got.Pixels) != got.W*got.H*3 || sha256.Sum256(got.Pixels) != sha256.Sum256(payload[len(payload)-len(got.Pixels):]) {
			t.Fatalf("parsed %dx%d with %d bytes of pixels", got.W, got.H, len(got.Pixels))
		}
		again, err := mqtt.ParseLabel(hash, mqtt.AppendLabel(nil, got))
		if err != nil || again.Board != got.Board || again.Cat != got.Cat || !bytes.Equal(again.Pixels, got.Pixels) {
			t.Fatalf("written back: %+v, %v", again, err)
		}
	})
}

// labelSink records the labels a client is given.
type labelSink struct {
	mu  sync.Mutex
	got []mqtt.Label
}

func (s *labelSink) take(l mqtt.Label) error {
	s.mu.Lock()
	s.got = append(s.got, l)
	s.mu.Unlock()
	return nil
}

func (s *labelSink) labels() []mqtt.Label {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]mqtt.Label(nil), s.got...)
}

// TestShareLabels: a label one board shares reaches the other boards of
// its share topic, not itself; a board that connects later gets it from
// the broker (retained); broken labels are refused; each board says what
// it has learnt under the share topic.
func TestShareLabels(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Opts{})
	var sa, sb, sc labelSink
	h := &handler{thr: 0.5}
	a, _ := startClient(t, b, mqtt.Options{ClientID: "catd-a", TopicPrefix: "catd/a", ShareTopic: "catd/shared",
		OnLabel: sa.take, Poll: h.state})
	bc, _ := startClient(t, b, mqtt.Options{ClientID: "catd-b", TopicPrefix: "catd/b", ShareTopic: "catd/shared",
		OnLabel: sb.take})
	waitFor(t, "both connected", func() bool { return a.Connected() && bc.Connected() })
	s := mqtttest.Subscribe(t, b, "catd/shared/#", mqtttest.SubOpts{})

	l := testLabel("", true, 3)
	a.ShareLabel(l)
	waitFor(t, "b to get a's label", func() bool { return len(sb.labels()) == 1 })
	got := sb.labels()[0]
	if got.Board != "catd-a" || !got.Cat || got.Hash != l.Hash || !bytes.Equal(got.Pixels, l.Pixels) {
		t.Errorf("b got %+v", got)
	}
	// Broken labels from a stranger never reach OnLabel.
	bad := mqtt.AppendLabel(nil, testLabel("catd-x", false, 9))
	bad[len(bad)-1] ^= 0xff
	s.Publish("catd/shared/labels/"+strings.Repeat("ab", 32), bad, false)
	s.Publish("catd/shared/labels/nothex", []byte("{}\n"), false)
	// A board that comes later finds the label retained.
	_, _ = startClient(t, b, mqtt.Options{ClientID: "catd-c", TopicPrefix: "catd/c", ShareTopic: "catd/shared",
		OnLabel: sc.take})
	waitFor(t, "c to get a's label", func() bool { return len(sc.labels()) == 1 })
	s.WaitFor("catd/shared/boards/catd-a", 0, wait, func(m mqtttest.Msg) bool {
		return bytes.Contains(m.Payload, []byte(`"state":"waiting for labels"`))
	})
	time.Sleep(200 * time.Millisecond)
	if n := len(sa.labels()); n != 0 {
		t.Errorf("a was given %d labels, its own among them", n)
	}
	if n := len(sb.labels()); n != 1 {
		t.Errorf("b was given %d labels, want 1 (the broken ones refused)", n)
	}
}

package daemon

import (
	"os"
	"path/filepath"
	"testing"

	"catd/state"
)

func hashOf(i int) [32]byte {
	var h [32]byte
	h[0], h[1], h[2] = byte(i), byte(i>>8), byte(i>>16)
	h[31] = 1
	return h
}

// TestSeenLabelsPersist: what was added is known after reopening, a
// partial record left by a crash is dropped, and the file keeps the newest
// max once it passes twice that.
func TestSeenLabelsPersist(t *testing.T) {
	const maxSeen = 50
	path := filepath.Join(t.TempDir(), "shared-labels.seen")
	var m state.Meter
	s, err := openSeen(path, maxSeen, &m)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.add(hashOf(i), true); err != nil {
			t.Fatal(err)
		}
	}
	s.add(hashOf(1), true) // again: nothing written
	s.close()
	if m.Total() != 3*seenRecord {
		t.Errorf("%d bytes written for 3 hashes, want 99", m.Total())
	}
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{1, 2, 3}) // a crash in the middle of a record
	f.Close()
	s, err = openSeen(path, maxSeen, &m)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if !s.has(hashOf(i), true) {
			t.Errorf("hash %d forgotten", i)
		}
	}
	if s.has(hashOf(3), true) || s.has(hashOf(1), false) {
		t.Error("a hash never added, or a class never given, is known")
	}
	if st, _ := os.Stat(path); st.Size() != 3*seenRecord {
		t.Errorf("file of %d bytes after the partial record, want 99", st.Size())
	}
	for i := 3; i <= 2*maxSeen; i++ {
		if err := s.add(hashOf(i), true); err != nil {
			t.Fatal(err)
		}
	}
	s.close()
	if st, _ := os.Stat(path); st.Size() != seenRecord*maxSeen {
		t.Errorf("file of %d bytes after %d hashes, want the newest %d (%d bytes)", st.Size(), 2*maxSeen+1, maxSeen, seenRecord*maxSeen)
	}
	s, err = openSeen(path, maxSeen, &m)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if s.has(hashOf(0), true) || !s.has(hashOf(2*maxSeen), true) || !s.has(hashOf(maxSeen+1), true) {
		t.Error("want the oldest forgotten and the newest maxSeen kept")
	}
}

package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"catd/internal/regfile"
	"catd/state"
)

// seenKey is a shared label taken: its hash and class (1: cat), so that
// a board's correction of a label (same hash, the other class) is taken.
type seenKey [seenRecord]byte

// seenRecord is the size of a record of the file, in bytes.
const seenRecord = 33

func keyOf(hash [32]byte, cat bool) seenKey {
	var k seenKey
	copy(k[:], hash[:])
	if cat {
		k[32] = 1
	}
	return k
}

// maxSeen is the most shared labels seenLabels remembers (33 bytes each
// on disk and about 100 in memory): far more than a replay buffer keeps.
const maxSeen = 20_000

// seenLabels is the set of the other boards' labels this board has taken,
// kept in a file of records (hash, class) appended and synced, so that a
// label taken once is never taken again: not when it comes again
// (retained, at each connection), not after the replay buffer let it go
// and catd restarted. It remembers the newest max; when the file passes
// twice that, it is rewritten with those. Safe for concurrent use.
type seenLabels struct {
	mu    sync.Mutex
	path  string
	f     *os.File
	set   map[seenKey]struct{}
	order []seenKey // oldest first
	max   int       // maxSeen; tests lower it
	meter *state.Meter
}

// openSeen reads the set at path, remembering the newest max (no file is
// an empty set; a partial last record, from a crash, is dropped), and
// opens it for appending.
func openSeen(path string, max int, m *state.Meter) (*seenLabels, error) {
	s := &seenLabels{path: path, set: make(map[seenKey]struct{}), max: max, meter: m}
	data, err := regfile.Read(path, int64(2*max*seenRecord+seenRecord))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("daemon: shared labels seen: %w", err)
	}
	for i := 0; i+seenRecord <= len(data); i += seenRecord {
		s.remember(seenKey(data[i : i+seenRecord]))
	}
	if len(data)%seenRecord != 0 || len(s.order) > max {
		if err := s.rewrite(); err != nil {
			return nil, err
		}
		return s, nil
	}
	if s.f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err != nil {
		return nil, fmt.Errorf("daemon: shared labels seen: %w", err)
	}
	return s, nil
}

func (s *seenLabels) remember(h seenKey) {
	if _, ok := s.set[h]; !ok {
		s.set[h] = struct{}{}
		s.order = append(s.order, h)
	}
}

// has reports whether the label was taken with this class.
func (s *seenLabels) has(hash [32]byte, cat bool) bool {
	h := keyOf(hash, cat)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.set[h]
	return ok
}

// add records the label, on disk before it returns nil.
func (s *seenLabels) add(hash [32]byte, cat bool) error {
	h := keyOf(hash, cat)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.set[h]; ok {
		return nil
	}
	if s.f == nil {
		return errors.New("daemon: shared labels seen: closed")
	}
	n, err := s.f.Write(h[:])
	s.meter.Add(int64(n))
	if err == nil {
		err = s.f.Sync()
	}
	if err != nil {
		return fmt.Errorf("daemon: shared labels seen %s: %w", s.path, err)
	}
	s.remember(h)
	if len(s.order) > 2*s.max {
		return s.rewrite()
	}
	return nil
}

// rewrite writes the newest max records anew (atomically) and opens
// the file again for appending; s.mu is held or s not yet shared.
func (s *seenLabels) rewrite() error {
	if len(s.order) > s.max {
		for _, h := range s.order[:len(s.order)-s.max] {
			delete(s.set, h)
		}
		s.order = append([]seenKey(nil), s.order[len(s.order)-s.max:]...)
	}
	data := make([]byte, 0, seenRecord*len(s.order))
	for _, h := range s.order {
		data = append(data, h[:]...)
	}
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	if err := state.WriteFileAtomic(s.path, data, 0o600, s.meter); err != nil {
		return fmt.Errorf("daemon: shared labels seen: %w", err)
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("daemon: shared labels seen: %w", err)
	}
	s.f = f
	return nil
}

// close closes the file.
func (s *seenLabels) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
}

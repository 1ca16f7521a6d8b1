package state

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// snapNames returns n snapshot names one second apart, oldest first.
func snapNames(n int) []string {
	t0 := time.Date(2026, 11, 27, 3, 15, 0, 0, time.UTC)
	names := make([]string, n)
	for i := range names {
		names[i] = SnapshotName(t0.Add(time.Duration(i)*time.Second), uint64(i), 0.5)
	}
	return names
}

func TestSnapshotsRetention(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxCount int
		maxBytes int64
		sizes    []int
		want     []int // indices of the snapshots left
	}{
		{"within bounds", 5, 100, []int{10, 10, 10}, []int{0, 1, 2}},
		{"by count", 3, 1000, []int{10, 10, 10, 10, 10}, []int{2, 3, 4}},
		{"by bytes", 100, 25, []int{10, 10, 10, 10, 10}, []int{3, 4}},
		{"by bytes, exact fit", 100, 30, []int{10, 10, 10, 10}, []int{1, 2, 3}},
		{"a big one pushes out several", 100, 30, []int{10, 10, 10, 30}, []int{3}},
		{"by count then bytes", 3, 25, []int{5, 5, 5, 20}, []int{2, 3}},
		{"by count then bytes, two go", 3, 24, []int{5, 5, 5, 20}, []int{3}},
		{"count of one", 1, 1000, []int{1, 2, 3}, []int{2}},
		{"empty snapshots", 2, 1, []int{0, 0, 0}, []int{1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var m Meter
			s, err := OpenSnapshots(dir, tc.maxCount, tc.maxBytes, &m)
			if err != nil {
				t.Fatal(err)
			}
			names := snapNames(len(tc.sizes))
			var written int64
			for i, size := range tc.sizes {
				path, err := s.Save(names[i], bytes.Repeat([]byte{byte(i)}, size))
				if err != nil {
					t.Fatal(err)
				}
				if path != filepath.Join(dir, names[i]) {
					t.Errorf("path %s, want %s in %s", path, names[i], dir)
				}
				written += int64(size)
				if n, b := s.Stats(); n > tc.maxCount || b > tc.maxBytes {
					t.Errorf("after Save %d: %d snapshots of %d bytes, bounds %d and %d", i, n, b, tc.maxCount, tc.maxBytes)
				}
			}
			checkSnapshots(t, s, names, tc.sizes, tc.want)
			if m.Total() != written {
				t.Errorf("meter %d, want %d", m.Total(), written)
			}
		})
	}
}

// checkSnapshots checks that s's directory holds exactly the snapshots
// names[want[…]] with sizes and contents as saved, and that Stats agrees.
func checkSnapshots(t *testing.T, s *Snapshots, names []string, sizes, want []int) {
	t.Helper()
	var wantNames []string
	var wantBytes int64
	for _, i := range want {
		wantNames = append(wantNames, names[i])
		wantBytes += int64(sizes[i])
		b, err := os.ReadFile(filepath.Join(s.Dir(), names[i]))
		if err != nil || !bytes.Equal(b, bytes.Repeat([]byte{byte(i)}, sizes[i])) {
			t.Errorf("%s does not hold what was saved (%v)", names[i], err)
		}
	}
	if got := dirNames(t, s.Dir()); !slices.Equal(got, wantNames) {
		t.Errorf("directory holds %q, want %q", got, wantNames)
	}
	if n, b := s.Stats(); n != len(want) || b != wantBytes {
		t.Errorf("Stats = %d, %d, want %d, %d", n, b, len(want), wantBytes)
	}
}

func TestSnapshotsReopen(t *testing.T) {
	names := snapNames(6)
	sizes := []int{10, 10, 10, 10, 10, 10}
	for _, tc := range []struct {
		name      string
		first     int   // snapshots saved before the restart, under bounds 4 and 1000 bytes
		maxCount  int   // after the restart
		maxBytes  int64 // after the restart
		wantCount int   // Stats right after the restart
		wantAfter []int // left after one more Save
	}{
		{"same bounds", 3, 3, 1000, 3, []int{1, 2, 3}},
		{"count lowered", 4, 2, 1000, 4, []int{3, 4}},
		{"bytes lowered", 4, 10, 25, 4, []int{3, 4}},
		{"room left", 2, 5, 1000, 2, []int{0, 1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := OpenSnapshots(dir, 4, 1000, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.first {
				if _, err := s.Save(names[i], bytes.Repeat([]byte{byte(i)}, sizes[i])); err != nil {
					t.Fatal(err)
				}
			}
			mustWrite(t, filepath.Join(dir, "readme.txt"), []byte("not a snapshot"))
			mustWrite(t, filepath.Join(dir, ".tmp-"+names[5]+"-42"), []byte("left by a crash"))

			s, err = OpenSnapshots(dir, tc.maxCount, tc.maxBytes, nil)
			if err != nil {
				t.Fatal(err)
			}
			if stale, err := s.Stale(); err != nil || len(stale) != 1 || !strings.HasPrefix(filepath.Base(stale[0]), ".tmp-") {
				t.Errorf("Stale = %q, %v, want the temporary file", stale, err)
			}
			if n, b := s.Stats(); n != tc.wantCount || b != int64(10*tc.wantCount) {
				t.Errorf("after reopening: Stats = %d, %d, want %d, %d", n, b, tc.wantCount, 10*tc.wantCount)
			}
			i := tc.first
			if _, err := s.Save(names[i], bytes.Repeat([]byte{byte(i)}, sizes[i])); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(dir, "readme.txt")); err != nil {
				t.Errorf("readme.txt: %v", err)
			}
			checkSnapshots(t, s, names, sizes, tc.wantAfter)
		})
	}
}

func TestSnapshotsRefuse(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int
	}{
		{"../x.jpg", 1},
		{"a/b.jpg", 1},
		{"/abs.jpg", 1},
		{`a\b.jpg`, 1},
		{"x.png", 1},
		{"x.JPG", 1},
		{"x.jpg.tmp", 1},
		{"", 1},
		{".jpg", 1},
		{"..jpg", 1},
		{".hidden.jpg", 1},
		{".tmp-x.jpg", 1},
		{"nul\x00.jpg", 1},
		{strings.Repeat("x", 200) + ".jpg", 1},
		{"oversized.jpg", 11},
	} {
		t.Run(fmt.Sprintf("%q", tc.name), func(t *testing.T) {
			dir := t.TempDir()
			outside := filepath.Join(dir, "snap")
			s, err := OpenSnapshots(outside, 10, 10, nil)
			if err != nil {
				t.Fatal(err)
			}
			path, err := s.Save(tc.name, make([]byte, tc.size))
			if err == nil || path != "" {
				t.Fatalf("Save = %q, %v, want an error", path, err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.name)) {
				t.Errorf("error %q does not name %q", err, tc.name)
			}
			if got := dirNames(t, dir); !slices.Equal(got, []string{"snap"}) {
				t.Errorf("%s holds %q", dir, got)
			}
			if got := dirNames(t, outside); len(got) != 0 {
				t.Errorf("%s holds %q", outside, got)
			}
			if n, b := s.Stats(); n != 0 || b != 0 {
				t.Errorf("Stats = %d, %d", n, b)
			}
		})
	}
}

func TestSnapshotsAccept(t *testing.T) {
	for _, name := range []string{"x.jpg", "a.b.jpg", "cat with spaces.jpg", "ünïcode.jpg", SnapshotName(time.Now(), 1, 0.5)} {
		t.Run(name, func(t *testing.T) {
			s, err := OpenSnapshots(t.TempDir(), 10, 10, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Save(name, []byte("0123456789")); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestSnapshotsOverwrite(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSnapshots(dir, 2, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	names := snapNames(2)
	for _, step := range []struct {
		name string
		data string
	}{{names[0], "aaaa"}, {names[1], "bb"}, {names[1], "bbbbbbbb"}} {
		if _, err := s.Save(step.name, []byte(step.data)); err != nil {
			t.Fatal(err)
		}
	}
	if n, b := s.Stats(); n != 2 || b != 12 {
		t.Errorf("Stats = %d, %d, want 2, 12", n, b)
	}
	if got := dirNames(t, dir); !slices.Equal(got, names) {
		t.Errorf("directory holds %q", got)
	}
}

// TestSnapshotsClockBack checks that a snapshot named before the others
// (the clock was set back) is kept and the oldest others go.
func TestSnapshotsClockBack(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSnapshots(dir, 2, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	names := snapNames(3)
	for _, i := range []int{1, 2, 0} {
		if _, err := s.Save(names[i], []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := dirNames(t, dir), []string{names[0], names[2]}; !slices.Equal(got, want) {
		t.Errorf("directory holds %q, want %q", got, want)
	}
}

func TestOpenSnapshotsRefuses(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	mustWrite(t, file, nil)
	for _, tc := range []struct {
		name     string
		dir      string
		maxCount int
		maxBytes int64
	}{
		{"no count", dir, 0, 100},
		{"no bytes", dir, 10, 0},
		{"negative", dir, -1, -1},
		{"directory is a file", file, 10, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := OpenSnapshots(tc.dir, tc.maxCount, tc.maxBytes, nil); err == nil {
				t.Errorf("opened %v", s)
			}
		})
	}
}

func TestSnapshotName(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	for _, tc := range []struct {
		t     time.Time
		frame uint64
		pcat  float32
		want  string
	}{
		{time.Date(2026, 11, 27, 3, 15, 0, 123_000_000, time.UTC), 1234, 0.93, "20261127T031500.123Z-f000001234-p0.93.jpg"},
		{time.Date(2026, 11, 27, 4, 15, 0, 123_999_999, cet), 1234, 0.93, "20261127T031500.123Z-f000001234-p0.93.jpg"},
		{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), 0, 0, "20260102T030405.000Z-f000000000-p0.00.jpg"},
		{time.Date(2027, 12, 31, 23, 59, 59, 999_000_000, time.UTC), 1<<64 - 1, 1, "20271231T235959.999Z-f18446744073709551615-p1.00.jpg"},
		{time.Date(2026, 6, 1, 12, 0, 0, 5_000_000, time.UTC), 7, 0.996, "20260601T120000.005Z-f000000007-p1.00.jpg"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			got := SnapshotName(tc.t, tc.frame, tc.pcat)
			if got != tc.want {
				t.Errorf("SnapshotName(%v, %d, %v) = %q, want %q", tc.t, tc.frame, tc.pcat, got, tc.want)
			}
			if err := checkSnapshotName(got); err != nil {
				t.Errorf("Save would refuse %q: %v", got, err)
			}
		})
	}
}

// TestSnapshotNameSorts checks that name order is time order, across
// second, minute, day and year boundaries and zones.
func TestSnapshotNameSorts(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 12, 31, 23, 59, 58, 0, time.UTC)
	zones := []*time.Location{time.UTC, time.FixedZone("A", -7*3600), time.FixedZone("B", 5*3600+1800)}
	times := make([]time.Time, 1000)
	for i := range times {
		times[i] = t0.Add(time.Duration(r.Int64N(int64(4*time.Second))) / time.Millisecond * time.Millisecond).In(zones[i%len(zones)])
	}
	names := make([]string, len(times))
	for i, tm := range times {
		names[i] = SnapshotName(tm, r.Uint64N(1e6), r.Float32())
	}
	order := make([]int, len(times))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(names[a], names[b]) })
	for k := 1; k < len(order); k++ {
		if a, b := times[order[k-1]], times[order[k]]; a.After(b) {
			t.Fatalf("%s sorts before %s but %v is after %v", names[order[k-1]], names[order[k]], a, b)
		}
	}
}

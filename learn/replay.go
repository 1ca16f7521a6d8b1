// Package learn is catd's on-device fine-tuning: a replay buffer of the
// user's labelled examples, kept on the state directory so that it survives
// restarts, and a Learner that trains the model in rounds of minibatch
// steps, each accepted only if the held-out share of the labels does not
// get worse.
//
// Examples are model inputs (H×W×3 RGB bytes, HWC), preprocessed exactly
// like camera frames, so the buffer costs H·W·3 bytes per example (12 KiB
// for a 64×64 model) and training needs no image decoding.
package learn

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"catd/safetensors"
	"catd/state"
)

// Example is one labelled model input.
type Example struct {
	Cat    bool
	Pixels []uint8 // H×W×3 RGB, HWC
	Hash   [32]byte
	Time   time.Time
}

// Val reports whether an example with this hash is held out for
// validation: a fixed share of the labels, chosen by content so that an
// example stays on its side across restarts.
func Val(hash [32]byte, share float64) bool {
	return float64(binary.LittleEndian.Uint16(hash[30:]))/65536 < share
}

// entry is an example in the buffer.
type entry struct {
	Example
	val bool
	seq uint64 // order of arrival
}

// Replay is a bounded, class-balanced buffer of labelled examples: at most
// PerClass of each class. When a class is full, a new example replaces an
// old one of the same class, never one of its Recent newest; which one is
// fixed by the examples' hashes, so replaying the journal rebuilds the same
// buffer. It is safe for concurrent use.
type Replay struct {
	w, h     int
	perClass int
	recent   int
	valShare float64

	mu      sync.Mutex
	entries []*entry
	known   map[[32]byte]bool // every hash taken, with its latest class (true: cat)
	seq     uint64

	dir     string
	journal *os.File
	jBytes  int64
	meter   *state.Meter
}

// ReplayOptions configure a Replay.
type ReplayOptions struct {
	W, H     int     // the model input size
	PerClass int     // most examples kept of each class (default 500)
	Recent   int     // newest examples of a class never replaced (default 32)
	ValShare float64 // share of examples held out for validation (default 0.2)
	// Dir, if set, keeps the buffer on disk: replay.safetensors (a
	// compacted copy) and replay.journal (examples appended since, each
	// fsynced before Add returns).
	Dir   string
	Meter *state.Meter
}

const (
	snapshotName = "replay.safetensors"
	journalName  = "replay.journal"
	recMagic     = "CRJ1"
	snapFormat   = "catd-replay"
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// OpenReplay makes a Replay and, with a Dir, loads what it holds. A torn
// last journal record (a crash mid-append) is dropped; other damage is an
// error naming the file, so that the caller can decide (catd logs it and
// starts with what could be read).
func OpenReplay(o ReplayOptions) (*Replay, []error, error) {
	if o.W <= 0 || o.H <= 0 {
		return nil, nil, fmt.Errorf("learn: replay of %dx%d images", o.W, o.H)
	}
	if o.PerClass <= 0 {
		o.PerClass = 500
	}
	if o.Recent <= 0 {
		o.Recent = 32
	}
	if o.ValShare == 0 {
		o.ValShare = 0.2
	}
	if !(o.ValShare > 0 && o.ValShare < 1) {
		return nil, nil, fmt.Errorf("learn: validation share %v, want (0, 1)", o.ValShare)
	}
	r := &Replay{w: o.W, h: o.H, perClass: o.PerClass, recent: min(o.Recent, o.PerClass-1), valShare: o.ValShare,
		known: map[[32]byte]bool{}, dir: o.Dir, meter: o.Meter}
	if o.Dir == "" {
		return r, nil, nil
	}
	if err := os.MkdirAll(o.Dir, 0o750); err != nil {
		return nil, nil, fmt.Errorf("learn: replay: %w", err)
	}
	var problems []error
	if err := r.loadSnapshot(); err != nil {
		problems = append(problems, err)
	}
	if err := r.loadJournal(); err != nil {
		problems = append(problems, err)
	}
	f, err := os.OpenFile(filepath.Join(o.Dir, journalName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, problems, fmt.Errorf("learn: replay journal: %w", err)
	}
	r.journal = f
	return r, problems, nil
}

// Close closes the journal.
func (r *Replay) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.journal == nil {
		return nil
	}
	err := r.journal.Close()
	r.journal = nil
	return err
}

// Has reports whether an example with this hash was taken before with
// this class (the labels inbox asks, to take nothing twice; an example
// taken with the other class is a correction, which Add applies).
func (r *Replay) Has(hash [32]byte, cat bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.known[hash]
	return ok && c == cat
}

// Bytes returns the memory the examples take.
func (r *Replay) Bytes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.entries) * r.w * r.h * 3
}

// Images returns copies of up to n examples' pixels (for calibrating an
// int8 model), newest first.
func (r *Replay) Images(n int) [][]uint8 {
	r.mu.Lock()
	defer r.mu.Unlock()
	es := slices.Clone(r.entries)
	slices.SortFunc(es, func(a, b *entry) int { return int(b.seq - a.seq) })
	var out [][]uint8
	for _, e := range es[:min(n, len(es))] {
		out = append(out, slices.Clone(e.Pixels))
	}
	return out
}

// Counts returns the training and validation examples of each class.
func (r *Replay) Counts() (trainCat, trainNon, valCat, valNon int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.entries {
		switch {
		case e.val && e.Cat:
			valCat++
		case e.val:
			valNon++
		case e.Cat:
			trainCat++
		default:
			trainNon++
		}
	}
	return
}

// Add stores ex (its pixels are copied), first in the journal when the
// buffer is on disk: when Add returns nil the example survives a crash.
// An example already taken (same hash) with the same class is not added
// again; with the other class, its label is corrected.
func (r *Replay) Add(ex Example) error {
	if len(ex.Pixels) != r.w*r.h*3 {
		return fmt.Errorf("learn: example of %d bytes, want %dx%dx3", len(ex.Pixels), r.w, r.h)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.known[ex.Hash]; ok && c == ex.Cat {
		return nil
	}
	if r.journal != nil {
		rec := encodeRecord(ex, r.w, r.h)
		if _, err := r.journal.Write(rec); err != nil {
			return fmt.Errorf("learn: replay journal: %w", err)
		}
		if err := r.journal.Sync(); err != nil {
			return fmt.Errorf("learn: replay journal: %w", err)
		}
		r.jBytes += int64(len(rec))
		if r.meter != nil {
			r.meter.Add(int64(len(rec)))
		}
	}
	r.apply(ex)
	return nil
}

// apply adds ex, or corrects the class of the example with its hash;
// r.mu is held.
func (r *Replay) apply(ex Example) {
	c, ok := r.known[ex.Hash]
	switch {
	case !ok:
		r.insert(ex)
	case c != ex.Cat:
		// A correction is a new arrival of its class (it may push out
		// another); the old entry goes.
		r.entries = slices.DeleteFunc(r.entries, func(e *entry) bool { return e.Hash == ex.Hash })
		r.insert(ex)
	}
}

// insert puts ex in the buffer, replacing an old example of its class if
// the class is full; r.mu is held.
func (r *Replay) insert(ex Example) {
	r.known[ex.Hash] = ex.Cat
	r.seq++
	e := &entry{Example: Example{Cat: ex.Cat, Pixels: slices.Clone(ex.Pixels), Hash: ex.Hash, Time: ex.Time},
		val: Val(ex.Hash, r.valShare), seq: r.seq}
	var same []int
	for i, o := range r.entries {
		if o.Cat == ex.Cat {
			same = append(same, i)
		}
	}
	if len(same) < r.perClass {
		r.entries = append(r.entries, e)
		return
	}
	// Replace the example with the smallest hash among all but the newest
	// r.recent of the class: a fixed pseudo-random choice.
	slices.SortFunc(same, func(a, b int) int { return int(r.entries[a].seq - r.entries[b].seq) })
	victim := -1
	for _, i := range same[:len(same)-r.recent] {
		if victim < 0 || bytes.Compare(r.entries[i].Hash[:], r.entries[victim].Hash[:]) < 0 {
			victim = i
		}
	}
	r.entries[victim] = e
}

// Compact writes the whole buffer to replay.safetensors and empties the
// journal, when the journal has grown past a quarter of the buffer's
// capacity (or always, with force). The snapshot is written atomically
// before the journal is cut, so a crash in between only leaves duplicates,
// which loading skips.
func (r *Replay) Compact(force bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dir == "" || r.journal == nil {
		return nil
	}
	capBytes := int64(2*r.perClass) * int64(r.w*r.h*3)
	if !force && r.jBytes < capBytes/4 {
		return nil
	}
	if r.jBytes == 0 && !force {
		return nil
	}
	data, err := r.encodeSnapshot()
	if err != nil {
		return err
	}
	if err := state.WriteFileAtomic(filepath.Join(r.dir, snapshotName), data, 0o640, r.meter); err != nil {
		return fmt.Errorf("learn: replay: %w", err)
	}
	if err := r.journal.Truncate(0); err != nil {
		return fmt.Errorf("learn: replay journal: %w", err)
	}
	if err := r.journal.Sync(); err != nil {
		return fmt.Errorf("learn: replay journal: %w", err)
	}
	r.jBytes = 0
	return nil
}

// encodeRecord is one journal record: magic, payload length, payload
// (flags, time, hash, w, h, pixels), CRC-32C of the payload.
func encodeRecord(ex Example, w, h int) []byte {
	n := 1 + 8 + 32 + 4 + len(ex.Pixels)
	b := make([]byte, 0, 4+4+n+4)
	b = append(b, recMagic...)
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	p := len(b)
	flags := byte(0)
	if ex.Cat {
		flags = 1
	}
	b = append(b, flags)
	b = binary.LittleEndian.AppendUint64(b, uint64(ex.Time.UnixNano()))
	b = append(b, ex.Hash[:]...)
	b = binary.LittleEndian.AppendUint16(b, uint16(w))
	b = binary.LittleEndian.AppendUint16(b, uint16(h))
	b = append(b, ex.Pixels...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[p:], crcTable))
}

// errTorn is a record cut short by a crash.
var errTorn = errors.New("torn record")

// decodeRecord reads one record from br.
func decodeRecord(br *bufio.Reader, w, h int) (Example, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		if err == io.EOF {
			return Example{}, io.EOF
		}
		return Example{}, errTorn
	}
	if string(hdr[:4]) != recMagic {
		return Example{}, fmt.Errorf("bad record magic %q", hdr[:4])
	}
	n := int(binary.LittleEndian.Uint32(hdr[4:]))
	if want := 1 + 8 + 32 + 4 + w*h*3; n != want {
		return Example{}, fmt.Errorf("record of %d bytes, want %d for %dx%d images", n, want, w, h)
	}
	p := make([]byte, n+4)
	if _, err := io.ReadFull(br, p); err != nil {
		return Example{}, errTorn
	}
	if crc32.Checksum(p[:n], crcTable) != binary.LittleEndian.Uint32(p[n:]) {
		return Example{}, errTorn
	}
	if rw, rh := int(binary.LittleEndian.Uint16(p[41:])), int(binary.LittleEndian.Uint16(p[43:])); rw != w || rh != h {
		return Example{}, fmt.Errorf("record of %dx%d images, want %dx%d", rw, rh, w, h)
	}
	ex := Example{Cat: p[0]&1 == 1, Time: time.Unix(0, int64(binary.LittleEndian.Uint64(p[1:]))), Pixels: p[45:n]}
	copy(ex.Hash[:], p[9:41])
	return ex, nil
}

// loadJournal replays the journal; a torn tail is cut off.
func (r *Replay) loadJournal() error {
	path := filepath.Join(r.dir, journalName)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("learn: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var good int64
	for {
		ex, err := decodeRecord(br, r.w, r.h)
		if err == io.EOF {
			break
		}
		if err != nil {
			// Keep what was read; cut the rest so that appends follow good records.
			if terr := os.Truncate(path, good); terr != nil {
				return fmt.Errorf("learn: %s: %v after %d bytes, and cannot cut it there: %w", path, err, good, terr)
			}
			if errors.Is(err, errTorn) {
				return nil // a crash mid-append: expected, nothing lost that Add had confirmed
			}
			return fmt.Errorf("learn: %s: %v after %d bytes: the rest is dropped", path, err, good)
		}
		good += int64(8 + 1 + 8 + 32 + 4 + len(ex.Pixels) + 4)
		r.apply(ex)
	}
	r.jBytes = good
	return nil
}

// encodeSnapshot is the buffer as a safetensors file; r.mu is held.
func (r *Replay) encodeSnapshot() ([]byte, error) {
	n := len(r.entries)
	px := make([]uint8, 0, n*r.w*r.h*3)
	labels := make([]uint8, n)
	hashes := make([]uint8, 0, n*32)
	times := make([]int64, n)
	for i, e := range r.entries {
		px = append(px, e.Pixels...)
		if e.Cat {
			labels[i] = 1
		}
		hashes = append(hashes, e.Hash[:]...)
		times[i] = e.Time.UnixNano()
	}
	md := map[string]string{"format": snapFormat, "version": "1", "width": fmt.Sprint(r.w), "height": fmt.Sprint(r.h)}
	ts := []safetensors.Tensor{
		safetensors.FromUint8("pixels", []int{n, r.h, r.w, 3}, px),
		safetensors.FromUint8("labels", []int{n}, labels),
		safetensors.FromUint8("hashes", []int{n, 32}, hashes),
		safetensors.FromInt64("times", []int{n}, times),
	}
	var buf bytes.Buffer
	if err := safetensors.Encode(&buf, md, ts); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// loadSnapshot reads replay.safetensors, if any.
func (r *Replay) loadSnapshot() error {
	path := filepath.Join(r.dir, snapshotName)
	f, err := safetensors.ReadFile(path, 1<<31)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("learn: %s: %w", path, err)
	}
	bad := func(msg string, a ...any) error {
		return fmt.Errorf("learn: %s: %s: the buffer starts without it", path, fmt.Sprintf(msg, a...))
	}
	if f.Metadata["format"] != snapFormat {
		return bad("format %q, want %q", f.Metadata["format"], snapFormat)
	}
	if f.Metadata["width"] != fmt.Sprint(r.w) || f.Metadata["height"] != fmt.Sprint(r.h) {
		return bad("images of %sx%s, the model takes %dx%d", f.Metadata["width"], f.Metadata["height"], r.w, r.h)
	}
	get := func(name string) *safetensors.Tensor {
		for i := range f.Tensors {
			if f.Tensors[i].Name == name {
				return &f.Tensors[i]
			}
		}
		return nil
	}
	tp, tl, th, tt := get("pixels"), get("labels"), get("hashes"), get("times")
	if tp == nil || tl == nil || th == nil || tt == nil {
		return bad("a tensor is missing")
	}
	px, err1 := tp.Uint8s()
	lb, err2 := tl.Uint8s()
	hs, err3 := th.Uint8s()
	tm, err4 := tt.Int64s()
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return bad("%v", err)
	}
	n := len(lb)
	if len(px) != n*r.w*r.h*3 || len(hs) != n*32 || len(tm) != n {
		return bad("tensor sizes disagree")
	}
	sz := r.w * r.h * 3
	for i := range n {
		ex := Example{Cat: lb[i] == 1, Pixels: px[i*sz : (i+1)*sz], Time: time.Unix(0, tm[i])}
		copy(ex.Hash[:], hs[i*32:])
		r.apply(ex)
	}
	return nil
}

// batchSource lists the examples training draws from: the training share,
// newest last, and the validation share.
func (r *Replay) split() (train, val []*entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.entries {
		if e.val {
			val = append(val, e)
		} else {
			train = append(train, e)
		}
	}
	slices.SortFunc(train, func(a, b *entry) int { return int(a.seq - b.seq) })
	return train, val
}

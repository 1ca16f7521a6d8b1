// Package learn is catd's on-device fine-tuning: a replay buffer of the
// user's labelled examples, kept on the state directory so that it survives
// restarts, and a Learner that trains the model in rounds of minibatch
// steps, each accepted only if the held-out share of the labels does not
// get worse.
//
// Examples are model inputs (H×W×3 RGB bytes, HWC), preprocessed exactly
// like camera frames, so training needs no image decoding. A buffer on disk
// keeps only each example's label, hash and place in memory (about 150
// bytes); the pixels (12 KiB for a 64×64 model) stay in the files that make
// it durable and are read when a batch is drawn, from the page cache as a
// rule, so that a full buffer of 1,000 labels does not cost the daemon
// 12 MB of resident memory.
//
// Rounds pull the weights toward the ones learning started from (L2-SP),
// weighted parameter by parameter by the starting model's importance
// (Importance: the Fisher information of its cat output, kept in an
// importance file tied to that model), so that what the model knew about
// cats in general stays while the household is learnt.
package learn

import (
	"bufio"
	"bytes"
	"cmp"
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
	"unsafe"

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

// Val reports whether an example with this hash falls in the held-out
// share by its content: the rule for a class whose buffer is full, and for
// examples recorded before each example's side was recorded.
func Val(hash [32]byte, share float64) bool {
	return float64(binary.LittleEndian.Uint16(hash[30:]))/65536 < share
}

// HeldOutWant is how many of n examples of a class are held out: the share
// (rounded), but at least min(minPerClass, n/3) so that a few labels of a
// class are judged by some of them from the second label on.
func HeldOutWant(n int, share float64, minPerClass int) int {
	return max(int(share*float64(n)+0.5), min(minPerClass, (n+1)/3))
}

// entry is an example in the buffer. In a buffer on disk its Pixels are
// nil: they are the W×H×3 bytes at off in src (the journal or the
// snapshot), valid while gen is the buffer's generation (a compaction moves
// the examples it keeps into the new snapshot and starts a new generation;
// one that left the buffer before is then gone).
type entry struct {
	Example
	val bool
	seq uint64 // order of arrival
	src *os.File
	off int64
	gen uint64
}

// errGone is reading an example that has left the buffer since it was
// listed, and whose pixels were dropped by a compaction.
var errGone = errors.New("learn: the example has left the replay buffer")

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
	minVal   int

	mu      sync.Mutex
	entries []*entry
	known   map[[32]byte]bool // every hash taken, with its latest class (true: cat)
	seq     uint64

	dir     string
	journal *os.File // read and appended
	jBytes  int64    // its length
	snap    *os.File // the snapshot examples are read from (nil: none)
	// appendErr, if set, is why the journal takes no more examples.
	appendErr error
	gen       uint64
	meter     *state.Meter
}

// ReplayOptions configure a Replay.
type ReplayOptions struct {
	W, H     int     // the model input size
	PerClass int     // most examples kept of each class (default 500)
	Recent   int     // newest examples of a class never replaced (default 32)
	ValShare float64 // share of examples held out for validation (default 0.2)
	// MinHeldOut is the fewest examples of each class held out (default
	// 3), as soon as a class has three times as many (see HeldOutWant).
	MinHeldOut int
	// Dir, if set, keeps the buffer on disk: replay.safetensors (a
	// compacted copy) and replay.journal (examples appended since, each
	// fsynced before Add returns); examples' pixels are read from there.
	// Without it the buffer is in memory.
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
	if o.MinHeldOut <= 0 {
		o.MinHeldOut = 3
	}
	if !(o.ValShare > 0 && o.ValShare < 1) {
		return nil, nil, fmt.Errorf("learn: validation share %v, want (0, 1)", o.ValShare)
	}
	r := &Replay{w: o.W, h: o.H, perClass: o.PerClass, recent: min(o.Recent, o.PerClass-1), valShare: o.ValShare,
		minVal: o.MinHeldOut, known: map[[32]byte]bool{}, dir: o.Dir, meter: o.Meter}
	if o.Dir == "" {
		return r, nil, nil
	}
	if err := os.MkdirAll(o.Dir, 0o750); err != nil {
		return nil, nil, fmt.Errorf("learn: replay: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(o.Dir, journalName), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, nil, fmt.Errorf("learn: replay journal: %w", err)
	}
	r.journal = f
	var problems []error
	if err := r.loadSnapshot(); err != nil {
		problems = append(problems, err)
	}
	if err := r.loadJournal(); err != nil {
		problems = append(problems, err)
	}
	return r, problems, nil
}

// Close closes the buffer's files; its examples can no longer be read.
func (r *Replay) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for _, f := range []**os.File{&r.journal, &r.snap} {
		if *f != nil {
			errs = append(errs, (*f).Close())
			*f = nil
		}
	}
	r.gen++ // nothing points into closed files
	return errors.Join(errs...)
}

// readPixels copies the pixels of e into dst (W×H×3 bytes). It fails
// with errGone if e left the buffer and a compaction dropped its pixels,
// and with an error naming the file if reading fails.
func (r *Replay) readPixels(e *entry, dst []uint8) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.readLocked(e, dst)
}

// readLocked is readPixels with r.mu held.
func (r *Replay) readLocked(e *entry, dst []uint8) error {
	if e.Pixels != nil {
		copy(dst, e.Pixels)
		return nil
	}
	if e.gen != r.gen || e.src == nil {
		return errGone
	}
	if _, err := e.src.ReadAt(dst[:r.w*r.h*3], e.off); err != nil {
		return fmt.Errorf("learn: replay: reading an example at byte %d of %s: %w", e.off, e.src.Name(), err)
	}
	return nil
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

// EntryBytes is the memory an example takes besides its pixels: the entry
// and its hash in the map of known examples.
const EntryBytes = int(unsafe.Sizeof(entry{})) + 8 + 32 + 1 + 16

// Bytes returns the memory the examples take: their labels, hashes and
// places, and for a buffer in memory their pixels.
func (r *Replay) Bytes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.entries) * EntryBytes
	for _, e := range r.entries {
		n += len(e.Pixels)
	}
	return n
}

// DiskBytes returns the size of the buffer's files: what a compaction
// has written and the journal since.
func (r *Replay) DiskBytes() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.jBytes
	if r.snap != nil {
		if st, err := r.snap.Stat(); err == nil {
			n += st.Size()
		}
	}
	return n
}

// Images returns copies of up to n examples' pixels (for calibrating an
// int8 model), newest first. Examples that cannot be read are left out.
func (r *Replay) Images(n int) [][]uint8 {
	r.mu.Lock()
	defer r.mu.Unlock()
	es := slices.Clone(r.entries)
	slices.SortFunc(es, func(a, b *entry) int { return int(b.seq - a.seq) })
	var out [][]uint8
	for _, e := range es[:min(n, len(es))] {
		px := make([]uint8, r.w*r.h*3)
		if r.readLocked(e, px) == nil {
			out = append(out, px)
		}
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
	sd := r.placeNew(ex)
	if r.journal == nil {
		if r.dir != "" {
			return errors.New("learn: replay: the buffer is closed")
		}
		r.apply(ex, sd, nil, 0)
		return nil
	}
	if r.appendErr != nil {
		return r.appendErr
	}
	rec := encodeRecord(ex, sd, r.w, r.h)
	at := r.jBytes
	n, err := r.journal.Write(rec)
	if r.meter != nil {
		r.meter.Add(int64(n))
	}
	if err == nil {
		err = r.journal.Sync()
	}
	if err != nil {
		// Cut a partial record off, so that the next one follows the last
		// good one (on reopening, a bad record drops all after it).
		if terr := r.journal.Truncate(at); terr != nil {
			err = fmt.Errorf("%w, and cutting the partial record off failed: %v", err, terr)
		}
		return fmt.Errorf("learn: replay journal: %w", err)
	}
	r.jBytes += int64(len(rec))
	r.apply(ex, sd, r.journal, at+recHeader+recPixels)
	return nil
}

// placeNew is where a new example goes: a correction stays on the side of the
// example it corrects (an example never moves between training and
// held-out); otherwise the class's held-out count is brought to
// HeldOutWant of its examples with this one, and a full class (whose
// counts a replacement keeps) decides by the example's hash. r.mu is held.
func (r *Replay) placeNew(ex Example) place {
	var n, v int
	for _, e := range r.entries {
		if e.Hash == ex.Hash {
			return placeOf(e.val)
		}
		if e.Cat == ex.Cat {
			n++
			if e.val {
				v++
			}
		}
	}
	if n >= r.perClass {
		return placeOf(Val(ex.Hash, r.valShare))
	}
	return placeOf(v < HeldOutWant(n+1, r.valShare, r.minVal))
}

// place is an example's side in the buffer as recorded: placeHash for
// records from before sides were recorded (their side is Val of their
// hash, as it was then).
type place uint8

const (
	placeHash place = iota
	placeTrain
	placeVal
)

func placeOf(val bool) place {
	if val {
		return placeVal
	}
	return placeTrain
}

// apply adds ex, or corrects the class of the example with its hash; its
// pixels are at off in src, or with src nil in ex.Pixels (copied). r.mu
// is held.
func (r *Replay) apply(ex Example, sd place, src *os.File, off int64) {
	c, ok := r.known[ex.Hash]
	switch {
	case !ok:
		r.insert(ex, sd, src, off)
	case c != ex.Cat:
		// A correction is a new arrival of its class (it may push out
		// another); the old entry goes.
		r.entries = slices.DeleteFunc(r.entries, func(e *entry) bool { return e.Hash == ex.Hash })
		r.insert(ex, sd, src, off)
	}
}

// insert puts ex in the buffer on side sd, replacing an old example of its
// class if the class is full; r.mu is held.
func (r *Replay) insert(ex Example, sd place, src *os.File, off int64) {
	r.known[ex.Hash] = ex.Cat
	r.seq++
	val := sd == placeVal || (sd == placeHash && Val(ex.Hash, r.valShare))
	e := &entry{Example: Example{Cat: ex.Cat, Hash: ex.Hash, Time: ex.Time},
		val: val, seq: r.seq, src: src, off: off, gen: r.gen}
	if src == nil {
		e.Pixels = slices.Clone(ex.Pixels)
	}
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
	// r.recent of the class, on the new one's side (so that the held-out
	// count stays) if there is one there: a fixed pseudo-random choice.
	slices.SortFunc(same, func(a, b int) int { return int(r.entries[a].seq - r.entries[b].seq) })
	victim, other := -1, -1
	for _, i := range same[:len(same)-r.recent] {
		o := r.entries[i]
		if o.val == val && (victim < 0 || bytes.Compare(o.Hash[:], r.entries[victim].Hash[:]) < 0) {
			victim = i
		}
		if other < 0 || bytes.Compare(o.Hash[:], r.entries[other].Hash[:]) < 0 {
			other = i
		}
	}
	if victim < 0 {
		victim = other
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
	if r.dir == "" || r.journal == nil || r.appendErr != nil {
		return nil
	}
	capBytes := int64(2*r.perClass) * int64(r.w*r.h*3)
	if !force && r.jBytes < capBytes/4 {
		return nil
	}
	if r.jBytes == 0 && !force {
		return nil
	}
	// In order of arrival, so that reopening gives the same order, and
	// the same examples count as the newest of their class.
	slices.SortFunc(r.entries, func(a, b *entry) int { return cmp.Compare(a.seq, b.seq) })
	path := filepath.Join(r.dir, snapshotName)
	pixelsAt, err := r.writeSnapshot(path)
	if err != nil {
		return err
	}
	// The examples now come from the new snapshot. The old one stays
	// readable through its open file until it is closed here, whatever
	// took its name.
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("learn: replay: %w", err)
	}
	r.gen++
	sz := int64(r.w * r.h * 3)
	for i, e := range r.entries {
		e.src, e.off, e.gen = f, pixelsAt+int64(i)*sz, r.gen
	}
	if r.snap != nil {
		r.snap.Close()
	}
	r.snap = f
	if err := r.journal.Truncate(0); err != nil {
		return fmt.Errorf("learn: replay journal: %w", err)
	}
	r.jBytes = 0
	if err := r.journal.Sync(); err != nil {
		return fmt.Errorf("learn: replay journal: %w", err)
	}
	return nil
}

// RecordBytes is the size of a journal record (and about what an example
// takes in the snapshot) for w×h images.
func RecordBytes(w, h int) int { return recHeader + recPixels + w*h*3 + 4 }

// A journal record's pixels start recHeader+recPixels bytes into it.
const (
	recHeader = 4 + 4              // magic, payload length
	recPixels = 1 + 8 + 32 + 2 + 2 // flags, time, hash, w, h
)

// Flag bits of a journal record and of the snapshot's labels.
const (
	flagCat   = 1 << 0
	flagVal   = 1 << 1 // held out (with flagSided)
	flagSided = 1 << 2 // the side is recorded; without it, Val of the hash
)

func flagsOf(cat bool, sd place) byte {
	var f byte
	if cat {
		f |= flagCat
	}
	switch sd {
	case placeVal:
		f |= flagVal | flagSided
	case placeTrain:
		f |= flagSided
	}
	return f
}

func placeOfFlags(f byte) place {
	switch {
	case f&flagSided == 0:
		return placeHash
	case f&flagVal != 0:
		return placeVal
	}
	return placeTrain
}

// encodeRecord is one journal record: magic, payload length, payload
// (flags, time, hash, w, h, pixels), CRC-32C of the payload.
func encodeRecord(ex Example, sd place, w, h int) []byte {
	n := 1 + 8 + 32 + 4 + len(ex.Pixels)
	b := make([]byte, 0, 4+4+n+4)
	b = append(b, recMagic...)
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	p := len(b)
	b = append(b, flagsOf(ex.Cat, sd))
	b = binary.LittleEndian.AppendUint64(b, uint64(ex.Time.UnixNano()))
	b = append(b, ex.Hash[:]...)
	b = binary.LittleEndian.AppendUint16(b, uint16(w))
	b = binary.LittleEndian.AppendUint16(b, uint16(h))
	b = append(b, ex.Pixels...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[p:], crcTable))
}

// errTorn is a record cut short by a crash.
var errTorn = errors.New("torn record")

// decodeRecord reads one record from br into buf (grown as needed); the
// example's Pixels alias buf.
func decodeRecord(br *bufio.Reader, w, h int, buf *[]byte) (Example, place, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		if err == io.EOF {
			return Example{}, 0, io.EOF
		}
		return Example{}, 0, errTorn
	}
	if string(hdr[:4]) != recMagic {
		return Example{}, 0, fmt.Errorf("bad record magic %q", hdr[:4])
	}
	n := int(binary.LittleEndian.Uint32(hdr[4:]))
	if want := 1 + 8 + 32 + 4 + w*h*3; n != want {
		return Example{}, 0, fmt.Errorf("record of %d bytes, want %d for %dx%d images", n, want, w, h)
	}
	if cap(*buf) < n+4 {
		*buf = make([]byte, n+4)
	}
	p := (*buf)[:n+4]
	if _, err := io.ReadFull(br, p); err != nil {
		return Example{}, 0, errTorn
	}
	if crc32.Checksum(p[:n], crcTable) != binary.LittleEndian.Uint32(p[n:]) {
		return Example{}, 0, errTorn
	}
	if rw, rh := int(binary.LittleEndian.Uint16(p[41:])), int(binary.LittleEndian.Uint16(p[43:])); rw != w || rh != h {
		return Example{}, 0, fmt.Errorf("record of %dx%d images, want %dx%d", rw, rh, w, h)
	}
	ex := Example{Cat: p[0]&flagCat != 0, Time: time.Unix(0, int64(binary.LittleEndian.Uint64(p[1:]))), Pixels: p[45:n]}
	copy(ex.Hash[:], p[9:41])
	return ex, placeOfFlags(p[0]), nil
}

// loadJournal replays the journal (r.journal); a torn tail is cut off.
func (r *Replay) loadJournal() error {
	path := r.journal.Name()
	st, err := r.journal.Stat()
	if err != nil {
		return fmt.Errorf("learn: %w", err)
	}
	br := bufio.NewReaderSize(io.NewSectionReader(r.journal, 0, st.Size()), 64<<10)
	var (
		good int64
		buf  []byte
	)
	for {
		ex, sd, err := decodeRecord(br, r.w, r.h, &buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			// Keep what was read; cut the rest so that appends follow good records.
			r.jBytes = good
			if terr := r.journal.Truncate(good); terr != nil {
				// Appending after the damage would lose what follows.
				r.jBytes = st.Size()
				r.appendErr = fmt.Errorf("learn: replay journal %s is damaged at byte %d and cannot be cut there: %w", path, good, terr)
				return fmt.Errorf("learn: %s: %v after %d bytes, and cannot cut it there (no labels are taken): %w", path, err, good, terr)
			}
			if errors.Is(err, errTorn) {
				return nil // a crash mid-append: expected, nothing lost that Add had confirmed
			}
			return fmt.Errorf("learn: %s: %v after %d bytes: the rest is dropped", path, err, good)
		}
		r.apply(ex, sd, r.journal, good+recHeader+recPixels)
		good += int64(recHeader + recPixels + len(ex.Pixels) + 4)
	}
	r.jBytes = good
	return nil
}

// writeSnapshot writes the buffer to path as a safetensors file (pixels,
// labels, hashes, times), streaming the pixels from where they are, and
// returns the offset of the pixels in it. r.mu is held.
func (r *Replay) writeSnapshot(path string) (int64, error) {
	n := len(r.entries)
	labels := make([]uint8, n)
	hashes := make([]uint8, 0, n*32)
	times := make([]int64, n)
	for i, e := range r.entries {
		labels[i] = flagsOf(e.Cat, placeOf(e.val))
		hashes = append(hashes, e.Hash[:]...)
		times[i] = e.Time.UnixNano()
	}
	md := map[string]string{"format": snapFormat, "version": "2", "width": fmt.Sprint(r.w), "height": fmt.Sprint(r.h)}
	ts := []safetensors.Tensor{
		{Name: "pixels", DType: safetensors.U8, Shape: []int{n, r.h, r.w, 3}}, // streamed
		safetensors.FromUint8("labels", []int{n}, labels),
		safetensors.FromUint8("hashes", []int{n, 32}, hashes),
		safetensors.FromInt64("times", []int{n}, times),
	}
	hdr, err := safetensors.Header(md, ts)
	if err != nil {
		return 0, err
	}
	px := make([]uint8, r.w*r.h*3)
	err = state.WriteAtomic(path, 0o640, r.meter, func(w io.Writer) error {
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		for _, e := range r.entries {
			if err := r.readLocked(e, px); err != nil {
				return err
			}
			if _, err := w.Write(px); err != nil {
				return err
			}
		}
		for _, t := range ts[1:] {
			if _, err := w.Write(t.Data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("learn: replay: %w", err)
	}
	return int64(len(hdr)), nil
}

// loadSnapshot reads replay.safetensors, if any: the labels, hashes and
// times, and where each example's pixels are.
func (r *Replay) loadSnapshot() error {
	path := filepath.Join(r.dir, snapshotName)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("learn: %w", err)
	}
	bad := func(msg string, a ...any) error {
		f.Close()
		return fmt.Errorf("learn: %s: %s: the buffer starts without it", path, fmt.Sprintf(msg, a...))
	}
	st, err := f.Stat()
	if err != nil {
		return bad("%v", err)
	}
	idx, err := safetensors.ReadIndex(f, st.Size())
	if err != nil {
		return bad("%v", err)
	}
	if idx.Metadata["format"] != snapFormat {
		return bad("format %q, want %q", idx.Metadata["format"], snapFormat)
	}
	if idx.Metadata["width"] != fmt.Sprint(r.w) || idx.Metadata["height"] != fmt.Sprint(r.h) {
		return bad("images of %sx%s, the model takes %dx%d", idx.Metadata["width"], idx.Metadata["height"], r.w, r.h)
	}
	tp, ok1 := idx.Tensor("pixels")
	tl, ok2 := idx.Tensor("labels")
	th, ok3 := idx.Tensor("hashes")
	tt, ok4 := idx.Tensor("times")
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return bad("a tensor is missing")
	}
	if tp.DType != safetensors.U8 || tl.DType != safetensors.U8 || th.DType != safetensors.U8 || tt.DType != safetensors.I64 {
		return bad("tensor types %s, %s, %s, %s, want U8, U8, U8, I64", tp.DType, tl.DType, th.DType, tt.DType)
	}
	sz := int64(r.w * r.h * 3)
	n := tl.Size
	if n > 1<<20 || tp.Size != n*sz || th.Size != n*32 || tt.Size != n*8 {
		return bad("tensor sizes disagree")
	}
	meta := make([]byte, n+n*32+n*8)
	lb, hs, tm := meta[:n], meta[n:n+n*32], meta[n+n*32:]
	for _, part := range []struct {
		dst []byte
		at  int64
	}{{lb, tl.Offset}, {hs, th.Offset}, {tm, tt.Offset}} {
		if _, err := f.ReadAt(part.dst, part.at); err != nil {
			return bad("%v", err)
		}
	}
	for i := range n {
		ex := Example{Cat: lb[i]&flagCat != 0, Time: time.Unix(0, int64(binary.LittleEndian.Uint64(tm[i*8:])))}
		copy(ex.Hash[:], hs[i*32:])
		r.apply(ex, placeOfFlags(lb[i]), f, tp.Offset+i*sz)
	}
	r.snap = f
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

package state

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// ErrNoCheckpoint is returned, wrapped, by Load when no checkpoint is
// valid: the caller then falls back to the model built into catd.
var ErrNoCheckpoint = errors.New("no valid checkpoint")

// Checkpoint files are named "checkpoint-%08d.safetensors" after a sequence
// number that grows by one with every Save. They hold the caller's bytes
// unchanged (a checkpoint stays a plain model file that "catd eval --model"
// reads); this package does not know their format, so a checkpoint is valid
// only when the caller's validator, given to Load, says so.
const (
	ckptPrefix = "checkpoint-"
	ckptSuffix = ".safetensors"
	ckptDigits = 8
	// maxSeq is the largest sequence number taken for a generation: at
	// one Save a second it is reached in 30,000 years, so a file with a
	// larger number was not written by Save (a copy, a hand-made name).
	// Such files are ignored (see Ignored): trusting one would make it the
	// newest generation for ever, and checkpoint-18446744073709551615
	// would wrap the next number around to 0. When the numbers do reach
	// maxSeq, Save renumbers the generations from 1.
	maxSeq = 999_999_999_999
)

// checkpointName returns the file name of generation seq.
func checkpointName(seq uint64) string {
	return fmt.Sprintf("%s%0*d%s", ckptPrefix, ckptDigits, seq, ckptSuffix)
}

// parseCheckpointName returns the sequence number in a checkpoint file
// name, and false for any other name, including non-canonical spellings
// such as "checkpoint-1.safetensors".
func parseCheckpointName(name string) (uint64, bool) {
	digits, ok := strings.CutPrefix(name, ckptPrefix)
	if !ok {
		return 0, false
	}
	digits, ok = strings.CutSuffix(digits, ckptSuffix)
	if !ok || len(digits) < ckptDigits || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, false
	}
	seq, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || checkpointName(seq) != name {
		return 0, false
	}
	return seq, true
}

// Checkpoints is a directory of checkpoint generations. Save writes a new
// generation and deletes the oldest beyond the number to keep; Load returns
// the newest valid one. Other files in the directory are left alone, except
// temporary files named ".tmp-…", which OpenCheckpoints removes: open it
// before anything else writes into the directory. A Checkpoints is safe for
// concurrent use.
type Checkpoints struct {
	dir   string
	keep  int
	meter *Meter

	stale    []string
	staleErr error
	ignored  []string

	// write and free are writeFileAtomic and freeSpace; tests replace
	// them to fake a full disk.
	write func(path string, data []byte, perm os.FileMode, m *Meter) (renamed bool, err error)
	free  func(dir string) (uint64, bool)

	mu   sync.Mutex
	last uint64       // newest sequence number seen or saved
	good string       // the newest generation known good: saved, or accepted by Load
	buf  bytes.Buffer // SaveFrom's, reused
}

// OpenCheckpoints opens the checkpoint directory dir, creating it (mode
// 0750) if needed, to keep the newest keep generations (at least 2, so that
// a newest one that turns out bad has a predecessor). Writes are counted by
// m, which may be nil. Temporary files left by a crash are removed; Stale
// reports them. OpenCheckpoints fails only if dir cannot be created or read:
// on a file system remounted read-only Load still works.
func OpenCheckpoints(dir string, keep int, m *Meter) (*Checkpoints, error) {
	if keep < 2 {
		return nil, fmt.Errorf("state: keep %d checkpoints, want at least 2", keep)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("state: checkpoint directory: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("state: checkpoint directory: %w", err)
	}
	c := &Checkpoints{dir: dir, keep: keep, meter: m, write: writeFileAtomic, free: freeSpace}
	c.stale, c.staleErr = removeStale(dir, entries)
	for _, g := range generations(entries) {
		c.last = max(c.last, g)
	}
	for _, e := range entries {
		if seq, ok := parseCheckpointName(e.Name()); ok && seq > maxSeq {
			c.ignored = append(c.ignored, filepath.Join(dir, e.Name()))
		}
	}
	return c, nil
}

// Ignored returns the paths of the files OpenCheckpoints found that are
// named like checkpoints but with a sequence number no Save would give
// (above 999,999,999,999). They are neither loaded, counted nor deleted;
// the caller should log them.
func (c *Checkpoints) Ignored() []string { return slices.Clone(c.ignored) }

// Dir returns the checkpoint directory.
func (c *Checkpoints) Dir() string { return c.dir }

// Stale returns the paths of the temporary files, left by a crash, that
// OpenCheckpoints found, and the errors of removing those it could not
// remove. Both are for the caller to log.
func (c *Checkpoints) Stale() ([]string, error) { return slices.Clone(c.stale), c.staleErr }

// generations returns the sequence numbers of the checkpoint files among
// entries, newest first, leaving out numbers above maxSeq.
func generations(entries []fs.DirEntry) []uint64 {
	var seqs []uint64
	for _, e := range entries {
		if seq, ok := parseCheckpointName(e.Name()); ok && seq <= maxSeq && e.Type().IsRegular() {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	slices.Reverse(seqs)
	return seqs
}

func (c *Checkpoints) scan() ([]uint64, error) {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return nil, fmt.Errorf("state: checkpoint directory: %w", err)
	}
	return generations(entries), nil
}

func (c *Checkpoints) path(seq uint64) string { return filepath.Join(c.dir, checkpointName(seq)) }

// List returns the paths of the checkpoint generations, newest first.
func (c *Checkpoints) List() ([]string, error) {
	seqs, err := c.scan()
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(seqs))
	for i, seq := range seqs {
		paths[i] = c.path(seq)
	}
	return paths, nil
}

// Save writes data as a new generation, atomically (see WriteFileAtomic),
// with mode 0640 and a sequence number one above the newest ever seen, so
// numbers keep growing across restarts and deletions (in the unlikely
// event they reach 999,999,999,999, the generations are renamed to 1, 2, …
// first, in order). It then deletes the
// oldest generations beyond the number to keep, and returns the new file's
// path. If the error is about deleting or about the final directory sync,
// the new generation is in place and its path is returned with the error.
//
// On a full disk Save makes room first: if statfs says the new file will
// not fit, or writing it fails with ENOSPC (or EDQUOT), every generation
// but the newest known good one (the last saved, or the one Load
// accepted; else the newest) is deleted, and a failed write is tried once
// more. Apart from that, a failed Save leaves the generations as they were.
// Save does not keep data.
func (c *Checkpoints) Save(data []byte) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.save(data)
}

// SaveFrom is Save with the bytes that write writes, for example
// model.Net.Encode. They go through a buffer that c keeps and reuses, so
// that only the first call allocates one of the checkpoint's size. Nothing
// is written to the directory if write fails.
func (c *Checkpoints) SaveFrom(write func(w io.Writer) error) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Reset()
	if err := write(&c.buf); err != nil {
		return "", fmt.Errorf("state: checkpoint not saved: %w", err)
	}
	return c.save(c.buf.Bytes())
}

func (c *Checkpoints) save(data []byte) (string, error) {
	seqs, err := c.scan()
	if err != nil {
		return "", err
	}
	if len(seqs) > 0 {
		c.last = max(c.last, seqs[0])
	}
	if c.last >= maxSeq {
		if seqs, err = c.renumber(seqs); err != nil {
			return "", err
		}
	}
	seq := c.last + 1
	path := c.path(seq)
	if free, ok := c.free(c.dir); ok && free < uint64(len(data))+spaceMargin {
		seqs = c.makeRoom(seqs)
	}
	renamed, err := c.write(path, data, 0o640, c.meter)
	if !renamed && isNoSpace(err) {
		if left := c.makeRoom(seqs); len(left) < len(seqs) {
			seqs = left
			renamed, err = c.write(path, data, 0o640, c.meter)
		}
	}
	if !renamed {
		return "", err
	}
	c.last, c.good = seq, path
	if err != nil {
		return path, err
	}
	// The new generation is seqs' newest now; the deletions need no
	// directory sync: if a power cut undoes one, the next Save redoes it.
	var errs []error
	for _, old := range seqs[min(len(seqs), c.keep-1):] {
		if err := os.Remove(c.path(old)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("state: delete old checkpoint: %w", err))
		}
	}
	return path, errors.Join(errs...)
}

// renumber renames the generations seqs (newest first) to 1, 2, … in
// their order, the oldest first, so that every rename goes to a smaller
// free number and a crash half-way leaves them in order; it returns their
// new numbers and sets c.last to the newest.
func (c *Checkpoints) renumber(seqs []uint64) ([]uint64, error) {
	renamed := make([]uint64, len(seqs))
	for i := range seqs {
		old, seq := seqs[len(seqs)-1-i], uint64(i+1)
		if old != seq {
			if err := os.Rename(c.path(old), c.path(seq)); err != nil {
				return nil, fmt.Errorf("state: renumber checkpoints: %w", err)
			}
		}
		renamed[len(seqs)-1-i] = seq
	}
	c.last = uint64(len(seqs))
	if err := syncDir(c.dir); err != nil {
		return nil, fmt.Errorf("state: renumber checkpoints: %w", err)
	}
	return renamed, nil
}

// spaceMargin is the room, in bytes, left for the file system's own
// needs (an inode, a directory block) when Save checks the free space.
const spaceMargin = 64 << 10

// makeRoom deletes every generation among seqs (newest first) but the
// newest known good one (or, with none known, the newest), for a new one
// to fit on a full disk, and returns those left. A failed deletion is
// left to the deletions after the next successful Save.
func (c *Checkpoints) makeRoom(seqs []uint64) []uint64 {
	if len(seqs) <= 1 {
		return seqs
	}
	keep := seqs[0]
	for _, seq := range seqs {
		if c.path(seq) == c.good {
			keep = seq
		}
	}
	left := []uint64{keep}
	for _, seq := range seqs {
		if seq != keep && os.Remove(c.path(seq)) != nil {
			left = append(left, seq)
		}
	}
	slices.Sort(left)
	slices.Reverse(left)
	return left
}

// Load tries the generations newest first. For each it reads the file and
// calls valid(path, data), which owns data from then on; the first for which
// valid returns nil wins, and Load returns its path with the reasons the
// newer generations were refused, each naming its file. If none is valid,
// the error wraps ErrNoCheckpoint and all the reasons. Saves wait until Load
// returns, so valid must not call c's methods.
func (c *Checkpoints) Load(valid func(path string, data []byte) error) (path string, skipped []error, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seqs, err := c.scan()
	if err != nil {
		return "", nil, err
	}
	for _, seq := range seqs {
		p := c.path(seq)
		data, err := os.ReadFile(p)
		if err == nil {
			err = valid(p, data)
			if err == nil {
				c.good = p
				return p, skipped, nil
			}
			err = fmt.Errorf("state: checkpoint %s: %w", p, err)
		} else {
			err = fmt.Errorf("state: checkpoint: %w", err) // names p
		}
		skipped = append(skipped, err)
	}
	if len(skipped) == 0 {
		return "", nil, fmt.Errorf("state: %w in %s: the directory holds none", ErrNoCheckpoint, c.dir)
	}
	return "", skipped, fmt.Errorf("state: %w in %s: %w", ErrNoCheckpoint, c.dir, errors.Join(skipped...))
}

package camera

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"
)

// fileSource is the file: source: one image, a folder of images in name
// order, or an MJPEG file, played at a fixed rate (or, with fps=max, as
// fast as they are asked for) and looped.
type fileSource struct {
	uri  string
	cfg  fileConfig
	pace pacer
	log  rateLog
	seq  uint64
	eof  bool
	good bool // a frame was delivered in this pass

	// Exactly one of these modes is set.
	png   []byte         // a single PNG file, held in memory
	sent  bool           // png: delivered in this pass
	names []string       // a folder: image file names, sorted
	next  int            // folder: index of the next name
	sp    *MJPEGSplitter // an MJPEG (or single JPEG) file streamed from fh

	mu     sync.Mutex // guards fh and closed against Close
	fh     *os.File
	closed bool

	frames, corrupt atomic.Uint64
	done            chan struct{}
	closeOnce       sync.Once
}

func openFile(uri string, c fileConfig, log zerolog.Logger, clk clock) (*fileSource, error) {
	s := &fileSource{
		uri:  uri,
		cfg:  c,
		pace: pacer{clk: clk, period: c.period},
		log:  rateLog{log: log, every: corruptLogEvery, now: clk.Now},
		done: make(chan struct{}),
	}
	st, err := os.Stat(c.path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		ents, err := os.ReadDir(c.path)
		if err != nil {
			return nil, err
		}
		for _, e := range ents { // sorted by name
			if !e.IsDir() && imageExt(e.Name()) && !strings.HasPrefix(e.Name(), ".") {
				s.names = append(s.names, e.Name())
			}
		}
		if len(s.names) == 0 {
			return nil, fmt.Errorf("folder %s has no .jpg, .jpeg or .png files", c.path)
		}
		return s, nil
	}
	fh, err := os.Open(c.path)
	if err != nil {
		return nil, err
	}
	// A PNG starts with its magic; an MJPEG stream (or one JPEG) has an
	// SOI followed by a marker near its start, perhaps after junk such as a
	// multipart boundary.
	head := make([]byte, 64<<10)
	n, _ := io.ReadFull(fh, head)
	head = head[:n]
	kind := sniff(head)
	if kind != PNG && bytes.Contains(head, []byte{0xFF, 0xD8, 0xFF}) {
		kind = JPEG
	}
	switch kind {
	case JPEG:
		if _, err := fh.Seek(0, io.SeekStart); err != nil {
			fh.Close()
			return nil, fmt.Errorf("%s: %w", c.path, err)
		}
		s.fh = fh
		s.sp = NewMJPEGSplitter(fh, c.maxFrame)
		return s, nil
	case PNG:
		fh.Close()
		data, _, err := readFileInto(nil, c.path, c.maxFrame)
		if err != nil {
			return nil, err
		}
		if err := checkPNG(data); err != nil {
			return nil, fmt.Errorf("%s: %w", c.path, err)
		}
		s.png = data
		return s, nil
	}
	fh.Close()
	return nil, fmt.Errorf("%s is neither a JPEG, a PNG, an MJPEG file nor a folder", c.path)
}

func (s *fileSource) String() string { return s.uri }

// WaitsForReader reports whether the source is unpaced (fps=max): a frame
// is read when Next asks for it, so a reader that waits loses none.
func (s *fileSource) WaitsForReader() bool { return s.cfg.period == 0 }

func (s *fileSource) Stats() Stats {
	return Stats{Frames: s.frames.Load(), Corrupt: s.corrupt.Load()}
}

func (s *fileSource) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.done)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.closed = true
		if s.fh != nil {
			err = s.fh.Close()
		}
	})
	return err
}

// errSkip reports a frame that was counted as corrupt and skipped.
var errSkip = errors.New("skip")

func (s *fileSource) Next(ctx context.Context, f *Frame) error {
	if s.eof {
		return io.EOF
	}
	now, err := s.pace.wait(ctx, s.done)
	if err != nil {
		return err
	}
	for {
		select {
		case <-s.done:
			return ErrClosed
		default:
		}
		err := s.read(f)
		switch {
		case err == nil:
			s.seq++
			s.good = true
			f.Seq, f.Time, f.W, f.H, f.Stride = s.seq, now, 0, 0, 0
			s.frames.Add(1)
			return nil
		case err == errSkip:
			continue
		case err == io.EOF:
			if !s.cfg.loop {
				s.eof = true
				return io.EOF
			}
			if !s.good {
				return fmt.Errorf("camera: %s: no valid frame in %s", s.uri, s.cfg.path)
			}
			s.good = false
			if err := s.rewind(); err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// read reads the next frame of this pass into f (Data and Format), returning
// io.EOF at the end of the pass and errSkip after a corrupt frame.
func (s *fileSource) read(f *Frame) error {
	switch {
	case s.sp != nil:
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return ErrClosed
		}
		data, err := s.sp.Next(f.Data)
		s.mu.Unlock()
		f.Data = data
		switch {
		case err == nil:
			f.Format = JPEG
			return nil
		case err == io.EOF:
			return io.EOF
		case errors.Is(err, ErrBadFrame) || err == io.ErrUnexpectedEOF:
			s.skip(fmt.Errorf("%s: %w", s.cfg.path, err))
			return errSkip
		}
		return fmt.Errorf("camera: %s: read %s: %w", s.uri, s.cfg.path, err)
	case s.png != nil:
		if s.sent {
			return io.EOF
		}
		s.sent = true
		f.Data = append(f.Data[:0], s.png...)
		f.Format = PNG
		return nil
	default:
		if s.next >= len(s.names) {
			return io.EOF
		}
		name := filepath.Join(s.cfg.path, s.names[s.next])
		s.next++
		data, _, err := readFileInto(f.Data, name, s.cfg.maxFrame)
		f.Data = data
		if err != nil {
			s.skip(err)
			return errSkip
		}
		format, err := checkImage(data)
		if err != nil {
			s.skip(fmt.Errorf("%s: %w", name, err))
			return errSkip
		}
		f.Format = format
		return nil
	}
}

// skip counts and logs one corrupt frame.
func (s *fileSource) skip(err error) {
	s.seq++
	s.log.corrupt(&s.corrupt, s.uri, s.seq, err)
}

// rewind starts the next pass.
func (s *fileSource) rewind() error {
	s.sent = false
	s.next = 0
	if s.sp == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if _, err := s.fh.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("camera: %s: rewind %s: %w", s.uri, s.cfg.path, err)
	}
	s.sp.Reset(s.fh)
	return nil
}

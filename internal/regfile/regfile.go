// Package regfile opens and reads files that must be regular files (a
// config file, a model file), without blocking and without unbounded
// memory, whatever the path turns out to be.
//
// A path can point, directly or through a symbolic link, at a named pipe
// (opening one for reading waits for a writer, for ever if none comes), at
// a device (/dev/zero reads without end) or at a file far larger than
// expected. Open opens with O_NONBLOCK, so that a named pipe cannot block,
// and then checks with fstat that what it opened is a regular file; Read
// also reads at most limit+1 bytes, so that a file larger than limit, or
// one growing while it is read, is refused after limit+1 bytes whatever its
// size says.
//
// Errors name the path. Those for something other than a regular file wrap
// ErrNotRegular; those for a file over the limit wrap ErrTooLarge; a path
// that does not exist gives an error that wraps fs.ErrNotExist.
package regfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

var (
	// ErrNotRegular is wrapped by the errors for a path that is not a
	// regular file (a named pipe, a device, a directory, a socket).
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge is wrapped by Read's error for a file over the limit.
	ErrTooLarge = errors.New("file too large")
)

// Open opens the regular file at path for reading, following symbolic
// links. It never waits for a writer (a named pipe is opened with
// O_NONBLOCK and then refused). It returns the open file, which the caller
// closes, and its fstat information.
func Open(path string) (*os.File, fs.FileInfo, error) {
	// A stat first: most non-regular paths are refused without being
	// opened at all (opening a device can have side effects).
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, nil, notRegular(path, st.Mode())
	}
	f, err := os.OpenFile(path, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, nil, err
	}
	// Again on what was opened: the path may have been swapped since.
	if st, err = f.Stat(); err != nil {
		f.Close()
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, notRegular(path, st.Mode())
	}
	return f, st, nil
}

// Read reads the regular file at path, which may hold at most limit bytes
// (limit >= 0). It opens it as Open does, and reads at most limit+1 bytes.
func Read(path string, limit int64) ([]byte, error) {
	if limit < 0 {
		panic("regfile: negative limit")
	}
	f, st, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st.Size() > limit {
		return nil, tooLarge(path, limit)
	}
	// Room for what fstat said plus one byte, so that a file that did not
	// grow is read without reallocating, and one that grew shows it.
	buf := make([]byte, 0, st.Size()+1)
	r := io.LimitReader(f, limit+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
	}
	if int64(len(buf)) > limit {
		return nil, tooLarge(path, limit)
	}
	return buf, nil
}

func notRegular(path string, m fs.FileMode) error {
	return fmt.Errorf("%s is %s: %w", path, describe(m), ErrNotRegular)
}

func tooLarge(path string, limit int64) error {
	return fmt.Errorf("%s: %w: more than %d bytes", path, ErrTooLarge, limit)
}

// describe says what kind of file m is, "a named pipe (FIFO)".
func describe(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "not a regular file (" + m.Type().String() + ")"
}

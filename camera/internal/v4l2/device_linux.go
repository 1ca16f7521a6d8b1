//go:build linux

package v4l2

import (
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// FD is a Device over a file descriptor.
type FD struct {
	fd  int
	pfd [1]unix.PollFd
	ts  unix.Timespec // Poll's timeout, kept here so that Poll does not allocate
}

// Open opens the video node at path (O_RDWR|O_NONBLOCK|O_CLOEXEC).
func Open(path string) (*FD, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		return NewFD(fd), nil
	}
}

// NewFD makes a Device of an open file descriptor, which it takes over.
func NewFD(fd int) *FD {
	return &FD{fd: fd, pfd: [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}}
}

// Ioctl implements Device.
func (d *FD) Ioctl(req uintptr, arg unsafe.Pointer) error {
	for {
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(d.fd), req, uintptr(arg))
		switch errno {
		case 0:
			return nil
		case unix.EINTR:
			continue
		}
		return errno
	}
}

// Mmap implements Device.
func (d *FD) Mmap(offset int64, length int) ([]byte, error) {
	return unix.Mmap(d.fd, offset, length, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
}

// Munmap implements Device.
func (d *FD) Munmap(b []byte) error { return unix.Munmap(b) }

// Poll implements Device with ppoll(2) on the node. It does not allocate.
func (d *FD) Poll(timeout time.Duration) (bool, error) {
	deadline := time.Now().Add(timeout)
	for {
		d.ts = unix.NsecToTimespec(int64(max(timeout, 0)))
		d.pfd[0].Revents = 0
		n, err := unix.Ppoll(d.pfd[:], &d.ts, nil)
		if err == unix.EINTR {
			timeout = time.Until(deadline)
			continue
		}
		if err != nil {
			return false, err
		}
		return n > 0 && d.pfd[0].Revents != 0, nil
	}
}

// Close implements Device.
func (d *FD) Close() error {
	if d.fd < 0 {
		return unix.EBADF
	}
	err := unix.Close(d.fd)
	d.fd, d.pfd[0].Fd = -1, -1
	return err
}

// Monotonic returns CLOCK_MONOTONIC, the clock of driver timestamps flagged
// V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC, as a duration since its (boot-time)
// epoch.
func Monotonic() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

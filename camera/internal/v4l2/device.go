package v4l2

import (
	"time"
	"unsafe"
)

// Device is an open V4L2 video node. The real one is a file descriptor
// (Open); tests use the simulated driver of package v4l2test.
//
// A Device is used by one goroutine at a time.
type Device interface {
	// Ioctl issues request req with arg pointing at the request's struct
	// (or int32 for VIDIOC_STREAMON and VIDIOC_STREAMOFF). It returns the
	// errno as a syscall.Errno, EINTR already retried; EAGAIN from
	// VIDIOC_DQBUF means no buffer is ready yet.
	Ioctl(req uintptr, arg unsafe.Pointer) error
	// Mmap maps length bytes of driver memory at offset (the m.offset of a
	// buffer from VIDIOC_QUERYBUF), shared and readable.
	Mmap(offset int64, length int) ([]byte, error)
	// Munmap unmaps a slice that Mmap returned.
	Munmap(b []byte) error
	// Poll waits up to timeout for a filled buffer or an error condition
	// (ready is true for both: VIDIOC_DQBUF then tells which). It returns
	// ready false when the timeout passed first.
	Poll(timeout time.Duration) (ready bool, err error)
	// Close closes the node.
	Close() error
}

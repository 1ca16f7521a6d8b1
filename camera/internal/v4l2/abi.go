// Package v4l2 is the part of the Linux kernel's Video4Linux2 API that catd
// needs to capture frames, in pure Go (no cgo): the structs and ioctl request
// numbers of <linux/videodev2.h>, a Device interface over an open video node
// with its real implementation on a file descriptor, and Stream, which
// negotiates a format, maps the driver's buffers and cycles them through
// VIDIOC_QBUF and VIDIOC_DQBUF.
//
// Constants keep their kernel names (VIDIOC_DQBUF, V4L2_PIX_FMT_YUYV) so they
// can be checked against the header by eye and by grep.
//
// The structs have the kernel's layout on linux/amd64, linux/arm64 and
// linux/arm. On 32-bit ARM, struct v4l2_buffer holds a struct timeval with
// the traditional 32-bit time_t (8 bytes, as Go's syscall.Timeval), which a
// 32-bit kernel accepts through its *_TIME32 ioctls and a 64-bit kernel
// through its compat layer (both need CONFIG_COMPAT_32BIT_TIME, which is on
// by default). abi_test.go pins every size, offset and request number
// against the values that testdata/abi.c prints when compiled with each
// architecture's kernel headers.
package v4l2

//lint:file-ignore ST1003 the names are the kernel's (see above)

import "unsafe"

// Buffer types, memory types and fields (enum v4l2_buf_type, v4l2_memory,
// v4l2_field).
const (
	V4L2_BUF_TYPE_VIDEO_CAPTURE = 1
	V4L2_MEMORY_MMAP            = 1
	V4L2_FIELD_ANY              = 0
	V4L2_FIELD_NONE             = 1
)

// Capabilities (v4l2_capability.capabilities and device_caps).
const (
	V4L2_CAP_VIDEO_CAPTURE        = 0x00000001
	V4L2_CAP_VIDEO_CAPTURE_MPLANE = 0x00001000
	V4L2_CAP_STREAMING            = 0x04000000
	V4L2_CAP_DEVICE_CAPS          = 0x80000000

	// V4L2_CAP_TIMEPERFRAME is in v4l2_captureparm.capability: the driver
	// takes a frame interval in timeperframe.
	V4L2_CAP_TIMEPERFRAME = 0x1000
)

// Pixel formats (fourcc codes, first character in the low byte).
const (
	V4L2_PIX_FMT_YUYV   = 'Y' | 'U'<<8 | 'Y'<<16 | 'V'<<24
	V4L2_PIX_FMT_MJPEG  = 'M' | 'J'<<8 | 'P'<<16 | 'G'<<24
	V4L2_PIX_FMT_JPEG   = 'J' | 'P'<<8 | 'E'<<16 | 'G'<<24
	V4L2_PIX_FMT_YUV420 = 'Y' | 'U'<<8 | '1'<<16 | '2'<<24
	V4L2_PIX_FMT_NV12   = 'N' | 'V'<<8 | '1'<<16 | '2'<<24
	V4L2_PIX_FMT_RGB24  = 'R' | 'G'<<8 | 'B'<<16 | '3'<<24
	V4L2_PIX_FMT_GREY   = 'G' | 'R'<<8 | 'E'<<16 | 'Y'<<24
)

// FourCC returns a pixel format code as its four characters ("YUYV").
func FourCC(code uint32) string {
	b := [4]byte{byte(code), byte(code >> 8), byte(code >> 16), byte(code >> 24)}
	for i, c := range b {
		if c < ' ' || c > '~' {
			b[i] = '?'
		}
	}
	return string(b[:])
}

// Buffer flags (v4l2_buffer.flags).
const (
	V4L2_BUF_FLAG_MAPPED              = 0x00000001
	V4L2_BUF_FLAG_QUEUED              = 0x00000002
	V4L2_BUF_FLAG_DONE                = 0x00000004
	V4L2_BUF_FLAG_ERROR               = 0x00000040
	V4L2_BUF_FLAG_TIMESTAMP_MASK      = 0x0000e000
	V4L2_BUF_FLAG_TIMESTAMP_UNKNOWN   = 0x00000000
	V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC = 0x00002000
	V4L2_BUF_FLAG_TIMESTAMP_COPY      = 0x00004000
)

// Capability is struct v4l2_capability (VIDIOC_QUERYCAP).
type Capability struct {
	Driver       [16]byte
	Card         [32]byte
	BusInfo      [32]byte
	Version      uint32
	Capabilities uint32 // of the whole physical device
	DeviceCaps   uint32 // of this node, valid when Capabilities has V4L2_CAP_DEVICE_CAPS
	Reserved     [3]uint32
}

// Caps returns the capabilities of the opened node: DeviceCaps when the
// driver fills it in, else Capabilities.
func (c *Capability) Caps() uint32 {
	if c.Capabilities&V4L2_CAP_DEVICE_CAPS != 0 {
		return c.DeviceCaps
	}
	return c.Capabilities
}

// PixFormat is struct v4l2_pix_format, the single-planar image format.
type PixFormat struct {
	Width        uint32 // pixels
	Height       uint32 // pixels
	PixelFormat  uint32 // fourcc, V4L2_PIX_FMT_*
	Field        uint32
	BytesPerLine uint32 // bytes from one row to the next (of the first plane); 0 for compressed formats
	SizeImage    uint32 // bytes of a whole frame (the largest one, for compressed formats)
	Colorspace   uint32
	Priv         uint32
	Flags        uint32
	YCbCrEnc     uint32 // union with hsv_enc
	Quantization uint32
	XferFunc     uint32
}

// Format is struct v4l2_format (VIDIOC_G_FMT, VIDIOC_S_FMT) for the
// single-planar buffer types. Its union fmt is 200 bytes and, because the
// struct v4l2_window member holds pointers, pointer-aligned: it starts at
// byte 8 on 64-bit architectures and at byte 4 on 32-bit ones.
type Format struct {
	Type uint32
	_    [0]uintptr // aligns the union like the kernel's
	Pix  PixFormat
	_    [200 - unsafe.Sizeof(PixFormat{})]byte
}

// Fract is struct v4l2_fract.
type Fract struct {
	Numerator, Denominator uint32
}

// CaptureParm is struct v4l2_captureparm.
type CaptureParm struct {
	Capability   uint32 // V4L2_CAP_TIMEPERFRAME
	CaptureMode  uint32
	TimePerFrame Fract // seconds per frame
	ExtendedMode uint32
	ReadBuffers  uint32
	Reserved     [4]uint32
}

// StreamParm is struct v4l2_streamparm (VIDIOC_G_PARM, VIDIOC_S_PARM) for
// capture; its union parm is 200 bytes of 32-bit fields.
type StreamParm struct {
	Type    uint32
	Capture CaptureParm
	_       [200 - unsafe.Sizeof(CaptureParm{})]byte
}

// RequestBuffers is struct v4l2_requestbuffers (VIDIOC_REQBUFS).
type RequestBuffers struct {
	Count        uint32
	Type         uint32
	Memory       uint32
	Capabilities uint32
	Flags        uint8
	Reserved     [3]uint8
}

// Timecode is struct v4l2_timecode.
type Timecode struct {
	Type     uint32
	Flags    uint32
	Frames   uint8
	Seconds  uint8
	Minutes  uint8
	Hours    uint8
	UserBits [4]uint8
}

// Timeval is the C struct timeval of struct v4l2_buffer: two C longs, which
// are Go ints on every Linux architecture Go supports (16 bytes on 64-bit,
// 8 on 32-bit).
type Timeval struct {
	Sec  int
	Usec int
}

// Buffer is struct v4l2_buffer (VIDIOC_QUERYBUF, VIDIOC_QBUF, VIDIOC_DQBUF).
//
// M is the union m { __u32 offset; unsigned long userptr; struct v4l2_plane
// *planes; __s32 fd; }, pointer-sized; for V4L2_MEMORY_MMAP read it with
// Offset.
type Buffer struct {
	Index     uint32
	Type      uint32
	BytesUsed uint32
	Flags     uint32
	Field     uint32
	Timestamp Timeval
	Timecode  Timecode
	Sequence  uint32
	Memory    uint32
	M         uintptr
	Length    uint32
	Reserved2 uint32
	RequestFD int32 // union with __u32 reserved
}

// Offset returns m.offset, the mmap offset of an MMAP buffer: the union's
// first four bytes, whatever the byte order.
func (b *Buffer) Offset() uint32 { return *(*uint32)(unsafe.Pointer(&b.M)) }

// SetOffset sets m.offset (for drivers, such as the fake in v4l2test).
func (b *Buffer) SetOffset(off uint32) {
	b.M = 0
	*(*uint32)(unsafe.Pointer(&b.M)) = off
}

// FmtDesc is struct v4l2_fmtdesc (VIDIOC_ENUM_FMT).
type FmtDesc struct {
	Index       uint32
	Type        uint32
	Flags       uint32
	Description [32]byte
	PixelFormat uint32
	MbusCode    uint32
	Reserved    [3]uint32
}

// The ioctl request encoding of asm-generic/ioctl.h, which x86, ARM and
// arm64 use: direction in bits 30-31, argument size in bits 16-29, type in
// bits 8-15, number in bits 0-7.
const (
	iocWrite = 1 << 30 // _IOC_WRITE: user space writes the argument
	iocRead  = 2 << 30 // _IOC_READ: user space reads it
	iocType  = 'V' << 8

	sizeCapability     = unsafe.Sizeof(Capability{}) << 16
	sizeFmtDesc        = unsafe.Sizeof(FmtDesc{}) << 16
	sizeFormat         = unsafe.Sizeof(Format{}) << 16
	sizeRequestBuffers = unsafe.Sizeof(RequestBuffers{}) << 16
	sizeBuffer         = unsafe.Sizeof(Buffer{}) << 16
	sizeInt            = unsafe.Sizeof(int32(0)) << 16
	sizeStreamParm     = unsafe.Sizeof(StreamParm{}) << 16
)

// Ioctl request numbers.
const (
	//lint:ignore SA4016 the | 0 is the ioctl number, spelled out as in _IOR('V', 0, …)
	VIDIOC_QUERYCAP  = iocRead | sizeCapability | iocType | 0                // _IOR('V', 0, struct v4l2_capability)
	VIDIOC_ENUM_FMT  = iocRead | iocWrite | sizeFmtDesc | iocType | 2        // _IOWR('V', 2, struct v4l2_fmtdesc)
	VIDIOC_G_FMT     = iocRead | iocWrite | sizeFormat | iocType | 4         // _IOWR('V', 4, struct v4l2_format)
	VIDIOC_S_FMT     = iocRead | iocWrite | sizeFormat | iocType | 5         // _IOWR('V', 5, struct v4l2_format)
	VIDIOC_REQBUFS   = iocRead | iocWrite | sizeRequestBuffers | iocType | 8 // _IOWR('V', 8, struct v4l2_requestbuffers)
	VIDIOC_QUERYBUF  = iocRead | iocWrite | sizeBuffer | iocType | 9         // _IOWR('V', 9, struct v4l2_buffer)
	VIDIOC_QBUF      = iocRead | iocWrite | sizeBuffer | iocType | 15        // _IOWR('V', 15, struct v4l2_buffer)
	VIDIOC_DQBUF     = iocRead | iocWrite | sizeBuffer | iocType | 17        // _IOWR('V', 17, struct v4l2_buffer)
	VIDIOC_STREAMON  = iocWrite | sizeInt | iocType | 18                     // _IOW('V', 18, int)
	VIDIOC_STREAMOFF = iocWrite | sizeInt | iocType | 19                     // _IOW('V', 19, int)
	VIDIOC_G_PARM    = iocRead | iocWrite | sizeStreamParm | iocType | 21    // _IOWR('V', 21, struct v4l2_streamparm)
	VIDIOC_S_PARM    = iocRead | iocWrite | sizeStreamParm | iocType | 22    // _IOWR('V', 22, struct v4l2_streamparm)
)

// IoctlName returns the name of an ioctl request number this package
// defines, for error messages and tests ("VIDIOC_DQBUF").
func IoctlName(req uintptr) string {
	switch req {
	case VIDIOC_QUERYCAP:
		return "VIDIOC_QUERYCAP"
	case VIDIOC_ENUM_FMT:
		return "VIDIOC_ENUM_FMT"
	case VIDIOC_G_FMT:
		return "VIDIOC_G_FMT"
	case VIDIOC_S_FMT:
		return "VIDIOC_S_FMT"
	case VIDIOC_REQBUFS:
		return "VIDIOC_REQBUFS"
	case VIDIOC_QUERYBUF:
		return "VIDIOC_QUERYBUF"
	case VIDIOC_QBUF:
		return "VIDIOC_QBUF"
	case VIDIOC_DQBUF:
		return "VIDIOC_DQBUF"
	case VIDIOC_STREAMON:
		return "VIDIOC_STREAMON"
	case VIDIOC_STREAMOFF:
		return "VIDIOC_STREAMOFF"
	case VIDIOC_G_PARM:
		return "VIDIOC_G_PARM"
	case VIDIOC_S_PARM:
		return "VIDIOC_S_PARM"
	}
	return "ioctl 0x" + hex32(uint32(req))
}

func hex32(v uint32) string {
	const digits = "0123456789abcdef"
	var b [8]byte
	for i := range b {
		b[7-i] = digits[v>>(4*i)&0xf]
	}
	return string(b[:])
}

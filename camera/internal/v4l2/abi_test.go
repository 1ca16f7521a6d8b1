package v4l2

import (
	"runtime"
	"testing"
	"unsafe"
)

// abiWant holds, per GOARCH, the sizes and offsets of the kernel structs and
// the ioctl request numbers as the kernel headers give them. The numbers
// were printed by testdata/abi.c, built against Debian bookworm's Linux 6.1
// UAPI headers (linux-libc-dev for amd64; linux-libc-dev-arm64-cross and
// the armhf cross headers with gcc-aarch64-linux-gnu and
// gcc-arm-linux-gnueabihf) and run natively and under qemu-user:
//
//	gcc -static -o abi testdata/abi.c && ./abi
//	aarch64-linux-gnu-gcc -static -o abi testdata/abi.c && qemu-aarch64-static ./abi
//	arm-linux-gnueabihf-gcc -static -o abi testdata/abi.c && qemu-arm-static ./abi
//
// armhf is built without -D_TIME_BITS=64: the traditional 32-bit time_t.
// (With it, struct v4l2_buffer is 80 bytes and the buffer ioctls are
// 0xc0505609, 0xc050560f, 0xc0505611; the kernel accepts both.)
var abiWant = map[string]map[string]uintptr{
	"amd64": abi64,
	"arm64": abi64,
	"arm": {
		"size v4l2_capability":                 104,
		"off v4l2_capability.capabilities":     84,
		"off v4l2_capability.device_caps":      88,
		"size v4l2_pix_format":                 48,
		"off v4l2_pix_format.bytesperline":     16,
		"off v4l2_pix_format.sizeimage":        20,
		"off v4l2_pix_format.xfer_func":        44,
		"size v4l2_format":                     204,
		"off v4l2_format.fmt":                  4,
		"size v4l2_fract":                      8,
		"size v4l2_captureparm":                40,
		"off v4l2_captureparm.timeperframe":    8,
		"off v4l2_captureparm.readbuffers":     20,
		"size v4l2_streamparm":                 204,
		"off v4l2_streamparm.parm":             4,
		"size v4l2_requestbuffers":             20,
		"off v4l2_requestbuffers.capabilities": 12,
		"off v4l2_requestbuffers.flags":        16,
		"size v4l2_timecode":                   16,
		"size v4l2_fmtdesc":                    64,
		"off v4l2_fmtdesc.pixelformat":         44,
		"off v4l2_fmtdesc.mbus_code":           48,
		"size v4l2_buffer":                     68,
		"off v4l2_buffer.field":                16,
		"off v4l2_buffer.timestamp":            20,
		"off v4l2_buffer.timecode":             28,
		"off v4l2_buffer.sequence":             44,
		"off v4l2_buffer.memory":               48,
		"off v4l2_buffer.m":                    52,
		"off v4l2_buffer.length":               56,
		"off v4l2_buffer.reserved2":            60,
		"off v4l2_buffer.request_fd":           64,
		"size timeval":                         8,
		"VIDIOC_QUERYCAP":                      0x80685600,
		"VIDIOC_ENUM_FMT":                      0xc0405602,
		"VIDIOC_G_FMT":                         0xc0cc5604,
		"VIDIOC_S_FMT":                         0xc0cc5605,
		"VIDIOC_REQBUFS":                       0xc0145608,
		"VIDIOC_QUERYBUF":                      0xc0445609,
		"VIDIOC_QBUF":                          0xc044560f,
		"VIDIOC_DQBUF":                         0xc0445611,
		"VIDIOC_STREAMON":                      0x40045612,
		"VIDIOC_STREAMOFF":                     0x40045613,
		"VIDIOC_G_PARM":                        0xc0cc5615,
		"VIDIOC_S_PARM":                        0xc0cc5616,
	},
}

// abi64 is the same on amd64 and arm64.
var abi64 = map[string]uintptr{
	"size v4l2_capability":                 104,
	"off v4l2_capability.capabilities":     84,
	"off v4l2_capability.device_caps":      88,
	"size v4l2_pix_format":                 48,
	"off v4l2_pix_format.bytesperline":     16,
	"off v4l2_pix_format.sizeimage":        20,
	"off v4l2_pix_format.xfer_func":        44,
	"size v4l2_format":                     208,
	"off v4l2_format.fmt":                  8,
	"size v4l2_fract":                      8,
	"size v4l2_captureparm":                40,
	"off v4l2_captureparm.timeperframe":    8,
	"off v4l2_captureparm.readbuffers":     20,
	"size v4l2_streamparm":                 204,
	"off v4l2_streamparm.parm":             4,
	"size v4l2_requestbuffers":             20,
	"off v4l2_requestbuffers.capabilities": 12,
	"off v4l2_requestbuffers.flags":        16,
	"size v4l2_timecode":                   16,
	"size v4l2_fmtdesc":                    64,
	"off v4l2_fmtdesc.pixelformat":         44,
	"off v4l2_fmtdesc.mbus_code":           48,
	"size v4l2_buffer":                     88,
	"off v4l2_buffer.field":                16,
	"off v4l2_buffer.timestamp":            24,
	"off v4l2_buffer.timecode":             40,
	"off v4l2_buffer.sequence":             56,
	"off v4l2_buffer.memory":               60,
	"off v4l2_buffer.m":                    64,
	"off v4l2_buffer.length":               72,
	"off v4l2_buffer.reserved2":            76,
	"off v4l2_buffer.request_fd":           80,
	"size timeval":                         16,
	"VIDIOC_QUERYCAP":                      0x80685600,
	"VIDIOC_ENUM_FMT":                      0xc0405602,
	"VIDIOC_G_FMT":                         0xc0d05604,
	"VIDIOC_S_FMT":                         0xc0d05605,
	"VIDIOC_REQBUFS":                       0xc0145608,
	"VIDIOC_QUERYBUF":                      0xc0585609,
	"VIDIOC_QBUF":                          0xc058560f,
	"VIDIOC_DQBUF":                         0xc0585611,
	"VIDIOC_STREAMON":                      0x40045612,
	"VIDIOC_STREAMOFF":                     0x40045613,
	"VIDIOC_G_PARM":                        0xc0cc5615,
	"VIDIOC_S_PARM":                        0xc0cc5616,
}

// abiGot measures the Go side, under the same keys.
func abiGot() map[string]uintptr {
	var (
		c  Capability
		p  PixFormat
		f  Format
		cp CaptureParm
		sp StreamParm
		rb RequestBuffers
		fd FmtDesc
		b  Buffer
	)
	return map[string]uintptr{
		"size v4l2_capability":                 unsafe.Sizeof(c),
		"off v4l2_capability.capabilities":     unsafe.Offsetof(c.Capabilities),
		"off v4l2_capability.device_caps":      unsafe.Offsetof(c.DeviceCaps),
		"size v4l2_pix_format":                 unsafe.Sizeof(p),
		"off v4l2_pix_format.bytesperline":     unsafe.Offsetof(p.BytesPerLine),
		"off v4l2_pix_format.sizeimage":        unsafe.Offsetof(p.SizeImage),
		"off v4l2_pix_format.xfer_func":        unsafe.Offsetof(p.XferFunc),
		"size v4l2_format":                     unsafe.Sizeof(f),
		"off v4l2_format.fmt":                  unsafe.Offsetof(f.Pix),
		"size v4l2_fract":                      unsafe.Sizeof(Fract{}),
		"size v4l2_captureparm":                unsafe.Sizeof(cp),
		"off v4l2_captureparm.timeperframe":    unsafe.Offsetof(cp.TimePerFrame),
		"off v4l2_captureparm.readbuffers":     unsafe.Offsetof(cp.ReadBuffers),
		"size v4l2_streamparm":                 unsafe.Sizeof(sp),
		"off v4l2_streamparm.parm":             unsafe.Offsetof(sp.Capture),
		"size v4l2_requestbuffers":             unsafe.Sizeof(rb),
		"off v4l2_requestbuffers.capabilities": unsafe.Offsetof(rb.Capabilities),
		"off v4l2_requestbuffers.flags":        unsafe.Offsetof(rb.Flags),
		"size v4l2_timecode":                   unsafe.Sizeof(Timecode{}),
		"size v4l2_fmtdesc":                    unsafe.Sizeof(fd),
		"off v4l2_fmtdesc.pixelformat":         unsafe.Offsetof(fd.PixelFormat),
		"off v4l2_fmtdesc.mbus_code":           unsafe.Offsetof(fd.MbusCode),
		"size v4l2_buffer":                     unsafe.Sizeof(b),
		"off v4l2_buffer.field":                unsafe.Offsetof(b.Field),
		"off v4l2_buffer.timestamp":            unsafe.Offsetof(b.Timestamp),
		"off v4l2_buffer.timecode":             unsafe.Offsetof(b.Timecode),
		"off v4l2_buffer.sequence":             unsafe.Offsetof(b.Sequence),
		"off v4l2_buffer.memory":               unsafe.Offsetof(b.Memory),
		"off v4l2_buffer.m":                    unsafe.Offsetof(b.M),
		"off v4l2_buffer.length":               unsafe.Offsetof(b.Length),
		"off v4l2_buffer.reserved2":            unsafe.Offsetof(b.Reserved2),
		"off v4l2_buffer.request_fd":           unsafe.Offsetof(b.RequestFD),
		"size timeval":                         unsafe.Sizeof(Timeval{}),
		"VIDIOC_QUERYCAP":                      VIDIOC_QUERYCAP,
		"VIDIOC_ENUM_FMT":                      VIDIOC_ENUM_FMT,
		"VIDIOC_G_FMT":                         VIDIOC_G_FMT,
		"VIDIOC_S_FMT":                         VIDIOC_S_FMT,
		"VIDIOC_REQBUFS":                       VIDIOC_REQBUFS,
		"VIDIOC_QUERYBUF":                      VIDIOC_QUERYBUF,
		"VIDIOC_QBUF":                          VIDIOC_QBUF,
		"VIDIOC_DQBUF":                         VIDIOC_DQBUF,
		"VIDIOC_STREAMON":                      VIDIOC_STREAMON,
		"VIDIOC_STREAMOFF":                     VIDIOC_STREAMOFF,
		"VIDIOC_G_PARM":                        VIDIOC_G_PARM,
		"VIDIOC_S_PARM":                        VIDIOC_S_PARM,
	}
}

// TestABI checks the Go structs and request numbers against the kernel's
// for the architecture the test runs on; run it under qemu-user for the
// others (GOARCH=arm64 go test -exec qemu-aarch64-static, GOARCH=arm GOARM=7
// go test -exec qemu-arm-static).
func TestABI(t *testing.T) {
	want, ok := abiWant[runtime.GOARCH]
	if !ok {
		t.Skipf("no kernel ABI table for GOARCH=%s", runtime.GOARCH)
	}
	got := abiGot()
	if len(got) != len(want) {
		t.Fatalf("measured %d items, the table has %d", len(got), len(want))
	}
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("%s: not measured", k)
		case g != w:
			t.Errorf("%s = %d (%#x), kernel headers say %d (%#x)", k, g, g, w, w)
		}
	}
	for _, k := range []string{"VIDIOC_QUERYCAP", "VIDIOC_DQBUF", "VIDIOC_STREAMON"} {
		if name := IoctlName(got[k]); name != k {
			t.Errorf("IoctlName(%#x) = %q, want %q", got[k], name, k)
		}
	}
}

func TestConstants(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want uint32
	}{
		// Values printed by testdata/abi.c.
		{"V4L2_PIX_FMT_YUYV", V4L2_PIX_FMT_YUYV, 0x56595559},
		{"V4L2_PIX_FMT_MJPEG", V4L2_PIX_FMT_MJPEG, 0x47504a4d},
		{"V4L2_PIX_FMT_JPEG", V4L2_PIX_FMT_JPEG, 0x4745504a},
		{"V4L2_PIX_FMT_YUV420", V4L2_PIX_FMT_YUV420, 0x32315559},
		{"V4L2_PIX_FMT_NV12", V4L2_PIX_FMT_NV12, 0x3231564e},
		{"V4L2_PIX_FMT_RGB24", V4L2_PIX_FMT_RGB24, 0x33424752},
		{"V4L2_PIX_FMT_GREY", V4L2_PIX_FMT_GREY, 0x59455247},
		{"V4L2_CAP_VIDEO_CAPTURE", V4L2_CAP_VIDEO_CAPTURE, 0x1},
		{"V4L2_CAP_STREAMING", V4L2_CAP_STREAMING, 0x4000000},
		{"V4L2_CAP_DEVICE_CAPS", V4L2_CAP_DEVICE_CAPS, 0x80000000},
		{"V4L2_CAP_TIMEPERFRAME", V4L2_CAP_TIMEPERFRAME, 0x1000},
		{"V4L2_BUF_FLAG_ERROR", V4L2_BUF_FLAG_ERROR, 0x40},
		{"V4L2_BUF_FLAG_TIMESTAMP_MASK", V4L2_BUF_FLAG_TIMESTAMP_MASK, 0xe000},
		{"V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC", V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC, 0x2000},
		{"V4L2_BUF_TYPE_VIDEO_CAPTURE", V4L2_BUF_TYPE_VIDEO_CAPTURE, 1},
		{"V4L2_MEMORY_MMAP", V4L2_MEMORY_MMAP, 1},
		{"V4L2_FIELD_NONE", V4L2_FIELD_NONE, 1},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
	if s := FourCC(V4L2_PIX_FMT_MJPEG); s != "MJPG" {
		t.Errorf("FourCC(MJPEG) = %q", s)
	}
	if s := FourCC(0x00ff4142); s != "BA??" {
		t.Errorf("FourCC(0x00ff4142) = %q", s)
	}
}

func TestBufferOffset(t *testing.T) {
	var b Buffer
	b.M = ^uintptr(0)
	b.SetOffset(0x12345678)
	if got := b.Offset(); got != 0x12345678 {
		t.Errorf("Offset() = %#x after SetOffset(0x12345678)", got)
	}
}

// Package camera captures frames from image sources: synthetic test
// patterns, image and MJPEG files, folders that other programs drop images
// into, the output of camera commands (rpicam-vid, ffmpeg), and MJPEG
// from cameras' web servers (ESP32-CAM, IP cameras). V4L2 capture devices
// (USB webcams) are read directly, in pure Go.
//
// A source is chosen by a URI and opened with Open. Frames are written into
// caller-owned Frame values whose Data capacity is reused, so a steady stream
// of frames of the same size does not allocate.
//
// Raw pixel formats are row-major with Stride bytes from one row to the next
// (HWC, channels interleaved, for RGB24; planar Y then chroma for I420 and
// NV12).
//
// A corrupt frame (a broken JPEG, a truncated PNG, junk in an MJPEG stream)
// never stops a source: it is counted in Stats, logged at a limited rate, and
// skipped.
package camera

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
)

// Format is the pixel or encoding format of a Frame.
type Format int

// The formats a Frame can hold. JPEG and PNG frames hold a whole encoded
// file in Data; the others are raw pixels.
const (
	FormatUnknown Format = iota
	JPEG                 // JPEG file (for MJPEG sources: one frame)
	PNG                  // PNG file
	RGB24                // 3 bytes per pixel: R, G, B
	YUYV                 // 4:2:2 packed: Y0 U Y1 V for each pair of pixels
	I420                 // 4:2:0 planar: Y plane, then U, then V at half size
	NV12                 // 4:2:0: Y plane, then interleaved U V at half size
	Gray8                // 1 byte per pixel
)

var formatNames = [...]string{
	FormatUnknown: "unknown",
	JPEG:          "jpeg",
	PNG:           "png",
	RGB24:         "rgb24",
	YUYV:          "yuyv",
	I420:          "i420",
	NV12:          "nv12",
	Gray8:         "gray8",
}

// String returns the lower-case name of f, as used in URIs ("rgb24", "yuyv").
func (f Format) String() string {
	if f >= 0 && int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Encoded reports whether f is a compressed file format (JPEG, PNG) whose
// size is only known once decoded.
func (f Format) Encoded() bool { return f == JPEG || f == PNG }

// Frame is one captured image.
//
// The caller owns a Frame and its Data; a Source writes into it and keeps no
// reference to it once Next returns. Data is resliced from its existing
// capacity when large enough, so reusing one Frame avoids allocations.
type Frame struct {
	// Seq is the frame's sequence number within its source, starting at 1.
	// It grows by one per frame read; a gap means frames were skipped
	// (corrupt) or dropped.
	Seq uint64
	// Time is when the frame was captured (for dir: the file's
	// modification time; for exec: when it had been read from the command).
	Time time.Time
	// Format tells how Data is laid out.
	Format Format
	// W and H are the size in pixels and Stride the bytes from one row to
	// the next, for raw formats; all three are 0 for JPEG and PNG, whose
	// size is unknown until decoded.
	W, H, Stride int
	// Data holds the pixels or the encoded file.
	Data []byte
}

// Source delivers frames.
//
// Next blocks until the next frame is ready (or ctx is done, or the source
// is closed) and writes it into f, reusing f.Data's capacity. The caller
// owns f; the source keeps no reference to it after Next returns. Next
// returns io.EOF when a finite source (file:...?loop=false) has no more
// frames and ErrClosed after Close. Next must not be called concurrently
// with itself. After an error, f's contents are unspecified (its Data may
// have grown).
//
// Close releases the device, file, watch or command; it may be called from another
// goroutine while Next is blocked, and makes that Next return ErrClosed
// promptly. Close is idempotent.
//
// String returns the URI the source was opened with.
type Source interface {
	Next(ctx context.Context, f *Frame) error
	Close() error
	String() string
}

// Stats counts what a source has done since it was opened.
type Stats struct {
	Frames  uint64 // frames delivered by Next
	Corrupt uint64 // frames or files counted as corrupt and skipped
}

// StatsReporter is implemented by every Source that Open returns.
// Stats may be called from any goroutine.
type StatsReporter interface {
	Stats() Stats
}

// BackPressure is implemented by the sources that can leave the pace to
// their reader.
type BackPressure interface {
	// WaitsForReader reports whether the source reads a frame only when
	// Next asks for it and loses nothing by being asked late (file: with
	// fps=max). A reader that keeps only the latest frame should then wait
	// until it has used the frame before reading the next, so that every
	// frame is used, in order, and none is read only to be dropped. Live
	// sources (cameras, test:, files played at a frame rate) do not wait:
	// their frames come when they come and the reader keeps the newest.
	WaitsForReader() bool
}

// WaitsForReader reports whether src implements BackPressure and waits for
// its reader.
func WaitsForReader(src Source) bool {
	b, ok := src.(BackPressure)
	return ok && b.WaitsForReader()
}

// ErrClosed is returned by Next once the source has been closed.
var ErrClosed = errors.New("camera: source closed")

// Options configures Open. Query parameters in the URI override the fields.
type Options struct {
	// Log receives warnings (corrupt frames, rate-limited) and, for exec:,
	// the command's stderr lines (info, or warn for lines that mention an
	// error or failure; rate-limited) and its exits. The zero Logger
	// discards them.
	Log zerolog.Logger
	// FPS is the frame rate in Hz for file: and test: sources; 0 means 10.
	FPS float64
	// W and H are the size in pixels of test: frames; 0 means 320×240.
	W, H int
}

const (
	defaultFPS = 10
	defaultW   = 320
	defaultH   = 240
	// defaultMaxFrame is the largest encoded frame or image file, in
	// bytes, that a source reads (query parameter max).
	defaultMaxFrame = 32 << 20
	// corruptLogEvery is the shortest interval between two corrupt-frame
	// warnings of one source; the ones in between are counted.
	corruptLogEvery = 5 * time.Second
)

// Check reports whether uri names a source Open knows and spells its
// options right, without opening anything (no file, device or command is
// touched), so a config file can be refused before the running source is
// replaced.
func Check(uri string) error {
	u, err := parseURI(uri)
	if err == nil {
		switch u.scheme {
		case "test":
			_, err = parseTestConfig(u, Options{})
		case "file":
			_, err = parseFileConfig(u, Options{})
		case "dir":
			_, err = parseDirConfig(u)
		case "exec":
			_, err = parseExecConfig(u)
		case "http", "https":
			_, err = parseHTTPConfig(u)
		case "v4l2":
			_, err = parseV4L2Config(u)
		}
	}
	if err != nil {
		return fmt.Errorf("camera: %q: %w", Redact(uri), err)
	}
	return nil
}

// Open opens the source named by uri:
//
//	test:?w=320&h=240&fps=10&format=rgb24   synthetic moving pattern (format rgb24 or yuyv)
//	file:PATH?fps=10&loop=true&max=BYTES    a JPEG or PNG file, a folder of them (name order),
//	                                        or an MJPEG file (concatenated JPEGs), played at fps
//	                                        (fps=max: every frame, as fast as they are taken)
//	dir:PATH?settle=100ms&timeout=2s&max=BYTES&keep=false
//	                                        new JPEG/PNG files appearing in a folder, once each,
//	                                        removed once read unless keep=true; the folder is
//	                                        made if missing
//	exec:COMMAND LINE                       MJPEG on a command's stdout
//	exec:?format=i420&w=640&h=480 -- COMMAND LINE
//	                                        raw frames of that size on a command's stdout
//	http://HOST[:PORT]/PATH?CAMERA'S QUERY#timeout=10s&connect=10s&max=BYTES
//	https://…                               MJPEG from a camera's web server (ESP32-CAM, IP cameras)
//	v4l2:DEVICE?width=640&height=480&format=yuyv&fps=10&buffers=4
//	                                        a V4L2 capture device (USB webcam)
//
// PATH may also be written file:///abs/path. Errors name the URI and the
// problem; unknown query parameters are errors.
//
// For file:, fps is the frame rate in Hz (0.001 to 1e9; default 10): the
// frames come on that clock whether or not the reader keeps up, as a
// camera's do, and a reader that keeps only the latest frame drops the
// others. fps=max (any case) plays the file as fast as the reader takes
// it instead: no pacing, each frame is read when Next asks for it, and
// the source reports WaitsForReader (see BackPressure), so a pipeline
// uses every frame, in order, and reads none only to drop it; for
// benchmarks and for replaying a recording frame by frame.
//
// For exec:, options come as a query between "exec:?" and a " -- " word,
// and everything after it is the command line; without a leading '?' the
// whole rest is the command line and the output is MJPEG:
//
//	exec:rpicam-vid -t 0 -n --width 640 --height 480 --codec mjpeg -o -
//	exec:ffmpeg -nostdin -loglevel warning -f v4l2 -i /dev/video0 -f mjpeg -
//	exec:?format=i420&w=640&h=480 -- rpicam-vid -t 0 -n --width 640 --height 480 --codec yuv420 -o -
//
// The options are format (mjpeg, the default; or i420, nv12, yuyv, rgb24,
// gray8), w and h (required for the raw formats, in pixels; frames are read
// as packed w×h images, so pick a width rpicam-vid does not pad: a multiple
// of 64 for yuv420), max (largest MJPEG frame in bytes) and env (names of
// catd's environment variables the command gets, comma-separated:
// env=LIBCAMERA_LOG_LEVELS,XDG_RUNTIME_DIR). The command does not inherit
// catd's environment, which under systemd holds NOTIFY_SOCKET and may hold
// secrets: it gets PATH (a default when catd has none), HOME, LANG, LC_*
// and TZ, and what env names (see package internal/childenv). MJPEG frames
// without Huffman tables get the standard ones. The command line is split
// into words like a shell's simple command ('…', "…", backslash) but no
// shell is run: use exec:sh -c '…' for pipes. The command is looked up in
// PATH when Open is called (a missing one is an error), its stderr is
// logged (rate-limited), and when it exits it is restarted with backoff
// (0.5 s doubling to 30 s); Close stops its process group.
//
// For http: and https:, the URI up to '#' is the camera's own URL, sent as
// it is (its query belongs to the camera); catd's options come after '#',
// written like a query, since a fragment never reaches the server:
//
//	http://192.168.1.50:81/stream
//	http://admin:secret@192.168.1.64/video.mjpg?resolution=640x480#timeout=5s&max=4000000
//
// The options are timeout (no bytes for this long closes the connection;
// default 10s), connect (limit for the TCP connection and TLS handshake;
// default 10s) and max (largest frame in bytes, default 8 MiB; a larger
// part is dropped and counted as corrupt). The response may be
// multipart/x-mixed-replace, read as leniently as cameras need (boundary
// with or without dashes, missing line breaks, Content-Length present or
// not), or bare MJPEG. Open does not connect: the source connects in the
// background and reconnects with backoff (0.5 s doubling to 30 s, back to
// 0.5 s once a frame arrives) after an error, the end of the stream, a
// stall, or a status other than 200; the outage and the recovery are
// logged (rate-limited). A user and password in the URL are sent as HTTP
// basic authentication and replaced by xxxxx in String, logs and errors
// (see Redact); characters such as @ : / in them must be percent-encoded.
//
// For v4l2:, DEVICE is the video node's absolute path: /dev/video0, or
// better a stable name from /dev/v4l/by-id/. The options are width and
// height (pixels, default 640×480; w and h also work), format (yuyv, the
// default; mjpeg; or i420, nv12, rgb24, gray8 where the driver offers
// them), fps (frame rate in Hz; by default the driver's) and buffers (2 to
// 32, default 4). The driver may pick another size, fewer buffers or
// another rate: frames carry the size it set, and the changes are logged.
// MJPEG frames without Huffman tables get the standard ones. Open opens the
// device and starts streaming (errors such as a missing device or a
// refused format are returned); afterwards, a device that fails or is
// unplugged is closed and reopened with backoff (0.5 s doubling to 30 s)
// while Next keeps waiting, with the outage and the recovery logged. Close
// stops streaming, unmaps the buffers and closes the device. Only on Linux.
func Open(uri string, opt Options) (Source, error) {
	u, err := parseURI(uri)
	if err != nil {
		return nil, fmt.Errorf("camera: open %q: %w", Redact(uri), err)
	}
	var s Source
	switch u.scheme {
	case "test":
		var c testConfig
		if c, err = parseTestConfig(u, opt); err == nil {
			s = newTestSource(uri, c, opt.Log, realClock())
		}
	case "file":
		var c fileConfig
		if c, err = parseFileConfig(u, opt); err == nil {
			s, err = openFile(uri, c, opt.Log, realClock())
		}
	case "dir":
		var c dirConfig
		if c, err = parseDirConfig(u); err == nil {
			s, err = openDir(uri, c, opt.Log)
		}
	case "exec":
		var c execConfig
		if c, err = parseExecConfig(u); err == nil {
			s, err = openExec(uri, c, opt.Log)
		}
	case "http", "https":
		var c httpConfig
		if c, err = parseHTTPConfig(u); err == nil {
			s = openHTTP(uri, c, opt.Log)
		}
	case "v4l2":
		var c v4l2Config
		if c, err = parseV4L2Config(u); err == nil {
			s, err = openV4L2(uri, c, opt.Log)
		}
	default:
		panic("camera: parseURI returned unknown scheme " + u.scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("camera: open %q: %w", Redact(uri), err)
	}
	return s, nil
}

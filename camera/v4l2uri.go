package camera

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// v4l2Config is a parsed v4l2: URI.
type v4l2Config struct {
	path    string
	w, h    int     // asked for; the driver may pick another size
	format  Format  // YUYV, JPEG, I420, NV12, RGB24 or Gray8
	fps     float64 // Hz; 0 keeps the driver's rate
	buffers int

	// Timing; tests shorten it.
	pollSlice    time.Duration // longest single poll, so ctx and Close are noticed
	noFrame      time.Duration // wait before "no frame" is logged
	noFrameEvery time.Duration // and between two such warnings
	backoffMin   time.Duration // reopen delays double from backoffMin to backoffMax
	backoffMax   time.Duration
	resetAfter   time.Duration // frames for this long reset the delay to backoffMin
}

const (
	defaultV4L2W       = 640
	defaultV4L2H       = 480
	defaultV4L2Buffers = 4
)

func parseV4L2Config(u sourceURI) (v4l2Config, error) {
	c := v4l2Config{
		path:         u.path,
		format:       YUYV,
		pollSlice:    50 * time.Millisecond,
		noFrame:      2 * time.Second,
		noFrameEvery: 30 * time.Second,
		backoffMin:   500 * time.Millisecond,
		backoffMax:   30 * time.Second,
		resetAfter:   10 * time.Second,
	}
	if !strings.HasPrefix(c.path, "/") {
		return c, errors.New("v4l2: needs the device's absolute path (v4l2:/dev/video0 or v4l2:/dev/v4l/by-id/...)")
	}
	var err error
	for _, d := range []struct {
		name, alias string
		v           *int
		def         int
	}{{"width", "w", &c.w, defaultV4L2W}, {"height", "h", &c.h, defaultV4L2H}} {
		k := d.name
		if _, ok := u.q[d.alias]; ok {
			if _, both := u.q[d.name]; both {
				return c, fmt.Errorf("%s= and %s= both given", d.name, d.alias)
			}
			k = d.alias
		}
		if *d.v, err = u.int(k, d.def, 1, maxSide); err != nil {
			return c, err
		}
	}
	if s, ok := u.take("format"); ok {
		switch strings.ToLower(s) {
		case "yuyv", "yuy2":
			c.format = YUYV
		case "mjpeg", "mjpg", "jpeg":
			c.format = JPEG
		case "i420", "yuv420", "yu12":
			c.format = I420
		case "nv12":
			c.format = NV12
		case "rgb24", "rgb":
			c.format = RGB24
		case "gray8", "gray", "grey":
			c.format = Gray8
		default:
			return c, fmt.Errorf("format=%q: want yuyv, mjpeg, i420, nv12, rgb24 or gray8", s)
		}
	}
	if c.fps, err = u.float("fps", 0, 0, 1000); err != nil {
		return c, err
	}
	if c.buffers, err = u.int("buffers", defaultV4L2Buffers, 2, 32); err != nil {
		return c, err
	}
	return c, u.leftover()
}

package camera

import (
	"slices"
	"strings"
	"testing"
)

func TestParseV4L2Config(t *testing.T) {
	for _, tc := range []struct {
		uri     string
		want    v4l2Config // compared on path, w, h, format, fps, buffers
		wantErr string
	}{
		{"v4l2:/dev/video0", v4l2Config{path: "/dev/video0", w: 640, h: 480, format: YUYV, buffers: 4}, ""},
		{"v4l2:///dev/video0", v4l2Config{path: "/dev/video0", w: 640, h: 480, format: YUYV, buffers: 4}, ""},
		{"v4l2:/dev/video2?width=1280&height=720&format=mjpeg&fps=7.5&buffers=8",
			v4l2Config{path: "/dev/video2", w: 1280, h: 720, format: JPEG, fps: 7.5, buffers: 8}, ""},
		{"v4l2:/dev/v4l/by-id/usb-Cam_123-video-index0?w=320&h=240&format=MJPG",
			v4l2Config{path: "/dev/v4l/by-id/usb-Cam_123-video-index0", w: 320, h: 240, format: JPEG, buffers: 4}, ""},
		{"v4l2:/dev/video0?format=yuy2&fps=0&buffers=2", v4l2Config{path: "/dev/video0", w: 640, h: 480, format: YUYV, buffers: 2}, ""},
		{"v4l2:/dev/video0?format=i420", v4l2Config{path: "/dev/video0", w: 640, h: 480, format: I420, buffers: 4}, ""},
		{"v4l2:/dev/video0?format=nv12", v4l2Config{path: "/dev/video0", w: 640, h: 480, format: NV12, buffers: 4}, ""},
		{"v4l2:/dev/video0?format=rgb24", v4l2Config{path: "/dev/video0", w: 640, h: 480, format: RGB24, buffers: 4}, ""},
		{"v4l2:/dev/video0?format=grey", v4l2Config{path: "/dev/video0", w: 640, h: 480, format: Gray8, buffers: 4}, ""},

		{"v4l2:", v4l2Config{}, "absolute path"},
		{"v4l2:video0", v4l2Config{}, "absolute path"},
		{"v4l2://cam/dev/video0", v4l2Config{}, `host "cam"`},
		{"v4l2:/dev/video0?width=0", v4l2Config{}, `width="0"`},
		{"v4l2:/dev/video0?height=9000", v4l2Config{}, `height="9000"`},
		{"v4l2:/dev/video0?w=320&width=320", v4l2Config{}, "width= and w= both given"},
		{"v4l2:/dev/video0?format=h264", v4l2Config{}, `format="h264"`},
		{"v4l2:/dev/video0?fps=-1", v4l2Config{}, `fps="-1"`},
		{"v4l2:/dev/video0?fps=NaN", v4l2Config{}, `fps="NaN"`},
		{"v4l2:/dev/video0?buffers=1", v4l2Config{}, `buffers="1"`},
		{"v4l2:/dev/video0?buffers=33", v4l2Config{}, `buffers="33"`},
		{"v4l2:/dev/video0?loop=true", v4l2Config{}, `unknown query parameter "loop" for a v4l2: source`},
		{"v4l2:/dev/video0?fps=5&fps=6", v4l2Config{}, "given 2 times"},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			u, err := parseURI(tc.uri)
			var c v4l2Config
			if err == nil {
				c, err = parseV4L2Config(u)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				if Check(tc.uri) == nil {
					t.Errorf("Check(%q) accepts it", tc.uri)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w := tc.want
			if c.path != w.path || c.w != w.w || c.h != w.h || c.format != w.format || c.fps != w.fps || c.buffers != w.buffers {
				t.Errorf("got path %q %dx%d %v fps %v buffers %d, want path %q %dx%d %v fps %v buffers %d",
					c.path, c.w, c.h, c.format, c.fps, c.buffers, w.path, w.w, w.h, w.format, w.fps, w.buffers)
			}
			if c.pollSlice <= 0 || c.noFrame <= 0 || c.backoffMin != 500e6 || c.backoffMax != 30e9 {
				t.Errorf("timing %+v", c)
			}
			// Check touches no device: these paths do not exist here.
			if err := Check(tc.uri); err != nil {
				t.Errorf("Check(%q) = %v", tc.uri, err)
			}
		})
	}
}

// FuzzV4L2Config checks that parsing any v4l2: URI neither panics nor
// accepts values out of range.
func FuzzV4L2Config(f *testing.F) {
	for _, s := range []string{"/dev/video0", "/dev/video0?width=1280&height=720&format=mjpeg&fps=7.5&buffers=8",
		"///dev/video0?w=1&h=8192", "/x?format=nv12&fps=1000", "/x?fps=1e-300", "/x?buffers=%zz", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rest string) {
		u, err := parseURI("v4l2:" + rest)
		if err != nil {
			return
		}
		c, err := parseV4L2Config(u)
		if err != nil {
			return
		}
		if !strings.HasPrefix(c.path, "/") || c.w < 1 || c.w > maxSide || c.h < 1 || c.h > maxSide ||
			!(c.fps >= 0 && c.fps <= 1000) || c.buffers < 2 || c.buffers > 32 || !slices.Contains([]Format{YUYV, JPEG, I420, NV12, RGB24, Gray8}, c.format) {
			t.Fatalf("v4l2:%s parsed to %+v", rest, c)
		}
	})
}

package camera

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenURI(t *testing.T) {
	dir := t.TempDir()
	jpg := filepath.Join(dir, "a.jpg")
	if err := os.WriteFile(jpg, makeJPEG(t, 16, 16, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	txt := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(txt, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, uri string
		opt       Options
		wantErr   string // "" for success; else a substring of the error
	}{
		{"test default", "test:", Options{}, ""},
		{"test params", "test:?w=64&h=48&fps=15", Options{}, ""},
		{"test yuyv", "test:?format=yuyv", Options{}, ""},
		{"test options", "test:", Options{FPS: 30, W: 640, H: 480}, ""},
		{"scheme case", "TEST:", Options{}, ""},
		{"file jpeg", "file:" + jpg, Options{}, ""},
		{"file triple slash", "file://" + jpg, Options{}, ""},
		{"file localhost", "file://localhost" + jpg, Options{}, ""},
		{"file params", "file:" + jpg + "?fps=5&loop=false", Options{}, ""},
		{"file folder", "file:" + dir, Options{}, ""},
		{"file fps max", "file:" + jpg + "?fps=max", Options{}, ""},
		{"file fps MAX", "file:" + jpg + "?fps=MAX&loop=false", Options{}, ""},
		{"dir", "dir:" + dir, Options{}, ""},
		{"dir params", "dir:" + dir + "?settle=50ms&timeout=1s", Options{}, ""},
		{"exec mjpeg", "exec:sleep 10", Options{}, ""},
		{"exec question mark in command", "exec:sleep 10 ?x=1", Options{}, ""}, // sleep fails; Open does not wait
		{"exec raw", "exec:?format=i420&w=64&h=48 -- sleep 10", Options{}, ""},
		{"exec options", "exec:?format=mjpeg&max=4096 \t--  sleep  '10'", Options{}, ""},

		{"no scheme", "/dev/video0", Options{}, "no scheme"},
		{"empty", "", Options{}, "no scheme"},
		{"unknown scheme", "rtsp://cam/stream", Options{}, `unknown scheme "rtsp" (supported: dir, exec, file, http, https, test, v4l2)`},
		{"v4l2 missing device", "v4l2:/nonexistent/video9", Options{}, "open /nonexistent/video9: no such file or directory"},
		{"v4l2 not a device", "v4l2:/dev/null?format=mjpeg", Options{}, "/dev/null: VIDIOC_QUERYCAP: "}, // ENOTTY; ENOSYS under qemu-user
		{"v4l2 relative path", "v4l2:video0", Options{}, "absolute path"},
		{"v4l2 bad format", "v4l2:/dev/video0?format=h264", Options{}, `format="h264"`},
		{"v4l2 unknown param", "v4l2:/dev/video0?fps=5&rate=3", Options{}, `unknown query parameter "rate"`},
		{"test path", "test:/x", Options{}, "takes no path"},
		{"test bad w", "test:?w=abc", Options{}, `w="abc"`},
		{"test small h", "test:?h=2", Options{}, `h="2"`},
		{"test huge w", "test:?w=100000", Options{}, `w="100000"`},
		{"test zero fps", "test:?fps=0", Options{}, `fps="0"`},
		{"test nan fps", "test:?fps=NaN", Options{}, `fps="NaN"`},
		{"test bad format", "test:?format=mjpeg", Options{}, `format="mjpeg"`},
		{"test odd yuyv", "test:?format=yuyv&w=33", Options{}, "even width"},
		{"test unknown param", "test:?width=3", Options{}, `unknown query parameter "width"`},
		{"test repeated param", "test:?w=32&w=64", Options{}, "given 2 times"},
		{"test bad query", "test:?w=%zz", Options{}, "query"},
		{"test bad option fps", "test:", Options{FPS: -1}, "Options.FPS"},
		{"file no path", "file:", Options{}, "needs a path"},
		{"file missing", "file:" + dir + "/nope.jpg", Options{}, "nope.jpg"},
		{"file not image", "file:" + txt, Options{}, "notes.txt is neither"},
		{"file empty folder", "file:" + empty, Options{}, "has no .jpg"},
		{"file bad loop", "file:" + jpg + "?loop=maybe", Options{}, `loop="maybe"`},
		{"file bad fps", "file:" + jpg + "?fps=fast", Options{}, `fps="fast": want a number in [0.001, 1e+09], or max`},
		{"file zero fps", "file:" + jpg + "?fps=0", Options{}, `fps="0"`},
		{"file empty fps", "file:" + jpg + "?fps=", Options{}, `fps="": want a number`},
		{"file fps maximum", "file:" + jpg + "?fps=maximum", Options{}, `fps="maximum"`},
		{"file host", "file://cam" + jpg, Options{}, `host "cam"`},
		{"dir under a file", "dir:" + jpg + "/sub", Options{}, "a.jpg/sub: not a directory"},
		{"dir file", "dir:" + jpg, Options{}, "is not a folder"},
		{"dir bad keep", "dir:" + dir + "?keep=sometimes", Options{}, `keep="sometimes"`},
		{"dir bad settle", "dir:" + dir + "?settle=fast", Options{}, `settle="fast"`},
		{"dir no path", "dir:", Options{}, "needs a path"},
		{"exec empty", "exec:", Options{}, "needs a command line"},
		{"exec blank", "exec:  '' ", Options{}, "command name is empty"},
		{"exec options only", "exec:?format=i420&w=64&h=48 --", Options{}, "needs a command line"},
		{"exec no separator", "exec:?format=i420&w=64&h=48 sleep 10", Options{}, `" -- "`},
		{"exec glued separator", "exec:?format=i420&w=64&h=48 --sleep 10", Options{}, `" -- "`},
		{"exec missing command", "exec:catd-no-such-command -o -", Options{}, `"catd-no-such-command": executable file not found`},
		{"exec raw without size", "exec:?format=i420&w=64 -- sleep 10", Options{}, "needs the frame size"},
		{"exec size for mjpeg", "exec:?w=64&h=48 -- sleep 10", Options{}, "w= is for raw formats"},
		{"exec bad format", "exec:?format=bgr -- sleep 10", Options{}, `format="bgr"`},
		{"exec bad w", "exec:?format=gray8&w=0&h=8 -- sleep 10", Options{}, `w="0"`},
		{"exec odd yuyv", "exec:?format=yuyv&w=33&h=8 -- sleep 10", Options{}, "even width"},
		{"exec unknown param", "exec:?format=i420&w=64&h=48&fps=3 -- sleep 10", Options{}, `unknown query parameter "fps"`},
		{"exec bad query", "exec:?w=%zz -- sleep 10", Options{}, "query"},
		{"exec unterminated quote", "exec:sleep '10", Options{}, "unterminated '"},
		{"exec pipe", "exec:rpicam-vid -o - | cat", Options{}, `"|" is shell syntax`},
		{"exec bad env name", "exec:?env=A,B-C -- sleep 10", Options{}, `env=: "B-C" is not a variable name`},
		{"exec empty env name", "exec:?env=A,,B -- sleep 10", Options{}, "env=: an empty variable name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := Open(tc.uri, tc.opt)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Open(%q): %v", tc.uri, err)
				}
				if src.String() != tc.uri {
					t.Errorf("String() = %q, want %q", src.String(), tc.uri)
				}
				if err := src.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
				return
			}
			if err == nil {
				src.Close()
				t.Fatalf("Open(%q) succeeded, want error containing %q", tc.uri, tc.wantErr)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.wantErr) {
				t.Errorf("Open(%q) error %q does not contain %q", tc.uri, msg, tc.wantErr)
			}
			if !strings.HasPrefix(msg, "camera: open "+`"`) || !strings.Contains(msg, tc.uri) {
				t.Errorf("Open(%q) error %q does not name the URI", tc.uri, msg)
			}
		})
	}
}

func TestFormatString(t *testing.T) {
	tests := []struct {
		f    Format
		want string
	}{
		{FormatUnknown, "unknown"}, {JPEG, "jpeg"}, {PNG, "png"}, {RGB24, "rgb24"},
		{YUYV, "yuyv"}, {I420, "i420"}, {NV12, "nv12"}, {Gray8, "gray8"}, {Format(99), "Format(99)"},
	}
	for _, tc := range tests {
		if got := tc.f.String(); got != tc.want {
			t.Errorf("Format(%d).String() = %q, want %q", int(tc.f), got, tc.want)
		}
	}
	if !JPEG.Encoded() || !PNG.Encoded() || RGB24.Encoded() {
		t.Error("Encoded is wrong")
	}
}

// FuzzParseURI checks that no URI makes the parsers panic.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{"test:?w=64&h=48&fps=15&format=yuyv", "file:///x.mjpeg?fps=5&loop=false", "dir:/x?settle=1s", "v4l2:/dev/video0", "a:%", ":",
		`exec:?format=i420&w=64&h=48 -- rpicam-vid -o - --x 'a b' "c\"d" e\ f`, "exec:ffmpeg -i x?y -f mjpeg -", "exec:?max=2048 --"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		u, err := parseURI(uri)
		if err != nil {
			return
		}
		switch u.scheme {
		case "test":
			parseTestConfig(u, Options{})
		case "file":
			parseFileConfig(u, Options{})
		case "dir":
			parseDirConfig(u)
		case "exec":
			parseExecConfig(u)
		case "http", "https":
			parseHTTPConfig(u)
		case "v4l2":
			parseV4L2Config(u)
		default:
			t.Fatalf("parseURI(%q) returned scheme %q", uri, u.scheme)
		}
	})
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		{"test:", true},
		{"test:?w=320&h=240&fps=5", true},
		{"test:?bogus=1", false},
		{"file:/nonexistent/also/fine.jpg", true},
		{"dir:/tmp", true},
		{"exec:rpicam-vid -t 0 -o -", true},
		{"exec:?format=i420 -- cat", false}, // raw formats need w and h
		{"nope:/x", false},
		{"", false},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			err := Check(tc.uri)
			if (err == nil) != tc.ok {
				t.Fatalf("Check(%q) = %v, want ok=%v", tc.uri, err, tc.ok)
			}
		})
	}
}

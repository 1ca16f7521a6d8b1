package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	_ "image/png"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
	"github.com/rs/zerolog"
	"golang.org/x/image/draw"

	"catd/config"
	"catd/daemon"
)

// logBuffer is the daemon's log, safe for its goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

const e2ePassword = "tabby-at-the-flap"

// e2eConfig is the config file of the end-to-end test: the region of
// interest is drawn on the page, and must land in it with the comments.
const e2eConfig = `# catd, end-to-end test of the web page
source: "test:?w=640&h=480&fps=8"
detect:
  # where the cat flap is: drawn on the page
  roi: []   # the whole frame
stats_every: 1s
review:
  # every frame is unsure enough to be saved, four a second at most
  band: 0.5
  min_interval: 250ms
  max_count: 1000
http:
  listen: "127.0.0.1:0"
  password_file: web-password.txt
`

// e2eDaemon runs catd with the page on a loopback port until the test
// ends, and returns the page's address, the state and config paths.
type e2eDaemon struct {
	url, state, config string
	logs               *logBuffer
}

func startDaemon(t testing.TB, configText string, ctl *daemon.Control) *e2eDaemon {
	t.Helper()
	dir := t.TempDir()
	d := &e2eDaemon{state: filepath.Join(dir, "state"), config: filepath.Join(dir, "catd.yaml"), logs: &logBuffer{}}
	if err := os.WriteFile(d.config, []byte(configText), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "web-password.txt"), []byte(e2ePassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := config.Load(d.config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- daemon.Run(ctx, daemon.Options{Config: cfg, ConfigPath: d.config, StateDir: d.state,
			RuntimeDir: dir, Version: "e2e", Log: zerolog.New(d.logs).Level(zerolog.InfoLevel), Control: ctl})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon.Run: %v", err)
		}
	})
	waitUntil(t, 20*time.Second, "the page to be served", func() bool {
		for _, line := range strings.Split(d.logs.String(), "\n") {
			var l struct{ Message, URL string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Message == "web page served" {
				d.url = strings.TrimSuffix(l.URL, "/")
				return true
			}
		}
		return false
	})
	return d
}

func waitUntil(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// browser starts headless Chromium, or skips the test without it.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("no Chromium (Debian: apt-get install chromium): the page is not tested in a browser")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancel3)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return ctx
}

// do runs browser steps, failing the test on the first error.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// get runs a browser action that gives a value.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// awaitPromise makes Evaluate wait for the promise the expression returns.
func awaitPromise(p *runtime.EvaluateParams) { yes := true; p.AwaitPromise = &yes }

// TestPageInChromium drives the page as a user would, on a phone's
// viewport and a desktop's: log in, see the live frame change, label a
// review frame with one tap, draw the region of interest, and check that
// a wrong password and a POST without the CSRF token are refused.
func TestPageInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts catd and Chromium")
	}
	for _, tc := range []struct {
		name  string
		phone bool
		w, h  int64
	}{
		{"phone", true, 390, 844},
		{"desktop", false, 1280, 900},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := browser(t)
			d := startDaemon(t, e2eConfig, nil)
			if tc.phone {
				do(t, ctx, "phone viewport", chromedp.Emulate(device.IPhone12))
			} else {
				do(t, ctx, "desktop viewport", chromedp.EmulateViewport(tc.w, tc.h))
			}
			do(t, ctx, "open", chromedp.Navigate(d.url+"/"))
			if w := get(t, ctx, "width", chromedp.Evaluate[int64](`window.innerWidth`)); w != tc.w {
				t.Errorf("viewport %d wide, want %d", w, tc.w)
			}
			pageFlow(t, ctx, d, tc.name, tc.phone)
		})
	}
}

// js evaluates an expression that returns a promise, and waits for it.
func js[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	return get(t, ctx, expr, chromedp.Evaluate[T](expr, awaitPromise))
}

// poll waits until expr is truthy and returns its value.
func poll[T any](t *testing.T, ctx context.Context, what, expr string) T {
	t.Helper()
	return get(t, ctx, what, chromedp.Poll[T](expr, chromedp.WithPollingTimeout(30*time.Second)))
}

func pageFlow(t *testing.T, ctx context.Context, d *e2eDaemon, name string, phone bool) {
	// A wrong password is refused.
	do(t, ctx, "wrong password",
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("password"), "not-the-password"),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.ID("wrong")))
	if loc := get(t, ctx, "location", chromedp.Location()); !strings.HasSuffix(loc, "/login?wrong=1") {
		t.Errorf("after a wrong password the page is %s", loc)
	}
	if st := js[int](t, ctx, `fetch("/api/status").then(r => r.status)`); st != 401 {
		t.Errorf("/api/status after a wrong password: %d, want 401", st)
	}

	// The right one logs in.
	do(t, ctx, "log in",
		chromedp.Navigate(d.url+"/login"),
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("password"), e2ePassword),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.ID("live")))
	if loc := get(t, ctx, "location", chromedp.Location()); !strings.HasSuffix(loc, "/") {
		t.Fatalf("after logging in the page is %s", loc)
	}

	// The live frame changes.
	const src = `document.getElementById("frame")`
	first := poll[string](t, ctx, "a live frame", src+`.naturalWidth > 0 && `+src+`.src`)
	later := poll[string](t, ctx, "another live frame", fmt.Sprintf(`%s.naturalWidth > 0 && %s.src != %q && %s.src`, src, src, first, src))
	info := get(t, ctx, "live figures", chromedp.Text(chromedp.ID("live-info")))
	if !strings.Contains(info, "p(cat)") || !strings.Contains(info, "threshold") {
		t.Errorf("live figures: %q", info)
	}
	t.Logf("live frames %s then %s; %s", first, later, info)

	// A forged POST, without the CSRF token or with a wrong one, is refused.
	if st := js[int](t, ctx, `fetch("/api/save", {method: "POST"}).then(r => r.status)`); st != 403 {
		t.Errorf("POST /api/save without the CSRF token: %d, want 403", st)
	}
	if st := js[int](t, ctx, `fetch("/api/label", {method: "POST", headers: {"Content-Type": "application/json", "X-CSRF-Token": "forged"}, body: '{"class":"cat","frame":""}'}).then(r => r.status)`); st != 403 {
		t.Errorf("POST /api/label with a forged CSRF token: %d, want 403", st)
	}
	if strings.Contains(d.logs.String(), "checkpoint written") {
		t.Error("the forged save wrote a checkpoint")
	}

	// One tap labels a review frame: it moves into labels/cat.
	const firstReview = `(() => { const f = document.querySelector("#review figure"); return f ? f.dataset.name : ""; })()`
	do(t, ctx, "review frames", chromedp.Sleep(time.Second), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("live")))
	frame := poll[string](t, ctx, "a review frame", firstReview)
	catFile, doneFile := filepath.Join(d.state, "labels", "cat", frame), filepath.Join(d.state, "labels", "done", "cat", frame)
	do(t, ctx, "tap cat", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#review figure[data-name=%q] button.cat`, frame))))
	seen := ""
	waitUntil(t, 10*time.Second, "the frame in labels/cat", func() bool {
		if _, err := os.Stat(catFile); err == nil {
			seen = "labels/cat"
		} else if _, err := os.Stat(doneFile); err == nil {
			seen = "labels/done/cat, taken from labels/cat"
		}
		return seen != ""
	})
	t.Logf("review frame %s found in %s", frame, seen)
	if _, err := os.Stat(filepath.Join(d.state, "review", frame)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the frame is still in the review queue: %v", err)
	}
	poll[bool](t, ctx, "the reply to the tap", fmt.Sprintf(`document.getElementById("message").textContent.includes(%q)`, "labelled review frame "+frame))

	// Drawing a region writes detect.roi into the config file, comments kept.
	do(t, ctx, "draw mode", chromedp.ScrollIntoView(chromedp.ID("live")), chromedp.Click(chromedp.ID("draw")))
	box := get(t, ctx, "overlay box", chromedp.Evaluate[[]float64](`(() => { const b = document.getElementById("overlay").getBoundingClientRect(); return [b.left, b.top, b.width, b.height]; })()`))
	x0, y0 := box[0]+0.25*box[2], box[1]+0.25*box[3]
	x1, y1 := box[0]+0.75*box[2], box[1]+0.75*box[3]
	if phone {
		do(t, ctx, "draw by touch", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			for _, s := range []struct {
				typ  input.DispatchTouchEventType
				x, y float64
			}{{input.DispatchTouchEventTypeTouchStart, x0, y0}, {input.DispatchTouchEventTypeTouchMove, (x0 + x1) / 2, (y0 + y1) / 2},
				{input.DispatchTouchEventTypeTouchMove, x1, y1}, {input.DispatchTouchEventTypeTouchEnd, 0, 0}} {
				pts := []*input.TouchPoint{{X: s.x, Y: s.y}}
				if s.typ == input.DispatchTouchEventTypeTouchEnd {
					pts = []*input.TouchPoint{}
				}
				if _, err := cdp.Call(ctx, tg, input.DispatchTouchEvent, input.DispatchTouchEventParams{Type: s.typ, TouchPoints: pts}); err != nil {
					return err
				}
			}
			return nil
		}))
	} else {
		do(t, ctx, "draw by mouse",
			chromedp.MouseEvent(chromedp.MousePressed, x0, y0, chromedp.ButtonLeft, chromedp.ClickCount(1)),
			chromedp.MouseEvent(chromedp.MouseMoved, (x0+x1)/2, (y0+y1)/2, chromedp.ButtonLeft),
			chromedp.MouseEvent(chromedp.MouseMoved, x1, y1, chromedp.ButtonLeft),
			chromedp.MouseEvent(chromedp.MouseReleased, x1, y1, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	}
	do(t, ctx, "save the region", chromedp.WaitEnabled(chromedp.ID("roi-save")), chromedp.Click(chromedp.ID("roi-save")))
	var c config.Config
	waitUntil(t, 10*time.Second, "detect.roi in the config file", func() bool {
		var err error
		c, _, err = config.Load(d.config)
		return err == nil && !c.Detect.ROI.Empty()
	})
	r := c.Detect.ROI
	// The page shows the 640x480 frame scaled down to 320x240; the region
	// is in the frame's pixels.
	if r.Min.X < 150 || r.Min.X > 170 || r.Min.Y < 110 || r.Min.Y > 130 || r.Max.X < 470 || r.Max.X > 490 || r.Max.Y < 350 || r.Max.Y > 370 {
		t.Errorf("detect.roi %v, want about (160,120)-(480,360): the middle half of the 640x480 frame", r)
	}
	data, _ := os.ReadFile(d.config)
	for _, comment := range []string{"# catd, end-to-end test of the web page", "# where the cat flap is: drawn on the page",
		"# the whole frame", "# every frame is unsure enough"} {
		if !bytes.Contains(data, []byte(comment)) {
			t.Errorf("the config file lost %q:\n%s", comment, data)
		}
	}
	waitUntil(t, 10*time.Second, "the daemon to apply the region", func() bool {
		return strings.Contains(d.logs.String(), `"changed":["detect.roi"]`)
	})
	poll[bool](t, ctx, "the region in force on the page", fmt.Sprintf(`roi.length === 4 && roi[0] === %d && roi[3] === %d`, r.Min.X, r.Max.Y))

	// Screenshots: the whole page, and the screen scaled down for the README.
	do(t, ctx, "top", chromedp.ScrollIntoView(chromedp.CSS("header")), chromedp.Sleep(500*time.Millisecond))
	if err := os.MkdirAll("../build", 0o755); err != nil {
		t.Fatal(err)
	}
	full := get(t, ctx, "screenshot", chromedp.FullScreenshot(100))
	screen := get(t, ctx, "screenshot", chromedp.CaptureScreenshot())
	small, err := shrink(screen, map[bool]int{true: 480, false: 1024}[phone])
	if err != nil {
		t.Fatal(err)
	}
	for file, data := range map[string][]byte{"web-" + name + ".png": full, "web-" + name + "-screen.jpg": small} {
		out := filepath.Join("../build", file)
		if err := os.WriteFile(out, data, 0o644); err != nil {
			t.Errorf("screenshot: %v", err)
		}
		t.Logf("screenshot %s (%d bytes)", out, len(data))
	}
}

// shrink scales a PNG screenshot to width w and encodes it as JPEG.
func shrink(png []byte, w int) ([]byte, error) {
	src, _, err := image.Decode(bytes.NewReader(png))
	if err != nil {
		return nil, err
	}
	b := src.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, w, b.Dy()*w/b.Dx()))
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
	var out bytes.Buffer
	err = jpeg.Encode(&out, dst, &jpeg.Options{Quality: 80})
	return out.Bytes(), err
}

// TestHTTPSectionLive: the http section applies while catd runs: the page
// moves off, and detection goes on meanwhile.
func TestHTTPSectionLive(t *testing.T) {
	if testing.Short() {
		t.Skip("starts catd")
	}
	ctl := &daemon.Control{}
	d := startDaemon(t, e2eConfig, ctl)
	data, _ := os.ReadFile(d.config)
	off := strings.Replace(string(data), `listen: "127.0.0.1:0"`, `listen: ""`, 1)
	if err := os.WriteFile(d.config, []byte(off), 0o640); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the page off", func() bool {
		return strings.Contains(d.logs.String(), `"changed":["http.listen"]`) && strings.Contains(d.logs.String(), "web page off")
	})
	n := ctl.Snapshot().Frames
	waitUntil(t, 10*time.Second, "frames judged after the change", func() bool { return ctl.Snapshot().Frames > n+3 })
	bad := strings.Replace(off, `listen: ""`, `listen: "127.0.0.1:99999"`, 1)
	os.WriteFile(d.config, []byte(bad), 0o640)
	waitUntil(t, 10*time.Second, "the refusal", func() bool {
		return strings.Contains(d.logs.String(), "http.listen: want a port number 0..65535")
	})
}

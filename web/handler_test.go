package web

import (
	"bufio"
	"encoding/json"
	"image"
	"image/color"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"catd/camera"
)

const testPassword = "correct horse battery"

// testClock is a clock tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testServer is a Server on a fake host, its handler served by httptest.
type testServer struct {
	*Server
	host  *fakeHost
	http  *httptest.Server
	clock *testClock
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	h := newFakeHost(t)
	pw := filepath.Join(h.dir, "pw")
	if err := os.WriteFile(pw, []byte(testPassword+"\nsecond line ignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	clock := &testClock{t: time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)}
	s := New(Options{Host: h, StateDir: h.dir, Log: zerolog.Nop(), Clock: clock.now})
	if err := s.auth.load(pw, h.dir, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	hs := httptest.NewServer(s.handler(false, stop))
	t.Cleanup(func() { close(stop); hs.Close() })
	return &testServer{Server: s, host: h, http: hs, clock: clock}
}

// client is a browser: cookies, and the CSRF token once logged in.
type client struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

func (ts *testServer) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: ts.http.URL, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *client) do(method, path string, body string, hdr map[string]string) *http.Response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp
}

// call sends a request with the CSRF token and returns the status and body.
func (c *client) call(method, path, body string) (int, string) {
	c.t.Helper()
	resp := c.do(method, path, body, map[string]string{"X-CSRF-Token": c.csrf})
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (c *client) login(pw string) *http.Response {
	c.t.Helper()
	resp := c.do("POST", "/login", url.Values{"password": {pw}}.Encode(),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	resp.Body.Close()
	return resp
}

// loggedIn is a client with a session and its CSRF token.
func (ts *testServer) loggedIn(t *testing.T) *client {
	t.Helper()
	c := ts.client(t)
	if resp := c.login(testPassword); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	code, body := c.call("GET", "/api/session", "")
	var s struct{ CSRF string }
	if code != 200 || json.Unmarshal([]byte(body), &s) != nil || s.CSRF == "" {
		t.Fatalf("/api/session: %d %s", code, body)
	}
	c.csrf = s.CSRF
	return c
}

func TestAuthentication(t *testing.T) {
	ts := newTestServer(t)
	anon := ts.client(t)
	for _, path := range []string{"/api/status", "/api/live", "/api/frame.jpg", "/api/events", "/api/review",
		"/api/snapshots", "/api/rounds", "/api/session", "/api/review/a.jpg"} {
		if code, _ := anon.call("GET", path, ""); code != http.StatusUnauthorized {
			t.Errorf("GET %s without a session: %d, want 401", path, code)
		}
	}
	for _, path := range []string{"/api/save", "/api/label", "/api/learn", "/api/threshold", "/api/roi", "/logout"} {
		if code, _ := anon.call("POST", path, "{}"); code != http.StatusUnauthorized {
			t.Errorf("POST %s without a session: %d, want 401", path, code)
		}
	}
	if resp := anon.do("GET", "/", "", nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Errorf("GET / without a session: %s to %q, want a redirect to /login", resp.Status, resp.Header.Get("Location"))
	}
	for _, path := range []string{"/healthz", "/metrics", "/login", "/static/app.js", "/static/style.css"} {
		if code, _ := anon.call("GET", path, ""); code != http.StatusOK {
			t.Errorf("GET %s without a session: %d, want 200", path, code)
		}
	}

	t.Run("wrong password", func(t *testing.T) {
		c := ts.client(t)
		resp := c.login("wrong horse battery")
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?wrong=1" || len(resp.Cookies()) != 0 {
			t.Errorf("wrong password: %s to %q, cookies %v", resp.Status, resp.Header.Get("Location"), resp.Cookies())
		}
		if code, _ := c.call("GET", "/api/status", ""); code != http.StatusUnauthorized {
			t.Errorf("after a wrong password, /api/status: %d", code)
		}
	})
	t.Run("session cookie", func(t *testing.T) {
		c := ts.client(t)
		resp := c.login(testPassword)
		cookies := resp.Cookies()
		if len(cookies) != 1 {
			t.Fatalf("cookies %v", cookies)
		}
		ck := cookies[0]
		if ck.Name != sessionCookie || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || len(ck.Value) < 20 {
			t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/, a long random value", ck)
		}
		if resp := c.do("GET", "/", "", nil); resp.StatusCode != 200 {
			t.Errorf("GET / logged in: %s", resp.Status)
		}
	})
	t.Run("logout", func(t *testing.T) {
		c := ts.loggedIn(t)
		if code, body := c.call("POST", "/logout", ""); code != http.StatusNoContent {
			t.Fatalf("logout: %d %s", code, body)
		}
		if code, _ := c.call("GET", "/api/status", ""); code != http.StatusUnauthorized {
			t.Errorf("after logout: %d", code)
		}
	})
	t.Run("sessions expire", func(t *testing.T) {
		c := ts.loggedIn(t)
		ts.clock.add(sessionTTL + time.Minute)
		if code, _ := c.call("GET", "/api/status", ""); code != http.StatusUnauthorized {
			t.Errorf("an expired session: %d", code)
		}
	})
}

func TestSecurityHeaders(t *testing.T) {
	ts := newTestServer(t)
	c := ts.loggedIn(t)
	for _, path := range []string{"/", "/login", "/api/status", "/healthz", "/static/app.js"} {
		resp := c.do("GET", path, "", nil)
		resp.Body.Close()
		h := resp.Header
		if h.Get("Content-Security-Policy") != csp || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: headers %v", path, h)
		}
	}
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q allows more than the page's own scripts", csp)
	}
}

func TestLoginRateLimit(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)
	for i := range loginBurst {
		if resp := c.login("wrong"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("attempt %d: %s, want a redirect back to the login page", i+1, resp.Status)
		}
	}
	resp := c.login(testPassword)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("attempt %d, even with the right password: %s, want 429 with Retry-After", loginBurst+1, resp.Status)
	}
	ts.clock.add(loginEvery)
	if resp := c.login(testPassword); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Errorf("after %v: %s to %q, want logged in", loginEvery, resp.Status, resp.Header.Get("Location"))
	}

	// Many addresses together: the global bucket.
	a := newAuth(ts.clock.now)
	n := 0
	for i := range 1000 {
		if a.allowLogin("10.0." + string(rune('0'+i/100)) + "." + string(rune('0'+i%100))) {
			n++
		}
	}
	if n != globalBurst {
		t.Errorf("1000 addresses at once got %d attempts, want %d", n, globalBurst)
	}
}

// otherFirst is s with its first character changed (s's own may be the
// one another would pick).
func otherFirst(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

func TestCSRF(t *testing.T) {
	ts := newTestServer(t)
	c := ts.loggedIn(t)
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"no token", nil, http.StatusForbidden},
		{"wrong token", map[string]string{"X-CSRF-Token": otherFirst(c.csrf)}, http.StatusForbidden},
		{"token of another session", map[string]string{"X-CSRF-Token": ts.loggedIn(t).csrf}, http.StatusForbidden},
		{"cross-site", map[string]string{"X-CSRF-Token": c.csrf, "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"other origin", map[string]string{"X-CSRF-Token": c.csrf, "Origin": "http://evil.example"}, http.StatusForbidden},
		{"right token", map[string]string{"X-CSRF-Token": c.csrf}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(ts.host.commands())
			resp := c.do("POST", "/api/save", "", tc.hdr)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("POST /api/save: %s, want %d", resp.Status, tc.want)
			}
			if ran := len(ts.host.commands()) > before; ran != (tc.want == http.StatusOK) {
				t.Errorf("save ran: %v", ran)
			}
		})
	}
	resp := c.do("DELETE", "/api/snapshots/a.jpg", "", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("DELETE without a token: %s", resp.Status)
	}
}

func TestFileNames(t *testing.T) {
	ts := newTestServer(t)
	c := ts.loggedIn(t)
	secret := filepath.Join(ts.host.dir, "secret.jpg")
	os.WriteFile(secret, []byte("secret"), 0o600)
	os.Symlink(secret, filepath.Join(ts.host.ReviewDir(), "link.jpg"))
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/api/review/..%2Fsecret.jpg", http.StatusBadRequest},
		{"GET", "/api/review/.hidden.jpg", http.StatusBadRequest},
		{"GET", "/api/review/a.png", http.StatusBadRequest},
		{"GET", "/api/review/a%20b.jpg", http.StatusBadRequest},
		{"GET", "/api/review/link.jpg", http.StatusInternalServerError}, // os.Root: no way out
		{"GET", "/api/review/missing.jpg", http.StatusNotFound},
		{"GET", "/api/snapshots/..jpg", http.StatusBadRequest},
		{"DELETE", "/api/snapshots/..%2Fsecret.jpg", http.StatusBadRequest},
	} {
		code, body := c.call(tc.method, tc.path, "")
		if code != tc.want || strings.Contains(body, "secret\"") {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, code, body, tc.want)
		}
	}
	for _, body := range []string{`{"class":"cat","frame":"../secret.jpg"}`, `{"class":"cat","frame":"a b.jpg"}`,
		`{"class":"dog","frame":"a.jpg"}`, `{"class":"cat","frame":"x.jpg","extra":1}`} {
		if code, _ := c.call("POST", "/api/label", body); code != http.StatusBadRequest {
			t.Errorf("label %s: %d, want 400", body, code)
		}
	}
	if _, err := os.Stat(secret); err != nil {
		t.Errorf("the file outside: %v", err)
	}
}

func TestAPI(t *testing.T) {
	ts := newTestServer(t)
	c := ts.loggedIn(t)
	h := ts.host
	review := "20261207T080000.000Z-f000000042-p0.48.jpg"
	snaps := []string{"20261207T070000.000Z-f000000001-p0.91.jpg", "20261207T075000.000Z-f000000002-p0.97.jpg"}
	os.WriteFile(filepath.Join(h.ReviewDir(), review), testJPEG(t, 8, 8, color.RGBA{R: 200}), 0o640)
	for _, n := range snaps {
		os.WriteFile(filepath.Join(h.SnapshotDir(), n), testJPEG(t, 8, 8, color.RGBA{G: 200}), 0o640)
	}
	os.WriteFile(filepath.Join(h.SnapshotDir(), "notes.txt"), []byte("x"), 0o640)

	t.Run("status", func(t *testing.T) {
		code, body := c.call("GET", "/api/status", "")
		if code != 200 || body != string(h.status) {
			t.Errorf("status: %d %s", code, body)
		}
	})
	t.Run("review", func(t *testing.T) {
		code, body := c.call("GET", "/api/review", "")
		var files []imageFile
		if code != 200 || json.Unmarshal([]byte(body), &files) != nil || len(files) != 1 || files[0].Name != review ||
			files[0].PCat != 0.48 || files[0].Time != "2026-12-07T08:00:00Z" {
			t.Fatalf("review: %d %s", code, body)
		}
		code, body = c.call("GET", "/api/review/"+review, "")
		if code != 200 || !strings.HasPrefix(body, "\xff\xd8") {
			t.Errorf("review image: %d", code)
		}
		code, body = c.call("POST", "/api/label", `{"class":"cat","frame":"`+review+`"}`)
		if code != 200 || !strings.Contains(body, "labelled review frame "+review+" cat") {
			t.Fatalf("label: %d %s", code, body)
		}
		if _, err := os.Stat(filepath.Join(h.dir, "labels", "cat", review)); err != nil {
			t.Errorf("the frame is not in labels/cat: %v", err)
		}
		code, body = c.call("POST", "/api/label", `{"class":"noncat","frame":""}`)
		if code != 200 || !strings.Contains(body, "the latest (p(cat) 0.500), noncat") {
			t.Errorf("label latest: %d %s", code, body)
		}
	})
	t.Run("snapshots", func(t *testing.T) {
		code, body := c.call("GET", "/api/snapshots", "")
		var files []imageFile
		json.Unmarshal([]byte(body), &files)
		if code != 200 || len(files) != 2 || files[0].Name != snaps[1] || files[1].Name != snaps[0] {
			t.Fatalf("snapshots, want newest first and no notes.txt: %d %s", code, body)
		}
		if code, body := c.call("DELETE", "/api/snapshots/"+snaps[0], ""); code != http.StatusNoContent {
			t.Fatalf("delete: %d %s", code, body)
		}
		if _, err := os.Stat(filepath.Join(h.SnapshotDir(), snaps[0])); err == nil {
			t.Error("the snapshot is still there")
		}
		if code, _ := c.call("DELETE", "/api/snapshots/"+snaps[0], ""); code != http.StatusNotFound {
			t.Errorf("delete twice: %d, want 404", code)
		}
	})
	t.Run("commands", func(t *testing.T) {
		for _, tc := range []struct {
			path, body string
			code       int
			ran        string
		}{
			{"/api/learn", `{"on":false}`, 200, "learn false"},
			{"/api/learn", `{"on":true}`, 200, "learn true"},
			{"/api/learn", `{"on":"yes"}`, 400, ""},
			{"/api/save", ``, 200, "save"},
			{"/api/threshold", `{"threshold":0.7}`, 200, "threshold 0.7"},
			{"/api/threshold", `{"threshold":1.5}`, 400, ""},
			{"/api/threshold", `{"threshold":0}`, 400, ""},
		} {
			before := len(h.commands())
			code, body := c.call("POST", tc.path, tc.body)
			cmds := h.commands()
			if code != tc.code {
				t.Errorf("POST %s %s: %d %s, want %d", tc.path, tc.body, code, body, tc.code)
			}
			if (tc.ran == "") != (len(cmds) == before) || tc.ran != "" && cmds[len(cmds)-1] != tc.ran {
				t.Errorf("POST %s %s ran %q, want %q", tc.path, tc.body, cmds[before:], tc.ran)
			}
		}
	})
	t.Run("rounds", func(t *testing.T) {
		loss, auc := 0.31, 0.9
		h.mu.Lock()
		h.rounds = []Round{{Time: time.Unix(1, 0).UTC(), Accepted: true, ValLoss: &loss, ValAUC: &auc, Steps: 40}, {Steps: 40}}
		h.mu.Unlock()
		code, body := c.call("GET", "/api/rounds", "")
		if code != 200 || !strings.Contains(body, `"val_loss":0.31,"val_auc":0.9`) || !strings.Contains(body, `"val_loss":null`) {
			t.Errorf("rounds: %d %s", code, body)
		}
	})
	t.Run("roi", func(t *testing.T) {
		code, body := c.call("POST", "/api/roi", `{"roi":[1,2,30,40]}`)
		if code != http.StatusConflict || !strings.Contains(body, "without a config file") || !strings.Contains(body, "[1, 2, 30, 40]") {
			t.Errorf("roi without a config file: %d %s", code, body)
		}
		h.config = filepath.Join(h.dir, "catd.yaml")
		os.WriteFile(h.config, []byte("# mine\ndetect:\n  roi: [] # all\n"), 0o640)
		for _, tc := range []struct {
			body string
			code int
			file string
		}{
			{`{"roi":[1,2,30,40]}`, 200, "# mine\ndetect:\n  roi: [1, 2, 30, 40] # all\n"},
			{`{"roi":[]}`, 200, "# mine\ndetect:\n  roi: [] # all\n"},
			{`{"roi":[30,2,1,40]}`, 400, ""},
			{`{"roi":[-1,2,30,40]}`, 400, ""},
			{`{"roi":[1,2,3]}`, 400, ""},
			{`{"roi":"all"}`, 400, ""},
		} {
			before, _ := os.ReadFile(h.config)
			code, body := c.call("POST", "/api/roi", tc.body)
			after, _ := os.ReadFile(h.config)
			if code != tc.code {
				t.Errorf("roi %s: %d %s, want %d", tc.body, code, body, tc.code)
			}
			if tc.file == "" && string(after) != string(before) || tc.file != "" && string(after) != tc.file {
				t.Errorf("roi %s: file %q", tc.body, after)
			}
		}
	})
	t.Run("big body", func(t *testing.T) {
		if code, _ := c.call("POST", "/api/learn", `{"on":true,"x":"`+strings.Repeat("a", maxBody)+`"}`); code != 400 {
			t.Errorf("a body over %d bytes: %d", maxBody, code)
		}
	})
}

func TestLiveView(t *testing.T) {
	ts := newTestServer(t)
	c := ts.loggedIn(t)
	ts.host.roi = image.Rect(10, 20, 30, 40)
	ctx := t.Context()
	go ts.live.run(ctx, ts.host)
	red, blue := testJPEG(t, 16, 12, color.RGBA{R: 255}), testJPEG(t, 16, 12, color.RGBA{B: 255})
	f := &camera.Frame{Seq: 1, Format: camera.JPEG, Data: red, Time: ts.clock.now()}

	ts.Frame(f, 0.25, 0.5, false) // nobody watches: not copied
	if code, _ := c.call("GET", "/api/frame.jpg", ""); code != http.StatusServiceUnavailable {
		t.Fatalf("a frame before any viewer: %d", code)
	}
	code, body := c.call("GET", "/api/live", "")
	if code != 200 || !strings.Contains(body, `"ready":false`) || !strings.Contains(body, `"roi":[10,20,30,40]`) {
		t.Fatalf("live before a frame: %d %s", code, body)
	}
	ts.Frame(f, 0.25, 0.5, false) // now a viewer waits
	waitFor(t, "the first frame", func() bool { return ts.live.latest() != nil })
	code, body = c.call("GET", "/api/frame.jpg", "")
	if code != 200 || body != string(red) {
		t.Fatalf("frame: %d, %d bytes", code, len(body))
	}
	f2 := &camera.Frame{Seq: 2, Format: camera.JPEG, Data: blue, Time: ts.clock.now()}
	ts.Frame(f2, 0.9, 0.5, true) // too soon after the first
	ts.clock.add(ts.opt.LiveEvery)
	ts.Frame(f2, 0.9, 0.5, true)
	waitFor(t, "the second frame", func() bool { return ts.live.latest().info.Seq == 2 })
	code, body = c.call("GET", "/api/live", "")
	if code != 200 || !strings.Contains(body, `"seq":2,"p_cat":0.9,"threshold":0.5,"cat":true`) {
		t.Errorf("live: %d %s", code, body)
	}
	if _, body := c.call("GET", "/api/frame.jpg", ""); body != string(blue) {
		t.Error("the frame did not change")
	}
	ts.clock.add(ts.opt.LiveIdle + ts.opt.LiveEvery + time.Second) // the viewer left
	f.Seq = 3
	ts.Frame(f, 0.1, 0.5, false)
	time.Sleep(50 * time.Millisecond)
	if ts.live.latest().info.Seq != 2 {
		t.Error("a frame was copied with no viewer")
	}
}

// TestFrameAllocs: the per-frame call allocates nothing, copying or not.
func TestFrameAllocs(t *testing.T) {
	clock := &testClock{t: time.Unix(1000, 0)}
	s := New(Options{Host: newFakeHost(t), Log: zerolog.Nop(), Clock: clock.now, LiveEvery: time.Nanosecond})
	f := &camera.Frame{Seq: 1, Format: camera.YUYV, W: 64, H: 48, Stride: 128, Data: make([]byte, 128*48), Time: clock.now()}
	for _, tc := range []struct {
		name    string
		viewers bool
	}{{"no viewer", false}, {"viewer", true}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.viewers {
				s.live.want()
			}
			s.Frame(f, 0.5, 0.5, false) // grows the copy once
			n := testing.AllocsPerRun(100, func() {
				clock.add(time.Millisecond)
				s.Frame(f, 0.5, 0.5, false)
			})
			if n != 0 {
				t.Errorf("Frame allocates %v times per call", n)
			}
			if tc.viewers && !s.live.pending {
				t.Error("no copy was made for the viewer")
			}
		})
	}
}

func TestEvents(t *testing.T) {
	ts := newTestServer(t)
	c := ts.loggedIn(t)
	resp := c.do("GET", "/api/events", "", nil)
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %s %v", resp.Status, resp.Header)
	}
	waitFor(t, "the subscription", func() bool { ts.hub.mu.Lock(); defer ts.hub.mu.Unlock(); return len(ts.hub.clients) == 1 })
	p := float32(0.93)
	ts.Event(Event{Kind: "cat_present", Time: time.Unix(0, 0).UTC(), Frame: 12, PCat: &p})
	ts.Event(Event{Kind: "checkpoint", Time: time.Unix(0, 0).UTC(), Msg: "/var/lib/catd/checkpoints/x"})
	r := bufio.NewReader(resp.Body)
	var got []string
	for len(got) < 2 {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			got = append(got, strings.TrimSpace(d))
		}
	}
	want := []string{`{"kind":"cat_present","time":"1970-01-01T00:00:00Z","frame":12,"p_cat":0.93}`,
		`{"kind":"checkpoint","time":"1970-01-01T00:00:00Z","msg":"/var/lib/catd/checkpoints/x"}`}
	if !slices.Equal(got, want) {
		t.Errorf("events\n%q\nwant\n%q", got, want)
	}
	// A page that does not read loses events, and nothing blocks.
	for range 2 * eventQueue {
		ts.Event(Event{Kind: "stats"})
	}
	if ts.hub.dropped.Load() == 0 {
		t.Log("no event dropped: the reader kept up")
	}
	// At most maxEventClients listen.
	var others []*http.Response
	for range maxEventClients - 1 {
		others = append(others, c.do("GET", "/api/events", "", nil))
	}
	defer func() {
		for _, o := range others {
			o.Body.Close()
		}
	}()
	if code, _ := c.call("GET", "/api/events", ""); code != http.StatusServiceUnavailable {
		t.Errorf("listener %d: %d, want 503", maxEventClients+1, code)
	}
}

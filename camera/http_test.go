package camera

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"image/jpeg"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"catd/internal/testwait"
)

// openTestHTTP opens uri as an http: source with fast reconnection
// (10 ms doubling to 40 ms, every outage logged) and a debug-level log
// into the returned buffer; mod may change the configuration further.
func openTestHTTP(t testing.TB, uri string, mod func(*httpConfig)) (*httpSource, *syncBuffer) {
	t.Helper()
	u, err := parseURI(uri)
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseHTTPConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	c.backoffMin, c.backoffMax, c.logEvery = 10*time.Millisecond, 40*time.Millisecond, 0
	if mod != nil {
		mod(&c)
	}
	var logs syncBuffer
	s := openHTTP(uri, c, zerolog.New(&logs).Level(zerolog.DebugLevel))
	t.Cleanup(func() { s.Close() })
	return s, &logs
}

// serve starts a test server whose handler is h; it is closed after the
// test's sources (cleanups run last-registered first).
func serve(t testing.TB, h http.HandlerFunc) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// setContentType sets the response's Content-Type, or none at all for "".
func setContentType(w http.ResponseWriter, ct string) {
	if ct == "" {
		w.Header()["Content-Type"] = nil // no sniffing either
		return
	}
	w.Header().Set("Content-Type", ct)
}

// writeFlush writes p and flushes it to the client.
func writeFlush(w http.ResponseWriter, p []byte) error {
	if _, err := w.Write(p); err != nil {
		return err
	}
	return http.NewResponseController(w).Flush()
}

// mjpegPart is an ESP32-CAM style part with Content-Length.
func mjpegPart(f []byte) []byte {
	return part("\r\n--frame", "\r\n", []string{"Content-Type: image/jpeg", "Content-Length: %d"}, f)
}

const mixedReplace = "multipart/x-mixed-replace; boundary=frame"

// TestHTTPQuirks sends each quirky body of the parser's table from a real
// HTTP server once and checks that every frame arrives whole, in order,
// and with its number.
func TestHTTPQuirks(t *testing.T) {
	fr, big := testFrames(t)
	for _, tc := range multipartCases(fr, big) {
		if tc.bad != 0 || len(tc.want) == 0 || tc.end != io.EOF {
			continue // covered by TestMultipartQuirks and the tests below
		}
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				setContentType(w, tc.contentType)
				w.Write(tc.body)
			})
			s, logs := openTestHTTP(t, srv.URL+"/stream", func(c *httpConfig) { c.backoffMin = time.Minute })
			var f Frame
			for f.Seq < uint64(len(tc.want)) {
				prev := f.Seq
				if err := nextTimeout(s, &f, 2*time.Second); err != nil {
					t.Fatalf("after frame %d: %v\n%s", prev, err, logs)
				}
				if f.Seq <= prev {
					t.Fatalf("Seq %d after %d", f.Seq, prev)
				}
				if want := fr[tc.want[f.Seq-1]]; !bytes.Equal(f.Data, want) {
					t.Fatalf("frame %d: %d bytes, want %d", f.Seq, len(f.Data), len(want))
				}
				if f.Format != JPEG || f.W != 0 || time.Since(f.Time) > 2*time.Second {
					t.Fatalf("frame %d: format %v, w %d, time %v", f.Seq, f.Format, f.W, f.Time)
				}
			}
			if st := s.Stats(); st.Corrupt != 0 {
				t.Errorf("%d corrupt", st.Corrupt)
			}
			if !strings.Contains(logs.String(), "camera: http stream connected") {
				t.Errorf("connection not logged:\n%s", logs)
			}
		})
	}
}

// TestHTTPHuffman checks that frames without Huffman tables (UVC style)
// get the standard ones.
func TestHTTPHuffman(t *testing.T) {
	j := makeJPEG(t, 48, 32, 5)
	stripped := stripDHT(t, j)
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		setContentType(w, mixedReplace)
		writeFlush(w, mjpegPart(stripped))
		<-r.Context().Done()
	})
	s, _ := openTestHTTP(t, srv.URL, nil)
	var f Frame
	if err := nextTimeout(s, &f, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.Data, InsertHuffmanTables(nil, stripped)) {
		t.Fatal("frame is not the stripped JPEG with the standard tables")
	}
	got, err := jpeg.Decode(bytes.NewReader(f.Data))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := jpeg.Decode(bytes.NewReader(j))
	if !sameImage(got, want) {
		t.Error("decoded frame differs from the original")
	}
}

// TestHTTPDroppedMidFrame has a server that stalls in the middle of a
// frame on its first connection: the stall timeout closes it, the source
// reconnects, and frames go on with a higher Seq.
func TestHTTPStall(t *testing.T) {
	a, b := makeJPEG(t, 32, 24, 1), makeJPEG(t, 32, 24, 2)
	var conns atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		setContentType(w, mixedReplace)
		if conns.Add(1) == 1 {
			writeFlush(w, mjpegPart(a))
			p := mjpegPart(b)
			writeFlush(w, p[:len(p)/2])
			<-r.Context().Done() // stalls until the client gives up
			return
		}
		for r.Context().Err() == nil {
			if writeFlush(w, mjpegPart(b)) != nil {
				return
			}
			time.Sleep(5 * time.Millisecond) // a camera's frame pacing
		}
	})
	s, logs := openTestHTTP(t, srv.URL+"/stream#timeout=100ms", nil)
	var f Frame
	if err := nextTimeout(s, &f, 2*time.Second); err != nil || !bytes.Equal(f.Data, a) || f.Seq != 1 {
		t.Fatalf("first frame: seq %d, %d bytes, %v", f.Seq, len(f.Data), err)
	}
	start := time.Now()
	if err := nextTimeout(s, &f, 3*time.Second); err != nil || !bytes.Equal(f.Data, b) || f.Seq < 2 {
		t.Fatalf("frame after the stall: seq %d, %d bytes, %v\n%s", f.Seq, len(f.Data), err, logs)
	}
	if d := time.Since(start); d < 90*time.Millisecond {
		t.Errorf("frame after the stall came after %v, before the 100 ms timeout", d)
	}
	l := logs.String()
	for _, want := range []string{`"error":"no data for 100ms"`, "camera: http stream down", "camera: http stream back"} {
		if !strings.Contains(l, want) {
			t.Errorf("log lacks %q:\n%s", want, l)
		}
	}
}

// TestHTTPReconnect has a server that ends the stream after three frames:
// the source reconnects each time, Seq keeps growing, and the outages are
// logged at most once per logEvery.
func TestHTTPReconnect(t *testing.T) {
	fr := [][]byte{makeJPEG(t, 32, 24, 1), makeJPEG(t, 32, 24, 2), makeJPEG(t, 32, 24, 3)}
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		setContentType(w, mixedReplace)
		for _, f := range fr {
			writeFlush(w, mjpegPart(f))
			time.Sleep(3 * time.Millisecond) // a camera's frame pacing
		}
	})
	s, logs := openTestHTTP(t, srv.URL, func(c *httpConfig) { c.logEvery = time.Minute })
	var f Frame
	var last uint64
	for range 12 {
		if err := nextTimeout(s, &f, 2*time.Second); err != nil {
			t.Fatal(err)
		}
		if f.Seq <= last {
			t.Fatalf("Seq %d after %d", f.Seq, last)
		}
		last = f.Seq
	}
	if n := s.conns.Load(); n < 4 {
		t.Errorf("%d connections for 12 frames of 3 per connection", n)
	}
	l := logs.String()
	for msg, want := range map[string]int{"camera: http stream connected": 1, "camera: http stream down": 1, "camera: http stream back": 1} {
		if n := strings.Count(l, msg); n != want {
			t.Errorf("%q logged %d times, want %d:\n%s", msg, n, want, l)
		}
	}
	if !strings.Contains(l, "the camera ended the stream") {
		t.Errorf("log does not say why:\n%s", l)
	}
	if st := s.Stats(); st.Corrupt != 0 || st.Frames != 12 {
		t.Errorf("stats %+v, want 12 frames and none corrupt", st)
	}
}

// TestHTTPBackoff counts the connection attempts to a failing server: the
// delay doubles from 20 ms to 80 ms, and the outage is logged once.
func TestHTTPBackoff(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "busy", http.StatusInternalServerError)
	})
	s, logs := openTestHTTP(t, srv.URL, func(c *httpConfig) {
		c.backoffMin, c.backoffMax, c.logEvery = 20*time.Millisecond, 80*time.Millisecond, time.Minute
	})
	// Real time: the number of attempts in a stretch of it is what is measured.
	time.Sleep(600 * time.Millisecond)
	// Attempts at 0, 20, 60, 140, 220, ... 540 ms: 8, give or take.
	if n := s.conns.Load(); n < 5 || n > 10 {
		t.Errorf("%d attempts in 600 ms, want about 8", n)
	}
	l := logs.String()
	if n := strings.Count(l, "camera: http stream down"); n != 1 {
		t.Errorf("outage logged %d times, want once:\n%s", n, l)
	}
	if !strings.Contains(l, "HTTP status 500 Internal Server Error") {
		t.Errorf("log does not name the status:\n%s", l)
	}
}

func TestHTTPStatus(t *testing.T) {
	for _, tc := range []struct {
		code int
		want string
	}{
		{401, "HTTP status 401 Unauthorized (check the user and password in the URI)"},
		{404, "HTTP status 404 Not Found"},
		{500, "HTTP status 500 Internal Server Error"},
		{503, "HTTP status 503 Service Unavailable"},
	} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				setContentType(w, mixedReplace)
				w.WriteHeader(tc.code)
				w.Write(mjpegPart(makeJPEG(t, 8, 8, 1))) // not to be read as a frame
			})
			s, logs := openTestHTTP(t, srv.URL, nil)
			var f Frame
			if err := nextTimeout(s, &f, 150*time.Millisecond); err != context.DeadlineExceeded {
				t.Fatalf("Next = %v, want %v", err, context.DeadlineExceeded)
			}
			if l := logs.String(); !strings.Contains(l, tc.want) {
				t.Errorf("log lacks %q:\n%s", tc.want, l)
			}
			if s.conns.Load() < 2 {
				t.Error("no second attempt")
			}
		})
	}
}

// TestHTTPAuth sends the URL's user and password as basic authentication
// and never shows the password.
func TestHTTPAuth(t *testing.T) {
	const pass = "s3cr%3At" // "s3cr:t" percent-encoded
	frame := makeJPEG(t, 16, 16, 1)
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "admin" || p != "s3cr:t" || r.URL.RawQuery != "res=vga&x=1" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		setContentType(w, mixedReplace)
		writeFlush(w, mjpegPart(frame))
		<-r.Context().Done()
	})
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, tc := range []struct {
		name, uri string
		ok        bool
	}{
		{"right", "http://admin:" + pass + "@" + host + "/video?res=vga&x=1#timeout=5s", true},
		{"wrong", "http://admin:" + pass + "x@" + host + "/video?res=vga&x=1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, logs := openTestHTTP(t, tc.uri, nil)
			var f Frame
			err := nextTimeout(s, &f, 300*time.Millisecond)
			if tc.ok != (err == nil) {
				t.Fatalf("Next: %v\n%s", err, logs)
			}
			if !tc.ok && !strings.Contains(logs.String(), "401 Unauthorized") {
				t.Errorf("401 not logged:\n%s", logs)
			}
			str := s.String()
			if strings.Contains(str, "s3cr") || !strings.Contains(str, "admin:xxxxx@"+host) {
				t.Errorf("String() = %q", str)
			}
			if strings.Contains(logs.String(), "s3cr") {
				t.Errorf("log shows the password:\n%s", logs)
			}
		})
	}
	// Errors from Open and Check do not show it either.
	for _, uri := range []string{"http://admin:" + pass + "@" + host + "/#bogus=1", "http://admin:" + pass + "@" + host + ":99999/",
		"http://admin:s3cr/t@" + host + "/", "http://admin:s3cr%zz@" + host + "/"} {
		err := Check(uri)
		_, err2 := Open(uri, Options{})
		if err == nil || err2 == nil {
			t.Errorf("%q: Check = %v, Open = %v, want errors", uri, err, err2)
			continue
		}
		if strings.Contains(err.Error(), "s3cr") || strings.Contains(err2.Error(), "s3cr") {
			t.Errorf("errors show the password: %v; %v", err, err2)
		}
	}
}

// TestHTTPHugePart sends parts larger than max, with and without
// Content-Length, and garbage: they are dropped and counted, and the
// frames around them arrive.
func TestHTTPHugePart(t *testing.T) {
	fr := [][]byte{makeJPEG(t, 32, 24, 1), makeJPEG(t, 32, 24, 2), makeJPEG(t, 32, 24, 3), makeJPEG(t, 32, 24, 4)}
	huge := bytes.Repeat([]byte{0xFF, 0xD8, 0xFF, 0xE0, 'x'}, 10000) // 50 kB, not a JPEG
	body := [][]byte{
		mjpegPart(fr[0]),
		mjpegPart(huge),
		mjpegPart(fr[1]),
		part("\r\n--frame", "\r\n", []string{"Content-Type: image/jpeg"}, huge),
		mjpegPart(fr[2]),
		[]byte("\r\ngarbage\xff\xd8 between parts\r\n\r\n"),
		mjpegPart(fr[3]),
	}
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		setContentType(w, mixedReplace)
		for _, p := range body {
			writeFlush(w, p)
			// Frame pacing, so that each part is read before the next arrives
			// and the sequence numbers below do not depend on the scheduler.
			time.Sleep(20 * time.Millisecond)
		}
		<-r.Context().Done()
	})
	s, logs := openTestHTTP(t, srv.URL+"#max=8192", nil)
	var f Frame
	for i, wantSeq := range []uint64{1, 3, 5, 6} {
		if err := nextTimeout(s, &f, 2*time.Second); err != nil {
			t.Fatalf("frame %d: %v\n%s", i, err, logs)
		}
		if f.Seq != wantSeq || !bytes.Equal(f.Data, fr[i]) {
			t.Fatalf("frame %d: seq %d (want %d), %d bytes", i, f.Seq, wantSeq, len(f.Data))
		}
	}
	if st := s.Stats(); st.Corrupt != 2 {
		t.Errorf("%d corrupt, want 2", st.Corrupt)
	}
	if l := logs.String(); !strings.Contains(l, "part of 50000 bytes is larger than 8192") {
		t.Errorf("drop not logged:\n%s", l)
	}
	s.Close() // the reader goroutine owns s.back until it has ended
	if cap(s.back) > 64<<10 || cap(s.latest) > 64<<10 {
		t.Errorf("buffers grew to %d and %d bytes", cap(s.back), cap(s.latest))
	}
}

// countGoroutines waits up to a second for the goroutines to drop to n.
func countGoroutines(t testing.TB, n int) {
	t.Helper()
	if testwait.Until(time.Second, func() bool { return runtime.NumGoroutine() <= n }) {
		return
	}
	buf := make([]byte, 1<<16)
	t.Errorf("%d goroutines, want %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
}

// silentServer accepts connections and never answers.
func silentServer(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return "http://" + ln.Addr().String() + "/stream"
}

// TestHTTPClose closes the source from another goroutine while Next is
// blocked: Next returns ErrClosed and Close returns promptly, whether the
// source is waiting for a response, for a frame, or between attempts.
func TestHTTPClose(t *testing.T) {
	stalled := serve(t, func(w http.ResponseWriter, r *http.Request) {
		setContentType(w, mixedReplace)
		writeFlush(w, []byte("--frame\r\nContent-Length: 1000\r\n\r\n\xff\xd8"))
		<-r.Context().Done()
	})
	failing := serve(t, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	for _, tc := range []struct{ name, uri string }{
		{"no response", silentServer(t)},
		{"mid frame", stalled.URL},
		{"backoff", failing.URL},
		{"refused", "http://127.0.0.1:1/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			s, _ := openTestHTTP(t, tc.uri, func(c *httpConfig) { c.backoffMin, c.backoffMax = time.Minute, time.Minute })
			errc := make(chan error, 1)
			go func() {
				var f Frame
				errc <- s.Next(context.Background(), &f)
			}()
			// A head start for Next, so that Close usually finds it blocked
			// in the state the case names; an earlier Close must work too.
			time.Sleep(50 * time.Millisecond)
			start := time.Now()
			s.Close()
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Errorf("Close took %v", d)
			}
			select {
			case err := <-errc:
				if err != ErrClosed {
					t.Errorf("Next = %v, want ErrClosed", err)
				}
			case <-time.After(time.Second):
				t.Fatal("Next still blocked a second after Close")
			}
			var f Frame
			if err := s.Next(context.Background(), &f); err != ErrClosed {
				t.Errorf("Next after Close = %v", err)
			}
			s.Close() // idempotent
			countGoroutines(t, before)
		})
	}
}

// TestHTTPContextCancel cancels Next's context: it returns promptly, and
// the source goes on delivering frames to the next call.
func TestHTTPContextCancel(t *testing.T) {
	frame := makeJPEG(t, 16, 16, 1)
	start, connected := make(chan struct{}), make(chan struct{}, 1)
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		setContentType(w, mixedReplace)
		writeFlush(w, nil)
		select {
		case connected <- struct{}{}:
		default:
		}
		select {
		case <-start:
		case <-r.Context().Done():
			return
		}
		writeFlush(w, mjpegPart(frame))
		<-r.Context().Done()
	})
	s, _ := openTestHTTP(t, srv.URL, nil)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	var f Frame
	go func() { errc <- s.Next(ctx, &f) }()
	<-connected // the source is now waiting for a frame
	cancel()
	select {
	case err := <-errc:
		if err != context.Canceled {
			t.Fatalf("Next = %v, want context.Canceled", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Next still blocked a second after cancel")
	}
	close(start)
	if err := nextTimeout(s, &f, 2*time.Second); err != nil || !bytes.Equal(f.Data, frame) {
		t.Fatalf("Next after cancel: %v", err)
	}
}

func TestHTTPS(t *testing.T) {
	frame := makeJPEG(t, 16, 16, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setContentType(w, mixedReplace)
		writeFlush(w, mjpegPart(frame))
		<-r.Context().Done()
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes below
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	s, _ := openTestHTTP(t, srv.URL+"/stream", func(c *httpConfig) { c.tls = &tls.Config{RootCAs: roots} })
	var f Frame
	if err := nextTimeout(s, &f, 2*time.Second); err != nil || !bytes.Equal(f.Data, frame) {
		t.Fatalf("Next: %v", err)
	}
	// A self-signed camera: its certificate pinned by fingerprint (as
	// openssl prints it), or not checked at all.
	sum := sha256.Sum256(srv.Certificate().Raw)
	var pairs []string
	for _, b := range sum {
		pairs = append(pairs, fmt.Sprintf("%02X", b))
	}
	for _, opts := range []string{"#cert=sha256:" + strings.Join(pairs, ":"), "#insecure=true"} {
		u, err := parseURI(srv.URL + "/stream" + opts)
		if err != nil {
			t.Fatal(err)
		}
		c, err := parseHTTPConfig(u)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := openTestHTTP(t, srv.URL+"/stream", func(tc *httpConfig) { tc.tls = c.tls })
		if err := nextTimeout(s, &f, 2*time.Second); err != nil || !bytes.Equal(f.Data, frame) {
			t.Fatalf("%s: Next: %v", opts, err)
		}
	}
	u, _ := parseURI(srv.URL + "/stream#cert=sha256:" + strings.Repeat("ab", 32))
	c, err := parseHTTPConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	s3, logs3 := openTestHTTP(t, srv.URL+"/stream", func(tc *httpConfig) { tc.tls = c.tls })
	if err := nextTimeout(s3, &f, 200*time.Millisecond); err != context.DeadlineExceeded {
		t.Fatalf("Next with the wrong pin = %v", err)
	}
	if !testwait.Until(5*time.Second, func() bool {
		return strings.Contains(logs3.String(), fmt.Sprintf("sha256:%x, not the one given", sum))
	}) {
		t.Fatalf("log does not say the fingerprint differs:\n%s", logs3)
	}

	// Without trusting the server's certificate, the error says why.
	s2, logs := openTestHTTP(t, srv.URL+"/stream", nil)
	if err := nextTimeout(s2, &f, 200*time.Millisecond); err != context.DeadlineExceeded {
		t.Fatalf("Next = %v", err)
	}
	if !testwait.Until(5*time.Second, func() bool { return strings.Contains(logs.String(), "certificate") }) {
		t.Fatalf("log does not mention the certificate:\n%s", logs)
	}
}

func TestHTTPURI(t *testing.T) {
	for _, tc := range []struct {
		uri              string
		wantErr          string // "" for success
		url, user, pass  string
		timeout, connect time.Duration
		maxFrame         int
		auth             bool
		redacted, scheme string
	}{
		{uri: "http://192.168.1.50:81/stream", url: "http://192.168.1.50:81/stream", timeout: 10 * time.Second, connect: 10 * time.Second, maxFrame: 8 << 20},
		{uri: "HTTPS://Cam.local/video.mjpg?resolution=640x480&fps=5#timeout=5s&connect=2s&max=4000000",
			url: "https://Cam.local/video.mjpg?resolution=640x480&fps=5", timeout: 5 * time.Second, connect: 2 * time.Second, maxFrame: 4000000},
		{uri: "http://admin:p%40ss@cam/", url: "http://cam/", user: "admin", pass: "p@ss", auth: true,
			timeout: 10 * time.Second, connect: 10 * time.Second, maxFrame: 8 << 20},
		{uri: "http://admin@[fe80::1%25eth0]:8080/", url: "http://[fe80::1%25eth0]:8080/", user: "admin", auth: true,
			timeout: 10 * time.Second, connect: 10 * time.Second, maxFrame: 8 << 20},
		{uri: "http:/stream", wantErr: "needs a host"},
		{uri: "http://", wantErr: "needs a host"},
		{uri: "http:cam/stream", wantErr: "needs a host"},
		{uri: "http://cam:99999/", wantErr: `port "99999"`},
		{uri: "http://cam:x/", wantErr: "invalid URL"},
		{uri: "http://cam/#bogus=1", wantErr: `unknown option "bogus" after '#'`},
		{uri: "http://cam/#timeout=fast", wantErr: `timeout="fast"`},
		{uri: "http://cam/#timeout=0s", wantErr: `timeout="0s"`},
		{uri: "http://cam/#max=10", wantErr: `max="10"`},
		{uri: "http://cam/#max=1&max=2", wantErr: "given 2 times"},
		{uri: "http://cam/#a=%zz", wantErr: "options after '#'"},
		{uri: "http://cam/#insecure=true", wantErr: "for https: cameras"},
		{uri: "https://cam/#insecure=yes", wantErr: `insecure="yes"`},
		{uri: "https://cam/#cert=sha256:abcd", wantErr: "64 hex digits"},
		{uri: "https://cam/#cert=md5:" + strings.Repeat("ab", 32), wantErr: "want sha256:"},
		{uri: "https://cam/#insecure=true&cert=sha256:" + strings.Repeat("ab", 32), wantErr: "not both"},
		{uri: "https://cam/#insecure=true", url: "https://cam/", timeout: 10 * time.Second, connect: 10 * time.Second, maxFrame: 8 << 20},
		{uri: "https://cam/#cert=SHA256:" + strings.Repeat("AB:", 31) + "AB", url: "https://cam/", timeout: 10 * time.Second, connect: 10 * time.Second, maxFrame: 8 << 20},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			u, err := parseURI(tc.uri)
			var c httpConfig
			if err == nil {
				c, err = parseHTTPConfig(u)
			}
			if checkErr := Check(tc.uri); (checkErr == nil) != (err == nil) {
				t.Errorf("Check = %v, parse = %v", checkErr, err)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.url != tc.url || c.user != tc.user || c.pass != tc.pass || c.auth != tc.auth ||
				c.timeout != tc.timeout || c.connect != tc.connect || c.maxFrame != tc.maxFrame {
				t.Errorf("config %+v", c)
			}
			if c.backoffMin != 500*time.Millisecond || c.backoffMax != 30*time.Second {
				t.Errorf("backoff %v to %v, want 0.5s to 30s", c.backoffMin, c.backoffMax)
			}
		})
	}
	// Open does not connect: a camera that is off does not stop the daemon.
	src, err := Open("http://127.0.0.1:1/stream", Options{})
	if err != nil {
		t.Fatal(err)
	}
	src.Close()
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://admin:secret@cam/stream", "http://admin:xxxxx@cam/stream"},
		{"HTTPS://admin:se%3Acret@cam:81/x?a=b@c#max=5", "HTTPS://admin:xxxxx@cam:81/x?a=b@c#max=5"},
		{"http://a:b@c@cam/", "http://a:xxxxx@cam/"},
		{"http://admin:pa/ss@cam/", "http://xxxxx@cam/"},
		{"http://admin@cam/", "http://admin@cam/"},
		{"http://cam:81/a@b", "http://cam:81/a@b"},
		{"http://cam/", "http://cam/"},
		{"exec:curl http://u:p@cam/", "exec:curl http://u:xxxxx@cam/"},
		{"exec:ffmpeg -rtsp_transport tcp -i rtsp://admin:hunter2@192.168.1.9:554/live -f mjpeg -",
			"exec:ffmpeg -rtsp_transport tcp -i rtsp://admin:xxxxx@192.168.1.9:554/live -f mjpeg -"},
		{"exec:sh -c 'gst-launch-1.0 rtspsrc location=\"rtsp://u:p@cam/1\" ! fdsink'",
			"exec:sh -c 'gst-launch-1.0 rtspsrc location=\"rtsp://u:xxxxx@cam/1\" ! fdsink'"},
		{"exec:tool --url=rtmp://u:p@h/app --x", "exec:tool --url=rtmp://u:xxxxx@h/app --x"},
		{"exec:tool -i x,rtsp://u:p@h/", "exec:tool -i x,rtsp://u:xxxxx@h/"},
		{"exec:rpicam-vid -t 0 -n --codec mjpeg -o -", "exec:rpicam-vid -t 0 -n --codec mjpeg -o -"},
		{"file:/x/a:b@c.jpg", "file:/x/a:b@c.jpg"},
		{"test:", "test:"},
		{"", ""},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzRedact checks that a URL's password never survives Redact, alone or
// as a word of an exec: command line.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"http://admin:secret@cam/stream", "https://a:b@c@d:81/x?y=z@w#max=1", "http://u:p/q@h/", "http://h/a@b", "exec:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		if w := Redact("exec:cmd -i " + uri + " -o -"); strings.Contains(w, "://") {
			word := strings.TrimSuffix(strings.TrimPrefix(w, "exec:cmd -i "), " -o -")
			if !strings.ContainsAny(uri, " \t\n\r'\"=") && word != Redact(uri) && (strings.HasPrefix(uri, "http:") || strings.HasPrefix(uri, "https:")) {
				t.Fatalf("in a command line %q became %q, alone %q", uri, word, Redact(uri))
			}
		}
		r := Redact(uri)
		u, err := url.Parse(uri)
		if err != nil || u.User == nil || (u.Scheme != "http" && u.Scheme != "https") {
			return
		}
		if p, _ := u.User.Password(); p == "" {
			return
		}
		ru, err := url.Parse(r)
		if err != nil {
			return // unparsable either way: nothing to leak through the parser
		}
		if p, ok := ru.User.Password(); ru.User != nil && ok && p != "xxxxx" {
			t.Fatalf("Redact(%q) = %q keeps password %q", uri, r, p)
		}
	})
}

// streamServer is a bare TCP server that answers every request with an
// endless multipart stream of one part, written as fast as the client
// reads: no server-side allocation per frame.
func streamServer(t testing.TB, part []byte) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					l, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if l == "\r\n" {
						break
					}
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: "+mixedReplace+"\r\nConnection: close\r\n\r\n")
				for {
					if _, err := c.Write(part); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/stream"
}

// parsed returns how many frames the source has read (delivered or not).
func (s *httpSource) parsed() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latestSeq
}

// TestHTTPAllocs measures the allocations of the whole process (server,
// HTTP client, source) per frame read, in steady state.
func TestHTTPAllocs(t *testing.T) {
	frame := makeJPEG(t, 320, 240, 1)
	s, _ := openTestHTTP(t, streamServer(t, mjpegPart(frame)), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var f Frame
	for range 50 {
		if err := s.Next(ctx, &f); err != nil {
			t.Fatal(err)
		}
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	n0 := s.parsed()
	for range 200 {
		if err := s.Next(ctx, &f); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&m1)
	n := s.parsed() - n0
	perFrame := float64(m1.Mallocs-m0.Mallocs) / float64(n)
	t.Logf("%d frames read, 200 delivered: %.4f allocations per frame read", n, perFrame)
	if !bytes.Equal(f.Data, frame) {
		t.Error("wrong frame")
	}
	// Not exactly 0: the runtime and the test's own goroutines may
	// allocate now and then.
	if perFrame > 0.05 {
		t.Errorf("%.3f allocations per frame", perFrame)
	}
}

func BenchmarkHTTPSource(b *testing.B) {
	for _, size := range []int{64, 320, 640} {
		frame := makeJPEG(b, size, size*3/4, 1)
		b.Run(fmt.Sprintf("%dx%d", size, size*3/4), func(b *testing.B) {
			s, _ := openTestHTTP(b, streamServer(b, mjpegPart(frame)), nil)
			var f Frame
			ctx := context.Background()
			if err := s.Next(ctx, &f); err != nil {
				b.Fatal(err)
			}
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			n0 := s.parsed()
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Next(ctx, &f); err != nil {
					b.Fatal(err)
				}
			}
			runtime.ReadMemStats(&m1)
			n := s.parsed() - n0
			b.ReportMetric(float64(n)/float64(b.N), "read/op")
			b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(n), "allocs/frame")
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}

package web

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/rs/zerolog"

	"catd/config"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// runServer runs a Server on a fake host until the test ends.
func runServer(t *testing.T, opt Options) (*Server, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	if opt.Host == nil {
		opt.Host = newFakeHost(t)
	}
	opt.Log = zerolog.New(logs)
	if opt.StateDir == "" {
		opt.StateDir = t.TempDir()
	}
	s := New(opt)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, logs
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServerLifecycle: a port in use is logged and tried again until it is
// free; a new listen address moves the server; "" turns it off.
func TestServerLifecycle(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, logs := runServer(t, Options{MinBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	s.Apply(config.HTTP{Listen: busy.Addr().String()})
	waitFor(t, "two failed tries", func() bool {
		return strings.Count(logs.String(), "address already in use") >= 2
	})
	if !strings.Contains(logs.String(), "detection goes on, trying again") {
		t.Errorf("logs: %s", logs)
	}
	busy.Close()
	waitFor(t, "the server on the freed port", func() bool { return s.Addr() == busy.Addr().String() })
	if code, body := get(t, http.DefaultClient, "http://"+s.Addr()+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("healthz: %d %q", code, body)
	}
	old := s.Addr()
	s.Apply(config.HTTP{Listen: "127.0.0.1:0"})
	waitFor(t, "the move", func() bool { a := s.Addr(); return a != "" && a != old })
	if code, _ := get(t, http.DefaultClient, "http://"+old+"/healthz"); code != 0 {
		t.Errorf("the old address still answers: %d", code)
	}
	cur := s.Addr()
	s.Apply(config.HTTP{})
	waitFor(t, "the page off", func() bool { return s.Addr() == "" })
	if code, _ := get(t, http.DefaultClient, "http://"+cur+"/healthz"); code != 0 {
		t.Errorf("the page answers when off: %d", code)
	}
	waitFor(t, "the log of it", func() bool { return strings.Contains(logs.String(), "web page off") })
}

// TestGeneratedPassword: without a password file, the first start makes
// one (0600) and logs it; the next start reads it and does not log it.
func TestGeneratedPassword(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	a := newAuth(time.Now)
	if err := a.load("", dir, zerolog.New(&logs)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, PasswordFileName))
	if err != nil {
		t.Fatal(err)
	}
	pw := strings.TrimSpace(string(data))
	fi, _ := os.Stat(filepath.Join(dir, PasswordFileName))
	if len(pw) < 20 || fi.Mode().Perm() != 0o600 || !a.check(pw) || a.check(pw+"x") {
		t.Fatalf("password %q, mode %v", pw, fi.Mode())
	}
	if strings.Count(logs.String(), pw) != 1 {
		t.Errorf("the new password is not logged once: %s", logs.String())
	}
	logs.Reset()
	b := newAuth(time.Now)
	if err := b.load("", dir, zerolog.New(&logs)); err != nil || !b.check(pw) {
		t.Fatalf("second start: %v", err)
	}
	if strings.Contains(logs.String(), pw) {
		t.Errorf("the password is logged again: %s", logs.String())
	}
	for _, tc := range []struct{ name, content, says string }{
		{"short", "abc\n", "at least 8"},
		{"empty", "", "at least 8"},
	} {
		p := filepath.Join(dir, tc.name)
		os.WriteFile(p, []byte(tc.content), 0o600)
		if err := newAuth(time.Now).load(p, dir, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s password file: %v", tc.name, err)
		}
	}
	if err := newAuth(time.Now).load(filepath.Join(dir, "missing"), dir, zerolog.Nop()); err == nil ||
		!strings.Contains(err.Error(), "missing") {
		t.Errorf("missing password file: %v", err)
	}
}

// TestPasswordChangeEndsSessions: a new password logs everyone out.
func TestPasswordChangeEndsSessions(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pw")
	os.WriteFile(p, []byte("first password\n"), 0o600)
	a := newAuth(time.Now)
	a.load(p, dir, zerolog.Nop())
	token, _ := a.newSession()
	r, _ := http.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: sessionCookie, Value: token})
	a.load(p, dir, zerolog.Nop())
	if a.session(r) == nil {
		t.Fatal("the same password ended the session")
	}
	os.WriteFile(p, []byte("second password\n"), 0o600)
	a.load(p, dir, zerolog.Nop())
	if a.session(r) != nil {
		t.Error("the session outlived the password")
	}
}

// TestTLS: with cert_file and key_file the page is served over HTTPS and
// the session cookie is Secure.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	h := newFakeHost(t)
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte(testPassword), 0o600)
	s, _ := runServer(t, Options{Host: h})
	s.Apply(config.HTTP{Listen: "127.0.0.1:0", PasswordFile: pw, CertFile: cert, KeyFile: key})
	waitFor(t, "the server", func() bool { return s.Addr() != "" })
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm("https://"+s.Addr()+"/login", map[string][]string{"password": {testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ck := resp.Cookies(); len(ck) != 1 || !ck[0].Secure {
		t.Errorf("cookies over HTTPS: %v", ck)
	}
	if code, _ := get(t, http.DefaultClient, "http://"+s.Addr()+"/healthz"); code == 200 {
		t.Error("plain HTTP answered on the HTTPS port")
	}
}

func selfSigned(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "catd"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return cert, key
}

// TestMetrics: /metrics answers without a session, in Prometheus's text
// format, with the figures of status.json, and passes the client library's
// lint and, where it is installed, promtool check metrics.
func TestMetrics(t *testing.T) {
	ts := newTestServer(t)
	ts.Frame(&cameraFrameAt, 0.5, 0.5, false)
	code, body := ts.client(t).call("GET", "/metrics", "")
	if code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	for _, want := range []string{
		"catd_frames_total 1234\n", "catd_frames_dropped_total 3\n", "catd_frames_corrupt_total 1\n",
		"catd_frame_rate_hertz 9.5\n", "catd_p_cat 0.875\n", "catd_threshold 0.5\n", "catd_cat_present 1\n",
		`catd_learning_rounds_total{outcome="accepted"} 2` + "\n", `catd_learning_rounds_total{outcome="rejected"} 3` + "\n",
		`catd_labels{class="cat"} 7` + "\n", `catd_labels{class="noncat"} 9` + "\n", "catd_state_written_bytes_total 4096\n",
		"catd_held_out_auc 0.91\n", "catd_frame_latency_seconds_count 1\n", "go_memstats_heap_alloc_bytes ",
		"catd_status_up 1\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian: apt-get install prometheus): only the client library's lint ran")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}

	ts.host.mu.Lock()
	ts.host.status = nil
	ts.host.mu.Unlock()
	if _, body := ts.client(t).call("GET", "/metrics", ""); !strings.Contains(body, "catd_status_up 0\n") {
		t.Error("without status.json, catd_status_up is not 0")
	}
}

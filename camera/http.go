package camera

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// httpSource is the http: and https: source: MJPEG from a camera's web
// server (ESP32-CAM, IP cameras), as multipart/x-mixed-replace parts or a
// bare stream of JPEGs; see multipartReader for the quirks it copes with.
//
// A reader goroutine connects, reads the stream without pause into a buffer
// the source owns and publishes each complete frame as the latest; Next
// copies the latest frame it has not delivered yet into the caller's
// Frame. A consumer slower than the camera gets the newest frame, and the
// frames in between are dropped (a gap in Frame.Seq).
//
// A connection that fails, answers with a status other than 200, ends, or
// sends nothing for the stall timeout is closed and made again after a
// delay that doubles from backoffMin to backoffMax and drops back to
// backoffMin once a connection has delivered a frame. The first failure of
// an outage is logged (at most one per logEvery; the outages in between
// are counted) and so is the recovery. Close cancels the connection and
// waits for the goroutine.
type httpSource struct {
	uri    string // with the password redacted
	cfg    httpConfig
	log    zerolog.Logger
	client *http.Client
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	handoff // the frames

	// Owned by the reader goroutine.
	mr      *multipartReader
	body    stallReader
	scratch []byte // frame without DHT, before the tables are inserted
	out     outage

	conns     atomic.Uint64 // connection attempts, for tests
	stalled   atomic.Bool   // the watchdog cut the current connection
	finished  chan struct{}
	closeOnce sync.Once
}

// outage is the reader goroutine's record of a lost stream, for logging.
type outage struct {
	down       bool
	logged     bool // the loss was logged, so the recovery is too
	since      time.Time
	attempts   int
	lastLog    time.Time
	suppressed int // outages not logged since the last one logged
	connected  bool
}

// stallReader reads the response body, pushing back the stall watchdog
// whenever bytes arrive.
type stallReader struct {
	r       io.Reader
	t       *time.Timer
	timeout time.Duration
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.t.Reset(s.timeout)
	}
	return n, err
}

func openHTTP(uri string, c httpConfig, log zerolog.Logger) *httpSource {
	tr := &http.Transport{
		// Cameras are on the local network: no proxy, which would also
		// buffer the endless response.
		Proxy:                  nil,
		DialContext:            (&net.Dialer{Timeout: c.connect, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:        c.tls,
		TLSHandshakeTimeout:    c.connect,
		ResponseHeaderTimeout:  c.timeout,
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &httpSource{
		uri:      Redact(uri),
		cfg:      c,
		log:      log,
		client:   &http.Client{Transport: tr},
		ctx:      ctx,
		cancel:   cancel,
		mr:       newMultipartReader(c.maxFrame, mjpegBufSize),
		handoff:  newHandoff(Redact(uri), log),
		finished: make(chan struct{}),
	}
	if c.insecure {
		log.Warn().Str("source", s.uri).Msg("camera: https certificate not checked (insecure=true); cert=sha256:... trusts only the camera's own")
	}
	go s.run()
	return s
}

// String returns the URI with the password, if any, replaced by xxxxx.
func (s *httpSource) String() string { return s.uri }

func (s *httpSource) Stats() Stats { return s.stats() }

// Close cancels the connection and waits for the reader goroutine.
func (s *httpSource) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.cancel()
		<-s.finished
		s.client.CloseIdleConnections()
	})
	return nil
}

func (s *httpSource) Next(ctx context.Context, f *Frame) error {
	return s.next(ctx, f, func(f *Frame) { f.Format, f.W, f.H, f.Stride = JPEG, 0, 0, 0 })
}

func (s *httpSource) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// run connects and reads until Close, reconnecting with backoff.
func (s *httpSource) run() {
	defer close(s.finished)
	delay := s.cfg.backoffMin
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		n, err := s.serve()
		if s.isClosed() {
			return
		}
		if n > 0 {
			delay = s.cfg.backoffMin
		}
		s.lost(err, delay)
		t.Reset(delay)
		select {
		case <-s.done:
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, s.cfg.backoffMax)
	}
}

// serve makes one connection and reads frames from it until it fails. It
// returns how many frames it published and why it ended.
func (s *httpSource) serve() (n uint64, err error) {
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.url, nil)
	if err != nil {
		return 0, err
	}
	if s.cfg.auth {
		req.SetBasicAuth(s.cfg.user, s.cfg.pass)
	}
	req.Header.Set("User-Agent", "catd")
	s.conns.Add(1)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("HTTP status %s", resp.Status)
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			err = fmt.Errorf("%w (check the user and password in the URI)", err)
		}
		return 0, err
	}
	ct := resp.Header.Get("Content-Type")
	s.stalled.Store(false)
	wd := time.AfterFunc(s.cfg.timeout, func() {
		s.stalled.Store(true)
		cancel()
	})
	defer wd.Stop()
	s.body = stallReader{r: resp.Body, t: wd, timeout: s.cfg.timeout}
	s.mr.Reset(&s.body, multipartBoundary(ct))
	for {
		data, err := s.mr.Next(s.back)
		s.back = data
		switch {
		case err == nil:
			if dhtInsertPoint(data) > 0 {
				s.scratch = append(s.scratch[:0], data...)
				s.back = InsertHuffmanTables(s.back, s.scratch)
			}
			if n++; n == 1 {
				// Said before the frame is out: whoever has the frame
				// finds the log saying the stream is up.
				s.up(time.Now(), ct)
			}
			s.publish()
		case errors.Is(err, ErrBadFrame):
			s.skip(err)
		case err == io.EOF:
			return n, errors.New("the camera ended the stream")
		case err == io.ErrUnexpectedEOF:
			s.skip(errors.New("the stream ended in the middle of a frame"))
			return n, errors.New("the camera ended the stream in the middle of a frame")
		case s.stalled.Load():
			return n, fmt.Errorf("no data for %v", s.cfg.timeout)
		default:
			return n, err
		}
	}
}

// lost records a failed or ended connection; the first of an outage is
// logged, unless another outage was logged less than logEvery ago.
func (s *httpSource) lost(err error, retry time.Duration) {
	o := &s.out
	o.attempts++
	if o.down {
		s.log.Debug().Str("source", s.uri).Err(err).Int("attempts", o.attempts).Dur("retry_in", retry).
			Msg("camera: http stream still down")
		return
	}
	now := time.Now()
	o.down, o.since, o.attempts, o.logged = true, now, 1, false
	if !o.lastLog.IsZero() && now.Sub(o.lastLog) < s.cfg.logEvery {
		o.suppressed++
		return
	}
	ev := s.log.Warn().Str("source", s.uri).Err(err).Dur("retry_in", retry)
	if o.suppressed > 0 {
		ev = ev.Int("suppressed", o.suppressed)
	}
	ev.Msg("camera: http stream down")
	o.logged, o.lastLog, o.suppressed = true, now, 0
}

// up records the first frame of a connection.
func (s *httpSource) up(now time.Time, contentType string) {
	o := &s.out
	switch {
	case !o.connected:
		s.log.Info().Str("source", s.uri).Str("content_type", contentType).Bool("multipart", s.mr.Multipart()).
			Msg("camera: http stream connected")
	case o.down && o.logged:
		s.log.Info().Str("source", s.uri).Dur("down_for", now.Sub(o.since)).Int("attempts", o.attempts).
			Bool("multipart", s.mr.Multipart()).Msg("camera: http stream back")
	}
	o.connected, o.down = true, false
}

// httpConfig is a parsed http: or https: URI.
type httpConfig struct {
	url        string // the camera's URL, without user and password
	user, pass string
	auth       bool          // send user and pass (the URL had a user)
	timeout    time.Duration // no bytes for this long closes the connection
	connect    time.Duration // limit for the TCP connection and TLS handshake
	maxFrame   int           // largest frame in bytes

	// Reconnection and logging; tests shorten them.
	backoffMin, backoffMax time.Duration
	logEvery               time.Duration
	tls                    *tls.Config // nil: the system's roots; tests trust their server
	insecure               bool        // https: certificate not checked at all (option insecure)
}

// defaultHTTPMaxFrame is the largest frame an http: source reads, in bytes
// (option max).
const defaultHTTPMaxFrame = 8 << 20

// parseHTTPURI splits the part of an http: or https: URI after the colon at
// its first '#': before it is the camera's URL, its query the camera's own;
// after it are catd's options, written like a query.
func parseHTTPURI(scheme, rest string) (sourceURI, error) {
	camURL, frag, _ := strings.Cut(rest, "#")
	q, err := url.ParseQuery(frag)
	if err != nil {
		return sourceURI{}, fmt.Errorf("options after '#' %q: %w", frag, err)
	}
	for k, v := range q {
		if len(v) > 1 {
			return sourceURI{}, fmt.Errorf("option %q given %d times", k, len(v))
		}
	}
	return sourceURI{scheme: scheme, path: scheme + ":" + camURL, q: q}, nil
}

func parseHTTPConfig(u sourceURI) (httpConfig, error) {
	c := httpConfig{
		backoffMin: 500 * time.Millisecond,
		backoffMax: 30 * time.Second,
		logEvery:   time.Minute,
	}
	pu, err := url.Parse(u.path)
	if err != nil {
		if Redact(u.path) != u.path {
			// The parser's message may quote the password.
			return c, errors.New("invalid URL (characters such as @ : / ? # in the user or password must be percent-encoded)")
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return c, fmt.Errorf("invalid URL: %w", err)
	}
	if pu.Opaque != "" || pu.Host == "" {
		return c, fmt.Errorf("%s: needs a host (%s://192.168.1.50:81/stream)", u.scheme, u.scheme)
	}
	if p := pu.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return c, fmt.Errorf("port %q: want 1 to 65535", p)
		}
	}
	if pu.User != nil {
		c.auth = true
		c.user = pu.User.Username()
		c.pass, _ = pu.User.Password()
		pu.User = nil
	}
	c.url = pu.String()
	if c.timeout, err = u.duration("timeout", 10*time.Second, time.Millisecond, time.Hour); err != nil {
		return c, err
	}
	if c.connect, err = u.duration("connect", 10*time.Second, time.Millisecond, time.Hour); err != nil {
		return c, err
	}
	if c.maxFrame, err = u.int("max", defaultHTTPMaxFrame, 1024, 1<<30); err != nil {
		return c, err
	}
	pin, hasPin := u.take("cert")
	if c.insecure, err = u.bool("insecure", false); err != nil {
		return c, err
	}
	if (hasPin || c.insecure) && !strings.EqualFold(u.scheme, "https") {
		return c, errors.New("options cert and insecure are for https: cameras")
	}
	switch {
	case hasPin && c.insecure:
		return c, errors.New("give cert (trust this certificate) or insecure (trust any), not both")
	case hasPin:
		want, err := parseCertPin(pin)
		if err != nil {
			return c, err
		}
		c.tls = pinnedTLS(want)
	case c.insecure:
		c.tls = &tls.Config{InsecureSkipVerify: true}
	}
	if len(u.q) > 0 {
		keys := slices.Sorted(maps.Keys(u.q))
		return c, fmt.Errorf("unknown option %q after '#' (want timeout, connect, max, cert or insecure; the camera's own query goes before '#')", keys[0])
	}
	return c, nil
}

// parseCertPin reads a certificate fingerprint, sha256:HEX with the 64
// hex digits optionally in colon-separated pairs as openssl prints them.
func parseCertPin(s string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	h, ok := strings.CutPrefix(strings.ToLower(s), "sha256:")
	b, err := hex.DecodeString(strings.ReplaceAll(h, ":", ""))
	if !ok || err != nil || len(b) != sha256.Size {
		return sum, fmt.Errorf("cert=%q: want sha256: and the certificate's 64 hex digits (openssl x509 -noout -fingerprint -sha256)", s)
	}
	copy(sum[:], b)
	return sum, nil
}

// pinnedTLS trusts exactly the certificate with this SHA-256 fingerprint,
// as cameras with self-signed certificates need.
func pinnedTLS(want [sha256.Size]byte) *tls.Config {
	return &tls.Config{
		InsecureSkipVerify: true, // replaced by the pin check below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the camera sent no certificate")
			}
			if got := sha256.Sum256(cs.PeerCertificates[0].Raw); got != want {
				return fmt.Errorf("the camera's certificate is sha256:%x, not the one given in cert=", got)
			}
			return nil
		},
	}
}

// Redact returns uri with passwords replaced by "xxxxx", for logs and
// error messages: the password of an http: or https: URI
// (http://admin:xxxxx@192.168.1.50/stream), and that of every URL in an
// exec: command line (exec:ffmpeg -i rtsp://admin:xxxxx@cam/live ...).
// Other URIs are returned as they are.
func Redact(uri string) string {
	scheme, rest, ok := strings.Cut(uri, ":")
	switch {
	case !ok:
		return uri
	case strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https"):
		return redactURL(uri)
	case strings.EqualFold(scheme, "exec"):
		return scheme + ":" + redactCommand(rest)
	}
	return uri
}

// redactCommand redacts each word of a command line that holds a URL;
// words end at white space, quotes and '=' (--input=rtsp://...).
func redactCommand(cmd string) string {
	if !strings.Contains(cmd, "://") {
		return cmd
	}
	sep := func(c byte) bool {
		return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\'' || c == '"' || c == '='
	}
	var b strings.Builder
	for i := 0; i < len(cmd); {
		j := i
		for j < len(cmd) && !sep(cmd[j]) {
			j++
		}
		word := cmd[i:j]
		if strings.Contains(word, "://") {
			word = redactURL(word)
		}
		b.WriteString(word)
		k := j
		for k < len(cmd) && sep(cmd[k]) {
			k++
		}
		b.WriteString(cmd[j:k])
		i = k
	}
	return b.String()
}

// redactURL replaces the password in scheme://user:password@host/...
func redactURL(uri string) string {
	scheme, rest, ok := strings.Cut(uri, ":")
	if !ok {
		return uri
	}
	auth, ok := strings.CutPrefix(rest, "//")
	if !ok {
		// A word with a URL inside (x,rtsp://u:p@cam): redact from there.
		if i := strings.Index(uri, "://"); i > 0 {
			k := i
			for k > 0 && isSchemeChar(uri[k-1]) {
				k--
			}
			if k < i {
				return uri[:k] + redactURL(uri[k:])
			}
		}
		return uri
	}
	// As url.Parse reads it: the authority ends at the first / ? or #, and
	// the user information at its last @.
	end := strings.IndexAny(auth, "/?#")
	if end < 0 {
		end = len(auth)
	}
	at := strings.LastIndexByte(auth[:end], '@')
	if at < 0 {
		if i := strings.LastIndexByte(auth, '@'); i >= 0 {
			if _, err := url.Parse(uri); err != nil {
				// Unencoded special characters in the user information:
				// the URL does not parse, and the password may be in it.
				return scheme + "://xxxxx@" + auth[i+1:]
			}
		}
		return uri
	}
	user, _, hasPass := strings.Cut(auth[:at], ":")
	if !hasPass {
		return uri
	}
	return scheme + "://" + user + ":xxxxx@" + auth[at+1:]
}

func isSchemeChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'
}

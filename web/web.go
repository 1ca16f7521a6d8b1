package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"image"
	stdlog "log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"catd/camera"
	"catd/config"
)

// Host is what the page needs of the daemon. Its methods are called from
// the server's goroutines, concurrently, and must not block for long.
type Host interface {
	// Status returns the daemon's state: the content of status.json.
	Status() ([]byte, error)
	// Command runs one serial console command line ("label cat NAME",
	// "learn on", "save", "threshold 0.7"), parsed by
	// serialctl.ParseCommand, and returns its reply.
	Command(line string) (string, error)
	// JPEG returns frame f as a JPEG file, as snapshots are made. It may
	// return f.Data itself.
	JPEG(f *camera.Frame) ([]byte, error)
	// ROI is the region of interest in force, in frame pixels; the zero
	// Rectangle is the whole frame.
	ROI() image.Rectangle
	// ReviewDir and SnapshotDir are the folders of the review frames and
	// of the snapshots.
	ReviewDir() string
	SnapshotDir() string
	// DeleteSnapshot deletes the snapshot file name (a plain name).
	DeleteSnapshot(name string) error
	// ConfigPath is the watched config file, "" if catd runs without one.
	ConfigPath() string
	// Rounds appends the learning rounds run since start to dst, oldest
	// first.
	Rounds(dst []Round) []Round
}

// Round is one learning round, for the learning chart.
type Round struct {
	Time     time.Time `json:"time"`
	Accepted bool      `json:"accepted"`
	// ValLoss and ValAUC are the held-out loss and ROC AUC after the
	// round; nil when not measured (too few held-out labels).
	ValLoss *float64 `json:"val_loss"`
	ValAUC  *float64 `json:"val_auc"`
	Steps   int      `json:"steps"`
	Reason  string   `json:"reason"`
}

// Event is one of the daemon's events, as /api/events sends it.
type Event struct {
	Kind  string    `json:"kind"`
	Time  time.Time `json:"time"`
	Frame uint64    `json:"frame,omitempty"`
	PCat  *float32  `json:"p_cat,omitempty"`
	Msg   string    `json:"msg,omitempty"`
	// Stats, for a stats event: its figures by name.
	Stats map[string]any `json:"stats,omitempty"`
}

// Options configure a Server.
type Options struct {
	Host Host
	// StateDir holds the generated password (web-password).
	StateDir string
	Log      zerolog.Logger
	// LiveEvery is the least time between two live frames (default
	// 500 ms); LiveIdle how long after a page last asked for one frames
	// are still copied (default 5 s).
	LiveEvery, LiveIdle time.Duration
	// Backoff bounds the wait before a failed server is tried again
	// (defaults 1 s and 1 min), doubling from the first to the second.
	MinBackoff, MaxBackoff time.Duration
	// Clock is the time (default time.Now).
	Clock func() time.Time
}

// PasswordFileName is the file in the state directory that holds the
// generated password.
const PasswordFileName = "web-password"

// Server is the web page. Make one with New; Frame, Event and Apply may be
// called from any goroutine, before or while Run runs.
type Server struct {
	opt  Options
	log  zerolog.Logger
	cfgs chan config.HTTP
	live *live
	hub  *hub
	auth *auth
	reg  *prometheus.Registry
	met  *metrics

	mu   sync.Mutex
	addr string // where it serves now, "" if not
}

// New makes a Server; it serves nothing until Run.
func New(opt Options) *Server {
	if opt.LiveEvery <= 0 {
		opt.LiveEvery = 500 * time.Millisecond
	}
	if opt.LiveIdle <= 0 {
		opt.LiveIdle = 5 * time.Second
	}
	if opt.MinBackoff <= 0 {
		opt.MinBackoff = time.Second
	}
	if opt.MaxBackoff < opt.MinBackoff {
		opt.MaxBackoff = max(time.Minute, opt.MinBackoff)
	}
	if opt.Clock == nil {
		opt.Clock = time.Now
	}
	s := &Server{opt: opt, log: opt.Log, cfgs: make(chan config.HTTP, 1)}
	s.live = newLive(opt.LiveEvery, opt.LiveIdle, opt.Clock)
	s.hub = newHub(maxEventClients, eventQueue)
	s.auth = newAuth(opt.Clock)
	s.reg, s.met = newMetrics(opt.Host)
	return s
}

// Apply hands Run the http section to serve by; the newest wins. It never
// blocks.
func (s *Server) Apply(c config.HTTP) {
	for {
		select {
		case s.cfgs <- c:
			return
		default:
		}
		select {
		case <-s.cfgs:
		default:
		}
	}
}

// Addr is the address the server listens on now ("127.0.0.1:8787"), or
// "" while it serves nothing.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

func (s *Server) setAddr(a string) {
	s.mu.Lock()
	s.addr = a
	s.mu.Unlock()
}

// Frame offers the newest frame, with its p(cat), the threshold in force
// and whether a cat is reported present, to the live view and the
// metrics. It is meant for the inference goroutine: it allocates nothing
// (once the copy's buffer has grown to the frame's size), never blocks,
// and copies f.Data only when a viewer is waiting for a frame.
func (s *Server) Frame(f *camera.Frame, pcat, threshold float32, present bool) {
	now := s.opt.Clock()
	if !f.Time.IsZero() {
		s.met.latency.Observe(now.Sub(f.Time).Seconds())
	}
	s.live.offer(f, pcat, threshold, present, now.UnixNano())
}

// Event passes a daemon event on to the pages listening on /api/events;
// it never blocks (a page that does not keep up loses events).
func (s *Server) Event(ev Event) { s.hub.publish(ev) }

// Run serves the page as the newest config given to Apply says until ctx
// ends; without any, it waits for one. The live view's encoder runs as
// long as Run does.
func (s *Server) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() { defer wg.Done(); s.live.run(ctx, s.opt.Host) }()

	var cur config.HTTP
	for {
		select {
		case <-ctx.Done():
			return
		case cur = <-s.cfgs:
		}
		for cur.Listen != "" {
			next, ok := s.serve(ctx, cur)
			if !ok {
				return
			}
			cur = next
		}
		s.log.Info().Msg("web page off")
	}
}

// serve serves by c, trying again with backoff after a failure, until
// ctx ends (ok false) or a new config comes (returned).
func (s *Server) serve(ctx context.Context, c config.HTTP) (next config.HTTP, ok bool) {
	backoff := s.opt.MinBackoff
	for {
		err := s.serveOnce(ctx, c)
		if ctx.Err() != nil {
			return c, false
		}
		var nc newConfig
		if errors.As(err, &nc) {
			return nc.c, true
		}
		s.log.Error().Err(err).Str("listen", c.Listen).Dur("retry_in", backoff).
			Msg("web page not served; detection goes on, trying again")
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return c, false
		case nc := <-s.cfgs:
			t.Stop()
			return nc, true
		case <-t.C:
		}
		backoff = min(2*backoff, s.opt.MaxBackoff)
	}
}

// newConfig is serveOnce's answer when a new config came.
type newConfig struct{ c config.HTTP }

func (newConfig) Error() string { return "web: new config" }

// serveOnce reads the password, listens and serves until ctx ends, a new
// config comes (newConfig) or the server fails.
func (s *Server) serveOnce(ctx context.Context, c config.HTTP) error {
	if err := s.auth.load(c.PasswordFile, s.opt.StateDir, s.log); err != nil {
		return err
	}
	var tlsCfg *tls.Config
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return fmt.Errorf("web: certificate %s, key %s: %w", c.CertFile, c.KeyFile, err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("web: %w", err)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	stop := make(chan struct{}) // closed when this server stops: ends event streams
	srv := &http.Server{
		Handler:           s.handler(tlsCfg != nil, stop),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          stdlog.New(debugWriter{s.log}, "", 0),
	}
	scheme := "http"
	if tlsCfg != nil {
		scheme = "https"
	}
	addr := ln.Addr().String()
	s.setAddr(addr)
	defer s.setAddr("")
	s.log.Info().Str("listen", addr).Str("url", scheme+"://"+pageHost(addr)+"/").Msg("web page served")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	shutdown := func() {
		close(stop)
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close()
		}
		<-errc
	}
	select {
	case <-ctx.Done():
		shutdown()
		return ctx.Err()
	case nc := <-s.cfgs:
		shutdown()
		if nc == c {
			s.log.Info().Msg("web page: settings unchanged, restarted")
		}
		return newConfig{nc}
	case err := <-errc:
		close(stop)
		return fmt.Errorf("web: server on %s: %w", addr, err)
	}
}

// pageHost is addr as a user would type it: "localhost" for no host.
func pageHost(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "HOST"
	}
	return net.JoinHostPort(host, port)
}

// debugWriter logs what net/http says of failed connections (TLS
// handshakes, bad requests) at debug level: each is a client's problem.
type debugWriter struct{ log zerolog.Logger }

func (w debugWriter) Write(p []byte) (int, error) {
	w.log.Debug().Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}

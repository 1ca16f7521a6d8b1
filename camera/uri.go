package camera

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// supportedSchemes lists the URI schemes Open understands, for error messages.
var supportedSchemes = []string{"dir", "exec", "file", "http", "https", "test", "v4l2"}

// laterSchemes are planned but not implemented yet.
var laterSchemes []string

// sourceURI is a URI split into its parts; query parameters are removed
// from q as they are used, so leftovers can be reported.
type sourceURI struct {
	scheme string
	path   string
	q      url.Values
}

// parseURI splits uri into scheme, path and query. The path is taken
// literally (no percent-decoding) up to the first '?'. For exec: the path
// is the command line, which may hold '?' itself; see parseExecURI.
// For http: and https:, see parseHTTPURI.
func parseURI(uri string) (sourceURI, error) {
	scheme, rest, ok := strings.Cut(uri, ":")
	if !ok || scheme == "" {
		return sourceURI{}, fmt.Errorf("no scheme (want one of %s, e.g. test: or file:/path)", strings.Join(supportedSchemes, ", "))
	}
	scheme = strings.ToLower(scheme)
	if !slices.Contains(supportedSchemes, scheme) {
		if slices.Contains(laterSchemes, scheme) {
			return sourceURI{}, fmt.Errorf("scheme %q is not supported yet (supported: %s)", scheme, strings.Join(supportedSchemes, ", "))
		}
		return sourceURI{}, fmt.Errorf("unknown scheme %q (supported: %s)", scheme, strings.Join(supportedSchemes, ", "))
	}
	if scheme == "http" || scheme == "https" {
		return parseHTTPURI(scheme, rest)
	}
	var path, rawQuery string
	if scheme == "exec" {
		var err error
		if path, rawQuery, err = parseExecURI(rest); err != nil {
			return sourceURI{}, err
		}
	} else {
		path, rawQuery, _ = strings.Cut(rest, "?")
	}
	if scheme != "exec" && strings.HasPrefix(path, "//") {
		// file:///abs/path or file://localhost/abs/path.
		host, p, _ := strings.Cut(path[2:], "/")
		if host != "" && host != "localhost" {
			return sourceURI{}, fmt.Errorf("host %q not supported (use %s:/path or %s:///path)", host, scheme, scheme)
		}
		path = "/" + p
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return sourceURI{}, fmt.Errorf("query %q: %w", rawQuery, err)
	}
	for k, v := range q {
		if len(v) > 1 {
			return sourceURI{}, fmt.Errorf("query parameter %q given %d times", k, len(v))
		}
	}
	return sourceURI{scheme: scheme, path: path, q: q}, nil
}

// take removes and returns query parameter k ("" if absent).
func (u *sourceURI) take(k string) (string, bool) {
	v, ok := u.q[k]
	if !ok {
		return "", false
	}
	delete(u.q, k)
	return v[0], true
}

// leftover reports query parameters nobody took.
func (u *sourceURI) leftover() error {
	if len(u.q) == 0 {
		return nil
	}
	keys := make([]string, 0, len(u.q))
	for k := range u.q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return fmt.Errorf("unknown query parameter %q for a %s: source", keys[0], u.scheme)
}

func (u *sourceURI) float(k string, def, lo, hi float64) (float64, error) {
	s, ok := u.take(k)
	if !ok {
		return def, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || v < lo || v > hi {
		return 0, fmt.Errorf("%s=%q: want a number in [%g, %g]", k, s, lo, hi)
	}
	return v, nil
}

func (u *sourceURI) int(k string, def, lo, hi int) (int, error) {
	s, ok := u.take(k)
	if !ok {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("%s=%q: want an integer in [%d, %d]", k, s, lo, hi)
	}
	return v, nil
}

func (u *sourceURI) bool(k string, def bool) (bool, error) {
	s, ok := u.take(k)
	if !ok {
		return def, nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%s=%q: want true or false", k, s)
	}
	return v, nil
}

func (u *sourceURI) duration(k string, def, lo, hi time.Duration) (time.Duration, error) {
	s, ok := u.take(k)
	if !ok {
		return def, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("%s=%q: want a duration in [%v, %v]", k, s, lo, hi)
	}
	return v, nil
}

// fpsPeriod turns a frame rate in Hz into a frame period (at least 1 ns).
func fpsPeriod(fps float64) time.Duration {
	p := time.Duration(float64(time.Second) / fps)
	return max(p, 1)
}

const (
	maxFPS  = 1e9
	maxSide = 8192
)

// testConfig is a parsed test: URI.
type testConfig struct {
	w, h   int
	format Format
	period time.Duration
}

func parseTestConfig(u sourceURI, opt Options) (testConfig, error) {
	var c testConfig
	if u.path != "" {
		return c, fmt.Errorf("test: takes no path, got %q (use test:?w=320&h=240)", u.path)
	}
	defFPS := cmp0(opt.FPS, defaultFPS)
	fps, err := u.float("fps", defFPS, 1e-3, maxFPS)
	if err != nil {
		return c, err
	}
	c.period = fpsPeriod(fps)
	if c.w, err = u.int("w", cmp0(opt.W, defaultW), 8, maxSide); err != nil {
		return c, err
	}
	if c.h, err = u.int("h", cmp0(opt.H, defaultH), 8, maxSide); err != nil {
		return c, err
	}
	c.format = RGB24
	if s, ok := u.take("format"); ok {
		switch strings.ToLower(s) {
		case "rgb24", "rgb":
			c.format = RGB24
		case "yuyv", "yuy2":
			c.format = YUYV
		default:
			return c, fmt.Errorf("format=%q: want rgb24 or yuyv", s)
		}
	}
	if c.format == YUYV && c.w%2 != 0 {
		return c, fmt.Errorf("w=%d: yuyv needs an even width", c.w)
	}
	if err := checkOptFPS(opt.FPS); err != nil {
		return c, err
	}
	return c, u.leftover()
}

// fileConfig is a parsed file: URI.
type fileConfig struct {
	path string
	// period is the time between frames; 0 (fps=max) reads each frame when
	// Next asks for it, without pacing.
	period   time.Duration
	loop     bool
	maxFrame int
}

func parseFileConfig(u sourceURI, opt Options) (fileConfig, error) {
	c := fileConfig{path: u.path}
	if c.path == "" {
		return c, errors.New("file: needs a path (file:/path/to/images)")
	}
	if err := checkOptFPS(opt.FPS); err != nil {
		return c, err
	}
	if v, ok := u.q["fps"]; ok && strings.EqualFold(v[0], "max") {
		// Period 0: no pacing, every frame as soon as Next asks for it.
		u.take("fps")
	} else {
		fps, err := u.float("fps", cmp0(opt.FPS, defaultFPS), 1e-3, maxFPS)
		if err != nil {
			return c, fmt.Errorf("%w, or max (every frame, as fast as they are taken)", err)
		}
		c.period = fpsPeriod(fps)
	}
	var err error
	if c.loop, err = u.bool("loop", true); err != nil {
		return c, err
	}
	if c.maxFrame, err = u.int("max", defaultMaxFrame, 1024, 1<<30); err != nil {
		return c, err
	}
	return c, u.leftover()
}

// dirConfig is a parsed dir: URI.
type dirConfig struct {
	path string
	// settle is how long a file's size and modification time must stay
	// unchanged before it is read.
	settle time.Duration
	// timeout is how long a settled file that is not a complete JPEG or
	// PNG is waited for before it is counted as corrupt.
	timeout  time.Duration
	maxFrame int
	// keep leaves files in the folder once read (by default they are
	// removed).
	keep bool
}

func parseDirConfig(u sourceURI) (dirConfig, error) {
	c := dirConfig{path: u.path}
	if c.path == "" {
		return c, errors.New("dir: needs a path (dir:/path/to/folder)")
	}
	var err error
	if c.settle, err = u.duration("settle", 100*time.Millisecond, time.Millisecond, time.Minute); err != nil {
		return c, err
	}
	if c.timeout, err = u.duration("timeout", 2*time.Second, 0, time.Hour); err != nil {
		return c, err
	}
	if c.maxFrame, err = u.int("max", defaultMaxFrame, 1024, 1<<30); err != nil {
		return c, err
	}
	if c.keep, err = u.bool("keep", false); err != nil {
		return c, err
	}
	return c, u.leftover()
}

func checkOptFPS(fps float64) error {
	if fps != 0 && !(fps >= 1e-3 && fps <= maxFPS) {
		return fmt.Errorf("Options.FPS=%g: want 0 (default) or a rate in [0.001, %g] Hz", fps, float64(maxFPS))
	}
	return nil
}

// cmp0 returns v, or def when v is zero.
func cmp0[T int | float64](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

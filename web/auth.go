package web

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"catd/internal/regfile"
	"catd/state"
)

// Session and login limits.
const (
	sessionCookie = "catd_session"
	sessionTTL    = 30 * 24 * time.Hour
	maxSessions   = 64
	// A client address may try loginBurst passwords at once, then one
	// every loginEvery; all addresses together globalBurst, then one
	// every globalEvery.
	loginBurst  = 5
	loginEvery  = 12 * time.Second
	globalBurst = 20
	globalEvery = 2 * time.Second
	maxLimiters = 1024
	// maxPasswordFile is the most bytes of a password file read.
	maxPasswordFile = 4 << 10
)

// session is one logged-in browser.
type session struct {
	csrf    string
	expires time.Time
}

// auth holds the password's hash, the sessions and the login limits.
type auth struct {
	now func() time.Time

	mu       sync.Mutex
	hash     [32]byte // sha256 of the password; zero until load
	loaded   bool
	sessions map[string]*session // by token
	perAddr  map[string]*bucket
	global   bucket
}

func newAuth(now func() time.Time) *auth {
	return &auth{now: now, sessions: make(map[string]*session), perAddr: make(map[string]*bucket),
		global: bucket{tokens: globalBurst, at: now()}}
}

// load reads the password from file or, if file is "", from the state
// directory, generating it there on the first start. A changed password
// ends every session.
func (a *auth) load(file, stateDir string, log zerolog.Logger) error {
	var pw string
	var err error
	if file != "" {
		pw, err = readPassword(file)
	} else {
		pw, err = statePassword(stateDir, log)
	}
	if err != nil {
		return err
	}
	h := sha256.Sum256([]byte(pw))
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.loaded && h != a.hash {
		clear(a.sessions)
	}
	a.hash, a.loaded = h, true
	return nil
}

// readPassword returns the first line of file, which must be a regular
// file of at most 4 KiB and hold a password of at least 8 bytes.
func readPassword(file string) (string, error) {
	data, err := regfile.Read(file, maxPasswordFile)
	if err != nil {
		return "", fmt.Errorf("web: password file: %w", err)
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	pw := strings.TrimRight(string(line), "\r \t")
	if len(pw) < 8 {
		return "", fmt.Errorf("web: password file %s: its first line holds %d bytes, want a password of at least 8", file, len(pw))
	}
	return pw, nil
}

// statePassword reads the generated password from the state directory,
// making it (mode 0600) if it is not there yet. Only a password just made
// is logged.
func statePassword(dir string, log zerolog.Logger) (string, error) {
	if dir == "" {
		return "", errors.New("web: no password file and no state directory to keep a generated one")
	}
	path := filepath.Join(dir, PasswordFileName)
	pw, err := readPassword(path)
	if err == nil {
		log.Info().Str("password_file", path).Msg("web page password: the one generated on the first start")
		return pw, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	pw = rand.Text() // 26 characters of base32: 130 bits
	if err := state.WriteFileAtomic(path, []byte(pw+"\n"), 0o600, nil); err != nil {
		return "", fmt.Errorf("web: password: %w", err)
	}
	log.Warn().Str("password", pw).Str("password_file", path).
		Msg("web page password generated (said once; it stays in password_file)")
	return pw, nil
}

// check reports whether pw is the password.
func (a *auth) check(pw string) bool {
	h := sha256.Sum256([]byte(pw))
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.loaded && subtle.ConstantTimeCompare(h[:], a.hash[:]) == 1
}

// allowLogin reports whether the client at addr may try a password now.
func (a *auth) allowLogin(addr string) bool {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.perAddr[addr]
	if b == nil {
		if len(a.perAddr) >= maxLimiters {
			for k, v := range a.perAddr { // forget the addresses whose buckets are full
				if v.fill(now, loginBurst, loginEvery) >= loginBurst {
					delete(a.perAddr, k)
				}
			}
			if len(a.perAddr) >= maxLimiters {
				return false
			}
		}
		b = &bucket{tokens: loginBurst, at: now}
		a.perAddr[addr] = b
	}
	if b.fill(now, loginBurst, loginEvery) < 1 || a.global.fill(now, globalBurst, globalEvery) < 1 {
		return false
	}
	b.tokens--
	a.global.tokens--
	return true
}

// bucket is a token bucket.
type bucket struct {
	tokens float64
	at     time.Time
}

// fill adds the tokens earned since the last fill, up to burst, and
// returns how many there are.
func (b *bucket) fill(now time.Time, burst float64, every time.Duration) float64 {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(burst, b.tokens+float64(d)/float64(every))
	}
	b.at = now
	return b.tokens
}

// newSession starts a session and returns its token.
func (a *auth) newSession() (token string, s *session) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	for t, s := range a.sessions {
		if now.After(s.expires) {
			delete(a.sessions, t)
		}
	}
	for len(a.sessions) >= maxSessions { // the one ending soonest goes
		var oldest string
		for t, s := range a.sessions {
			if oldest == "" || s.expires.Before(a.sessions[oldest].expires) {
				oldest = t
			}
		}
		delete(a.sessions, oldest)
	}
	s = &session{csrf: rand.Text(), expires: now.Add(sessionTTL)}
	token = rand.Text()
	a.sessions[token] = s
	return token, s
}

// session returns the session of r, or nil.
func (a *auth) session(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sessions[c.Value]
	if s == nil || now.After(s.expires) {
		return nil
	}
	return s
}

// end ends the session of r.
func (a *auth) end(r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		a.mu.Lock()
		delete(a.sessions, c.Value)
		a.mu.Unlock()
	}
}

// clientAddr is the address of r's client, without the port.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// validCSRF reports whether r carries s's CSRF token.
func validCSRF(r *http.Request, s *session) bool {
	t := r.Header.Get("X-CSRF-Token")
	return t != "" && subtle.ConstantTimeCompare([]byte(t), []byte(s.csrf)) == 1
}

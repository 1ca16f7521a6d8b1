package web

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed static
var staticFiles embed.FS

// csp is the Content-Security-Policy of every answer: the page's own
// scripts, styles and images (and the frames it fetches as blobs), nothing
// inline, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Request limits.
const (
	maxBody      = 4 << 10  // bytes of a JSON request
	maxImageFile = 16 << 20 // bytes of an image served
)

// handler is the page's routes; stop is closed when the server stops.
func (s *Server) handler(secure bool, stop <-chan struct{}) http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFiles, "static")
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{ErrorLog: nil}))
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) { serveFile(w, static, "login.html") })
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) { s.login(w, r, secure) })
	mux.HandleFunc("POST /logout", s.authed(func(w http.ResponseWriter, r *http.Request, _ *session) {
		s.auth.end(r)
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
			Secure: secure, SameSite: http.SameSiteStrictMode})
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if s.auth.session(r) == nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		serveFile(w, static, "index.html")
	})
	mux.HandleFunc("GET /api/session", s.authed(func(w http.ResponseWriter, r *http.Request, ss *session) {
		writeJSON(w, map[string]string{"csrf": ss.csrf})
	}))
	mux.HandleFunc("GET /api/status", s.authed(s.status))
	mux.HandleFunc("GET /api/events", s.authed(func(w http.ResponseWriter, r *http.Request, _ *session) { s.events(w, r, stop) }))
	mux.HandleFunc("GET /api/live", s.authed(s.liveInfo))
	mux.HandleFunc("GET /api/frame.jpg", s.authed(s.frame))
	mux.HandleFunc("GET /api/review", s.authed(s.gallery(s.opt.Host.ReviewDir)))
	mux.HandleFunc("GET /api/review/{name}", s.authed(s.image(s.opt.Host.ReviewDir)))
	mux.HandleFunc("GET /api/snapshots", s.authed(s.gallery(s.opt.Host.SnapshotDir)))
	mux.HandleFunc("GET /api/snapshots/{name}", s.authed(s.image(s.opt.Host.SnapshotDir)))
	mux.HandleFunc("DELETE /api/snapshots/{name}", s.authed(s.deleteSnapshot))
	mux.HandleFunc("GET /api/rounds", s.authed(func(w http.ResponseWriter, r *http.Request, _ *session) {
		rounds := s.opt.Host.Rounds(nil)
		if rounds == nil {
			rounds = []Round{}
		}
		writeJSON(w, rounds)
	}))
	mux.HandleFunc("POST /api/label", s.authed(s.label))
	mux.HandleFunc("POST /api/learn", s.authed(s.learn))
	mux.HandleFunc("POST /api/save", s.authed(func(w http.ResponseWriter, r *http.Request, _ *session) { s.command(w, "save") }))
	mux.HandleFunc("POST /api/threshold", s.authed(s.threshold))
	mux.HandleFunc("POST /api/roi", s.authed(s.setROI))

	cop := http.NewCrossOriginProtection()
	return headers(cop.Handler(mux))
}

// headers sets the security headers of every answer.
func headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

// authed wraps a handler that needs a session, and on any method but GET
// and HEAD the session's CSRF token.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ss := s.auth.session(r)
		if ss == nil {
			httpError(w, http.StatusUnauthorized, "log in first")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !validCSRF(r, ss) {
			httpError(w, http.StatusForbidden, "missing or wrong CSRF token")
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		h(w, r, ss)
	}
}

func serveFile(w http.ResponseWriter, fsys fs.FS, name string) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(data)
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// readJSON decodes r's body, of at most maxBody bytes, into v.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		httpError(w, http.StatusBadRequest, "request body: "+err.Error())
		return false
	}
	return true
}

// login checks the password of a login form and starts a session.
func (s *Server) login(w http.ResponseWriter, r *http.Request, secure bool) {
	addr := clientAddr(r)
	if !s.auth.allowLogin(addr) {
		s.log.Warn().Str("client", addr).Msg("web login refused: too many attempts")
		w.Header().Set("Retry-After", strconv.Itoa(int(loginEvery/time.Second)))
		httpError(w, http.StatusTooManyRequests, "too many attempts: wait a little")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		httpError(w, http.StatusBadRequest, "login form: "+err.Error())
		return
	}
	if !s.auth.check(r.PostForm.Get("password")) {
		s.log.Warn().Str("client", addr).Msg("web login refused: wrong password")
		http.Redirect(w, r, "/login?wrong=1", http.StatusSeeOther)
		return
	}
	token, _ := s.auth.newSession()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", MaxAge: int(sessionTTL / time.Second),
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
	s.log.Info().Str("client", addr).Msg("web login")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) status(w http.ResponseWriter, r *http.Request, _ *session) {
	data, err := s.opt.Host.Status()
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, "no status yet: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(data)
}

// liveInfo answers the newest live frame's figures and the region of
// interest, and asks for frames from now on.
func (s *Server) liveInfo(w http.ResponseWriter, r *http.Request, _ *session) {
	s.live.want()
	roi := s.opt.Host.ROI()
	v := struct {
		liveInfo
		ROI   []int `json:"roi"`
		Ready bool  `json:"ready"`
	}{ROI: []int{}}
	if roi != (image.Rectangle{}) {
		v.ROI = []int{roi.Min.X, roi.Min.Y, roi.Max.X, roi.Max.Y}
	}
	if f := s.live.latest(); f != nil {
		v.liveInfo, v.Ready = f.info, true
		v.PCat, v.Threshold = finite32(v.PCat), finite32(v.Threshold)
	}
	writeJSON(w, v)
}

// frame answers the newest live frame as JPEG.
func (s *Server) frame(w http.ResponseWriter, r *http.Request, _ *session) {
	s.live.want()
	f := s.live.latest()
	if f == nil {
		httpError(w, http.StatusServiceUnavailable, "no frame yet")
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("X-Frame-Seq", strconv.FormatUint(f.info.Seq, 10))
	w.Header().Set("Content-Length", strconv.Itoa(len(f.jpeg)))
	w.Write(f.jpeg)
}

// events streams the daemon's events (server-sent events) until the page
// leaves or the server stops.
func (s *Server) events(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
	fl, ok := w.(http.Flusher)
	if !ok {
		httpError(w, http.StatusInternalServerError, "streaming not supported")
		return
	}
	ch, ok := s.hub.subscribe()
	if !ok {
		httpError(w, http.StatusServiceUnavailable, "too many pages listen to events")
		return
	}
	defer s.hub.unsubscribe(ch)
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{}) // a stream outlives ReadTimeout
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	io.WriteString(w, ": catd events\n\n")
	fl.Flush()
	ping := time.NewTicker(25 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-stop:
			return
		case <-ping.C:
			io.WriteString(w, ": ping\n\n")
		case data := <-ch:
			fmt.Fprintf(w, "data: %s\n\n", data)
		}
		fl.Flush()
	}
}

// gallery lists the images of a folder, newest first.
func (s *Server) gallery(dir func() string) func(http.ResponseWriter, *http.Request, *session) {
	return func(w http.ResponseWriter, r *http.Request, _ *session) {
		files, err := listImages(dir())
		if err != nil {
			httpError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, files)
	}
}

// image serves one image of a folder.
func (s *Server) image(dir func() string) func(http.ResponseWriter, *http.Request, *session) {
	return func(w http.ResponseWriter, r *http.Request, _ *session) {
		name := r.PathValue("name")
		if err := checkName(name); err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		data, err := readImage(dir(), name, maxImageFile)
		if errors.Is(err, fs.ErrNotExist) {
			httpError(w, http.StatusNotFound, "no image "+quote(name))
			return
		}
		if err != nil {
			httpError(w, http.StatusInternalServerError, "image "+quote(name)+" not read")
			s.log.Warn().Err(err).Str("file", name).Msg("web: image not served")
			return
		}
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Cache-Control", "private, max-age=3600")
		w.Write(data)
	}
}

func (s *Server) deleteSnapshot(w http.ResponseWriter, r *http.Request, _ *session) {
	name := r.PathValue("name")
	if err := checkName(name); err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.opt.Host.DeleteSnapshot(name); err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, fs.ErrNotExist) {
			code = http.StatusNotFound
		}
		httpError(w, code, err.Error())
		return
	}
	s.log.Info().Str("snapshot", name).Msg("snapshot deleted from the web page")
	w.WriteHeader(http.StatusNoContent)
}

// command runs a console command line and answers its reply.
func (s *Server) command(w http.ResponseWriter, line string) {
	text, err := s.opt.Host.Command(line)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, map[string]string{"reply": text})
}

func (s *Server) label(w http.ResponseWriter, r *http.Request, _ *session) {
	var req struct {
		Class string `json:"class"`
		Frame string `json:"frame"` // "" for the latest frame
	}
	if !readJSON(w, r, &req) {
		return
	}
	if req.Frame != "" {
		if err := checkName(req.Frame); err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	line := "label " + req.Class
	if req.Frame != "" {
		line += " " + req.Frame
	}
	s.command(w, line)
}

func (s *Server) learn(w http.ResponseWriter, r *http.Request, _ *session) {
	var req struct {
		On bool `json:"on"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	if req.On {
		s.command(w, "learn on")
	} else {
		s.command(w, "learn off")
	}
}

func (s *Server) threshold(w http.ResponseWriter, r *http.Request, _ *session) {
	var req struct {
		Threshold float64 `json:"threshold"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	s.command(w, "threshold "+strconv.FormatFloat(req.Threshold, 'g', -1, 64))
}

func (s *Server) setROI(w http.ResponseWriter, r *http.Request, _ *session) {
	var req struct {
		ROI []int `json:"roi"` // [x0, y0, x1, y1], or [] for the whole frame
	}
	if !readJSON(w, r, &req) {
		return
	}
	var rect image.Rectangle
	switch len(req.ROI) {
	case 0:
	case 4:
		rect = image.Rect(req.ROI[0], req.ROI[1], req.ROI[2], req.ROI[3])
		if rect.Min != (image.Point{req.ROI[0], req.ROI[1]}) || rect.Empty() || rect.Min.X < 0 || rect.Min.Y < 0 {
			httpError(w, http.StatusBadRequest, "roi: want [x0, y0, x1, y1] with 0 <= x0 < x1 and 0 <= y0 < y1")
			return
		}
	default:
		httpError(w, http.StatusBadRequest, "roi: want [x0, y0, x1, y1], or [] for the whole frame")
		return
	}
	if err := SetROI(s.opt.Host.ConfigPath(), rect); err != nil {
		s.log.Warn().Err(err).Msg("web: region of interest not saved")
		httpError(w, http.StatusConflict, err.Error()+" (the region drawn: detect.roi: "+roiText(rect)+")")
		return
	}
	s.log.Info().Str("roi", roiText(rect)).Str("config", s.opt.Host.ConfigPath()).
		Msg("region of interest written to the config file from the web page")
	writeJSON(w, map[string]string{"reply": "detect.roi " + roiText(rect) + " written; applies once the config file is read"})
}

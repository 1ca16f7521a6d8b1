// Package web is catd's page on the board: a live view of what the camera
// sees with p(cat), the threshold and the region of interest (drawn on the
// frame to change it), the review queue labelled with one tap, the
// snapshots, the learning rounds, and the daemon's status and events; and
// Prometheus metrics at /metrics.
//
// The server is started, stopped and restarted by Server.Run on the http
// section of the config (Server.Apply): a port in use, a missing
// certificate or a failing server is logged and tried again with backoff,
// and never stops detection. The pages are plain HTML, CSS and JavaScript
// embedded in the binary; nothing is fetched from elsewhere.
//
// # Security
//
// Every page and API asks for the password, except /healthz, /metrics
// (as Prometheus exporters do), /login and the static files. The password
// is the first line of http.password_file or, without one, a random one
// made on the first start, kept in the state directory (web-password,
// 0600) and written once to the log. Logging in is rate-limited per
// client address and in all. A session is a random token in a cookie
// (HttpOnly, SameSite=Strict, Secure over HTTPS) kept in memory: a
// restart logs everyone out. Every request that changes something
// (POST, DELETE) must carry the session's CSRF token in the X-CSRF-Token
// header, and cross-origin requests are refused
// (http.CrossOriginProtection). File names in requests are plain names
// checked against a strict pattern and opened within their folder
// (os.Root). Every answer carries a Content-Security-Policy allowing only
// the page's own scripts, styles and images.
//
// Actions go through the serial console's command parser
// (serialctl.ParseCommand, run by Host.Command): labelling, learning on
// and off, save, threshold are checked in one place for every channel.
//
// # Cost
//
// The live view costs the pipeline a copy of a frame at most every
// LiveEvery (and only while a page has asked for frames in the last
// LiveIdle); encoding happens on the server's own goroutine, once per
// frame whatever the number of viewers, who all get the same bytes.
// Server.Frame, called with every frame, allocates nothing.
package web

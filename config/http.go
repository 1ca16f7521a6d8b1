package config

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// check returns the problems of the http section.
func (h *HTTP) check() []*Error {
	var errs []*Error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &Error{Key: "http." + key, Msg: fmt.Sprintf(format, args...)})
	}
	if h.Listen != "" {
		if err := CheckListen(h.Listen); err != nil {
			bad("listen", "%v", err)
		}
	}
	for _, f := range []struct{ key, path string }{
		{"password_file", h.PasswordFile}, {"cert_file", h.CertFile}, {"key_file", h.KeyFile},
	} {
		if strings.ContainsRune(f.path, 0) {
			bad(f.key, "want the path of a file, got %s", quote(f.path))
		}
	}
	if (h.CertFile == "") != (h.KeyFile == "") {
		bad("cert_file", "want cert_file and key_file both set (HTTPS) or both empty (HTTP), got only %s",
			map[bool]string{true: "key_file", false: "cert_file"}[h.CertFile == ""])
	}
	return errs
}

// CheckListen checks an address to serve on, [HOST]:PORT: HOST empty (every
// interface), an IP address or a host name; PORT a number 0..65535.
func CheckListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want [HOST]:PORT such as :8787 or 127.0.0.1:8787, got %s", quote(addr))
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || strconv.FormatUint(n, 10) != port {
		return fmt.Errorf("want a port number 0..65535, got %s", quote(port))
	}
	if host != "" && net.ParseIP(host) == nil && !hostName(host) {
		return fmt.Errorf("want an IP address or a host name, got %s", quote(host))
	}
	return nil
}

// hostName reports whether s is a DNS host name: labels of letters,
// digits and hyphens, not starting or ending with a hyphen.
func hostName(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// resolve makes the section's relative paths relative to dir, the config
// file's directory.
func (h *HTTP) resolve(dir string) {
	for _, p := range []*string{&h.PasswordFile, &h.CertFile, &h.KeyFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}

package mqtt

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"catd/internal/regfile"
)

// CheckBroker checks a broker address: tcp://HOST[:PORT] (plain MQTT,
// port 1883 by default) or ssl://HOST[:PORT] (MQTT over TLS, 8883). The
// user and password have keys of their own (username, password_file), so
// that no password sits in an address that is logged; paths, queries and
// fragments mean nothing to a broker and are refused.
func CheckBroker(s string) error {
	_, err := parseBroker(s)
	return err
}

// parseBroker returns s as the host:port paho dials, with its scheme.
func parseBroker(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || strings.ContainsAny(s, "\x00 \t\r\n") {
		return nil, fmt.Errorf("broker %s: want tcp://HOST[:PORT] or ssl://HOST[:PORT]", quote(s))
	}
	switch {
	case u.Scheme != "tcp" && u.Scheme != "ssl":
		return nil, fmt.Errorf("broker %s: want tcp://HOST[:PORT] or ssl://HOST[:PORT] (scheme tcp or ssl)", quote(s))
	case u.User != nil:
		return nil, fmt.Errorf("broker %s: no user or password in the address: use username and password_file", quote(Redact(s)))
	case u.Hostname() == "" || u.Opaque != "":
		return nil, fmt.Errorf("broker %s: no host", quote(s))
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return nil, fmt.Errorf("broker %s: want tcp://HOST[:PORT] or ssl://HOST[:PORT], without a path, query or fragment", quote(s))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("broker %s: port %s: want 1..65535", quote(s), quote(p))
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return nil, fmt.Errorf("broker %s: empty port", quote(s))
	}
	return u, nil
}

// dialURL is the broker's address with its default port filled in.
func dialURL(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "1883"
		if u.Scheme == "ssl" {
			port = "8883"
		}
	}
	h := u.Hostname()
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	return u.Scheme + "://" + h + ":" + port
}

// Redact returns a broker address with the password of a user in it, if
// any, replaced by xxxxx (for error messages: such an address is refused).
func Redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// MaxTopicPrefix is the longest topic_prefix or discovery_prefix, in bytes.
const MaxTopicPrefix = 128

// CheckTopicPrefix checks a topic prefix (topic_prefix, discovery_prefix):
// 1 to MaxTopicPrefix bytes of UTF-8 without control characters, levels
// separated by single slashes ("catd/kitchen"), none empty, no wildcard
// (+ #), not starting with $ (the broker's own topics).
func CheckTopicPrefix(s string) error {
	bad := func(why string) error { return fmt.Errorf("topic prefix %s: %s", quote(s), why) }
	switch {
	case s == "":
		return bad("empty")
	case len(s) > MaxTopicPrefix:
		return bad(fmt.Sprintf("longer than %d bytes", MaxTopicPrefix))
	case !utf8.ValidString(s):
		return bad("not UTF-8")
	case strings.ContainsAny(s, "+#"):
		return bad("holds a wildcard (+ or #)")
	case strings.HasPrefix(s, "$"):
		return bad("starts with $ (the broker's own topics)")
	case strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") || strings.Contains(s, "//"):
		return bad("an empty level (a slash at the start or end, or two in a row)")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return bad("holds a control character")
		}
	}
	return nil
}

// MaxClientID is the longest client_id, in bytes.
const MaxClientID = 64

var clientID = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// CheckClientID checks a client_id: 1 to MaxClientID of A-Z a-z 0-9 _ . -
func CheckClientID(s string) error {
	if !clientID.MatchString(s) {
		return fmt.Errorf("client_id %s: want 1 to %d of A-Z a-z 0-9 _ . -", quote(s), MaxClientID)
	}
	return nil
}

// MaxUsername is the longest username, in bytes.
const MaxUsername = 256

// CheckUsername checks a username: at most MaxUsername bytes of UTF-8
// without control characters; "" is none.
func CheckUsername(s string) error {
	if len(s) > MaxUsername || !utf8.ValidString(s) {
		return fmt.Errorf("username: want at most %d bytes of UTF-8", MaxUsername)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return errors.New("username: holds a control character")
		}
	}
	return nil
}

// ParsePin reads a certificate fingerprint: sha256: and the 64 hex digits
// of the SHA-256 of the broker's certificate (DER), optionally in pairs
// separated by colons as openssl prints them
// (openssl x509 -noout -fingerprint -sha256 -in cert.pem).
func ParsePin(s string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	h, ok := strings.CutPrefix(strings.ToLower(s), "sha256:")
	b, err := hex.DecodeString(strings.ReplaceAll(h, ":", ""))
	if !ok || err != nil || len(b) != sha256.Size {
		return sum, fmt.Errorf("pinned certificate %s: want sha256: and the certificate's 64 hex digits (openssl x509 -noout -fingerprint -sha256)", quote(s))
	}
	copy(sum[:], b)
	return sum, nil
}

// MaxPasswordFile is the largest password file read, in bytes.
const MaxPasswordFile = 4096

// ReadPassword reads the broker password from the file at path: its
// first line (without the line end). The file must be a regular file of
// at most MaxPasswordFile bytes; errors name path, never the content.
func ReadPassword(path string) (string, error) {
	data, err := regfile.Read(path, MaxPasswordFile)
	if err != nil {
		return "", fmt.Errorf("mqtt: password file: %w", err)
	}
	pw, _, _ := strings.Cut(string(data), "\n")
	pw = strings.TrimSuffix(pw, "\r")
	if pw == "" {
		return "", fmt.Errorf("mqtt: password file %s: empty first line", path)
	}
	if strings.ContainsRune(pw, 0) || !utf8.ValidString(pw) {
		return "", fmt.Errorf("mqtt: password file %s: want one line of UTF-8 text", path)
	}
	return pw, nil
}

// DefaultHost is this machine's name as topic levels, client ids and Home
// Assistant ids may hold it: lower case, A-Z a-z 0-9 _ - kept and
// anything else made _, at most 32 bytes; "catd" if the name is unknown.
func DefaultHost() string {
	h, err := os.Hostname()
	if err != nil {
		h = ""
	}
	return hostPart(h)
}

func hostPart(h string) string {
	h, _, _ = strings.Cut(h, ".") // the host, not its domain
	b := make([]byte, 0, len(h))
	for i := 0; i < len(h) && len(b) < 32; i++ {
		switch c := h[i]; {
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			b = append(b, c)
		default:
			b = append(b, '_')
		}
	}
	if len(b) == 0 {
		return "catd"
	}
	return string(b)
}

// quote returns s quoted, cut to 64 bytes.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}

package config_test

import (
	"strings"
	"testing"

	"catd/config"
)

func TestHTTPSection(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     config.HTTP // when says is ""
		says     string      // part of the error
	}{
		{"default", "", config.HTTP{Listen: ":8787"}, ""},
		{"off", "http: {listen: \"\"}", config.HTTP{}, ""},
		{"loopback", "http: {listen: \"127.0.0.1:80\"}", config.HTTP{Listen: "127.0.0.1:80"}, ""},
		{"IPv6", "http: {listen: \"[::1]:8787\"}", config.HTTP{Listen: "[::1]:8787"}, ""},
		{"host name", "http: {listen: \"catflap.local:8787\"}", config.HTTP{Listen: "catflap.local:8787"}, ""},
		{"any free port", "http: {listen: \"127.0.0.1:0\"}", config.HTTP{Listen: "127.0.0.1:0"}, ""},
		{"relative files", "http: {password_file: pw, cert_file: /tls/c.pem, key_file: k.pem}",
			config.HTTP{Listen: ":8787", PasswordFile: "/etc/catd/pw", CertFile: "/tls/c.pem", KeyFile: "/etc/catd/k.pem"}, ""},
		{"no port", "http: {listen: \"8787\"}", config.HTTP{}, `http.listen: want [HOST]:PORT such as :8787 or 127.0.0.1:8787, got "8787"`},
		{"port too big", "http: {listen: \":65536\"}", config.HTTP{}, `http.listen: want a port number 0..65535, got "65536"`},
		{"port name", "http: {listen: \":http\"}", config.HTTP{}, `want a port number 0..65535, got "http"`},
		{"port with sign", "http: {listen: \":+80\"}", config.HTTP{}, `want a port number 0..65535, got "+80"`},
		{"bad host", "http: {listen: \"-x_y:80\"}", config.HTTP{}, `http.listen: want an IP address or a host name, got "-x_y"`},
		{"cert alone", "http: {cert_file: c.pem}", config.HTTP{}, "http.cert_file: want cert_file and key_file both set (HTTPS) or both empty (HTTP), got only cert_file"},
		{"key alone", "http: {key_file: k.pem}", config.HTTP{}, "got only key_file"},
		{"NUL in a path", "http: {password_file: \"a\\0b\"}", config.HTTP{}, "http.password_file: want the path of a file"},
		{"unknown key", "http: {port: 80}", config.HTTP{}, "http.port: unknown key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse("/etc/catd/catd.yaml", []byte(tc.in))
			if tc.says != "" {
				if err == nil || !strings.Contains(err.Error(), tc.says) {
					t.Fatalf("Parse(%q): %v, want an error saying %q", tc.in, err, tc.says)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if c.HTTP != tc.want {
				t.Errorf("Parse(%q).HTTP = %+v, want %+v", tc.in, c.HTTP, tc.want)
			}
		})
	}
}

func TestCheckListen(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{":8787", true}, {"0.0.0.0:1", true}, {"[fe80::1]:443", true}, {"pi:65535", true},
		{"", false}, {":", false}, {"a:b:c", false}, {":-1", false}, {"a..b:1", false}, {"x:08", false},
	} {
		if err := config.CheckListen(tc.addr); (err == nil) != tc.ok {
			t.Errorf("CheckListen(%q) = %v, want ok %v", tc.addr, err, tc.ok)
		}
	}
}

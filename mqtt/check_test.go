package mqtt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"catd/serialctl"
)

func TestCheckBroker(t *testing.T) {
	for _, tc := range []struct {
		in, dial, says string // says: "" when valid
	}{
		{"tcp://192.168.1.10:1883", "tcp://192.168.1.10:1883", ""},
		{"tcp://broker.lan", "tcp://broker.lan:1883", ""},
		{"ssl://broker.lan", "ssl://broker.lan:8883", ""},
		{"ssl://broker.lan:8884/", "ssl://broker.lan:8884", ""},
		{"tcp://[::1]:1883", "tcp://[::1]:1883", ""},
		{"tcp://[fe80::1]", "tcp://[fe80::1]:1883", ""},
		{"", "", "scheme tcp or ssl"},
		{"broker.lan:1883", "", "scheme tcp or ssl"},
		{"mqtt://broker.lan", "", "scheme tcp or ssl"},
		{"ws://broker.lan", "", "scheme tcp or ssl"},
		{"tcp://", "", "no host"},
		{"tcp://:1883", "", "no host"},
		{"tcp://user:hunter2@broker.lan", "", "use username and password_file"},
		{"tcp://broker.lan:0", "", "want 1..65535"},
		{"tcp://broker.lan:65536", "", "want 1..65535"},
		{"tcp://broker.lan:x", "", "want tcp://"},
		{"tcp://broker.lan:", "", "empty port"},
		{"tcp://broker.lan/mqtt", "", "without a path"},
		{"tcp://broker.lan?x=1", "", "without a path"},
		{"tcp://broker.lan#x", "", "without a path"},
		{"tcp://broker lan", "", "want tcp://"},
		{"tcp://broker.lan\x00", "", "want tcp://"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			u, err := parseBroker(tc.in)
			switch {
			case tc.says == "" && err != nil:
				t.Fatalf("CheckBroker(%q) = %v", tc.in, err)
			case tc.says == "":
				if got := dialURL(u); got != tc.dial {
					t.Errorf("dial address %q, want %q", got, tc.dial)
				}
			case err == nil || !strings.Contains(err.Error(), tc.says):
				t.Errorf("CheckBroker(%q) = %v, want an error saying %q", tc.in, err, tc.says)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error quotes the password: %v", err)
			}
		})
	}
}

func TestCheckTopicPrefix(t *testing.T) {
	for _, tc := range []struct{ in, says string }{
		{"catd/kitchen", ""},
		{"homeassistant", ""},
		{"maison/chat-à-la-porte", ""},
		{"", "empty"},
		{"catd/#", "wildcard"},
		{"catd/+/x", "wildcard"},
		{"$SYS/catd", "starts with $"},
		{"/catd", "empty level"},
		{"catd/", "empty level"},
		{"catd//x", "empty level"},
		{"catd\x00", "control character"},
		{"catd\nx", "control character"},
		{"\xff", "not UTF-8"},
		{strings.Repeat("a", MaxTopicPrefix+1), "longer than"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			err := CheckTopicPrefix(tc.in)
			if tc.says == "" && err != nil || tc.says != "" && (err == nil || !strings.Contains(err.Error(), tc.says)) {
				t.Errorf("CheckTopicPrefix(%q) = %v, want %q", tc.in, err, tc.says)
			}
		})
	}
}

func TestCheckClientIDAndUsername(t *testing.T) {
	for _, ok := range []string{"catd-kitchen", "a", "catd_1.2", strings.Repeat("x", MaxClientID)} {
		if err := CheckClientID(ok); err != nil {
			t.Errorf("CheckClientID(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "catd kitchen", "catd/kitchen", "caté", strings.Repeat("x", MaxClientID+1)} {
		if err := CheckClientID(bad); err == nil {
			t.Errorf("CheckClientID(%q) = nil", bad)
		}
	}
	for _, bad := range []string{"a\x00b", "a\nb", "\xff", strings.Repeat("x", MaxUsername+1)} {
		if err := CheckUsername(bad); err == nil {
			t.Errorf("CheckUsername(%q) = nil", bad)
		}
	}
}

func TestHostPart(t *testing.T) {
	for in, want := range map[string]string{"Kitchen-Pi": "kitchen-pi", "pi.local": "pi", "": "catd",
		"a b/c#d+e": "a_b_c_d_e", strings.Repeat("x", 40): strings.Repeat("x", 32)} {
		if got := hostPart(in); got != want {
			t.Errorf("hostPart(%q) = %q, want %q", in, got, want)
		}
		if err := CheckTopicPrefix("catd/" + hostPart(in)); err != nil {
			t.Errorf("the default prefix for %q: %v", in, err)
		}
		if err := CheckClientID("catd-" + hostPart(in)); err != nil {
			t.Errorf("the default client id for %q: %v", in, err)
		}
	}
}

func TestReadPassword(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct{ name, content, want, says string }{
		{"line", "s3cret\n", "s3cret", ""},
		{"crlf", "s3cret\r\nrest", "s3cret", ""},
		{"no newline", "pass word", "pass word", ""},
		{"empty", "", "", "empty first line"},
		{"blank line", "\nsecret", "", "empty first line"},
		{"binary", "a\x00b", "", "one line of UTF-8"},
		{"big", strings.Repeat("x", MaxPasswordFile+1), "", "bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(tc.name, tc.content)
			got, err := ReadPassword(p)
			if tc.says == "" {
				if err != nil || got != tc.want {
					t.Errorf("ReadPassword = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), p) {
				t.Errorf("ReadPassword = %v, want an error naming %s and saying %q", err, p, tc.says)
			}
			if err != nil && len(tc.content) > 0 && len(tc.content) < 10 && strings.Contains(err.Error(), tc.content) {
				t.Errorf("the error quotes the file's content: %v", err)
			}
		})
	}
	if _, err := ReadPassword(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("a missing file: %v", err)
	}
}

func TestParseMessage(t *testing.T) {
	for _, tc := range []struct {
		cmd, payload string
		op           serialctl.Op
		says         string
	}{
		{"threshold", "0.7", serialctl.OpThreshold, ""},
		{"learn", "on", serialctl.OpLearn, ""},
		{"learn", "OFF", serialctl.OpLearn, ""},
		{"label", "cat", serialctl.OpLabel, ""},
		{"save", "", serialctl.OpSave, ""},
		{"status", "", serialctl.OpStatus, ""},
		{"help", "", serialctl.OpHelp, ""},
		{"save", "PRESS", 0, "takes no arguments"},
		{"", "save", 0, "want set/COMMAND"},
		{"SAVE", "", 0, "want set/COMMAND"},
		{"save now", "", 0, "want set/COMMAND"},
		{"label", "cat /etc/passwd", 0, "no paths"},
		{"threshold", "1", 0, "between 0 and 1"},
		{"threshold", strings.Repeat(" ", 300), 0, "line too long"},
		{"frobnicate", "", 0, "unknown command"},
	} {
		t.Run(tc.cmd+" "+tc.payload, func(t *testing.T) {
			cmd, err := ParseMessage(tc.cmd, []byte(tc.payload))
			if tc.says == "" {
				if err != nil || cmd.Op != tc.op {
					t.Errorf("ParseMessage = %v, %v; want %v", cmd.Op, err, tc.op)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("ParseMessage = %v, want an error saying %q", err, tc.says)
			}
		})
	}
}

// FuzzParseMessage: any topic level and payload parse or are refused
// with a short printable error; what parses is what the console's parser
// gives for the same line.
func FuzzParseMessage(f *testing.F) {
	for _, s := range [][2]string{{"threshold", "0.5"}, {"label", "cat x.jpg"}, {"save", ""}, {"learn", "on"}, {"x", "\xff"}} {
		f.Add(s[0], []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, command string, payload []byte) {
		cmd, err := ParseMessage(command, payload)
		if err != nil {
			if len(err.Error()) > 400 || !utf8.ValidString(err.Error()) {
				t.Fatalf("error too long or not UTF-8: %q", err)
			}
			return
		}
		line, _ := Line(command, payload)
		if len(line) > serialctl.DefaultMaxLine {
			t.Fatalf("a line of %d bytes parsed", len(line))
		}
		want, werr := serialctl.ParseCommand(line)
		if werr != nil || want != cmd {
			t.Fatalf("ParseMessage(%q, %q) = %+v, the console's parser %+v, %v", command, payload, cmd, want, werr)
		}
	})
}

// FuzzCheckBroker: CheckBroker never panics, and what it accepts dials a
// tcp:// or ssl:// address with a port.
func FuzzCheckBroker(f *testing.F) {
	for _, s := range []string{"tcp://h:1", "ssl://[::1]", "tcp://u:p@h", "tcp://h/x", "ssl://h:99999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseBroker(s)
		if err != nil {
			return
		}
		d := dialURL(u)
		if !strings.HasPrefix(d, "tcp://") && !strings.HasPrefix(d, "ssl://") {
			t.Fatalf("%q dials %q", s, d)
		}
		if u.User != nil {
			t.Fatalf("%q accepted with a user", s)
		}
	})
}

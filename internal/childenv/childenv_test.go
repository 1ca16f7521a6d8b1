package childenv

import (
	"slices"
	"strings"
	"testing"
)

func TestMake(t *testing.T) {
	catd := []string{
		"PATH=/opt/bin:/usr/bin", "HOME=/var/lib/catd", "LANG=de_DE.UTF-8", "LC_TIME=C", "LC_ALL=C.UTF-8", "TZ=Europe/Berlin",
		"NOTIFY_SOCKET=/run/systemd/notify", "SECRET_TOKEN=hunter2", "CREDENTIALS_DIRECTORY=/run/credentials/catd.service",
		"INVOCATION_ID=abc", "LIBCAMERA_LOG_LEVELS=*:ERROR", "junk without equals", "EMPTY=",
	}
	tests := []struct {
		name               string
		environ, pass, ext []string
		want               []string
	}{
		{"kept from catd", catd, nil, nil,
			[]string{"HOME=/var/lib/catd", "LANG=de_DE.UTF-8", "LC_TIME=C", "LC_ALL=C.UTF-8", "TZ=Europe/Berlin", "PATH=/opt/bin:/usr/bin"}},
		{"passed by name", catd, []string{"LIBCAMERA_LOG_LEVELS", "EMPTY", "UNSET"}, nil,
			[]string{"HOME=/var/lib/catd", "LANG=de_DE.UTF-8", "LC_TIME=C", "LC_ALL=C.UTF-8", "TZ=Europe/Berlin", "PATH=/opt/bin:/usr/bin",
				"LIBCAMERA_LOG_LEVELS=*:ERROR", "EMPTY="}},
		{"extra last", catd, []string{"SECRET_TOKEN"}, []string{"CATD_EVENT=cat_present"},
			[]string{"HOME=/var/lib/catd", "LANG=de_DE.UTF-8", "LC_TIME=C", "LC_ALL=C.UTF-8", "TZ=Europe/Berlin", "PATH=/opt/bin:/usr/bin",
				"SECRET_TOKEN=hunter2", "CATD_EVENT=cat_present"}},
		{"no PATH", []string{"HOME=/root"}, nil, nil, []string{"HOME=/root", "PATH=" + DefaultPath}},
		{"empty PATH", []string{"PATH="}, nil, nil, []string{"PATH=" + DefaultPath}},
		{"nothing", nil, nil, nil, []string{"PATH=" + DefaultPath}},
		{"a name set twice: the last", []string{"A=1", "A=2"}, []string{"A"}, nil, []string{"PATH=" + DefaultPath, "A=1", "A=2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.environ)
			got := Make(tc.environ, tc.pass, tc.ext)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Make =\n%q\nwant\n%q", got, tc.want)
			}
			if !slices.Equal(in, tc.environ) {
				t.Error("Make changed environ")
			}
		})
	}
}

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"PATH", true}, {"_X", true}, {"lc_all", true}, {"A1_B2", true},
		{"", false}, {"1A", false}, {"A-B", false}, {"A=B", false}, {"A B", false}, {"Ä", false}, {"A\x00", false},
	} {
		if err := CheckName(tc.name); (err == nil) != tc.ok {
			t.Errorf("CheckName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// FuzzMake: whatever catd's environment holds, a command gets only the
// kept variables, the ones passed by name, and PATH.
func FuzzMake(f *testing.F) {
	f.Add("NOTIFY_SOCKET=/run/x\x00PATH=/bin\x00LC_X=1", "LC_X")
	f.Add("=\x00A=\x00==", "A")
	f.Fuzz(func(t *testing.T, environ, pass string) {
		env := strings.Split(environ, "\x00")
		names := strings.Split(pass, ",")
		kept := func(name string) bool {
			return name == "PATH" || name == "HOME" || name == "LANG" || name == "TZ" || strings.HasPrefix(name, "LC_") || slices.Contains(names, name)
		}
		paths := 0
		for _, kv := range Make(env, names, nil) {
			name, _, ok := strings.Cut(kv, "=")
			if !ok || !kept(name) {
				t.Fatalf("Make gave %q", kv)
			}
			if name == "PATH" && !slices.Contains(names, "PATH") {
				paths++
			}
			if CheckName(name) == nil && strings.ContainsAny(name, "=\x00") {
				t.Fatalf("CheckName accepted %q", name)
			}
		}
		if paths != 1 {
			t.Fatalf("%d PATH entries", paths)
		}
	})
}

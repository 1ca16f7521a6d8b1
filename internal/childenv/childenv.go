// Package childenv makes the environment of the commands catd starts: the
// on_detect hook and the exec: camera source. They do not inherit catd's
// own, which under systemd holds NOTIFY_SOCKET (through which a command
// could tell systemd that catd is ready, reloading or stopping) and may
// hold secrets the unit or the shell gave catd (credentials, tokens). A
// command gets a small environment instead (see Make), and the variables
// the user names.
package childenv

import (
	"errors"
	"fmt"
	"strings"
)

// DefaultPath is the PATH a command gets when catd has none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Make returns a command's environment, "NAME=value" entries: from
// environ (catd's, as os.Environ returns it) PATH (or DefaultPath when
// catd's is unset or empty), HOME, LANG, LC_ALL and every other LC_*, and
// TZ, when set; then the variables named in pass, when set in environ;
// then extra, as given. When a name comes twice, the last entry holds (as
// for os/exec.Cmd.Env): extra overrides what pass brings. Make does not
// keep or change its arguments.
func Make(environ, pass, extra []string) []string {
	env := make([]string, 0, 8+len(pass)+len(extra))
	path := ""
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		switch {
		case name == "PATH":
			path = value
		case name == "HOME", name == "LANG", name == "TZ", strings.HasPrefix(name, "LC_"):
			env = append(env, kv)
		}
	}
	if path == "" {
		path = DefaultPath
	}
	env = append(env, "PATH="+path)
	for _, want := range pass {
		for _, kv := range environ {
			if name, _, ok := strings.Cut(kv, "="); ok && name == want {
				env = append(env, kv) // the last wins, as for os.Getenv
			}
		}
	}
	return append(env, extra...)
}

// CheckName returns an error unless name can name an environment variable
// to pass: letters, digits and '_', not starting with a digit.
func CheckName(name string) error {
	if name == "" {
		return errors.New("an empty variable name")
	}
	for i, c := range name {
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return fmt.Errorf("%q is not a variable name (letters, digits and _, not starting with a digit)", name)
		}
	}
	return nil
}

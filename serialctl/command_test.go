package serialctl

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		name, line string
		want       Command
		err        string // substring of the error, "" for none
	}{
		{"help", "help", Command{Op: OpHelp}, ""},
		{"case and blanks", "  STATUS\t ", Command{Op: OpStatus}, ""},
		{"version", "version", Command{Op: OpVersion}, ""},
		{"save", "save", Command{Op: OpSave}, ""},
		{"reload", "reload", Command{Op: OpReload}, ""},
		{"label latest", "label cat", Command{Op: OpLabel, Class: "cat"}, ""},
		{"label frame", "label NONCAT f-0012.jpg", Command{Op: OpLabel, Class: "noncat", Frame: "f-0012.jpg"}, ""},
		{"label 64-byte frame", "label cat " + strings.Repeat("a", 64), Command{Op: OpLabel, Class: "cat", Frame: strings.Repeat("a", 64)}, ""},
		{"threshold", "threshold 0.7", Command{Op: OpThreshold, Threshold: 0.7}, ""},
		{"threshold exponent", "threshold 5e-1", Command{Op: OpThreshold, Threshold: 0.5}, ""},
		{"learn on", "learn on", Command{Op: OpLearn, On: true}, ""},
		{"learn off", "learn Off", Command{Op: OpLearn}, ""},

		{"empty", "", Command{}, "empty line"},
		{"blank", " \t ", Command{}, "empty line"},
		{"unknown", "reboot now", Command{}, `unknown command "reboot"`},
		{"unknown long is cut", strings.Repeat("x", 100), Command{}, `"` + strings.Repeat("x", 32) + `"...`},
		{"binary", "stat\x00us", Command{}, "binary input ignored"},
		{"escape sequence", "\x1b[A", Command{}, "binary input ignored"},
		{"utf-8", "státus", Command{}, "binary input ignored"},
		{"status with args", "status now", Command{}, "status takes no arguments"},
		{"label no class", "label", Command{}, "usage: label"},
		{"label bad class", "label dog", Command{}, "neither cat nor noncat"},
		{"label path", "label cat ../../etc/passwd", Command{}, "no paths"},
		{"label abs path", "label cat /etc/passwd", Command{}, "no paths"},
		{"label dotdot", "label cat ..", Command{}, "no paths"},
		{"label dot", "label cat .", Command{}, "no paths"},
		{"label 65-byte frame", "label cat " + strings.Repeat("a", 65), Command{}, "no paths"},
		{"label too many", "label cat a b", Command{}, "usage: label"},
		{"threshold missing", "threshold", Command{}, "usage: threshold"},
		{"threshold zero", "threshold 0", Command{}, "between 0 and 1"},
		{"threshold one", "threshold 1", Command{}, "between 0 and 1"},
		{"threshold negative", "threshold -0.5", Command{}, "between 0 and 1"},
		{"threshold NaN", "threshold NaN", Command{}, "between 0 and 1"},
		{"threshold Inf", "threshold inf", Command{}, "between 0 and 1"},
		{"threshold word", "threshold high", Command{}, "between 0 and 1"},
		{"learn maybe", "learn maybe", Command{}, "want on or off"},
		{"learn missing", "learn", Command{}, "usage: learn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCommand(tt.line)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseCommand(%q) = %+v, %v; want error containing %q", tt.line, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseCommand(%q) = %+v, %v; want %+v", tt.line, got, err, tt.want)
			}
		})
	}
}

func TestHelpListsEveryCommand(t *testing.T) {
	lines := HelpLines()
	if len(lines) != int(numOps) {
		t.Fatalf("%d help lines, want %d", len(lines), numOps)
	}
	for op := range numOps {
		if !strings.HasPrefix(lines[op], op.String()) || len(strings.Fields(lines[op])) < 3 {
			t.Errorf("help line %q does not describe %s", lines[op], op)
		}
	}
}

// format writes cmd back as a line ParseCommand accepts.
func format(cmd Command) string {
	switch cmd.Op {
	case OpLabel:
		return strings.TrimSpace("label " + cmd.Class + " " + cmd.Frame)
	case OpThreshold:
		return "threshold " + strconv.FormatFloat(cmd.Threshold, 'g', -1, 64)
	case OpLearn:
		if cmd.On {
			return "learn on"
		}
		return "learn off"
	}
	return cmd.Op.String()
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"help", "status", "label cat", "label noncat f1.jpg", "label cat ../x",
		"threshold 0.5", "threshold 1e-3", "learn on", "save", "reload", "\x00\xff", "LABEL Cat a..b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cmd, err := ParseCommand(line)
		if err != nil {
			msg := err.Error()
			if len(msg) > 200 {
				t.Fatalf("error message of %d bytes: %q", len(msg), msg)
			}
			if !errors.Is(err, ErrEmpty) && !errors.Is(err, ErrBinary) {
				for i := 0; i < len(msg); i++ {
					if msg[i] < 0x20 || msg[i] > 0x7e {
						t.Fatalf("error message %q holds byte %#x", msg, msg[i])
					}
				}
			}
			return
		}
		if cmd.Op < 0 || cmd.Op >= numOps {
			t.Fatalf("op %d out of range", cmd.Op)
		}
		switch cmd.Op {
		case OpLabel:
			if cmd.Class != "cat" && cmd.Class != "noncat" {
				t.Fatalf("class %q", cmd.Class)
			}
			if cmd.Frame != "" && (strings.ContainsAny(cmd.Frame, "/\\") || strings.Trim(cmd.Frame, ".") == "" || len(cmd.Frame) > MaxFrameName) {
				t.Fatalf("frame %q is a path or too long", cmd.Frame)
			}
		case OpThreshold:
			if !(cmd.Threshold > 0 && cmd.Threshold < 1) {
				t.Fatalf("threshold %v", cmd.Threshold)
			}
		}
		again, err := ParseCommand(format(cmd))
		if err != nil || again != cmd {
			t.Fatalf("round trip of %+v: %+v, %v", cmd, again, err)
		}
	})
}

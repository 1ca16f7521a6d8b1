package serialctl

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Op names a console command.
type Op int

// The commands, in the order help lists them.
const (
	OpHelp Op = iota
	OpStatus
	OpVersion
	OpLabel
	OpThreshold
	OpLearn
	OpSave
	OpReload
	numOps
)

// commands documents each Op: its name, its arguments and one line of help.
var commands = [numOps]struct{ name, args, help string }{
	OpHelp:      {"help", "", "list the commands"},
	OpStatus:    {"status", "", "one line of state: presence, p(cat), frames, learning"},
	OpVersion:   {"version", "", "catd's version and model"},
	OpLabel:     {"label", "cat|noncat [FRAME]", "label the latest frame, or the named review frame"},
	OpThreshold: {"threshold", "X", "override the decision threshold (0<X<1) until restart or the next config change"},
	OpLearn:     {"learn", "on|off", "turn on-device learning on or off"},
	OpSave:      {"save", "", "write a checkpoint now"},
	OpReload:    {"reload", "", "re-read the config file"},
}

// String returns the command's name.
func (o Op) String() string {
	if o < 0 || o >= numOps {
		return "Op(" + strconv.Itoa(int(o)) + ")"
	}
	return commands[o].name
}

// Command is one parsed console line.
type Command struct {
	Op        Op
	Class     string  // OpLabel: "cat" or "noncat"
	Frame     string  // OpLabel: review frame name, "" for the latest frame
	Threshold float64 // OpThreshold: 0 < Threshold < 1
	On        bool    // OpLearn
}

// MaxFrameName is the longest review frame name label accepts, in bytes.
const MaxFrameName = 64

// frameName is what a review frame name may look like: no slashes, so no
// paths; "." and ".." are refused separately.
var frameName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ErrEmpty is returned by ParseCommand for a line with nothing but blanks.
var ErrEmpty = errors.New("empty line")

// ErrBinary is returned by ParseCommand for a line holding bytes other than
// printable ASCII, space and tab.
var ErrBinary = errors.New("binary input ignored")

// ParseCommand parses one console line (without its line ending). Command
// names are case-insensitive; fields are separated by spaces or tabs. The
// error text is meant for the reply after "ERR ": it quotes at most a short,
// printable piece of the input.
func ParseCommand(line string) (Command, error) {
	for i := 0; i < len(line); i++ {
		if b := line[i]; (b < 0x20 && b != '\t') || b > 0x7e {
			return Command{}, ErrBinary
		}
	}
	f := strings.Fields(line)
	if len(f) == 0 {
		return Command{}, ErrEmpty
	}
	name := strings.ToLower(f[0])
	args := f[1:]
	op := Op(-1)
	for i, c := range commands {
		if c.name == name {
			op = Op(i)
			break
		}
	}
	if op < 0 {
		return Command{}, fmt.Errorf("unknown command %s (try help)", quote(f[0]))
	}
	cmd := Command{Op: op}
	switch op {
	case OpHelp, OpStatus, OpVersion, OpSave, OpReload:
		if len(args) > 0 {
			return Command{}, fmt.Errorf("%s takes no arguments", op)
		}
	case OpLabel:
		if len(args) < 1 || len(args) > 2 {
			return Command{}, errors.New("usage: label cat|noncat [FRAME]")
		}
		switch c := strings.ToLower(args[0]); c {
		case "cat", "noncat":
			cmd.Class = c
		default:
			return Command{}, fmt.Errorf("label: class %s is neither cat nor noncat", quote(args[0]))
		}
		if len(args) == 2 {
			fr := args[1]
			if !frameName.MatchString(fr) || strings.Trim(fr, ".") == "" {
				return Command{}, fmt.Errorf("label: frame name %s: want 1 to %d of A-Z a-z 0-9 . _ -, no paths", quote(fr), MaxFrameName)
			}
			cmd.Frame = fr
		}
	case OpThreshold:
		if len(args) != 1 {
			return Command{}, errors.New("usage: threshold X, with 0<X<1")
		}
		x, err := strconv.ParseFloat(args[0], 64)
		if err != nil || math.IsNaN(x) || !(x > 0 && x < 1) {
			return Command{}, fmt.Errorf("threshold %s: want a number between 0 and 1, exclusive", quote(args[0]))
		}
		cmd.Threshold = x
	case OpLearn:
		if len(args) != 1 {
			return Command{}, errors.New("usage: learn on|off")
		}
		switch strings.ToLower(args[0]) {
		case "on":
			cmd.On = true
		case "off":
		default:
			return Command{}, fmt.Errorf("learn %s: want on or off", quote(args[0]))
		}
	}
	return cmd, nil
}

// quote returns s quoted, cut to 32 bytes: enough to recognise a typo,
// too little to echo a flood back.
func quote(s string) string {
	const max = 32
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}

// HelpLines returns one line per command: its name, arguments and what it does.
func HelpLines() []string {
	out := make([]string, 0, numOps)
	for _, c := range commands {
		use := c.name
		if c.args != "" {
			use += " " + c.args
		}
		out = append(out, fmt.Sprintf("%-30s %s", use, c.help))
	}
	return out
}

// Command catd answers "does this image contain a cat?" on Raspberry
// Pi-class boards and keeps learning from its users' labels.
//
// Usage:
//
//	catd <command> [flags]
//
// Commands:
//
//	run      the long-running service (camera -> model -> events)
//	status   print the running daemon's status
//	train    train a model on labelled photos
//	eval     measure a model on labelled photos
//	predict  print p(cat) for images, folders of them, or one on stdin
//	quantize make an int8 model from a float one
//	bench    time inference and training steps
//	version  print version, commit and architecture
//	completion print a bash or zsh completion script
//
// "catd help <command>" or "catd <command> --help" lists a command's
// flags. Help goes to stdout with exit status 0; usage errors exit 2,
// other failures 1.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"catd/systemd"
)

// command is one subcommand: its flags are registered on fs, and run is
// called after parsing with the remaining arguments.
type command struct {
	name, summary string
	setup         func(fs *pflag.FlagSet) func(ctx context.Context, env *env, args []string) error
}

// env is what every command gets: where to print and how to log.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	log            zerolog.Logger
	// setLevel changes log's level while it runs (config reloads).
	setLevel func(zerolog.Level)
}

var commands = []command{
	{"run", "the long-running service (camera -> model -> events)", setupRun},
	{"status", "print the running daemon's status", setupStatus},
	{"train", "train a model on labelled photos", setupTrain},
	{"eval", "measure a model on labelled photos", setupEval},
	{"predict", "print p(cat) for images, folders of them, or one on stdin", setupPredict},
	{"quantize", "make an int8 model from a float one", setupQuantize},
	{"importance", "measure how much each parameter of a model matters, for on-device learning", setupImportance},
	{"soup", "average the weights of cat detectors fine-tuned from one pretrained model", setupSoup},
	{"bench", "time inference and training steps", setupBench},
	{"bench-learning", "measure on-device learning over data sets, label orders and seeds", setupBenchLearning},
	{"version", "print version, commit and architecture", setupVersion},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// runMain runs catd with args and returns its exit status: 0 on success
// (help included, printed on stdout), 2 for a usage error (said on stderr
// with a pointer to --help), 1 for any other failure.
func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := run(ctx, args, stdout, stderr)
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "catd: %s\nRun '%s --help' for usage.\n", strings.TrimSuffix(ue.err.Error(), ": "+errUsage.Error()), ue.cmd)
		return 2
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "catd: %s\nRun 'catd --help' for usage.\n", strings.TrimSuffix(err.Error(), ": "+errUsage.Error()))
		return 2
	default:
		fmt.Fprintln(stderr, "catd:", err)
		return 1
	}
}

// stdin is what "catd predict -" reads; tests replace it.
var stdin io.Reader = os.Stdin

// errUsage marks errors in how catd was called (exit status 2).
var errUsage = errors.New("usage")

// usageError is a usage error of one command, whose help it points to.
type usageError struct {
	cmd string // "catd run"
	err error  // wraps errUsage
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// argsOf is the synopsis of the arguments a command takes after its flags.
var argsOf = map[string]string{"predict": "IMAGE|FOLDER|- ...", "completion": "bash|zsh"}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: catd <command> [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\n\"catd help <command>\" or \"catd <command> --help\" lists a command's flags.")
}

// newFlags returns c's flag set, with the flags every command has, and
// the function c.setup returned.
func newFlags(c command) (*pflag.FlagSet, *string, *bool, func(context.Context, *env, []string) error) {
	fs := pflag.NewFlagSet("catd "+c.name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard) // help and errors are printed by run: help on stdout, errors on stderr
	fs.Usage = func() {}
	levelFlag := fs.String("log-level", "info", "log level: debug, info, warn or error")
	logJSON := fs.Bool("log-json", false, "log JSON lines even on a terminal")
	return fs, levelFlag, logJSON, c.setup(fs)
}

// commandHelp prints c's usage and flags.
func commandHelp(w io.Writer, c command, fs *pflag.FlagSet) {
	synopsis := "[flags]"
	if a := argsOf[c.name]; a != "" {
		synopsis += " " + a
	}
	fmt.Fprintf(w, "Usage: catd %s %s\n\n%s\n\nFlags:\n%s", c.name, synopsis, c.summary, fs.FlagUsages())
}

func findCommand(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// run parses args and runs one command; it is main without the exit.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return fmt.Errorf("no command given: %w", errUsage)
	}
	switch args[0] {
	case "-h", "--help":
		usage(stdout)
		return nil
	case "help":
		if len(args) == 1 {
			usage(stdout)
			return nil
		}
		c, ok := findCommand(args[1])
		if !ok || len(args) > 2 {
			return fmt.Errorf("help %s: no such command: %w", strings.Join(args[1:], " "), errUsage)
		}
		fs, _, _, _ := newFlags(c)
		commandHelp(stdout, c, fs)
		return nil
	}
	c, ok := findCommand(args[0])
	if !ok {
		usage(stderr)
		return fmt.Errorf("unknown command %q: %w", args[0], errUsage)
	}
	fs, levelFlag, logJSON, runCmd := newFlags(c)
	usageErr := func(err error) error {
		if errors.Is(err, errUsage) {
			return &usageError{cmd: "catd " + c.name, err: err}
		}
		return err
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			commandHelp(stdout, c, fs)
			return nil
		}
		return usageErr(fmt.Errorf("%w: %w", err, errUsage))
	}
	lvl, err := zerolog.ParseLevel(*levelFlag)
	if err != nil || *levelFlag == "" {
		return usageErr(fmt.Errorf("--log-level %q: want debug, info, warn or error: %w", *levelFlag, errUsage))
	}
	var level atomic.Int32
	level.Store(int32(lvl))
	log := newLogger(levelFilter{w: stderr, level: &level}, stderr, *logJSON)
	setLevel := func(l zerolog.Level) { level.Store(int32(l)) }
	return usageErr(runCmd(ctx, &env{stdin: stdin, stdout: stdout, stderr: stderr, log: log, setLevel: setLevel}, fs.Args()))
}

// onTerminal reports whether w is a terminal.
func onTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newLogger logs human-readable lines on a terminal and JSON lines
// otherwise (journald, pipes), with millisecond timestamps; lf decides the
// level. When w is the journal's stream ($JOURNAL_STREAM), each line
// starts with its syslog priority ("<4>" for a warning), so that
// journalctl -p filters by level.
func newLogger(lf levelFilter, w io.Writer, forceJSON bool) zerolog.Logger {
	if !forceJSON && onTerminal(w) {
		lf.w = zerolog.ConsoleWriter{Out: aboveProgress{w}, TimeFormat: "15:04:05.000"}
	} else if f, ok := w.(*os.File); ok && systemd.JournalStream(f) {
		lf.w = journalWriter{systemd.NewPriorityWriter(w)}
	}
	return zerolog.New(lf).With().Timestamp().Logger()
}

// timeFormat is the JSON logs' time: RFC 3339 with milliseconds (zerolog's
// default has whole seconds).
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func init() {
	zerolog.TimeFieldFormat = timeFormat
}

// journalWriter writes zerolog's lines to the journal with their
// priority.
type journalWriter struct{ pw *systemd.PriorityWriter }

func (j journalWriter) Write(p []byte) (int, error) { return j.pw.WritePriority(systemd.PriInfo, p) }

func (j journalWriter) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	return j.pw.WritePriority(priorityOf(l), p)
}

// priorityOf maps a zerolog level to a syslog priority.
func priorityOf(l zerolog.Level) int {
	switch l {
	case zerolog.TraceLevel, zerolog.DebugLevel:
		return systemd.PriDebug
	case zerolog.WarnLevel:
		return systemd.PriWarning
	case zerolog.ErrorLevel:
		return systemd.PriErr
	case zerolog.FatalLevel:
		return systemd.PriCrit
	case zerolog.PanicLevel:
		return systemd.PriAlert
	}
	return systemd.PriInfo
}

// levelFilter passes on the lines at or above a level that can change
// while the logger is in use (zerolog fixes a Logger's own level).
type levelFilter struct {
	w     io.Writer
	level *atomic.Int32
}

func (f levelFilter) Write(p []byte) (int, error) { return f.w.Write(p) }

func (f levelFilter) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	if l < zerolog.Level(f.level.Load()) && l != zerolog.NoLevel {
		return len(p), nil
	}
	if lw, ok := f.w.(zerolog.LevelWriter); ok {
		return lw.WriteLevel(l, p)
	}
	return f.w.Write(p)
}

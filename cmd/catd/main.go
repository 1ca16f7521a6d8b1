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
//	predict  print p(cat) for image files
//	quantize make an int8 model from a float one
//	bench    time inference and training steps
//	version  print version, commit and architecture
//
// "catd <command> --help" lists a command's flags.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// command is one subcommand: its flags are registered on fs, and run is
// called after parsing with the remaining arguments.
type command struct {
	name, summary string
	setup         func(fs *pflag.FlagSet) func(ctx context.Context, env *env, args []string) error
}

// env is what every command gets: where to print and how to log.
type env struct {
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
	{"predict", "print p(cat) for image files", setupPredict},
	{"quantize", "make an int8 model from a float one", setupQuantize},
	{"bench", "time inference and training steps", setupBench},
	{"bench-learning", "measure on-device learning over data sets, label orders and seeds", setupBenchLearning},
	{"version", "print version, commit and architecture", setupVersion},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, pflag.ErrHelp):
		// --help printed the flags: success.
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "catd:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "catd:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: catd <command> [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\n\"catd <command> --help\" lists a command's flags.")
}

// run parses args and runs one command; it is main without the exit.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return fmt.Errorf("no command given: %w", errUsage)
		}
		return nil
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		fs := pflag.NewFlagSet("catd "+c.name, pflag.ContinueOnError)
		fs.SetOutput(stderr)
		levelFlag := fs.String("log-level", "info", "log level: debug, info, warn or error")
		logJSON := fs.Bool("log-json", false, "log JSON lines even on a terminal")
		runCmd := c.setup(fs)
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		lvl, err := zerolog.ParseLevel(*levelFlag)
		if err != nil || *levelFlag == "" {
			return fmt.Errorf("--log-level %q: want debug, info, warn or error: %w", *levelFlag, errUsage)
		}
		var level atomic.Int32
		level.Store(int32(lvl))
		log := newLogger(levelFilter{w: stderr, level: &level}, stderr, *logJSON)
		setLevel := func(l zerolog.Level) { level.Store(int32(l)) }
		return runCmd(ctx, &env{stdout: stdout, stderr: stderr, log: log, setLevel: setLevel}, fs.Args())
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q: %w", args[0], errUsage)
}

// onTerminal reports whether w is a terminal.
func onTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newLogger logs human-readable lines on a terminal and JSON lines
// otherwise (journald, pipes), with timestamps; lf decides the level.
func newLogger(lf levelFilter, w io.Writer, forceJSON bool) zerolog.Logger {
	if !forceJSON && onTerminal(w) {
		lf.w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000"}
	}
	return zerolog.New(lf).With().Timestamp().Logger()
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
	return f.w.Write(p)
}

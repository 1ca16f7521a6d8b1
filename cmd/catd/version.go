package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/pflag"
)

// version and commit are stamped by the Makefile with -ldflags -X.
var (
	version = "dev"
	commit  = ""
)

// buildCommit returns the stamped commit, or the one Go recorded from the
// checkout it was built in.
func buildCommit() string {
	if commit != "" {
		return commit
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}

func setupVersion(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
	return func(_ context.Context, e *env, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("version takes no arguments: %w", errUsage)
		}
		arch := runtime.GOARCH
		if arch == "arm" {
			arch += goarm()
		}
		_, err := fmt.Fprintf(e.stdout, "catd %s commit %s %s/%s %s\n", version, buildCommit(), runtime.GOOS, arch, runtime.Version())
		return err
	}
}

// goarm returns "v6" or "v7" from the GOARM the binary was built with.
func goarm() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "GOARM" {
				return "v" + s.Value
			}
		}
	}
	return ""
}

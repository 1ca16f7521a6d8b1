package fswatch_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"catd/fswatch"
)

// The daemon loads its config, then watches it; SIGHUP calls Reload.
func Example() {
	dir, err := os.MkdirTemp("", "catd")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "catd.yaml")
	if err := os.WriteFile(path, []byte("threshold: 0.5\n"), 0o644); err != nil {
		panic(err)
	}
	// ... load and validate the config here, then:
	w, err := fswatch.New(path, fswatch.Options{})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan string)
	done := make(chan error)
	go func() {
		done <- w.Run(ctx, func(data []byte, reason string) {
			// Validate data and swap it in; on error, log and keep
			// the old config.
			got <- fmt.Sprintf("%s: %q", reason, data)
		})
	}()

	w.Reload() // what a SIGHUP handler does
	fmt.Println(<-got)

	// An editor saves: temporary file, renamed over.
	if err := os.WriteFile(path+".tmp", []byte("threshold: 0.7\n"), 0o644); err != nil {
		panic(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		panic(err)
	}
	fmt.Println(<-got)

	cancel()
	fmt.Println(<-done)
	// Output:
	// reload: "threshold: 0.5\n"
	// changed: "threshold: 0.7\n"
	// <nil>
}

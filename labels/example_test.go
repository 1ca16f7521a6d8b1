package labels_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"time"

	"catd/labels"
)

// The daemon runs an Inbox beside detection; take stores each example in
// the replay buffer. Here a user drops a PNG into cat/.
func Example() {
	dir, err := os.MkdirTemp("", "catd-labels")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	in, err := labels.New(labels.Options{Dir: dir, W: 96, H: 96, Settle: 50 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- in.Run(ctx, func(ex labels.Example) error {
			fmt.Printf("%s %s: %d bytes of RGB\n", ex.Class, ex.Name, len(ex.Pixels))
			cancel()   // one is enough for this example
			return nil // stored
		})
	}()

	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 320, 240))); err != nil {
		panic(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cat", "tom.png"), b.Bytes(), 0o644); err != nil {
		panic(err)
	}

	fmt.Println(<-done)
	entries, _ := os.ReadDir(filepath.Join(dir, "done", "cat"))
	for _, e := range entries {
		fmt.Println("done/cat/" + e.Name())
	}
	fmt.Printf("%+v\n", in.Stats())
	// Output:
	// cat tom.png: 27648 bytes of RGB
	// <nil>
	// done/cat/tom.png
	// {Taken:1 Duplicates:0 Rejected:0 Pending:0}
}

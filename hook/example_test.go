//go:build unix

package hook_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"catd/hook"

	"github.com/rs/zerolog"
)

func Example() {
	dir, err := os.MkdirTemp("", "hook-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	r, err := hook.New(hook.Options{
		Shell:       `echo "$CATD_EVENT p=$CATD_P_CAT frame=$CATD_FRAME" > seen`,
		Dir:         dir,
		Timeout:     5 * time.Second,
		MinInterval: time.Minute,
		Log:         zerolog.Nop(),
	})
	if err != nil {
		panic(err)
	}
	ev := hook.Event{Kind: "cat_present", Time: time.Now(), Frame: 1200, PCat: 0.9312, Model: "catnet"}
	fmt.Println(r.Fire(ev))
	ev.Frame++
	fmt.Println(r.Fire(ev)) // within MinInterval: skipped
	r.Close()

	b, err := os.ReadFile(filepath.Join(dir, "seen"))
	if err != nil {
		panic(err)
	}
	fmt.Print(string(b))
	fmt.Printf("%+v\n", r.Stats())
	// Output:
	// true
	// false
	// cat_present p=0.9312 frame=1200
	// {Started:1 Skipped:1 Failed:0 TimedOut:0}
}

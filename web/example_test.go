package web_test

import (
	"fmt"
	"image"
	"os"
	"path/filepath"

	"catd/web"
)

// SetROI writes the region drawn on the page into the config file, in
// place, keeping the comments.
func ExampleSetROI() {
	dir, _ := os.MkdirTemp("", "catd")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "catd.yaml")
	os.WriteFile(path, []byte("# the flap\ndetect:\n  roi: []   # whole frame\n  fit: crop\n"), 0o640)

	if err := web.SetROI(path, image.Rect(120, 300, 520, 480)); err != nil {
		fmt.Println(err)
	}
	data, _ := os.ReadFile(path)
	fmt.Print(string(data))
	// Output:
	// # the flap
	// detect:
	//   roi: [120, 300, 520, 480]   # whole frame
	//   fit: crop
}

package preprocess_test

import (
	"fmt"

	"catd/preprocess"
)

// A 4×2 RGB frame shrunk to 2×1: each output pixel averages a 2×2 block.
func ExampleResizer_RGB() {
	frame := []uint8{
		// row 0: red, red, white, black
		255, 0, 0, 255, 0, 0, 255, 255, 255, 0, 0, 0,
		// row 1: red, blue, white, black
		255, 0, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0,
	}
	r := preprocess.NewResizer(2, 1, preprocess.Options{Fit: preprocess.Stretch})
	out := make([]uint8, r.OutLen()) // 2*1*3 bytes, reused for every frame
	if err := r.RGB(out, frame, 4, 2, 4*3); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out)
	// Output:
	// [191 0 64 128 128 128]
}

// A 640×480 frame cropped to its centre 480×480 and shrunk to 64×64.
func ExampleResizer_RGB_centerCrop() {
	const w, h = 640, 480
	frame := make([]uint8, 3*w*h)
	for y := range h {
		for x := range w {
			if x < 80 || x >= 560 { // white margins, black centre
				copy(frame[3*(y*w+x):], []uint8{255, 255, 255})
			}
		}
	}
	r := preprocess.NewResizer(64, 64, preprocess.Options{}) // CenterCrop
	out := make([]uint8, r.OutLen())
	if err := r.RGB(out, frame, w, h, 3*w); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(out), out[0], out[len(out)-1])

	frame = frame[:100] // a truncated frame is an error, not a panic
	fmt.Println(r.RGB(out, frame, w, h, 3*w))
	// Output:
	// 12288 0 0
	// preprocess: RGB frame of 100 bytes too short for 640x480 (stride 1920)
}

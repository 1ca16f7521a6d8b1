package daemon

import (
	"bytes"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"catd/camera"
	"catd/preprocess"
)

// A JPEG frame costs no allocation either: it is decoded at a reduced
// scale into the resizer's planes.
func TestInferenceAllocatesNothingPerJPEGFrame(t *testing.T) {
	net, info := brightnessNet(t)
	var buf bytes.Buffer
	img := image.NewGray(image.Rect(0, 0, 640, 480))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	f := &camera.Frame{Format: camera.JPEG, Data: buf.Bytes()}
	p := newStage(net, info, Detect{}, 0)
	if _, err := p.process(f); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(20, func() { p.process(f) }); a != 0 {
		t.Errorf("a JPEG frame costs %v allocations", a)
	}
}

// Frames the fast decoder leaves to image/jpeg (progressive here) are
// decoded as before; broken ones are errors, which the frame loop counts
// as corrupt.
func TestJPEGFrameFallback(t *testing.T) {
	prog, err := os.ReadFile(filepath.Join("..", "preprocess", "jpeg", "testdata", "progressive.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	rz := preprocess.NewResizer(8, 8, preprocess.Options{})
	pix := make([]uint8, rz.OutLen())
	var r bytes.Reader
	if err := toInput(rz, pix, &camera.Frame{Format: camera.JPEG, Data: prog}, &r, 0); err != nil {
		t.Fatalf("progressive frame: %v", err)
	}
	img, err := jpeg.Decode(bytes.NewReader(prog))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]uint8, rz.OutLen())
	if err := rz.Image(want, img); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pix, want) {
		t.Error("the progressive frame did not go through image/jpeg")
	}
	if err := toInput(rz, pix, &camera.Frame{Format: camera.JPEG, Data: prog[:len(prog)/2]}, &r, 0); err == nil {
		t.Error("a truncated progressive frame gave no error")
	}
	base, err := os.ReadFile(filepath.Join("..", "preprocess", "jpeg", "testdata", "s420.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := toInput(rz, pix, &camera.Frame{Format: camera.JPEG, Data: base[:len(base)/2]}, &r, 0); err == nil {
		t.Error("a truncated baseline frame gave no error")
	}
}

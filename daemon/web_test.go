package daemon

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"math"
	"testing"
	"time"

	"catd/camera"
	"catd/learn"
)

func TestLiveEncoder(t *testing.T) {
	var e liveEncoder
	for _, tc := range []struct {
		name   string
		w, h   int
		format camera.Format
		fill   func(data []byte)
	}{
		{"rgb, scaled down", 640, 480, camera.RGB24, func(d []byte) {
			for i := 0; i < len(d); i += 3 {
				d[i], d[i+1], d[i+2] = 200, 40, 40
			}
		}},
		{"grey, another size", 32, 16, camera.Gray8, func(d []byte) {
			for i := range d {
				d[i] = 128
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bpp := map[camera.Format]int{camera.RGB24: 3, camera.Gray8: 1}[tc.format]
			f := &camera.Frame{Format: tc.format, W: tc.w, H: tc.h, Stride: tc.w * bpp, Data: make([]byte, tc.w*tc.h*bpp)}
			tc.fill(f.Data)
			out, err := e.encode(f)
			if err != nil {
				t.Fatal(err)
			}
			img, err := jpeg.Decode(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			w := min(tc.w, liveWidth)
			h := tc.h * w / tc.w
			if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
				t.Errorf("size %v, want %dx%d", b, w, h)
			}
			r, g, bl, _ := img.At(w/2, h/2).RGBA()
			var want [3]uint32
			if tc.format == camera.RGB24 {
				want = [3]uint32{200, 40, 40}
			} else {
				want = [3]uint32{128, 128, 128}
			}
			for i, v := range []uint32{r >> 8, g >> 8, bl >> 8} {
				if d := int(v) - int(want[i]); d < -8 || d > 8 {
					t.Errorf("centre pixel %d %d %d, want about %v", r>>8, g>>8, bl>>8, want)
					break
				}
			}
			again, err := e.encode(f)
			if err != nil || !bytes.Equal(again, out) || &again[0] == &out[0] {
				t.Errorf("the same frame again: %v, equal %v; each answer must be a copy of its own", err, bytes.Equal(again, out))
			}
		})
	}
	jf := &camera.Frame{Format: camera.JPEG, Data: []byte{0xff, 0xd8}}
	if out, _ := e.encode(jf); &out[0] != &jf.Data[0] {
		t.Error("a JPEG frame is not passed through")
	}
	if _, err := e.encode(&camera.Frame{Format: camera.RGB24}); err == nil {
		t.Error("a 0x0 raw frame encoded")
	}
}

func TestRoundLog(t *testing.T) {
	var r roundLog
	at := time.Unix(0, 0)
	for i := range maxRounds + 10 {
		r.add(learn.Result{Steps: i, Accepted: i%2 == 0, ValLoss: 0.5, ValAUC: math.NaN()}, at)
	}
	got := r.appendTo(nil)
	if len(got) != maxRounds || got[0].Steps != 10 || got[len(got)-1].Steps != maxRounds+9 {
		t.Fatalf("%d rounds, from step %d to %d; want the newest %d", len(got), got[0].Steps, got[len(got)-1].Steps, maxRounds)
	}
	if got[0].ValAUC != nil || got[0].ValLoss == nil || *got[0].ValLoss != 0.5 || !got[0].Accepted {
		t.Errorf("round %+v: NaN must become nil", got[0])
	}
}

// BenchmarkLiveEncoder is the cost of one live frame, from a raw frame
// to the JPEG the page shows, by frame size.
func BenchmarkLiveEncoder(b *testing.B) {
	for _, sz := range []struct{ w, h int }{{320, 240}, {640, 480}, {1280, 720}} {
		b.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(b *testing.B) {
			var e liveEncoder
			f := &camera.Frame{Format: camera.RGB24, W: sz.w, H: sz.h, Stride: 3 * sz.w, Data: make([]byte, 3*sz.w*sz.h)}
			for i := range f.Data {
				f.Data[i] = byte(i * 7 % 251)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.encode(f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

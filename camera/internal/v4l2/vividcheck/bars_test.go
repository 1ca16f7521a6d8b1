//go:build linux

package main

import (
	"fmt"
	"math"
	"testing"

	"catd/camera"
)

// barFrame draws the 75% colour bars (with bar order perm) as vivid would
// in format f at w×h, with rows of exactly the packed length.
func barFrame(f camera.Format, w, h int, perm [8]int) *camera.Frame {
	stride, size := layout(f, w, h)
	fr := &camera.Frame{Seq: 1, Format: f, W: w, H: h, Stride: stride, Data: make([]byte, size)}
	rgb := func(x int) [3]int { return colourBars75[perm[x*8/w]] }
	ycc := func(c [3]int) (y, cb, cr uint8) { // BT.601, limited range
		r, g, b := float64(c[0]), float64(c[1]), float64(c[2])
		y = uint8(math.Round(16 + (65.481*r+128.553*g+24.966*b)/255))
		cb = uint8(math.Round(128 + (-37.797*r-74.203*g+112*b)/255))
		cr = uint8(math.Round(128 + (112*r-93.786*g-18.214*b)/255))
		return y, cb, cr
	}
	d := fr.Data
	cw := (w + 1) / 2
	for row := range h {
		for x := range w {
			c := rgb(x)
			y, cb, cr := ycc(c)
			switch f {
			case camera.RGB24:
				d[row*stride+3*x], d[row*stride+3*x+1], d[row*stride+3*x+2] = uint8(c[0]), uint8(c[1]), uint8(c[2])
			case camera.Gray8:
				d[row*stride+x] = uint8(luma709(c))
			case camera.YUYV:
				d[row*stride+2*x] = y
				d[row*stride+4*(x/2)+1], d[row*stride+4*(x/2)+3] = cb, cr
			case camera.I420, camera.NV12:
				d[row*w+x] = y
				ci := (row/2)*cw + x/2
				if f == camera.I420 {
					d[w*h+ci], d[w*h+cw*((h+1)/2)+ci] = cb, cr
				} else {
					d[w*h+2*ci], d[w*h+2*ci+1] = cb, cr
				}
			}
		}
	}
	return fr
}

var inOrder = [8]int{0, 1, 2, 3, 4, 5, 6, 7}

func TestBarsMatch(t *testing.T) {
	for _, f := range []camera.Format{camera.YUYV, camera.I420, camera.NV12, camera.RGB24, camera.Gray8} {
		for _, sz := range [][2]int{{640, 480}, {320, 180}, {1280, 720}} {
			t.Run(fmt.Sprintf("%v/%dx%d", f, sz[0], sz[1]), func(t *testing.T) {
				r, err := newBarChecker().check(barFrame(f, sz[0], sz[1], inOrder), 0)
				if err != nil {
					t.Fatal(err)
				}
				if r.bad != 0 {
					t.Fatalf("%d bad cells, first %s", r.bad, r.worst)
				}
				if r.maxDev > tolerance(f) {
					t.Fatalf("maxDev %d over %d", r.maxDev, tolerance(f))
				}
			})
		}
	}
}

func TestBarsMismatch(t *testing.T) {
	swapped := inOrder
	swapped[1], swapped[2] = swapped[2], swapped[1] // yellow and cyan
	// A driver's row padding ignored: each row starts 16 pixels further
	// left than it should.
	sheared := barFrame(camera.YUYV, 640, 480, inOrder)
	padded := make([]byte, (sheared.Stride+32)*sheared.H)
	for y := range sheared.H {
		copy(padded[y*(sheared.Stride+32):], sheared.Data[y*sheared.Stride:(y+1)*sheared.Stride])
	}
	sheared.Data = padded[:len(sheared.Data)]
	// I420 with its Cb and Cr planes the wrong way round (YV12).
	yv12 := barFrame(camera.I420, 640, 480, inOrder)
	u, v := yv12.Data[640*480:640*480*5/4], yv12.Data[640*480*5/4:]
	for i := range u {
		u[i], v[i] = v[i], u[i]
	}
	for _, tc := range []struct {
		name  string
		frame *camera.Frame
	}{
		{"swapped chroma", yv12},
		{"swapped bars", barFrame(camera.YUYV, 640, 480, swapped)},
		{"swapped grey bars", barFrame(camera.Gray8, 640, 480, swapped)},
		{"wrong stride", sheared},
		{"blank", &camera.Frame{Format: camera.RGB24, W: 640, H: 480, Stride: 1920, Data: make([]byte, 1920*480)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := newBarChecker().check(tc.frame, 0)
			if err != nil {
				t.Fatal(err)
			}
			if r.bad == 0 {
				t.Fatalf("no bad cells (maxDev %d)", r.maxDev)
			}
		})
	}
}

func TestLayout(t *testing.T) {
	for _, tc := range []struct {
		f            camera.Format
		w, h         int
		stride, size int
	}{
		{camera.YUYV, 640, 480, 1280, 614400},
		{camera.RGB24, 640, 480, 1920, 921600},
		{camera.Gray8, 640, 480, 640, 307200},
		{camera.I420, 640, 480, 640, 460800},
		{camera.NV12, 320, 180, 320, 86400},
	} {
		if s, n := layout(tc.f, tc.w, tc.h); s != tc.stride || n != tc.size {
			t.Errorf("layout(%v, %d, %d) = %d, %d; want %d, %d", tc.f, tc.w, tc.h, s, n, tc.stride, tc.size)
		}
	}
}

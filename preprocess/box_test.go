package preprocess

import (
	"bytes"
	"fmt"
	"image"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestWordTab checks the packed conversions against yuvToRGB and jfifToRGB
// for all 2^24 inputs.
func TestWordTab(t *testing.T) {
	for _, c := range []struct {
		name string
		tab  *wordTab
		conv func(y, cb, cr uint8) (uint8, uint8, uint8)
	}{
		{"limited", limitedWords, yuvToRGB},
		{"jfif", jfifWords, jfifToRGB},
	} {
		t.Run(c.name, func(t *testing.T) {
			for cb := range 256 {
				for cr := range 256 {
					crb, cg := c.tab.chroma(uint8(cb), uint8(cr))
					for y := range 256 {
						got := c.tab.word(uint8(y), crb, cg)
						if want := pack(c.conv(uint8(y), uint8(cb), uint8(cr))); got != want {
							t.Fatalf("word(%d, %d, %d) = %#x, want %#x", y, cb, cr, got, want)
						}
					}
				}
			}
		})
	}
}

// TestBoxMatchesRows: the box path gives the same bytes as resampleRows
// for every source type, over sizes that shrink by whole and fractional
// factors, with odd regions of interest (odd first columns and rows, which
// start inside a chroma pair) and letterbox bars.
func TestBoxMatchesRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	sizes := [][2]int{{640, 480}, {64, 64}, {65, 67}, {97, 61}, {128, 100}, {300, 257}}
	outs := [][2]int{{64, 64}, {20, 12}, {7, 9}, {1, 1}}
	opts := []Options{{}, {Fit: Letterbox}, {Fit: Stretch}, {ROI: image.Rect(3, 1, 60, 50), Fit: Stretch}}
	boxed := 0
	for _, f := range rawFormats {
		for _, sz := range sizes {
			w, h := sz[0], sz[1]
			stride := 0
			if f.row != nil {
				stride = f.row(w) + 2
			}
			frame := noise(rng, f.size(w, h, stride))
			for _, o := range outs {
				for _, opt := range opts {
					name := fmt.Sprintf("%s/%dx%d/to%dx%d/%v%v", f.name, w, h, o[0], o[1], opt.Fit, opt.ROI)
					box, rows := NewResizer(o[0], o[1], opt), NewResizer(o[0], o[1], opt)
					rows.noBox = true
					got, want := make([]uint8, box.OutLen()), make([]uint8, box.OutLen())
					if err := f.call(box, got, frame, w, h, stride); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if err := f.call(rows, want, frame, w, h, stride); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if box.box {
						boxed++
					}
					if !bytes.Equal(got, want) {
						t.Errorf("%s: box path differs from resampleRows", name)
					}
				}
			}
		}
	}
	if boxed == 0 {
		t.Fatal("no case took the box path")
	}
	// The camera's case takes it.
	r := NewResizer(64, 64, Options{})
	if err := r.Gray(make([]uint8, r.OutLen()), make([]uint8, 640*480), 640, 480, 640); err != nil {
		t.Fatal(err)
	}
	if !r.box {
		t.Error("640x480 to 64x64 does not take the box path")
	}
}

// TestYUVKernels holds wordTab.addPairs and addYUYV, which hand whole
// blocks of 8 pixels to the assembly kernels where there are any, to
// their Go loops (addPairsGo, addYUYVGo): random bytes, every length from 1 to
// 70 pixels, rows starting on either pixel of a pair, weights up to
// maxBoxDen, both conversions, and guard words around the sums that must
// stay untouched.
func TestYUVKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	const guard = 8
	const sentinel = 0xdead_beef_cafe_f00d
	sums := func(n int) ([]uint64, []uint64) {
		buf := make([]uint64, n+2*guard)
		for i := range buf {
			buf[i] = sentinel
		}
		for i := guard; i < guard+n; i++ {
			buf[i] = rng.Uint64() & 0x0000_3fff_3fff_3fff // earlier rows' sums
		}
		return buf, buf[guard : guard+n : guard+n]
	}
	check := func(t *testing.T, name string, got, want []uint64) {
		t.Helper()
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: word %d (of %d with %d guards each side) = %#x, want %#x", name, i, len(got), guard, got[i], want[i])
			}
		}
	}
	probe := make([]uint64, 16)
	t.Logf("assembly kernels take %d of 16 pixels", pairsKernel(probe, make([]uint8, 16), make([]uint8, 8), make([]uint8, 8), 1, 1, limitedWords))
	for _, tab := range []struct {
		name string
		t    *wordTab
	}{{"limited", limitedWords}, {"jfif", jfifWords}} {
		for n := 1; n <= 70; n++ {
			for _, odd := range []bool{false, true} {
				w := uint64(1 + rng.IntN(maxBoxDen))
				pairs := (n + 1 + b2i(odd)) / 2
				ys := noise(rng, n)
				for _, step := range []int{1, 2} {
					cb := noise(rng, step*pairs)
					cr := cb[1:]
					if step == 1 {
						cr = noise(rng, pairs)
					}
					gotBuf, got := sums(n)
					wantBuf := append([]uint64(nil), gotBuf...)
					tab.t.addPairs(got, ys, cb, cr, step, odd, w)
					tab.t.addPairsGo(wantBuf[guard:guard+n], ys, cb, cr, step, odd, w)
					check(t, fmt.Sprintf("%s addPairs n=%d odd=%v step=%d", tab.name, n, odd, step), gotBuf, wantBuf)
				}
				src := noise(rng, 4*pairs)
				gotBuf, got := sums(n)
				wantBuf := append([]uint64(nil), gotBuf...)
				tab.t.addYUYV(got, src, n, odd, w)
				tab.t.addYUYVGo(wantBuf[guard:guard+n], src, odd, w)
				check(t, fmt.Sprintf("%s addYUYV n=%d odd=%v", tab.name, n, odd), gotBuf, wantBuf)
			}
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestGrayRGBKernels holds addGray and addRGB, which hand a prefix of the
// row to the assembly kernels where there are any, to their Go loops over
// every length up to 70 pixels, with guard words around the sums.
func TestGrayRGBKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	const guard = 8
	for n := 0; n <= 70; n++ {
		for _, rgb := range []bool{false, true} {
			w := uint64(1 + rng.IntN(maxBoxDen))
			got := make([]uint64, n+2*guard)
			for i := range got {
				got[i] = rng.Uint64() & 0x0000_3fff_3fff_3fff
			}
			want := append([]uint64(nil), got...)
			if rgb {
				src := noise(rng, 3*n)
				addRGB(got[guard:guard+n], src, w)
				addRGBGo(want[guard:guard+n], src, w)
			} else {
				src := noise(rng, n)
				addGray(got[guard:guard+n], src, w)
				addGrayGo(want[guard:guard+n], src, w)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("rgb=%v n=%d: word %d (with %d guards each side) = %#x, want %#x", rgb, n, i, guard, got[i], want[i])
				}
			}
		}
	}
}

// TestBoxRounding checks the box path's integer rounding against exact
// rational rounding (half up): every sum for small denominators, the
// ends, the halves and random sums for large ones up to the largest
// planBox accepts.
func TestBoxRounding(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	check := func(d, v uint64) {
		s := uint(bits.Len64(1022 * d * d))
		if s > 55 {
			return
		}
		q := rounding{d, (1<<s + 2*d - 1) / (2 * d), s}
		var o [3]uint8
		put3(o[:], v|v<<32, v, q)
		want := (2*v + d) / (2 * d)
		if uint64(o[0]) != want || uint64(o[1]) != want || uint64(o[2]) != want {
			t.Fatalf("d=%d v=%d: %v, want %d", d, v, o, want)
		}
	}
	for d := uint64(1); d <= 1000; d++ {
		for v := uint64(0); v <= 255*d; v++ {
			check(d, v)
		}
	}
	for range 2000 {
		d := 1 + rng.Uint64N(6_000_000)
		for _, v := range []uint64{0, 255 * d, d / 2, d/2 + 1, (2*rng.Uint64N(255) + 1) * d / 2, rng.Uint64N(255*d + 1)} {
			check(d, v)
		}
	}
}

// TestHQuot: findHQuot finds an exact division for every denominator the
// kernels take (it checks each sum itself; this checks that it never
// gives up there) and none past them.
func TestHQuot(t *testing.T) {
	for d := uint64(1); d <= 256; d++ {
		if _, ok := findHQuot(d); !ok {
			t.Errorf("no hquot for denominator %d", d)
		}
	}
	if _, ok := findHQuot(257); ok {
		t.Error("an hquot for 257, whose sums plus half overflow 16 bits")
	}
}

// TestHBoxKernel holds hboxKernel, where there is one, to hbox4Go: every
// output width up to 70 pixels, random windows of 1 to 4 taps and sums up
// to 255 times the denominator in each lane, with guard bytes around the
// output.
func TestHBoxKernel(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 30))
	const guard = 16
	probe := make([]uint8, 3*8)
	t.Logf("assembly kernel takes %d of 8 pixels", hboxKernel(probe, make([]uint64, 12), make([]int32, 8), make([]uint64, 32), &hquot{}))
	for n := 0; n <= 70; n++ {
		taps := 1 + rng.IntN(4)
		yden := uint64(1 + rng.IntN(16))
		xden := uint64(1 + rng.IntN(int(256/yden)))
		q, ok := findHQuot(xden * yden)
		if !ok {
			t.Fatalf("no hquot for %d", xden*yden)
		}
		first := make([]int32, n)
		w4 := make([]uint64, 4*n)
		f := 0
		for j := range n {
			f += rng.IntN(3)
			first[j] = int32(f)
			left := xden // the weights of a pixel sum to xden
			for k := range taps - 1 {
				w := uint64(rng.IntN(int(left) + 1))
				w4[4*j+k] = w * grey
				left -= w
			}
			w4[4*j+taps-1] = left * grey
		}
		acc := make([]uint64, f+4)
		for i := range acc {
			for c := range 3 {
				acc[i] |= uint64(rng.IntN(int(255*yden)+1)) << (16 * c)
			}
		}
		buf := make([]uint8, 3*n+2*guard)
		for i := range buf {
			buf[i] = 0xA5
		}
		want := append([]uint8(nil), buf...)
		got := buf[guard : guard+3*n]
		k := hboxKernel(got, acc, first, w4, &q)
		hbox4Go(got[3*k:], acc, first[k:], w4[4*k:], q)
		hbox4Go(want[guard:guard+3*n], acc, first, w4, q)
		for i := range buf {
			if buf[i] != want[i] {
				t.Fatalf("n=%d taps=%d D=%d: byte %d (with %d guards each side) = %d, want %d", n, taps, xden*yden, i, guard, buf[i], want[i])
			}
		}
		// And hbox4Go is the rounded average.
		for j := range n {
			for c := range 3 {
				var v uint64
				for k := range 4 {
					v += (w4[4*j+k] & 0xffff) * (acc[int(first[j])+k] >> (16 * c) & 0xffff)
				}
				d := xden * yden
				if r := (2*v + d) / (2 * d); uint64(want[guard+3*j+c]) != r {
					t.Fatalf("n=%d: pixel %d channel %d = %d, want %d (sum %d / %d)", n, j, c, want[guard+3*j+c], r, v, d)
				}
			}
		}
	}
}

// TestScaledKernel holds addScaled, which hands a prefix to the assembly
// kernel where there is one, to addScaledGo over every length up to 70
// words, with guard words around both rows.
func TestScaledKernel(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	const guard = 8
	for n := 0; n <= 70; n++ {
		w, w2 := uint64(1+rng.IntN(maxBoxDen)), uint64(1+rng.IntN(maxBoxDen))
		acc := make([]uint64, n+2*guard)
		next := make([]uint64, n+2*guard)
		for i := range acc {
			for c := range 3 {
				// Sums that leave room for w times 255, and pixels.
				acc[i] |= uint64(rng.IntN(int(255*(maxBoxDen-w))+1)) << (16 * c)
				next[i] |= uint64(rng.IntN(256)) << (16 * c)
			}
		}
		wantAcc, wantNext := slices.Clone(acc), slices.Clone(next)
		addScaled(acc[guard:guard+n], next[guard:guard+n], w, w2)
		addScaledGo(wantAcc[guard:guard+n], wantNext[guard:guard+n], w, w2)
		if !slices.Equal(acc, wantAcc) || !slices.Equal(next, wantNext) {
			t.Fatalf("n=%d w=%d w2=%d: the kernel's rows differ from addScaledGo's (or the guards changed)", n, w, w2)
		}
	}
}

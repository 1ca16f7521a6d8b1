package jpeg

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	stdjpeg "image/jpeg"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// scene draws a w×h test picture: smooth gradients, hard-edged shapes, a
// fine texture and noise, so that every frequency band is used.
func scene(w, h int, seed uint64) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(seed, 7))
	cx, cy, rad := float64(w)*r.Float64(), float64(h)*r.Float64(), float64(min(w, h))/3
	for y := range h {
		for x := range w {
			fx, fy := float64(x), float64(y)
			c := [3]float64{40 + 180*fx/float64(w), 30 + 200*fy/float64(h), 128 + 90*math.Sin(fx/7+fy/11)}
			if fy > 0.6*float64(h) {
				t := 40 * math.Sin(fx/1.7) * math.Cos(fy/2.1)
				c[0], c[1], c[2] = c[0]+t, c[1]-t, c[2]+t/2
			}
			if dx, dy := fx-cx, fy-cy; dx*dx+dy*dy < rad*rad {
				c = [3]float64{250, 20, 60}
			}
			for k := range 3 {
				v := c[k] + float64(r.IntN(17)-8)
				img.Pix[img.PixOffset(x, y)+k] = uint8(min(max(v, 0), 255))
			}
			img.Pix[img.PixOffset(x, y)+3] = 255
		}
	}
	return img
}

func encode(t testing.TB, img image.Image, quality int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := stdjpeg.Encode(&b, img, &stdjpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func grayOf(img *image.RGBA) *image.Gray {
	g := image.NewGray(img.Rect)
	for y := img.Rect.Min.Y; y < img.Rect.Max.Y; y++ {
		for x := img.Rect.Min.X; x < img.Rect.Max.X; x++ {
			g.Set(x, y, color.GrayModel.Convert(img.At(x, y)))
		}
	}
	return g
}

// plane is one component of a decoded image with the blocks' padding:
// image/jpeg keeps its planes padded to whole MCUs, as this decoder does.
type plane struct {
	pix    []uint8
	stride int
	w, h   int // the part that is the image
}

// planes returns the components of a decoded *image.YCbCr or *image.Gray.
func planes(t testing.TB, img image.Image) []plane {
	t.Helper()
	switch m := img.(type) {
	case *image.Gray:
		return []plane{{m.Pix, m.Stride, m.Rect.Dx(), m.Rect.Dy()}}
	case *image.YCbCr:
		cw, ch := m.Rect.Dx(), m.Rect.Dy()
		switch m.SubsampleRatio {
		case image.YCbCrSubsampleRatio422:
			cw = (cw + 1) / 2
		case image.YCbCrSubsampleRatio420:
			cw, ch = (cw+1)/2, (ch+1)/2
		case image.YCbCrSubsampleRatio440:
			ch = (ch + 1) / 2
		}
		return []plane{{m.Y, m.YStride, m.Rect.Dx(), m.Rect.Dy()}, {m.Cb, m.CStride, cw, ch}, {m.Cr, m.CStride, cw, ch}}
	}
	t.Fatalf("decoded a %T", img)
	return nil
}

// compare checks got, decoded at 1/scale, against want, image/jpeg's full
// decode: each pixel of got against the mean of the scale×scale pixels of
// want it stands for (a box filter; scale 1 compares pixel by pixel). It
// fails when a difference exceeds maxDiff levels or their mean exceeds
// maxMean, and returns the largest difference and the mean.
func compare(t testing.TB, name string, got, want image.Image, scale int, maxDiff int, maxMean float64) (int, float64) {
	t.Helper()
	wb := want.Bounds()
	if g, w := got.Bounds(), image.Rect(0, 0, (wb.Dx()+scale-1)/scale, (wb.Dy()+scale-1)/scale); g != w {
		t.Fatalf("%s: bounds %v, want %v", name, g, w)
	}
	gp, wp := planes(t, got), planes(t, want)
	if len(gp) != len(wp) {
		t.Fatalf("%s: %d components, want %d", name, len(gp), len(wp))
	}
	worst, sum, count := 0, 0.0, 0
	for c := range gp {
		g, w := gp[c], wp[c]
		for y := range (w.h + scale - 1) / scale {
			for x := range (w.w + scale - 1) / scale {
				// The box lies inside the padded plane: blocks are whole.
				s := 0
				for yy := range scale {
					for xx := range scale {
						s += int(w.pix[(y*scale+yy)*w.stride+x*scale+xx])
					}
				}
				ref := (s + scale*scale/2) / (scale * scale)
				d := int(g.pix[y*g.stride+x]) - ref
				d = max(d, -d)
				worst = max(worst, d)
				sum += float64(d)
				count++
				if d > maxDiff {
					t.Fatalf("%s: component %d pixel (%d, %d) at 1/%d: %d, want %d±%d", name, c, x, y, scale, g.pix[y*g.stride+x], ref, maxDiff)
				}
			}
		}
	}
	mean := sum / float64(count)
	if mean > maxMean {
		t.Errorf("%s at 1/%d: mean difference %.3f levels, want at most %.3f", name, scale, mean, maxMean)
	}
	return worst, mean
}

// Tolerances against image/jpeg's decode. At 1/1 both compute the same
// inverse DCT, image/jpeg in integers and this package in float32. At the
// reduced scales the reference is the box average of image/jpeg's full
// decode, which the scaled IDCTs compute exactly up to rounding (the
// reference rounds twice: a mean of 0.1 to 0.25 levels) except where the
// full decode clips: a block that overshoots below 0 or above 255 at a
// sharp edge is averaged before clipping here and after it there (up to 8
// levels apart on cjpeg's testsrc2 frames, 3 on the generated scenes).
var tolerance = map[int]struct {
	max  int
	mean float64
}{1: {2, 0.1}, 2: {12, 0.35}, 4: {12, 0.35}, 8: {2, 0.35}}

func decodeStd(t testing.TB, data []byte) image.Image {
	t.Helper()
	img, err := stdjpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("image/jpeg: %v", err)
	}
	return img
}

func TestDecodeGenerated(t *testing.T) {
	var d Decoder
	sizes := [][2]int{{1, 1}, {7, 5}, {8, 8}, {16, 16}, {17, 9}, {33, 47}, {64, 48}, {101, 67}, {640, 480}}
	for _, sz := range sizes {
		for _, gray := range []bool{false, true} {
			for _, q := range []int{50, 90, 100} {
				src := scene(sz[0], sz[1], uint64(sz[0]*1000+sz[1]))
				var in image.Image = src
				kind := "ycbcr420"
				if gray {
					in, kind = grayOf(src), "gray"
				}
				data := encode(t, in, q)
				want := decodeStd(t, data)
				for _, scale := range []int{1, 2, 4, 8} {
					name := fmt.Sprintf("%dx%d-%s-q%d", sz[0], sz[1], kind, q)
					cfg, err := d.DecodeHeader(data)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if cfg.Width != sz[0] || cfg.Height != sz[1] {
						t.Fatalf("%s: config %dx%d", name, cfg.Width, cfg.Height)
					}
					got, err := d.Decode(scale)
					if err != nil {
						t.Fatalf("%s at 1/%d: %v", name, scale, err)
					}
					tol := tolerance[scale]
					worst, mean := compare(t, name, got, want, scale, tol.max, tol.mean)
					t.Logf("%s 1/%d: max %d mean %.3f", name, scale, worst, mean)
				}
			}
		}
	}
}

// TestDecodeTestdata decodes what cjpeg makes and image/jpeg's encoder
// cannot: 4:4:4, 4:2:2, 4:4:0, restart intervals, optimised Huffman
// tables with long codes (scripts/jpeg-testdata.sh).
func TestDecodeTestdata(t *testing.T) {
	for _, name := range []string{"s444", "s422", "s440", "s420", "s420-restart2", "s422-restart-rows", "gray", "gray-restart", "optimized"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name+".jpg"))
			if err != nil {
				t.Fatal(err)
			}
			want := decodeStd(t, data)
			var d Decoder
			for _, scale := range []int{1, 2, 4, 8} {
				if _, err := d.DecodeHeader(data); err != nil {
					t.Fatal(err)
				}
				got, err := d.Decode(scale)
				if err != nil {
					t.Fatalf("at 1/%d: %v", scale, err)
				}
				tol := tolerance[scale]
				worst, mean := compare(t, name, got, want, scale, tol.max, tol.mean)
				t.Logf("1/%d: max %d, mean %.3f", scale, worst, mean)
			}
		})
	}
}

func TestUnsupported(t *testing.T) {
	for _, name := range []string{"progressive", "arithmetic"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name+".jpg"))
			if err != nil {
				t.Fatal(err)
			}
			if name == "progressive" {
				decodeStd(t, data) // image/jpeg, the fallback, reads it
			}
			var d Decoder
			if _, err := d.DecodeHeader(data); !errors.Is(err, ErrUnsupported) {
				t.Fatalf("DecodeHeader: %v, want ErrUnsupported", err)
			}
		})
	}
	t.Run("12-bit", func(t *testing.T) {
		data := encode(t, scene(16, 16, 1), 80)
		sof := bytes.Index(data, []byte{0xFF, 0xC0})
		data[sof+4] = 12 // sample precision
		var d Decoder
		if _, err := d.DecodeHeader(data); !errors.Is(err, ErrUnsupported) {
			t.Fatalf("DecodeHeader: %v, want ErrUnsupported", err)
		}
	})
}

// withoutDHT removes every DHT segment, as UVC cameras send frames.
func withoutDHT(data []byte) []byte {
	out := append([]byte(nil), data[:2]...)
	i := 2
	for i+4 <= len(data) && data[i] == 0xFF && data[i+1] != mSOS {
		n := int(data[i+2])<<8 | int(data[i+3])
		if data[i+1] != mDHT {
			out = append(out, data[i:i+2+n]...)
		}
		i += 2 + n
	}
	return append(out, data[i:]...)
}

// TestNoHuffmanTables: image/jpeg's encoder uses the Annex K tables, so
// the frame without them must decode to the same pixels.
func TestNoHuffmanTables(t *testing.T) {
	data := encode(t, scene(64, 48, 3), 75)
	bare := withoutDHT(data)
	if bytes.Contains(bare[:bytes.Index(bare, []byte{0xFF, mSOS})], []byte{0xFF, mDHT}) || len(bare) >= len(data) {
		t.Fatal("the test frame still has a DHT segment")
	}
	var d Decoder
	if _, err := d.DecodeHeader(data); err != nil {
		t.Fatal(err)
	}
	img, err := d.Decode(1)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]uint8(nil), img.(*image.YCbCr).Y...)
	var d2 Decoder
	if _, err := d2.DecodeHeader(bare); err != nil {
		t.Fatal(err)
	}
	got, err := d2.Decode(1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.(*image.YCbCr).Y, want) {
		t.Fatal("the frame without DHT decodes differently")
	}
}

func TestCorrupt(t *testing.T) {
	data := encode(t, scene(64, 48, 4), 75)
	sos := bytes.Index(data, []byte{0xFF, mSOS})
	cases := map[string][]byte{
		"empty":            nil,
		"no SOI":           data[2:],
		"header only":      data[:sos],
		"truncated scan":   data[:sos+40],
		"cut before EOI":   data[:len(data)/2],
		"garbage segment":  append(append([]byte{}, data[:2]...), 0xFF, 0xDB, 0x00, 0x01),
		"length past end":  append(append([]byte{}, data[:2]...), 0xFF, 0xE1, 0xFF, 0xFF, 0),
		"marker in scan":   append(append(append([]byte{}, data[:sos+200]...), 0xFF, 0xD9), data[sos+200:]...),
		"zero width":       zeroWidth(data),
		"too large for it": nil,
	}
	delete(cases, "too large for it")
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			var d Decoder
			_, err := d.DecodeHeader(in)
			if err == nil {
				_, err = d.Decode(1)
			}
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, ErrUnsupported) {
				t.Fatalf("%v: corrupt data reported as unsupported", err)
			}
			t.Log(err)
		})
	}
	t.Run("too large", func(t *testing.T) {
		d := Decoder{MaxPixels: 64*48 - 1}
		if _, err := d.DecodeHeader(data); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%v, want ErrTooLarge", err)
		}
	})
}

func zeroWidth(data []byte) []byte {
	out := append([]byte(nil), data...)
	sof := bytes.Index(out, []byte{0xFF, 0xC0})
	out[sof+7], out[sof+8] = 0, 0
	return out
}

// TestRestartMismatch: an RST marker of the wrong number is an error, as
// in image/jpeg.
func TestRestartMismatch(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "s420-restart2.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte{0xFF, mRST0 + 1})
	if i < 0 {
		t.Fatal("no RST1 in the test file")
	}
	bad := append([]byte(nil), data...)
	bad[i+1] = mRST0 + 5
	var d Decoder
	if _, err := d.DecodeHeader(bad); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Decode(1); err == nil {
		t.Fatal("no error for RST5 in place of RST1")
	}
	if _, err := stdjpeg.Decode(bytes.NewReader(bad)); err == nil {
		t.Fatal("image/jpeg read it: the two decoders should agree")
	}
}

// TestDecodeAllocs: decoding the next frame of the same size allocates
// nothing.
func TestDecodeAllocs(t *testing.T) {
	frames := [][]byte{encode(t, scene(640, 480, 1), 85), encode(t, scene(640, 480, 2), 85)}
	var d Decoder
	for _, scale := range []int{1, 2, 4, 8} {
		i := 0
		allocs := testing.AllocsPerRun(10, func() {
			i++
			if _, err := d.DecodeHeader(frames[i%2]); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Decode(scale); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("1/%d: %v allocations per frame, want 0", scale, allocs)
		}
	}
}

// TestWeights: W_8 is the IDCT of A.3.3, and the scaled weights are its
// box averages.
func TestWeights(t *testing.T) {
	for x := range 8 {
		for u := range 8 {
			cu := 1.0
			if u == 0 {
				cu = 1 / math.Sqrt2
			}
			want := cu / 2 * math.Cos(float64(2*x+1)*float64(u)*math.Pi/16)
			if math.Abs(float64(w8[x][u])-want) > 1e-6 {
				t.Fatalf("w8[%d][%d] = %v, want %v", x, u, w8[x][u], want)
			}
		}
	}
	for _, n := range []int{4, 2} {
		w := weights(n)
		k := 8 / n
		for x := range n {
			for u := range 8 {
				var s float64
				for i := range k {
					s += float64(w8[k*x+i][u])
				}
				if math.Abs(float64(w[x][u])-s/float64(k)) > 1e-6 {
					t.Fatalf("w%d[%d][%d] = %v, want %v", n, x, u, w[x][u], s/float64(k))
				}
			}
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	data := encode(b, scene(640, 480, 1), 85)
	for _, scale := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprintf("640x480/1:%d", scale), func(b *testing.B) {
			var d Decoder
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := d.DecodeHeader(data); err != nil {
					b.Fatal(err)
				}
				if _, err := d.Decode(scale); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("640x480/image-jpeg", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := stdjpeg.Decode(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// refSums is the reference for the pixels of both the IDCTs and the sums:
// the scaled IDCT as the plain double sum over all 64 frequencies, in
// float64, before rounding (+128 included, not clamped).
func refSums(blk *[64]int32, n int) [64]float64 {
	var out [64]float64
	var w [8][8]float64
	for x := range n {
		for u := range 8 {
			w[x][u] = boxWeight(n, x, u)
		}
	}
	for y := range n {
		for x := range n {
			var s float64
			for v := range 8 {
				for u := range 8 {
					s += w[y][v] * w[x][u] * float64(blk[8*v+u])
				}
			}
			out[y*n+x] = s + 128
		}
	}
	return out
}

// refIDCT is refSums rounded to the nearest level and clamped.
func refIDCT(blk *[64]int32, n int) [64]uint8 {
	var out [64]uint8
	for i, s := range refSums(blk, n) {
		out[i] = uint8(min(max(math.Round(s), 0), 255))
	}
	return out
}

// TestIDCT compares idct with its reference on random blocks, sparse and
// dense, and checks that it leaves the block cleared.
func TestIDCT(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{8, 4} {
		worst := 0
		for i := range 2000 {
			var blk [64]int32
			for k := range 64 {
				if i%2 == 0 || r.IntN(4) == 0 {
					blk[unzig[k]] = int32(r.IntN(1024) - 512)
				}
			}
			want := refIDCT(&blk, n)
			const stride = 11
			dst := make([]uint8, stride*n)
			last := 0
			for k := range 64 {
				if blk[unzig[k]] != 0 {
					last = k
				}
			}
			idct(dst, stride, &blk, n, last)
			for y := range n {
				for x := range n {
					d := int(dst[y*stride+x]) - int(want[y*n+x])
					worst = max(worst, d, -d)
				}
			}
			if blk != [64]int32{} {
				t.Fatalf("n=%d: block not cleared", n)
			}
		}
		if worst > 1 {
			t.Errorf("n=%d: off the reference by %d levels, want at most 1", n, worst)
		}
	}
}

// TestSums: at 1/4 and 1/8 each block's pixels are its coefficients' box
// averages, refSums of the coefficients the full decode dequantises,
// rounded to the nearest level: exactly, but for references within the
// weights' rounding error of a half (Σ|F|·2^-(sumBits+1)), where either
// neighbour may come out.
func TestSums(t *testing.T) {
	frames := map[string][]byte{
		"scene-q50":  encode(t, scene(101, 67, 1), 50),
		"scene-q100": encode(t, scene(64, 48, 2), 100),
		"gray":       encode(t, grayOf(scene(33, 47, 3)), 90),
	}
	// A frame whose AC table says EOB4 (run/size 0x40: end of this block
	// and of the next 2^4 + 4 bits - 1) where it said EOB: not baseline,
	// but image/jpeg reads it, and so must both paths here.
	// Flat blocks (EOB first) and others.
	half := scene(48, 40, 5)
	for i := range half.Pix[:len(half.Pix)/2] {
		half.Pix[i] = 200
	}
	eobn := encode(t, half, 80)
	dht := bytes.Index(eobn, []byte{0xFF, mDHT})
	for i := dht + 4; i < len(eobn) && eobn[i] != 0xFF; {
		n := 0
		for _, c := range eobn[i+1 : i+17] {
			n += int(c)
		}
		if eobn[i] == 0x10 { // AC table 0
			vals := eobn[i+17 : i+17+n]
			vals[bytes.IndexByte(vals, 0x00)] = 0x40
		}
		i += 17 + n
	}
	frames["eob4"] = eobn
	for _, name := range []string{"s444", "s422", "s440", "s420-restart2", "gray-restart", "optimized"} {
		data, err := os.ReadFile(filepath.Join("testdata", name+".jpg"))
		if err != nil {
			t.Fatal(err)
		}
		frames[name] = data
	}
	// One decoder for all, forwards and backwards: the frames' Huffman
	// tables differ, and tables built for one must not serve the next.
	names := slices.Sorted(maps.Keys(frames))
	var d Decoder
	backward := slices.Clone(names)
	slices.Reverse(backward)
	for _, name := range append(names, backward...) {
		t.Run(name, func(t *testing.T) {
			if err := checkSums(t, &d, frames[name]); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// checkSums decodes data with d at 1/1, keeping each block's coefficients
// (which d.inspect must not be set for), then at 1/4 and 1/8, and fails
// unless each block's pixels are refSums of its coefficients rounded to
// the nearest level, or either way within the weights' rounding error of
// a half. It returns the decoder's error at 1/1, if any, and fails on one
// at the other scales.
func checkSums(t testing.TB, d *Decoder, data []byte) error {
	t.Helper()
	var blocks [][64]int32
	d.inspect = func(blk *[64]int32) { blocks = append(blocks, *blk) }
	defer func() { d.inspect = nil }()
	if _, err := d.DecodeHeader(data); err != nil {
		return err
	}
	if _, err := d.Decode(1); err != nil {
		return err
	}
	for _, scale := range []int{4, 8} {
		n := 8 / scale
		if _, err := d.DecodeHeader(data); err != nil {
			t.Fatalf("1/%d: %v after 1/1 decoded", scale, err)
		}
		img, err := d.Decode(scale)
		if err != nil {
			t.Fatalf("1/%d: %v after 1/1 decoded", scale, err)
		}
		ps := planes(t, img)
		b, near := 0, 0
		for my := range d.mcusY {
			for mx := range d.mcusX {
				for i := range d.ncomp {
					c := &d.comp[i]
					p := ps[i]
					for v := range c.v {
						for h := range c.h {
							want := refSums(&blocks[b], n)
							margin := 1e-9
							for _, f := range blocks[b] {
								margin += math.Abs(float64(f)) / (1 << (sumBits + 1))
							}
							b++
							for y := range n {
								for x := range n {
									got := p.pix[((my*c.v+v)*n+y)*p.stride+(mx*c.h+h)*n+x]
									s := min(max(want[y*n+x], 0), 255)
									if math.Abs(s-math.Floor(s)-0.5) < margin {
										near++
										if float64(got) != math.Floor(s) && float64(got) != math.Ceil(s) {
											t.Fatalf("1/%d: block %d pixel (%d, %d): %d, want %.4f rounded either way", scale, b-1, x, y, got, s)
										}
										continue
									}
									if float64(got) != math.Round(s) {
										t.Fatalf("1/%d: block %d pixel (%d, %d): %d, want %.4f rounded", scale, b-1, x, y, got, s)
									}
								}
							}
						}
					}
				}
			}
		}
		if b != len(blocks) {
			t.Fatalf("1/%d: %d blocks, the full decode had %d", scale, b, len(blocks))
		}
		t.Logf("1/%d: %d blocks, %d pixels near a half level", scale, b, near)
	}
	return nil
}

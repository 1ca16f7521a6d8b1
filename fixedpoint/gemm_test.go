package fixedpoint

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"catd/conv"
)

// kernelsUnderTest lists every family of block kernels this build runs on
// this CPU, with the instruction set it belongs to.
func kernelsUnderTest() []struct {
	s *isa
	k *gemmKernel
} {
	var ks []struct {
		s *isa
		k *gemmKernel
	}
	for _, s := range isas() {
		for _, k := range []*gemmKernel{s.wide, s.narrow, s.tri} {
			if k == nil || len(ks) > 0 && ks[len(ks)-1].k == k {
				continue
			}
			ks = append(ks, struct {
				s *isa
				k *gemmKernel
			}{s, k})
		}
	}
	return ks
}

// withKernel returns s restricted to kernel k (for every width).
func withKernel(s *isa, k *gemmKernel) *isa {
	c := *s
	c.wide, c.narrow, c.tri = k, k, nil
	return &c
}

// gemmCase is one product: m rows of segs segments of l int8s, n columns,
// the segments of row i at a0 + i*rsa + s*lds in a buffer with extra int8s
// after the last one.
type gemmCase struct{ m, n, segs, l, rsa, lds, a0, extra int }

func (gc gemmCase) String() string {
	return fmt.Sprintf("m%d_n%d_segs%d_l%d_rsa%d_lds%d_a0%d_extra%d", gc.m, gc.n, gc.segs, gc.l, gc.rsa, gc.lds, gc.a0, gc.extra)
}

func gemmCases(r *rand.Rand) []gemmCase {
	cases := []gemmCase{
		{1, 1, 1, 1, 1, 1, 0, 0},
		{4096, 8, 3, 9, 3, 198, 0, 0},    // catnet64 conv 1
		{64, 64, 3, 96, 32, 320, 0, 0},   // catnet64 conv 4, one output row
		{64, 48, 1, 24, 24, 0, 0, 0},     // catsep64 1×1
		{17, 33, 1, 1000, 1000, 0, 0, 0}, // large K
		{9, 1, 1, 64, 64, 0, 0, 0},       // dense head
		{13, 17, 2, 5, 3, 40, 7, 0},      // overlapping rows
		{33, 9, 1, 3, 3, 0, 0, 0},        // 1×1, 3 channels: over-reads at the end
		{11, 24, 1, 1, 1, 0, 0, 0},       // 1×1, 1 channel
		{20, 16, 5, 7, 2, 50, 3, 2},
	}
	for range 60 {
		segs := 1 + r.IntN(4)
		l := 1 + r.IntN(40)
		if r.IntN(8) == 0 {
			l = 100 + r.IntN(600)
		}
		lds := l + r.IntN(30)
		if segs == 1 {
			lds = 0
		}
		rsa := 1 + r.IntN(2*l)
		cases = append(cases, gemmCase{1 + r.IntN(40), 1 + r.IntN(70), segs, l, rsa, lds, r.IntN(5), r.IntN(2) * r.IntN(5)})
	}
	return cases
}

// TestGemmKernels checks every block kernel family, through igemm.product
// (full blocks, the smaller blocks of the leftover rows and the Go twin for
// rows that would read past the buffer), bit for bit against gemmRef, and
// the guard bands and padding of the tile.
func TestGemmKernels(t *testing.T) {
	for _, ks := range kernelsUnderTest() {
		t.Run(ks.k.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(21, uint64(ks.k.id)))
			for _, gc := range gemmCases(r) {
				testGemm(t, withKernel(ks.s, ks.k), gc, r)
			}
		})
	}
}

func testGemm(t *testing.T, s *isa, gc gemmCase, r *rand.Rand) {
	t.Helper()
	kk := gc.segs * gc.l
	w := extremeInt8s(r, gc.n*kk, -128)
	bias := make([]int32, gc.n)
	for j := range bias {
		bias[j] = int32(r.Uint32()) // wraps in the sum
	}
	zp := int32(r.IntN(256) - 128)
	switch r.IntN(4) {
	case 0:
		zp = -128
	case 1:
		zp = 127
	}
	q, _ := (&requantParams{Mult: []int32{1 << 30}, Shift: []int{0}, Min: -128, Max: 127}).expand(gc.n)
	g := newIgemm(s, gc.n, gc.segs, gc.l, w, bias, zp, q)
	buf := extremeInt8s(r, gc.a0+(gc.m-1)*gc.rsa+(gc.segs-1)*gc.lds+gc.l+gc.extra, -128)
	if r.IntN(3) == 0 {
		for i := range buf {
			buf[i] = []int8{-128, 127}[r.IntN(2)]
		}
	}
	// A, materialised.
	a := make([]int8, gc.m*kk)
	for i := range gc.m {
		for sg := range gc.segs {
			copy(a[i*kk+sg*gc.l:][:gc.l], buf[gc.a0+i*gc.rsa+sg*gc.lds:])
		}
	}
	want := make([]int32, gc.m*gc.n)
	gemmRef(gc.m, gc.n, kk, a, kk, w, bias, zp, want, gc.n)

	ldc := g.np + r.IntN(3)*8
	c := newGuarded[int32](gc.m * ldc)
	orig := append([]int8(nil), buf...)
	g.product(c.s(), ldc, buf, gc.a0, gc.rsa, gc.lds, gc.m, 0, g.np)
	name := s.name + "/" + g.k.name + "/" + gc.String()
	c.intact(t, name)
	for i := range buf {
		if buf[i] != orig[i] {
			t.Fatalf("%s: A modified", name)
		}
	}
	for i := range gc.m {
		for j := range ldc {
			got := c.s()[i*ldc+j]
			switch {
			case j < gc.n && got != want[i*gc.n+j]:
				t.Fatalf("%s: C[%d,%d] = %d, want %d", name, i, j, got, want[i*gc.n+j])
			case j >= g.np && got != int32(sentinel):
				t.Fatalf("%s: C[%d,%d] beyond the panels written", name, i, j)
			}
		}
	}
}

// TestGemmTwin holds each assembly family to its Go twin, blockGo, on the
// same packed panels, one block size at a time.
func TestGemmTwin(t *testing.T) {
	for _, ks := range kernelsUnderTest() {
		k := ks.k
		if k.id == kGo {
			continue
		}
		t.Run(k.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(22, uint64(k.id)))
			for range 40 {
				segs, l := 1+r.IntN(3), 1+r.IntN(30)
				lds := l + r.IntN(9)
				n := 1 + r.IntN(2*k.nr)
				w := extremeInt8s(r, n*segs*l, -128)
				q, _ := (&requantParams{Mult: []int32{1 << 30}, Shift: []int{0}, Min: -128, Max: 127}).expand(n)
				g := newIgemm(withKernel(ks.s, k), n, segs, l, w, nil, int32(r.IntN(256)-128), q)
				for rows := 1; rows <= k.mr; rows++ {
					m := rows * (1 + r.IntN(3))
					rsa := 1 + r.IntN(l+3)
					buf := extremeInt8s(r, (m-1)*rsa+(segs-1)*lds+g.groups*k.grp, -128)
					pl := g.panelLen()
					for p := 0; p < g.np; p += k.nr {
						b, init := g.b[p/k.nr*pl:][:pl], g.init[p:][:k.nr]
						got, want := make([]int32, m*k.nr), make([]int32, m*k.nr)
						g.blockGo(m, buf, 0, rsa, lds, b, init, want, k.nr)
						asmBlock(k.id, rows, m, &buf[0], rsa, segs, lds, g.groups, &b[0], &init[0], &got[0], 4*k.nr)
						for i := range got {
							if got[i] != want[i] {
								t.Fatalf("%s r=%d m=%d segs=%d l=%d n=%d: C[%d] = %d, twin %d", k.name, rows, m, segs, l, n, i, got[i], want[i])
							}
						}
					}
				}
			}
		})
	}
}

// TestGemmOneTwin holds the fused kernels (products requantised in their
// epilogue) to their Go twin, blockOneGo, one block size and panel at a
// time, with channel counts that leave the last panel partly empty and
// stages with and without a clamp; the bytes around each panel's columns
// must stay untouched. On arm64 (smlalOne) layers have whole panels only,
// as igemm.fused asks.
func TestGemmOneTwin(t *testing.T) {
	tested := 0
	for _, ks := range kernelsUnderTest() {
		k := ks.k
		vnni := k.id == kVNNI16 || k.id == kVNNI8 || k.id == kVNNI24
		if !(vnni && hasOne512) && k.id != kSMLAL16 && k.id != kSMLAL8 {
			continue
		}
		tested++
		t.Run(k.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(43, uint64(k.id)))
			for trial := range 60 {
				segs, l := 1+r.IntN(3), 1+r.IntN(40)
				lds := l + r.IntN(9)
				n := 1 + r.IntN(3*k.nr)
				switch {
				case k.id == kVNNI24:
					n = 1 + r.IntN(24) // one panel: see igemm.fused
				case !vnni:
					n = k.nr * (1 + r.IntN(3))
				}
				w := extremeInt8s(r, n*segs*l, -128)
				zp := int32(r.IntN(256) - 128)
				q := requantParams{Mult: make([]int32, n), Shift: make([]int, n), ZP: zp, Min: int8(zp), Max: 127}
				switch trial % 3 {
				case 1:
					q.Max = int8(max(int(zp), 127-r.IntN(60)))
				case 2: // the clamp of VPMOVSDB alone: the kernels skip theirs
					q.ZP, q.Min = -128, -128
				}
				for ch := range n {
					q.Mult[ch], q.Shift[ch] = int32(1<<30+r.IntN(1<<30)), -1-r.IntN(14)
				}
				rq, _ := q.expand(n)
				bias := make([]int32, n)
				randBias(r, bias)
				g := newIgemm(withKernel(ks.s, k), n, segs, l, w, bias, int32(r.IntN(256)-128), rq)
				if !g.fused() {
					t.Fatalf("%+v: not fused", q)
				}
				for rows := 1; rows <= k.mr; rows++ {
					m := rows * (1 + r.IntN(3))
					rsa := 1 + r.IntN(l+3)
					buf := extremeInt8s(r, (m-1)*rsa+(segs-1)*lds+g.groups*k.grp, -128)
					ldy := n + r.IntN(5)
					for p := 0; p < g.np; p += k.nr {
						got, want := newGuarded[int8](m*ldy), make([]int8, m*ldy)
						for i := range got.s() {
							got.s()[i], want[i] = sentinel, sentinel
						}
						g.blockOneGo(m, buf, 0, rsa, lds, p, want, ldy, make([]int32, m*k.nr))
						pl := g.panelLen()
						asmBlockOne(k.id, rows, m, &buf[0], rsa, segs, lds, g.groups, &g.b[p/k.nr*pl], &g.init[p], &got.s()[p], ldy,
							g.onePtr(p), g.out.zp, g.out.lo, g.out.hi, 1<<min(k.nr, n-p)-1)
						got.intact(t, "y")
						for i := range want {
							if got.s()[i] != want[i] {
								t.Fatalf("%s r=%d m=%d segs=%d l=%d n=%d panel %d: y[%d] = %d, twin %d", k.name, rows, m, segs, l, n, p, i, got.s()[i], want[i])
							}
						}
					}
				}
			}
		})
	}
	if tested == 0 {
		t.Skip("no fused kernels on this CPU")
	}
}

// TestOutStage checks the requantisation (the scalar lookup version and
// each vector kernel) against requant.apply, i.e. TFLite's
// multiplyByQuantizedMultiplier, over random and extreme accumulators,
// multipliers and shifts.
func TestOutStage(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	accs := []int32{0, 1, -1, math.MaxInt32, math.MinInt32, math.MaxInt32 - 1, math.MinInt32 + 1, 1 << 30, -1 << 30}
	for range 2000 {
		accs = append(accs, int32(r.Uint32())>>r.IntN(32))
	}
	var kinds []outKind // every requantisation kernel this CPU runs
	for _, s := range isas() {
		if !slices.Contains(kinds, s.rq) {
			kinds = append(kinds, s.rq)
		}
	}
	for trial := range 200 {
		n := 1 + r.IntN(40)
		q := requantParams{Mult: make([]int32, n), Shift: make([]int, n), ZP: int32(r.IntN(256) - 128), Min: -128, Max: 127}
		if trial%3 == 0 {
			q.Min, q.Max = int8(q.ZP), 127
		}
		for ch := range n {
			switch r.IntN(6) {
			case 0:
				q.Mult[ch] = math.MaxInt32
			case 1:
				q.Mult[ch] = 0
			case 2:
				q.Mult[ch] = 1 << 30
			default:
				q.Mult[ch] = int32(r.Uint32() >> 1)
			}
			q.Shift[ch] = r.IntN(63) - 31
			if r.IntN(2) == 0 {
				q.Shift[ch] = r.IntN(13) - 12 // the usual range
			}
		}
		rq, err := q.expand(n)
		if err != nil {
			t.Fatal(err)
		}
		o := newOutStage(rq, n, outAVX512) // p16 as well as p
		m := 1 + r.IntN(5)
		ldc := n + r.IntN(4)
		c := make([]int32, m*ldc)
		for i := range c {
			c[i] = accs[r.IntN(len(accs))]
		}
		for _, vec := range kinds {
			ldy := n + r.IntN(4)
			y := newGuarded[int8](m * ldy)
			for i := range y.s() {
				y.s()[i] = sentinel
			}
			o.rows(y.s(), ldy, c, ldc, m, 0, n, vec)
			y.intact(t, "y")
			for i := range m {
				for ch := range ldy {
					got := y.s()[i*ldy+ch]
					if ch >= n {
						if got != sentinel {
							t.Fatalf("kernel %d: wrote y[%d,%d] beyond the channels", vec, i, ch)
						}
						continue
					}
					acc := c[i*ldc+ch]
					if want := rq.apply(acc, ch); got != want {
						t.Fatalf("kernel %d: acc %d mult %d shift %d zp %d: %d, want %d", vec, acc, rq.mult[ch], rq.shift[ch], rq.zp, got, want)
					}
					if ref := RequantizeRef(int64(acc), rq.mult[ch], rq.shift[ch], rq.zp, int8(rq.min), int8(rq.max)); got != ref {
						t.Fatalf("kernel %d: acc %d: %d, RequantizeRef %d", vec, acc, got, ref)
					}
				}
			}
		}
	}
}

// TestOutStageOneRounding checks the single-rounding output stage on
// stages that allow it (a clamp floor at or above the zero point, right
// shifts 1..maxOneShift): its Go twin, oneLane, and rqOne512 or rqOneNEON
// where the CPU runs them, against RequantizeRef, over random and extreme accumulators,
// the ties of TFLite's rounding (where its two roundings and one would
// part if the clamp did not hide it), channel counts with a partial last
// chunk, and column blocks that start past channel 0; and that stages
// which do not allow it keep the two roundings.
func TestOutStageOneRounding(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	neon := false // whether this CPU runs rqOneNEON
	for _, s := range isas() {
		neon = neon || s.rq == outNEON
	}
	for trial := range 300 {
		n := 1 + r.IntN(70)
		zp := int32(r.IntN(256) - 128)
		q := requantParams{Mult: make([]int32, n), Shift: make([]int, n), ZP: zp, Min: int8(zp), Max: 127}
		switch trial % 4 {
		case 1:
			q.Min = int8(min(127, int(zp)+r.IntN(40)))
		case 2:
			q.Max = int8(max(int(q.Min), 127-r.IntN(100)))
		case 3:
			q.Min, q.ZP = -128, -128
		}
		for ch := range n {
			q.Mult[ch] = []int32{math.MaxInt32, 0, 1 << 30, int32(r.Uint32() >> 1), int32(r.Uint32() >> 1)}[r.IntN(5)]
			q.Shift[ch] = -1 - r.IntN(maxOneShift)
		}
		rq, err := q.expand(n)
		if err != nil {
			t.Fatal(err)
		}
		if !oneRounding(rq) {
			t.Fatalf("trial %d: oneRounding refused %+v", trial, q)
		}
		o := newOutStage(rq, n, outAVX512)
		if hasOne512 != (o.one != nil) {
			t.Fatalf("one set: %v, rqOne512 runs: %v", o.one != nil, hasOne512)
		}
		m := 1 + r.IntN(9)
		ldc := n + r.IntN(20)
		c := make([]int32, m*ldc)
		for i := range c {
			ch := i % ldc
			switch r.IntN(4) {
			case 0:
				c[i] = []int32{0, 1, -1, math.MaxInt32, math.MinInt32}[r.IntN(5)]
			case 1:
				if ch < n && rq.mult[ch] > 0 {
					// A tie of the second rounding: h = (2j+1)·2^(e-1), from the
					// smallest x with (x·m + 2^30) >> 31 = h.
					e := -rq.shift[ch]
					h := int64(2*r.IntN(200)-200+1) << (e - 1)
					x := ((h << 31) - 1<<30 + int64(rq.mult[ch]) - 1) / int64(rq.mult[ch])
					if x >= math.MinInt32 && x <= math.MaxInt32 {
						c[i] = int32(x)
						continue
					}
				}
				fallthrough
			default:
				c[i] = int32(r.Uint32()) >> r.IntN(32)
			}
		}
		for ch := range n {
			mm, cc, ss := oneParams(rq, ch)
			for i := range m {
				acc := c[i*ldc+ch]
				want := RequantizeRef(int64(acc), rq.mult[ch], rq.shift[ch], rq.zp, int8(rq.min), int8(rq.max))
				if got := o.oneLane(acc, mm, cc, ss); got != want {
					t.Fatalf("oneLane: acc %d mult %d shift %d zp %d clamp [%d, %d]: %d, RequantizeRef %d", acc, rq.mult[ch], rq.shift[ch], rq.zp, rq.min, rq.max, got, want)
				}
			}
		}
		if neon {
			// rqOneNEON on whole chunks of eight, lane on the rest.
			on := newOutStage(rq, n, outNEON)
			if on.one8 == nil {
				t.Fatalf("%+v: no single rounding on NEON", q)
			}
			ldy := n + r.IntN(4)
			y := newGuarded[int8](m * ldy)
			on.rows(y.s(), ldy, c, ldc, m, 0, n, outNEON)
			y.intact(t, "y")
			for i := range m {
				for ch := range n {
					acc := c[i*ldc+ch]
					if got, want := y.s()[i*ldy+ch], RequantizeRef(int64(acc), rq.mult[ch], rq.shift[ch], rq.zp, int8(rq.min), int8(rq.max)); got != want {
						t.Fatalf("rqOneNEON: acc %d mult %d shift %d zp %d clamp [%d, %d]: %d, RequantizeRef %d", acc, rq.mult[ch], rq.shift[ch], rq.zp, rq.min, rq.max, got, want)
					}
				}
			}
		}
		if o.one == nil {
			continue
		}
		// The whole row, then a block of columns from channel 16 on.
		for _, c0 := range []int{0, 16} {
			if c0 >= n {
				continue
			}
			ldy := n + r.IntN(4)
			y := newGuarded[int8](m * ldy)
			for i := range y.s() {
				y.s()[i] = sentinel
			}
			o.rows(y.s(), ldy, c[c0:], ldc, m, c0, n, outAVX512)
			y.intact(t, "y")
			for i := range m {
				for ch := range ldy {
					got := y.s()[i*ldy+ch]
					if ch < c0 || ch >= n {
						if got != sentinel {
							t.Fatalf("rqOne512 wrote y[%d,%d] outside channels %d..%d", i, ch, c0, n)
						}
						continue
					}
					acc := c[i*ldc+ch]
					if want := RequantizeRef(int64(acc), rq.mult[ch], rq.shift[ch], rq.zp, int8(rq.min), int8(rq.max)); got != want {
						t.Fatalf("rqOne512: acc %d mult %d shift %d zp %d clamp [%d, %d]: %d, RequantizeRef %d", acc, rq.mult[ch], rq.shift[ch], rq.zp, rq.min, rq.max, got, want)
					}
				}
			}
		}
	}
	for _, bad := range []requantParams{
		{Mult: []int32{1 << 30}, Shift: []int{-3}, ZP: 5, Min: 4, Max: 127},                     // floor below the zero point
		{Mult: []int32{1 << 30}, Shift: []int{0}, ZP: 5, Min: 5, Max: 127},                      // no right shift
		{Mult: []int32{1 << 30}, Shift: []int{2}, ZP: 5, Min: 5, Max: 127},                      // a left shift
		{Mult: []int32{1 << 30}, Shift: []int{-maxOneShift - 1}, ZP: -128, Min: -128, Max: 127}, // too far right
	} {
		rq, err := bad.expand(3)
		if err != nil {
			t.Fatal(err)
		}
		if oneRounding(rq) || newOutStage(rq, 3, outAVX512).one != nil {
			t.Errorf("%+v takes the single rounding", bad)
		}
	}
}

// TestLayersEveryKernel runs the convolution and dense layers with every
// instruction set of this build against the references: odd shapes,
// strides, padding, 1×1 convolutions with channel counts that make the
// kernels' reads overhang the input, batches, extreme values and zero
// points.
func TestLayersEveryKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	cases := append([]convCase{}, catnet64...)
	cases = append(cases,
		convCase{1, 8, 8, 48, 96, 1, 1, 0}, convCase{2, 5, 7, 3, 17, 1, 1, 0}, convCase{3, 4, 4, 1, 9, 1, 1, 0},
		convCase{1, 9, 9, 5, 40, 1, 2, 0}, convCase{2, 7, 6, 7, 23, 3, 1, 0}, convCase{1, 6, 6, 300, 5, 3, 1, 1},
		convCase{1, 5, 5, 2, 300, 3, 2, 2}, convCase{2, 1, 1, 6, 3, 1, 1, 0}, convCase{1, 4, 9, 13, 16, 5, 1, 2},
	)
	for range 30 {
		k := 1 + r.IntN(5)
		cases = append(cases, convCase{1 + r.IntN(3), k + r.IntN(10), k + r.IntN(10), 1 + r.IntN(20), 1 + r.IntN(40), k, 1 + r.IntN(3), r.IntN(min(k, 3))})
	}
	for _, s := range isas() {
		for _, cc := range cases {
			t.Run(s.name+"/"+cc.String(), func(t *testing.T) {
				g, err := conv.NewConv2D(cc.h, cc.w, cc.c, cc.oc, cc.k, cc.s, cc.p)
				if err != nil {
					t.Fatal(err)
				}
				k := g.KH * g.KW * g.InC
				w := extremeInt8s(r, g.WeightLen(), -128)
				b := make([]int32, g.OutC)
				for i := range b {
					b[i] = int32(r.IntN(1<<20) - 1<<19)
				}
				inZP := []int32{-128, 127, int32(r.IntN(256) - 128)}[r.IntN(3)]
				out := randRequant(r, g.OutC, k)
				l, err := newConv2DISA(s, g, w, b, inZP, out)
				if err != nil {
					t.Fatal(err)
				}
				x := extremeInt8s(r, cc.n*g.InLen(), -128)
				y := newGuarded[int8](cc.n * g.OutLen())
				work := newGuarded[int8](l.WorkLen())
				l.Forward(y.s(), x, work.s())
				y.intact(t, "y")
				work.intact(t, "work")
				want := make([]int8, y.n)
				Conv2DRef(g, cc.n, want, x, w, b, inZP, out)
				sameInt8(t, "y", y.s(), want)
			})
		}
		type dwCase struct{ n, h, w, c, k, s, p int }
		dws := []dwCase{{1, 32, 32, 48, 3, 1, 1}, {1, 64, 64, 24, 3, 2, 1}, {1, 4, 4, 384, 3, 1, 1}, {2, 7, 5, 40, 3, 2, 1},
			{1, 9, 9, 13, 5, 2, 2}, {1, 12, 11, 8, 9, 1, 4}, {2, 3, 3, 16, 3, 3, 2}, {1, 6, 5, 300, 3, 1, 0}, {1, 1, 1, 8, 1, 1, 0}}
		for range 20 {
			k := 1 + r.IntN(5)
			dws = append(dws, dwCase{1 + r.IntN(2), k + r.IntN(8), k + r.IntN(8), 8 * (1 + r.IntN(9)), k, 1 + r.IntN(3), r.IntN(min(k, 3))})
		}
		for _, dc := range dws {
			t.Run(s.name+"/dw"+convCase{dc.n, dc.h, dc.w, dc.c, dc.c, dc.k, dc.s, dc.p}.String(), func(t *testing.T) {
				g, err := conv.NewDepthwiseConv2D(dc.h, dc.w, dc.c, dc.k, dc.s, dc.p)
				if err != nil {
					t.Fatal(err)
				}
				w := extremeInt8s(r, g.WeightLen(), -128)
				b := make([]int32, g.C)
				randBias(r, b)
				inZP := []int32{-128, 127, int32(r.IntN(256) - 128)}[r.IntN(3)]
				out := randRequant(r, g.C, g.K*g.K)
				l, err := newDepthwiseConv2DISA(s, g, w, b, inZP, out)
				if err != nil {
					t.Fatal(err)
				}
				x := extremeInt8s(r, dc.n*g.InLen(), -128)
				y := newGuarded[int8](dc.n * g.OutLen())
				work := newGuarded[int32](l.WorkLen())
				l.Forward(y.s(), x, work.s())
				y.intact(t, "y")
				work.intact(t, "work")
				want := make([]int8, y.n)
				DepthwiseConv2DRef(g, dc.n, want, x, w, b, inZP, out)
				sameInt8(t, "y", y.s(), want)
			})
		}
		for _, tc := range []struct{ n, in, out int }{{1, 64, 1}, {3, 64, 10}, {2, 1, 1}, {1, 7, 5}, {4, 300, 3}, {5, 3, 17}, {2, 384, 200}, {33, 13, 9}} {
			t.Run(s.name+"/dense"+convCase{n: tc.n, c: tc.in, oc: tc.out}.String(), func(t *testing.T) {
				w := extremeInt8s(r, tc.in*tc.out, -128)
				b := make([]int32, tc.out)
				randBias(r, b)
				inZP := []int32{-128, 127, int32(r.IntN(256) - 128)}[r.IntN(3)]
				out := randRequant(r, tc.out, tc.in)
				d, err := newDenseISA(s, tc.in, tc.out, w, b, inZP, out)
				if err != nil {
					t.Fatal(err)
				}
				x := extremeInt8s(r, tc.n*tc.in, -128)
				y := newGuarded[int8](tc.n * tc.out)
				d.Forward(y.s(), x)
				y.intact(t, "y")
				want := make([]int8, y.n)
				DenseRef(tc.in, tc.out, tc.n, want, x, w, b, inZP, out)
				sameInt8(t, "y", y.s(), want)
			})
		}
	}
}

// TestLayersZeroAllocsEveryKernel checks that Forward allocates nothing
// with every instruction set: the accumulator tile stays on the stack.
func TestLayersZeroAllocsEveryKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	for _, s := range isas() {
		for _, cc := range []convCase{{1, 16, 16, 8, 16, 3, 1, 1}, {2, 8, 8, 24, 48, 1, 1, 0}, {1, 9, 9, 5, 3, 3, 2, 0}} {
			g, _ := conv.NewConv2D(cc.h, cc.w, cc.c, cc.oc, cc.k, cc.s, cc.p)
			l, err := newConv2DISA(s, g, randInt8s(r, g.WeightLen(), -127, 127), nil, 3, randRequant(r, g.OutC, g.KH*g.KW*g.InC))
			if err != nil {
				t.Fatal(err)
			}
			x, y, work := randInt8s(r, cc.n*g.InLen(), -128, 127), make([]int8, cc.n*g.OutLen()), make([]int8, l.WorkLen())
			if a := testing.AllocsPerRun(10, func() { l.Forward(y, x, work) }); a != 0 {
				t.Errorf("%s %v: Conv2D.Forward allocates %v times per call", s.name, cc, a)
			}
		}
		for _, dc := range [][3]int{{16, 48, 1}, {8, 13, 2}, {5, 384, 1}} {
			g, _ := conv.NewDepthwiseConv2D(dc[0], dc[0], dc[1], 3, dc[2], 1)
			l, err := newDepthwiseConv2DISA(s, g, randInt8s(r, g.WeightLen(), -127, 127), nil, 3, randRequant(r, g.C, 9))
			if err != nil {
				t.Fatal(err)
			}
			x, y, work := randInt8s(r, g.InLen(), -128, 127), make([]int8, g.OutLen()), make([]int32, l.WorkLen())
			if a := testing.AllocsPerRun(10, func() { l.Forward(y, x, work) }); a != 0 {
				t.Errorf("%s %v: DepthwiseConv2D.Forward allocates %v times per call", s.name, dc, a)
			}
		}
		d, _ := newDenseISA(s, 64, 10, randInt8s(r, 640, -127, 127), nil, 0, requantParams{Mult: []int32{1 << 30}, Shift: []int{-4}, Min: -128, Max: 127})
		x, y := randInt8s(r, 3*64, -128, 127), make([]int8, 3*10)
		if a := testing.AllocsPerRun(10, func() { d.Forward(y, x) }); a != 0 {
			t.Errorf("%s: Dense.Forward allocates %v times per call", s.name, a)
		}
	}
}

// TestMaxPool2Channels runs max pooling over the channel counts the
// assembly row kernels specialise (8, multiples of 16 and of 32) and the
// ones left to Go, with odd widths and heights, against MaxPool2Ref.
func TestMaxPool2Channels(t *testing.T) {
	r := rand.New(rand.NewPCG(29, 30))
	for _, c := range []int{1, 3, 8, 16, 24, 32, 48, 64, 96, 8} {
		for _, hw := range [][2]int{{2, 2}, {2, 3}, {5, 7}, {64, 64}, {9, 4}, {3, 2}} {
			n := 1 + r.IntN(2)
			p := maxPool2{H: hw[0], W: hw[1], C: c}
			x := extremeInt8s(r, n*p.InLen(), -128)
			y := newGuarded[int8](n * p.OutLen())
			p.Forward(y.s(), x)
			y.intact(t, "max pool")
			want := make([]int8, y.n)
			MaxPool2Ref(p, n, want, x)
			sameInt8(t, fmt.Sprintf("max pool %dx%dx%d", hw[0], hw[1], c), y.s(), want)
		}
	}
}

// randBias fills b with biases in ±2^15, one in eight anywhere in the int32
// range (the sums then wrap, as TFLite's do, and the output saturates).
func randBias(r *rand.Rand, b []int32) {
	for i := range b {
		b[i] = int32(r.IntN(1<<16) - 1<<15)
		if r.IntN(8) == 0 {
			b[i] = int32(r.Uint32())
		}
	}
}

// BenchmarkRequant times the output stage alone over a tile of 2048
// accumulators (rows of c channels), with each instruction set's kernel.
func BenchmarkRequant(b *testing.B) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, c := range []int{8, 24, 64} {
		q := randRequant(r, c, 288)
		rq, _ := q.expand(c)
		if c != 8 {
			// A fused ReLU with zero point -128, as the built-in model's
			// layers have: the single rounding where the CPU has it.
			q.ZP, q.Min, q.Max = -128, -128, 127
			for i := range q.Shift {
				q.Shift[i] = min(q.Shift[i], -1)
			}
			rq, _ = q.expand(c)
		}
		o := newOutStage(rq, c, outAVX512)
		m := 2048 / c
		acc := make([]int32, m*c)
		for i := range acc {
			acc[i] = int32(r.IntN(1<<20) - 1<<19)
		}
		y := make([]int8, m*c)
		for _, s := range isas() {
			vec := s.rq
			b.Run(fmt.Sprintf("c%d/%s", c, s.name), func(b *testing.B) {
				for b.Loop() {
					o.rows(y, c, acc, c, m, 0, c, vec)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(acc)), "ns/output")
			})
		}
	}
}

// BenchmarkConv2DKernels runs catnet64's and catsep64's convolutions with
// each instruction set this CPU has.
func BenchmarkConv2DKernels(b *testing.B) {
	for _, s := range isas() {
		for _, cc := range append(append([]convCase{}, catnet64...), catsep64[1:]...) {
			b.Run(s.name+"/"+cc.String(), func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 2))
				g, _ := conv.NewConv2D(cc.h, cc.w, cc.c, cc.oc, cc.k, cc.s, cc.p)
				l, err := newConv2DISA(s, g, randInt8s(r, g.WeightLen(), -127, 127), nil, -3, randRequant(r, g.OutC, g.KH*g.KW*g.InC))
				if err != nil {
					b.Fatal(err)
				}
				x, y, work := randInt8s(r, g.InLen(), -128, 127), make([]int8, g.OutLen()), make([]int8, l.WorkLen())
				b.ReportAllocs()
				for b.Loop() {
					l.Forward(y, x, work)
				}
				b.ReportMetric(float64(g.MACs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
			})
		}
	}
}

// TestGlobalAvgPoolLarge runs the average pool over images large enough
// for its 16-bit partial sums to be flushed several times, with every
// code at an extreme, and channel counts with and without a remainder
// after the groups of eight.
func TestGlobalAvgPoolLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	for _, tc := range []struct{ h, w, c int }{{32, 32, 16}, {17, 31, 13}, {64, 64, 8}, {16, 17, 9}, {1, 257, 24}} {
		for _, fill := range []int{-128, 127, 0} {
			x := extremeInt8s(r, tc.h*tc.w*tc.c, -128)
			if fill != 0 {
				for i := range x {
					x[i] = int8(fill)
				}
			}
			g, err := newGlobalAvgPool(tc.h, tc.w, tc.c, 0.1, int32(r.IntN(256)-128), 0.003, int32(r.IntN(256)-128))
			if err != nil {
				t.Fatal(err)
			}
			y := newGuarded[int8](tc.c)
			g.Forward(y.s(), x, make([]int32, tc.c))
			y.intact(t, "y")
			want := make([]int8, tc.c)
			GlobalAvgPoolRef(g, 1, want, x)
			sameInt8(t, fmt.Sprintf("gap %v fill %d", tc, fill), y.s(), want)
		}
	}
}

// TestConv2DOneAgainstReference runs convolutions whose output stage
// takes one rounding (a fused ReLU, right shifts 1..maxOneShift) through
// each fused kernel family this CPU has, pointwise (1×1) ones above all,
// on odd image sizes (so the last rows take the smaller blocks and the
// tile path) and checks them bit for bit against Conv2DRef, the guard
// bands around output and workspace, and that a forward pass allocates
// nothing.
func TestConv2DOneAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(47, 48))
	tested := 0
	for _, ks := range kernelsUnderTest() {
		k := ks.k
		vnni := k.id == kVNNI16 || k.id == kVNNI8
		if !(vnni && hasOne512) && k.id != kSMLAL16 && k.id != kSMLAL8 {
			continue
		}
		tested++
		s := withKernel(ks.s, k)
		cases := []convCase{
			{1, 7, 9, 3, k.nr, 1, 1, 0},
			{2, 5, 13, 24, 2 * k.nr, 1, 1, 0},
			{1, 11, 3, 13, 3 * k.nr, 1, 1, 0},
			{1, 9, 9, 64, k.nr, 1, 2, 0},
			{1, 9, 7, 5, k.nr, 3, 1, 1},
			{3, 1, 1, 33, 2 * k.nr, 1, 1, 0},
		}
		for _, cc := range cases {
			t.Run(k.name+"/"+cc.String(), func(t *testing.T) {
				g, err := conv.NewConv2D(cc.h, cc.w, cc.c, cc.oc, cc.k, cc.s, cc.p)
				if err != nil {
					t.Fatal(err)
				}
				w := extremeInt8s(r, g.WeightLen(), -127)
				b := make([]int32, g.OutC)
				randBias(r, b)
				zp := []int32{-128, int32(r.IntN(256) - 128)}[r.IntN(2)]
				out := requantParams{Mult: make([]int32, g.OutC), Shift: make([]int, g.OutC), ZP: zp, Min: int8(zp), Max: 127}
				if r.IntN(2) == 0 {
					out.Max = int8(max(int(zp), 127-r.IntN(60)))
				}
				for ch := range g.OutC {
					out.Mult[ch], out.Shift[ch] = int32(1<<30+r.IntN(1<<30)), -1-r.IntN(maxOneShift)
					if r.IntN(3) > 0 {
						out.Shift[ch] = -6 - r.IntN(6) // where such layers' shifts are
					}
				}
				inZP := int32(r.IntN(256) - 128)
				l, err := newConv2DISA(s, g, w, b, inZP, out)
				if err != nil {
					t.Fatal(err)
				}
				if !l.mm.fused() {
					t.Fatalf("%v: not fused", cc)
				}
				x := extremeInt8s(r, cc.n*g.InLen(), -128)
				y := newGuarded[int8](cc.n * g.OutLen())
				work := newGuarded[int8](l.WorkLen())
				l.Forward(y.s(), x, work.s())
				y.intact(t, "y")
				work.intact(t, "work")
				want := make([]int8, y.n)
				Conv2DRef(g, cc.n, want, x, w, b, inZP, out)
				sameInt8(t, "y", y.s(), want)
				if cc.n == 1 {
					if a := testing.AllocsPerRun(5, func() { l.Forward(y.s(), x, work.s()) }); a != 0 {
						t.Fatalf("%v allocations per forward pass", a)
					}
				}
			})
		}
	}
	if tested == 0 {
		t.Skip("no fused kernels on this CPU")
	}
}

package fixedpoint

//go:generate go run gen.go

// The int8 matrix product behind conv2D and dense.
//
// A layer's accumulators are the product of an M×K int8 matrix A (one row
// per output pixel or input row) and the layer's K×N weights (N output
// channels), plus a per-channel int32 term:
//
//	C[i][j] = init[j] + Σ_{p<K} A[i][p] * W[j][p]        (int32, wrapping)
//
// where init[j] = bias[j] - inZP*Σ_p W[j][p] folds the input zero point out
// of the loop (TFLite's sum of (x - inZP)*w, expanded; exact modulo 2^32 as
// TFLite's int32 accumulator is). The weights are packed once, at
// construction, into the panel layout the chosen kernel reads; the
// products run on a small int32 tile on the stack and a vectorised
// requantisation turns each tile into int8 outputs, so a forward pass
// allocates nothing.
//
// A is never materialised: row i of A is a sequence of segs segments of l
// int8s each, segment s at buf[a0 + i*rsa + s*lds]. A convolution over a
// zero-point-padded NHWC image takes segs = KH, l = KW*InC, rsa =
// Stride*InC and lds = the padded row length (an implicit im2col); a 1×1
// convolution or a dense layer takes one segment per row.

// kernelID names a family of block kernels (one per instruction set and
// panel width).
type kernelID uint8

const (
	kGo      kernelID = iota // portable Go, packed int64 channel pairs
	kVNNI16                  // amd64 AVX-512 VNNI VPDPBUSD on YMM, 16 columns
	kVNNI8                   // 8 columns
	kAVX2x16                 // amd64 AVX2 VPMOVSXBW+VPMADDWD, 16 columns
	kAVX2x8                  // 8 columns
	kSDOT16                  // arm64 ASIMD dot product (SDOT), 16 columns
	kSDOT8                   // 8 columns
	kSMLAL16                 // arm64 ASIMD SMLAL by element, 16 columns
	kSMLAL8                  // 8 columns
	kVNNI24                  // amd64 AVX-512 VNNI, 24 columns
)

// gemmKernel describes one family of block kernels: how the weights are
// packed for it and how it reads A.
//
// A panel holds nr output channels. Its weights are stored segment by
// segment, each segment as ceil(l/grp) groups of grp consecutive k, and a
// group as nr×grp int8s: [nr][grp] (the grp weights of one channel
// together, as VPDPBUSD, SDOT and VPMADDWD want them) or, if kmajor,
// [grp][nr] (one k's nr channels together, for SMLAL by element). Weights
// past l and channels past N are zero, so a kernel may read up to grp-1
// int8s beyond a segment of A. With xor the kernel reads A as the unsigned
// uint8(a ^ 0x80) = a + 128 (VPDPBUSD multiplies unsigned by signed bytes);
// the 128*Σw this adds is taken out of init.
type gemmKernel struct {
	id     kernelID
	name   string
	nr     int  // columns per panel
	grp    int  // k per group
	mr     int  // rows of the largest block kernel (blocks of 1..mr rows exist)
	kmajor bool // group layout [grp][nr] instead of [nr][grp]
	xor    bool // A read as a + 128 (unsigned)
}

// goKernel is the portable kernel (gemm_generic.go): channel pairs packed
// into int64s, no groups, no over-reads.
var goKernel = &gemmKernel{id: kGo, name: "go", nr: 2, grp: 1, mr: 4}

// An isa is the set of block kernels of one instruction set, for wide and
// narrow layers.
type isa struct {
	name   string
	wide   *gemmKernel // 16 columns
	narrow *gemmKernel // 8 columns
	tri    *gemmKernel // 24 columns, or nil
	rq     outKind     // requantisation kernel; vector depthwise kernels too unless outGo
}

var goISA = &isa{name: "go", wide: goKernel, narrow: goKernel}

// kernelFor picks the kernel family for a layer of n output channels: the
// wide one unless its last panel would be mostly padding (n = 24 runs as
// three 8-column panels rather than two of 16), and the 24-column one,
// where the instruction set has it, for 17..24 columns.
func (s *isa) kernelFor(n int) *gemmKernel {
	if s.tri != nil && n > 16 && n <= 24 {
		// One panel of 24 (catsep64's first layer) rather than three of 8:
		// each row's inputs are broadcast once, not three times.
		return s.tri
	}
	if n%16 == 0 || n%16 > 8 || n > 64 {
		return s.wide
	}
	return s.narrow
}

// isas lists the instruction sets this build can run on this CPU, best
// first; the portable Go kernels come last.
func isas() []*isa { return append(archISAs(), goISA) }

// defaultISA is what layers are built with: the best this CPU runs.
var defaultISA = isas()[0]

// tileLen is the number of int32 accumulators of the stack tile a forward
// pass computes into (8 KiB); maxTileCols bounds its width, so a tile has
// at least tileLen/maxTileCols rows.
const (
	tileLen     = 2048
	maxTileCols = 256
)

// igemm is the packed weights and output stage of one layer's product.
type igemm struct {
	k      *gemmKernel
	rq     outKind
	n, np  int // output channels; padded to a multiple of k.nr
	segs   int // segments per row of A
	l      int // int8s per segment
	groups int // groups per segment, ceil(l/k.grp)
	b      []int8
	b64    []int64 // goKernel's packing
	init   []int32 // np entries: bias - inZP*Σw (- 128*Σw for xor kernels)
	out    outStage
}

// panelLen is the number of weights of one panel.
func (g *igemm) panelLen() int { return g.segs * g.groups * g.k.nr * g.k.grp }

// newIgemm packs the n×(segs*l) weights w (row j holds channel j's
// segments one after the other), folds bias (nil for none) and the input
// zero point zp into init, and expands the output stage, for the kernels
// of s.
func newIgemm(s *isa, n, segs, l int, w []int8, bias []int32, zp int32, out requant) *igemm {
	k := s.kernelFor(n)
	np := (n + k.nr - 1) / k.nr * k.nr
	g := &igemm{k: k, rq: s.rq, n: n, np: np, segs: segs, l: l, groups: (l + k.grp - 1) / k.grp, init: make([]int32, np)}
	kk := segs * l
	folded := foldBias(make([]int32, n), w, bias, kk, zp)
	copy(g.init, folded)
	if k.id == kGo {
		g.b64 = make([]int64, np/2*kk)
		packPairs(g.b64, w, n, kk)
	} else {
		g.b = make([]int8, np/k.nr*g.panelLen())
		g.pack(w)
		if k.xor {
			for j := range n {
				var s int32
				for _, v := range w[j*kk : (j+1)*kk] {
					s += int32(v)
				}
				g.init[j] -= 128 * s
			}
		}
	}
	g.out = newOutStage(out, n, s.rq)
	return g
}

// pack writes the weights w (n rows of segs*l) into g.b in k's panel
// layout.
func (g *igemm) pack(w []int8) {
	k, kk := g.k, g.segs*g.l
	o := 0
	for p := 0; p < g.np; p += k.nr {
		for s := range g.segs {
			for gr := range g.groups {
				for x := range k.nr * k.grp {
					var j, i int // channel in panel, k in group
					if k.kmajor {
						i, j = x/k.nr, x%k.nr
					} else {
						j, i = x/k.grp, x%k.grp
					}
					if t := gr*k.grp + i; p+j < g.n && t < g.l {
						g.b[o] = w[(p+j)*kk+s*g.l+t]
					}
					o++
				}
			}
		}
	}
}

// weight returns the weight of column j at segment s, position t < l, of
// the packed panel b (the inverse of pack, for the Go twin).
func (g *igemm) weight(b []int8, s, t, j int) int32 {
	k := g.k
	gr, i := t/k.grp, t%k.grp
	x := j*k.grp + i
	if k.kmajor {
		x = i*k.nr + j
	}
	return int32(b[(s*g.groups+gr)*k.nr*k.grp+x])
}

// blockGo is the portable twin of the assembly block kernels, reading the
// same packed panel b (one panel) and init, for m rows:
//
//	for i < m, j < nr:
//	  c[i*ldc+j] = init[j] + Σ_{s<segs} Σ_{t<l} A(i,s,t) * B(s,t,j)
//
// with A(i,s,t) = int32(buf[a0 + i*rsa + s*lds + t]), or int32(uint8(·) ^
// 0x80) for xor kernels, and B the weight pack stored for column j at
// segment s, position t; sums wrap in int32. It reads no int8 beyond a
// segment, so it finishes the rows whose over-read would leave buf.
func (g *igemm) blockGo(m int, buf []int8, a0, rsa, lds int, b []int8, init []int32, c []int32, ldc int) {
	for i := range m {
		for j := range g.k.nr {
			acc := init[j]
			for s := range g.segs {
				seg := buf[a0+i*rsa+s*lds:][:g.l]
				for t, v := range seg {
					x := int32(v)
					if g.k.xor {
						x = int32(uint8(v) ^ 0x80)
					}
					acc += x * g.weight(b, s, t, j)
				}
			}
			c[i*ldc+j] = acc
		}
	}
}

// run computes m rows of the layer's output into y (m rows of n int8s, row
// stride n): row i of A starts at buf[a0 + i*rsa], its segments lds apart.
// tile is the caller's scratch.
func (g *igemm) run(y []int8, buf []int8, a0, rsa, lds, m int, tile *[tileLen]int32) {
	if g.fused() {
		g.runOne(y, buf, a0, rsa, lds, m, tile)
		return
	}
	g.runTile(y, buf, a0, rsa, lds, m, tile)
}

// fused reports whether the layer runs in the fused kernels: block
// kernels that requantise in their epilogue with one rounding (see
// oneRounding) and store int8s, with no int32 tile between. On amd64
// these are the VNNI kernels; the 24-column ones read the parameters of
// columns 0–15 and 16–23 as two chunks of outStage.one, so only a single
// panel (the kernelFor case) runs fused. On arm64 they are the SMLAL
// kernels (smlalOne), which store whole panels, so only layers of whole
// panels run fused.
func (g *igemm) fused() bool {
	if g.out.one8 != nil {
		return (g.k.id == kSMLAL16 || g.k.id == kSMLAL8) && g.n == g.np
	}
	return g.out.one != nil && (g.k.id == kVNNI16 || g.k.id == kVNNI8 || g.k.id == kVNNI24 && g.np == 24)
}

// onePtr returns the pointer the fused kernels take as p for the panel
// starting at column p0: its chunk of outStage.one (amd64) or one8
// (arm64).
func (g *igemm) onePtr(p0 int) *int32 {
	if g.out.one8 != nil {
		return &g.out.one8[p0/8*16]
	}
	return &g.out.one[p0/16*rqOneStride+p0%16/8*8]
}

// runOne is run for fused layers: panel by panel, the rows whose reads
// stay inside buf go to the fused kernels, straight into y; the others to
// runTile (the Go twin's products, then the output stage).
func (g *igemm) runOne(y []int8, buf []int8, a0, rsa, lds, m int, tile *[tileLen]int32) {
	k := g.k
	safe := m
	span := (g.segs-1)*lds + g.groups*k.grp
	for safe > 0 && a0+(safe-1)*rsa+span > len(buf) {
		safe--
	}
	if safe > 0 {
		// What the kernels will touch, checked once here.
		_, _ = buf[a0+(safe-1)*rsa+span-1], y[safe*g.n-1]
	}
	pl := g.panelLen()
	full := safe - safe%k.mr
	for p := 0; p < g.np && safe > 0; p += k.nr {
		b := g.b[p/k.nr*pl:][:pl]
		init := g.init[p:][:k.nr]
		mask := 1<<min(k.nr, g.n-p) - 1
		one := g.onePtr(p)
		if full > 0 {
			asmBlockOne(k.id, k.mr, full, &buf[a0], rsa, g.segs, lds, g.groups, &b[0], &init[0], &y[p], g.n, one, g.out.zp, g.out.lo, g.out.hi, mask)
		}
		if r := safe - full; r > 0 {
			asmBlockOne(k.id, r, r, &buf[a0+full*rsa], rsa, g.segs, lds, g.groups, &b[0], &init[0], &y[full*g.n+p], g.n, one, g.out.zp, g.out.lo, g.out.hi, mask)
		}
	}
	if safe < m {
		g.runTile(y[safe*g.n:], buf, a0+safe*rsa, rsa, lds, m-safe, tile)
	}
}

// blockOneGo is the twin of the fused kernels (asmBlockOne) on one panel,
// the one starting at column p0: blockGo's sums, through the caller's
// scratch c (m*nr int32s), requantised by oneLane into columns p0 .. of
// m rows of y (row stride ldy), as many as the layer has.
func (g *igemm) blockOneGo(m int, buf []int8, a0, rsa, lds, p0 int, y []int8, ldy int, c []int32) {
	nr := g.k.nr
	pl := g.panelLen()
	g.blockGo(m, buf, a0, rsa, lds, g.b[p0/nr*pl:][:pl], g.init[p0:][:nr], c, nr)
	for j := range min(nr, g.n-p0) {
		at := g.out.oneAt
		if g.out.one8 != nil {
			at = g.out.one8At
		}
		m0, c0, s0 := at(p0 + j)
		for i := range m {
			y[i*ldy+p0+j] = g.out.oneLane(c[i*nr+j], m0, c0, s0)
		}
	}
}

// runTile is run through an int32 tile: products, then the output stage.
func (g *igemm) runTile(y []int8, buf []int8, a0, rsa, lds, m int, tile *[tileLen]int32) {
	cw := min(g.np, maxTileCols)
	tr := tileLen / cw
	for r0 := 0; r0 < m; r0 += tr {
		mm := min(tr, m-r0)
		for c0 := 0; c0 < g.np; c0 += cw {
			cc := min(cw, g.np-c0)
			g.product(tile[:mm*cw], cw, buf, a0+r0*rsa, rsa, lds, mm, c0, cc)
			g.out.rows(y[r0*g.n:], g.n, tile[:mm*cw], cw, mm, c0, min(c0+cc, g.n), g.rq)
		}
	}
}

// product writes the accumulators of rows a0, a0+rsa, ... (m of them) for
// channels c0..c0+cc (whole panels) into the tile c (row stride ldc).
func (g *igemm) product(c []int32, ldc int, buf []int8, a0, rsa, lds, m, c0, cc int) {
	k := g.k
	if k.id == kGo {
		g.productGo(c, ldc, buf, a0, rsa, lds, m, c0, cc)
		return
	}
	// The kernels read groups*grp int8s per segment: rows whose last
	// segment would read past buf go to the Go twin.
	safe := m
	span := (g.segs-1)*lds + g.groups*k.grp
	for safe > 0 && a0+(safe-1)*rsa+span > len(buf) {
		safe--
	}
	if safe > 0 {
		// What the kernels will touch, checked once here.
		_, _ = buf[a0+(safe-1)*rsa+span-1], c[(safe-1)*ldc+cc-1]
	}
	pl := g.panelLen()
	full := safe - safe%k.mr
	for p := c0; p < c0+cc; p += k.nr {
		b := g.b[p/k.nr*pl:][:pl]
		init := g.init[p:][:k.nr]
		if full > 0 {
			asmBlock(k.id, k.mr, full, &buf[a0], rsa, g.segs, lds, g.groups, &b[0], &init[0], &c[p-c0], 4*ldc)
		}
		if r := safe - full; r > 0 {
			asmBlock(k.id, r, r, &buf[a0+full*rsa], rsa, g.segs, lds, g.groups, &b[0], &init[0], &c[full*ldc+p-c0], 4*ldc)
		}
		if safe < m {
			g.blockGo(m-safe, buf, a0+safe*rsa, rsa, lds, b, init, c[safe*ldc+p-c0:], ldc)
		}
	}
}

// gemmRef is the reference for the layer products: for i < m, j < n,
//
//	c[i*ldc+j] = bias[j] + Σ_{p<k} (int32(a[i*lda+p]) - zp) * int32(w[j*k+p])
//
// in wrapping int32 arithmetic (bias nil counts as zeros).
func gemmRef(m, n, k int, a []int8, lda int, w []int8, bias []int32, zp int32, c []int32, ldc int) {
	for i := range m {
		for j := range n {
			var acc int32
			if bias != nil {
				acc = bias[j]
			}
			for p := range k {
				acc += (int32(a[i*lda+p]) - zp) * int32(w[j*k+p])
			}
			c[i*ldc+j] = acc
		}
	}
}

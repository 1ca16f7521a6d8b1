//go:build !purego

package conv

// bnStatsAVX2, bnAffineAVX2, bnGradSumsAVX2 and bnGradInputAVX2 are the
// loops of bnStatsGo, bnAffineGo, bnGradSumsGo (y not nil) and
// bnGradInputGo (y not nil) over channels [0, cv) of p pixels, 8 at a
// time: cv is a multiple of 8 and greater than 0, p greater than 0. The
// pointers are at the first pixel's channel c0; c and cv are in bytes;
// relu is 0 or 1; run is scratch of 2·cv bytes.
//
//go:noescape
func bnStatsAVX2(src, shift *float32, s, ss *float64, c, cv, p int)

//go:noescape
func bnAffineAVX2(dst, src, d, e *float32, c, cv, p, relu int)

//go:noescape
func bnGradSumsAVX2(src, gy, y, mean *float32, sg, sgx *float64, run *float32, c, cv, p int)

//go:noescape
func bnGradInputAVX2(gx, gy, y, src, a, e, k *float32, c, cv, p int)

// bnStats, bnAffine, bnGradSums and bnGradInput run the batch-norm
// kernels of bnkern.go, in AVX2 where the CPU has it.
func bnStats(s, ss []float64, src, shift []float32, c, c0 int) {
	if useAVX2 {
		bnStatsAsm(s, ss, src, shift, c, c0)
		return
	}
	bnStatsGo(s, ss, src, shift, c, c0)
}

func bnAffine(dst, src []float32, c, c0 int, d, e []float32, relu bool) {
	if useAVX2 {
		bnAffineAsm(dst, src, c, c0, d, e, relu)
		return
	}
	bnAffineGo(dst, src, c, c0, d, e, relu)
}

func bnGradSums(sg, sgx []float64, src, gy, y, mean []float32, c, c0 int) {
	if useAVX2 {
		bnGradSumsAsm(sg, sgx, src, gy, y, mean, c, c0)
		return
	}
	bnGradSumsGo(sg, sgx, src, gy, y, mean, c, c0)
}

func bnGradInput(gx, gy, y, src []float32, c, c0 int, a, e, k []float32) {
	if useAVX2 {
		bnGradInputAsm(gx, gy, y, src, c, c0, a, e, k)
		return
	}
	bnGradInputGo(gx, gy, y, src, c, c0, a, e, k)
}

// bnAsmKernels lists the assembly batch-norm kernels usable on this CPU.
func bnAsmKernels() []bnKernels {
	if !useAVX2 {
		return nil
	}
	return []bnKernels{{"avx2", bnStatsAsm, bnAffineAsm, bnGradSumsAsm, bnGradInputAsm}}
}

// bnStatsAsm and the rest run the AVX2 kernels on the channels that fill
// whole vectors and the Go ones on the rest; the gradient kernels without
// a ReLU (y nil) run in Go.
func bnStatsAsm(s, ss []float64, src, shift []float32, c, c0 int) {
	cv := len(s) &^ 7
	if cv > 0 {
		bnStatsAVX2(&src[c0], &shift[0], &s[0], &ss[0], 4*c, 4*cv, len(src)/c)
	}
	if cv < len(s) {
		bnStatsGo(s[cv:], ss[cv:], src, shift[cv:], c, c0+cv)
	}
}

func bnAffineAsm(dst, src []float32, c, c0 int, d, e []float32, relu bool) {
	cv := len(d) &^ 7
	if cv > 0 {
		r := 0
		if relu {
			r = 1
		}
		bnAffineAVX2(&dst[c0], &src[c0], &d[0], &e[0], 4*c, 4*cv, len(src)/c, r)
	}
	if cv < len(d) {
		bnAffineGo(dst, src, c, c0+cv, d[cv:], e[cv:], relu)
	}
}

func bnGradSumsAsm(sg, sgx []float64, src, gy, y, mean []float32, c, c0 int) {
	cv := len(sg) &^ 7
	if y == nil {
		cv = 0
	}
	if cv > 0 {
		var run [2 * bnBlock]float32
		bnGradSumsAVX2(&src[c0], &gy[c0], &y[c0], &mean[0], &sg[0], &sgx[0], &run[0], 4*c, 4*cv, len(src)/c)
	}
	if cv < len(sg) {
		bnGradSumsGo(sg[cv:], sgx[cv:], src, gy, y, mean[cv:], c, c0+cv)
	}
}

func bnGradInputAsm(gx, gy, y, src []float32, c, c0 int, a, e, k []float32) {
	cv := len(a) &^ 7
	if y == nil {
		cv = 0
	}
	if cv > 0 {
		bnGradInputAVX2(&gx[c0], &gy[c0], &y[c0], &src[c0], &a[0], &e[0], &k[0], 4*c, 4*cv, len(src)/c)
	}
	if cv < len(a) {
		bnGradInputGo(gx, gy, y, src, c, c0+cv, a[cv:], e[cv:], k[cv:])
	}
}

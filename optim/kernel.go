package optim

import "math"

// The kernels below are unrolled four ways. Their loops walk the slices
// forward (p = p[4:]) while every operand has four elements left, a shape
// in which the compiler drops all bounds checks inside the loop on amd64,
// arm64 and 32-bit arm alike (indexing p[i:i+4:i+4] leaves checks in on
// arm); see go build -gcflags=-d=ssa/check_bce/debug=1. Each has a plain twin in
// kernel_test.go (sgdRef, momentumRef, adamRef) whose loop is the
// definition; the tests require bit-identical results.
//
// Every product is rounded to float32 explicitly (float32(a*b)) before it
// is added: the Go spec lets the compiler fuse a*b+c into one FMA, which it
// does on arm64 but not on amd64 (GOAMD64=v1), and the conversions forbid
// that. So a step gives the same bits on every architecture, which keeps
// training runs reproducible between a developer's machine and the board.

// sgd computes p[i] -= eta*g[i]; len(g) >= len(p).
func sgd(p, g []float32, eta float32) {
	g = g[:len(p)]
	for len(p) >= 4 && len(g) >= 4 {
		p[0] -= float32(eta * g[0])
		p[1] -= float32(eta * g[1])
		p[2] -= float32(eta * g[2])
		p[3] -= float32(eta * g[3])
		p, g = p[4:], g[4:]
	}
	g = g[:len(p)]
	for i := range p {
		p[i] -= float32(eta * g[i])
	}
}

// momentum computes, for each i,
//
//	v[i] = beta*v[i] + g[i]
//	p[i] -= eta*v[i]
//
// len(g) and len(v) >= len(p).
func momentum(p, g, v []float32, eta, beta float32) {
	g, v = g[:len(p)], v[:len(p)]
	for len(p) >= 4 && len(g) >= 4 && len(v) >= 4 {
		v0 := float32(beta*v[0]) + g[0]
		v1 := float32(beta*v[1]) + g[1]
		v2 := float32(beta*v[2]) + g[2]
		v3 := float32(beta*v[3]) + g[3]
		v[0], v[1], v[2], v[3] = v0, v1, v2, v3
		p[0] -= float32(eta * v0)
		p[1] -= float32(eta * v1)
		p[2] -= float32(eta * v2)
		p[3] -= float32(eta * v3)
		p, g, v = p[4:], g[4:], v[4:]
	}
	g, v = g[:len(p)], v[:len(p)]
	for i := range p {
		vi := float32(beta*v[i]) + g[i]
		v[i] = vi
		p[i] -= float32(eta * vi)
	}
}

// adamCoef holds the per-step float32 coefficients of Adam's element loop.
type adamCoef struct {
	b1, c1  float32 // β1 and 1−β1
	b2, c2  float32 // β2 and 1−β2
	step    float32 // η/(1−β1^t), computed in float64
	bc2sqrt float32 // √(1−β2^t), computed in float64
	eps     float32
}

// adam computes, for each i,
//
//	v[i] = b1*v[i] + c1*g[i]
//	s[i] = b2*s[i] + c2*g[i]*g[i]
//	p[i] -= step*v[i] / (sqrt(s[i])/bc2sqrt + eps)
//
// len(g), len(v) and len(s) >= len(p).
func adam(p, g, v, s []float32, c adamCoef) {
	g, v, s = g[:len(p)], v[:len(p)], s[:len(p)]
	for len(p) >= 4 && len(g) >= 4 && len(v) >= 4 && len(s) >= 4 {
		g0, g1, g2, g3 := g[0], g[1], g[2], g[3]
		v0 := float32(c.b1*v[0]) + float32(c.c1*g0)
		v1 := float32(c.b1*v[1]) + float32(c.c1*g1)
		v2 := float32(c.b1*v[2]) + float32(c.c1*g2)
		v3 := float32(c.b1*v[3]) + float32(c.c1*g3)
		s0 := float32(c.b2*s[0]) + float32(c.c2*g0*g0)
		s1 := float32(c.b2*s[1]) + float32(c.c2*g1*g1)
		s2 := float32(c.b2*s[2]) + float32(c.c2*g2*g2)
		s3 := float32(c.b2*s[3]) + float32(c.c2*g3*g3)
		v[0], v[1], v[2], v[3] = v0, v1, v2, v3
		s[0], s[1], s[2], s[3] = s0, s1, s2, s3
		p[0] -= float32(c.step*v0) / (sqrt32(s0)/c.bc2sqrt + c.eps)
		p[1] -= float32(c.step*v1) / (sqrt32(s1)/c.bc2sqrt + c.eps)
		p[2] -= float32(c.step*v2) / (sqrt32(s2)/c.bc2sqrt + c.eps)
		p[3] -= float32(c.step*v3) / (sqrt32(s3)/c.bc2sqrt + c.eps)
		p, g, v, s = p[4:], g[4:], v[4:], s[4:]
	}
	g, v, s = g[:len(p)], v[:len(p)], s[:len(p)]
	for i := range p {
		gi := g[i]
		vi := float32(c.b1*v[i]) + float32(c.c1*gi)
		si := float32(c.b2*s[i]) + float32(c.c2*gi*gi)
		v[i], s[i] = vi, si
		p[i] -= float32(c.step*vi) / (sqrt32(si)/c.bc2sqrt + c.eps)
	}
}

// sqrt32 returns the correctly rounded float32 square root of x; the
// compiler turns it into a single float32 instruction where there is one.
func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }

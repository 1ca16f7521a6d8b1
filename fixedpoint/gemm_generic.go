package fixedpoint

// productGo is the portable kernel: igemm.product for goKernel. It keeps a
// block of four rows by two channel pairs in eight int64 accumulators, each
// carrying two channels: the weights of channels 2j and 2j+1 are packed as
// w[2j] + w[2j+1]<<32, so one 64-bit multiply by an int8 input does two
// multiply-adds. The two sums never interfere: each is at most
// maxPatch*2^14 = 2^30 in magnitude, so the high one is exact and the low
// one is the low 32 bits.
func (g *igemm) productGo(c []int32, ldc int, buf []int8, a0, rsa, lds, m, c0, cc int) {
	kk, l := g.segs*g.l, g.l
	p0, p1 := c0/2, (c0+cc)/2 // channel pairs
	i := 0
	for ; i+4 <= m; i += 4 {
		r := a0 + i*rsa
		j := p0
		for ; j+2 <= p1; j += 2 {
			var s00, s01, s10, s11, s20, s21, s30, s31 int64
			for s := range g.segs {
				o := r + s*lds
				w0 := g.b64[j*kk+s*l:][:l]
				w1 := g.b64[(j+1)*kk+s*l:][:len(w0)]
				x0, x1, x2, x3 := buf[o:][:len(w0)], buf[o+rsa:][:len(w0)], buf[o+2*rsa:][:len(w0)], buf[o+3*rsa:][:len(w0)]
				for t, u0 := range w0 {
					u1 := w1[t]
					v0, v1, v2, v3 := int64(x0[t]), int64(x1[t]), int64(x2[t]), int64(x3[t])
					s00 += v0 * u0
					s01 += v0 * u1
					s10 += v1 * u0
					s11 += v1 * u1
					s20 += v2 * u0
					s21 += v2 * u1
					s30 += v3 * u0
					s31 += v3 * u1
				}
			}
			col := 2*j - c0
			g.put(c[i*ldc+col:], j, s00)
			g.put(c[i*ldc+col+2:], j+1, s01)
			g.put(c[(i+1)*ldc+col:], j, s10)
			g.put(c[(i+1)*ldc+col+2:], j+1, s11)
			g.put(c[(i+2)*ldc+col:], j, s20)
			g.put(c[(i+2)*ldc+col+2:], j+1, s21)
			g.put(c[(i+3)*ldc+col:], j, s30)
			g.put(c[(i+3)*ldc+col+2:], j+1, s31)
		}
		for ; j < p1; j++ {
			var s0, s1, s2, s3 int64
			for s := range g.segs {
				o := r + s*lds
				w0 := g.b64[j*kk+s*l:][:l]
				x0, x1, x2, x3 := buf[o:][:len(w0)], buf[o+rsa:][:len(w0)], buf[o+2*rsa:][:len(w0)], buf[o+3*rsa:][:len(w0)]
				for t, u := range w0 {
					s0 += int64(x0[t]) * u
					s1 += int64(x1[t]) * u
					s2 += int64(x2[t]) * u
					s3 += int64(x3[t]) * u
				}
			}
			col := 2*j - c0
			g.put(c[i*ldc+col:], j, s0)
			g.put(c[(i+1)*ldc+col:], j, s1)
			g.put(c[(i+2)*ldc+col:], j, s2)
			g.put(c[(i+3)*ldc+col:], j, s3)
		}
	}
	for ; i < m; i++ {
		r := a0 + i*rsa
		for j := p0; j < p1; j++ {
			var s0 int64
			for s := range g.segs {
				w0 := g.b64[j*kk+s*l:][:l]
				x0 := buf[r+s*lds:][:len(w0)]
				for t, u := range w0 {
					s0 += int64(x0[t]) * u
				}
			}
			g.put(c[i*ldc+2*j-c0:], j, s0)
		}
	}
}

// put splits the packed sum s of channel pair j into its two int32 sums
// and stores them, plus init, in c[0] and c[1].
func (g *igemm) put(c []int32, j int, s int64) {
	lo := int32(s)
	hi := int32((s - int64(lo)) >> 32)
	c = c[:2]
	c[0] = g.init[2*j] + lo
	c[1] = g.init[2*j+1] + hi
}

package conv

// Float is the element type of the reference kernels: float32 to compare
// with the fast kernels, float64 for finite-difference gradient checks.
type Float interface{ ~float32 | ~float64 }

// ConvForwardRef is the reference convolution for n NHWC images of c's
// geometry, with HWIO weights:
//
//	for each n, oy, ox, oc:
//	  dst[n,oy,ox,oc] = b[oc] + Σ_{ky,kx,ic} src[n, oy*S-P+ky, ox*S-P+kx, ic] * w[ky,kx,ic,oc]
//
// where pixels outside the image count as 0.
func ConvForwardRef[F Float](c Conv2D, n int, dst, src, w, b []F) {
	for i := range n {
		for oy := range c.OutH {
			for ox := range c.OutW {
				for oc := range c.OutC {
					s := b[oc]
					for ky := range c.KH {
						for kx := range c.KW {
							iy, ix := oy*c.Stride-c.Pad+ky, ox*c.Stride-c.Pad+kx
							if iy < 0 || iy >= c.InH || ix < 0 || ix >= c.InW {
								continue
							}
							for ic := range c.InC {
								s += src[((i*c.InH+iy)*c.InW+ix)*c.InC+ic] * w[((ky*c.KW+kx)*c.InC+ic)*c.OutC+oc]
							}
						}
					}
					dst[((i*c.OutH+oy)*c.OutW+ox)*c.OutC+oc] = s
				}
			}
		}
	}
}

// ConvBackwardRef is the reference gradient of ConvForwardRef: with gy =
// dL/d(dst) it adds dL/dw to gw and dL/db to gb and overwrites gx with
// dL/d(src):
//
//	gb[oc] += Σ gy[n,oy,ox,oc]
//	gw[ky,kx,ic,oc] += Σ_{n,oy,ox} src[n,iy,ix,ic] * gy[n,oy,ox,oc]
//	gx[n,iy,ix,ic]   = Σ_{oy,ox,oc} w[ky,kx,ic,oc] * gy[n,oy,ox,oc]
//
// with iy = oy*S-P+ky, ix = ox*S-P+kx inside the image.
func ConvBackwardRef[F Float](c Conv2D, n int, gx, gw, gb, src, w, gy []F) {
	clear(gx)
	for i := range n {
		for oy := range c.OutH {
			for ox := range c.OutW {
				for oc := range c.OutC {
					g := gy[((i*c.OutH+oy)*c.OutW+ox)*c.OutC+oc]
					gb[oc] += g
					for ky := range c.KH {
						for kx := range c.KW {
							iy, ix := oy*c.Stride-c.Pad+ky, ox*c.Stride-c.Pad+kx
							if iy < 0 || iy >= c.InH || ix < 0 || ix >= c.InW {
								continue
							}
							for ic := range c.InC {
								xi := ((i*c.InH+iy)*c.InW+ix)*c.InC + ic
								wi := ((ky*c.KW+kx)*c.InC+ic)*c.OutC + oc
								gw[wi] += src[xi] * g
								gx[xi] += w[wi] * g
							}
						}
					}
				}
			}
		}
	}
}

// DenseForwardRef is the reference dense layer: dst[n,o] = b[o] + Σ_i src[n,i]*w[i,o].
func DenseForwardRef[F Float](d Dense, n int, dst, src, w, b []F) {
	for r := range n {
		for o := range d.Out {
			s := b[o]
			for i := range d.In {
				s += src[r*d.In+i] * w[i*d.Out+o]
			}
			dst[r*d.Out+o] = s
		}
	}
}

// DenseBackwardRef is the reference gradient of DenseForwardRef:
// gb[o] += Σ_n gy[n,o]; gw[i,o] += Σ_n src[n,i]*gy[n,o]; gx[n,i] = Σ_o w[i,o]*gy[n,o].
func DenseBackwardRef[F Float](d Dense, n int, gx, gw, gb, src, w, gy []F) {
	for r := range n {
		for i := range d.In {
			var s F
			for o := range d.Out {
				g := gy[r*d.Out+o]
				gw[i*d.Out+o] += src[r*d.In+i] * g
				s += w[i*d.Out+o] * g
			}
			gx[r*d.In+i] = s
		}
		for o := range d.Out {
			gb[o] += gy[r*d.Out+o]
		}
	}
}

// MaxPool2ForwardRef is the reference 2×2/2 max pooling:
// dst[n,oy,ox,c] = max over dy,dx in {0,1} of src[n,2oy+dy,2ox+dx,c].
func MaxPool2ForwardRef[F Float](p MaxPool2, n int, dst, src []F) {
	oh, ow := p.H/2, p.W/2
	for i := range n {
		for oy := range oh {
			for ox := range ow {
				for c := range p.C {
					m := src[((i*p.H+2*oy)*p.W+2*ox)*p.C+c]
					for _, d := range [][2]int{{0, 1}, {1, 0}, {1, 1}} {
						if v := src[((i*p.H+2*oy+d[0])*p.W+2*ox+d[1])*p.C+c]; v > m {
							m = v
						}
					}
					dst[((i*oh+oy)*ow+ox)*p.C+c] = m
				}
			}
		}
	}
}

// GlobalAvgPoolForwardRef is the reference average pool: dst[n,c] = mean over y,x of src[n,y,x,c].
func GlobalAvgPoolForwardRef[F Float](g GlobalAvgPool, n int, dst, src []F) {
	for i := range n {
		for c := range g.C {
			var s F
			for px := range g.H * g.W {
				s += src[(i*g.H*g.W+px)*g.C+c]
			}
			dst[i*g.C+c] = s / F(g.H*g.W)
		}
	}
}

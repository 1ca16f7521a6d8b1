package conv

// The plain reference twins of the kernels, generic over float32 and
// float64: the tests hold the fast kernels to them and check them against
// finite differences and PyTorch's golden files.

import "math"

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

// DepthwiseForwardRef is the reference depthwise convolution for n NHWC
// images of d's geometry, with [K][K][C] weights:
//
//	for each n, oy, ox, c:
//	  dst[n,oy,ox,c] = b[c] + Σ_{ky,kx} src[n, oy*S-P+ky, ox*S-P+kx, c] * w[ky,kx,c]
//
// where pixels outside the image count as 0.
func DepthwiseForwardRef[F Float](d DepthwiseConv2D, n int, dst, src, w, b []F) {
	for i := range n {
		for oy := range d.OutH {
			for ox := range d.OutW {
				for c := range d.C {
					s := b[c]
					for ky := range d.K {
						for kx := range d.K {
							iy, ix := oy*d.Stride-d.Pad+ky, ox*d.Stride-d.Pad+kx
							if iy < 0 || iy >= d.InH || ix < 0 || ix >= d.InW {
								continue
							}
							s += src[((i*d.InH+iy)*d.InW+ix)*d.C+c] * w[(ky*d.K+kx)*d.C+c]
						}
					}
					dst[((i*d.OutH+oy)*d.OutW+ox)*d.C+c] = s
				}
			}
		}
	}
}

// DepthwiseBackwardRef is the reference gradient of DepthwiseForwardRef:
// with gy = dL/d(dst) it adds dL/dw to gw and dL/db to gb and overwrites gx
// with dL/d(src):
//
//	gb[c]        += Σ gy[n,oy,ox,c]
//	gw[ky,kx,c]  += Σ_{n,oy,ox} src[n,iy,ix,c] * gy[n,oy,ox,c]
//	gx[n,iy,ix,c] = Σ_{oy,ox} w[ky,kx,c] * gy[n,oy,ox,c]
//
// with iy = oy*S-P+ky, ix = ox*S-P+kx inside the image.
func DepthwiseBackwardRef[F Float](d DepthwiseConv2D, n int, gx, gw, gb, src, w, gy []F) {
	clear(gx)
	for i := range n {
		for oy := range d.OutH {
			for ox := range d.OutW {
				for c := range d.C {
					g := gy[((i*d.OutH+oy)*d.OutW+ox)*d.C+c]
					gb[c] += g
					for ky := range d.K {
						for kx := range d.K {
							iy, ix := oy*d.Stride-d.Pad+ky, ox*d.Stride-d.Pad+kx
							if iy < 0 || iy >= d.InH || ix < 0 || ix >= d.InW {
								continue
							}
							xi := ((i*d.InH+iy)*d.InW+ix)*d.C + c
							wi := (ky*d.K+kx)*d.C + c
							gw[wi] += src[xi] * g
							gx[xi] += w[wi] * g
						}
					}
				}
			}
		}
	}
}

// BatchNormTrainForwardRef is the reference of TrainForward over the P =
// len(src)/C pixels of src, with m = Momentum:
//
//	mean[c] = Σ_p src[p,c] / P
//	var[c]  = Σ_p (src[p,c]-mean[c])² / P
//	dst[p,c] = (src[p,c]-mean[c]) / sqrt(var[c]+Eps) * gamma[c] + beta[c]
//	runMean[c] = (1-m)*runMean[c] + m*mean[c]
//	runVar[c]  = (1-m)*runVar[c]  + m*var[c]*P/(P-1)
//	saveMean[c] = mean[c];  saveInvStd[c] = 1/sqrt(var[c]+Eps)
func BatchNormTrainForwardRef[F Float](bn BatchNorm, dst, src, gamma, beta, runMean, runVar, saveMean, saveInvStd []F) {
	c := bn.C
	p := len(src) / c
	m, eps := F(bn.Momentum), F(bn.Eps)
	for ch := range c {
		var mean, v F
		for i := range p {
			mean += src[i*c+ch]
		}
		mean /= F(p)
		for i := range p {
			d := src[i*c+ch] - mean
			v += d * d
		}
		v /= F(p)
		inv := 1 / F(math.Sqrt(float64(v+eps)))
		for i := range p {
			dst[i*c+ch] = (src[i*c+ch]-mean)*inv*gamma[ch] + beta[ch]
		}
		runMean[ch] = (1-m)*runMean[ch] + m*mean
		runVar[ch] = (1-m)*runVar[ch] + m*v*F(p)/F(p-1)
		saveMean[ch], saveInvStd[ch] = mean, inv
	}
}

// BatchNormInferForwardRef is the reference of InferForward:
// dst[p,c] = (src[p,c]-runMean[c]) / sqrt(runVar[c]+Eps) * gamma[c] + beta[c].
func BatchNormInferForwardRef[F Float](bn BatchNorm, dst, src, gamma, beta, runMean, runVar []F) {
	c := bn.C
	for i := range src {
		ch := i % c
		dst[i] = (src[i]-runMean[ch])/F(math.Sqrt(float64(runVar[ch]+F(bn.Eps))))*gamma[ch] + beta[ch]
	}
}

// BatchNormBackwardRef is the reference of Backward, with xhat =
// (src-saveMean)*saveInvStd over the P = len(src)/C pixels:
//
//	gbeta[c]  += Σ_p gy[p,c]
//	ggamma[c] += Σ_p gy[p,c]*xhat[p,c]
//	gx[p,c]    = gamma[c]*saveInvStd[c]/P * (P*gy[p,c] - Σ_q gy[q,c] - xhat[p,c]*Σ_q gy[q,c]*xhat[q,c])
func BatchNormBackwardRef[F Float](bn BatchNorm, gx, ggamma, gbeta, src, gamma, saveMean, saveInvStd, gy []F) {
	c := bn.C
	p := len(src) / c
	for ch := range c {
		var sg, sgx F
		for i := range p {
			xhat := (src[i*c+ch] - saveMean[ch]) * saveInvStd[ch]
			sg += gy[i*c+ch]
			sgx += gy[i*c+ch] * xhat
		}
		gbeta[ch] += sg
		ggamma[ch] += sgx
		for i := range p {
			xhat := (src[i*c+ch] - saveMean[ch]) * saveInvStd[ch]
			gx[i*c+ch] = gamma[ch] * saveInvStd[ch] / F(p) * (F(p)*gy[i*c+ch] - sg - xhat*sgx)
		}
	}
}

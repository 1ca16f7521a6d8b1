package conv

import (
	"fmt"

	"catd/internal/gemm"
)

// The batched convolution of a training step. Forward, a 1×1 convolution
// with stride 1 and no padding is one matrix product over the whole batch
// (the batch is the matrix); any other reads its zero-padded input image
// by image, as Forward does. Backward, one matrix product covers several
// images (as many as the workspace holds) instead of one product per
// image: a 1×1 convolution the whole batch; other convolutions with
// stride 1 and short rows go through strips (below), which hold each
// input value KH times instead of the patch matrix's KH·KW; the rest go
// through im2col patch matrices stacked image after image. The 1×1 and
// im2col products add the same products in the same order per output
// value as Backward image by image (the assembly kernels keep each sum in
// a register over the whole of K), so their results are Backward's bit
// for bit where the assembly kernels run; strips add the taps in another
// order (kernel column by kernel column), so their sums round
// differently, within float32 rounding.
//
// A strip is the input seen by one row of output pixels, the KH input
// rows under it interleaved pixel by pixel: cell (oy, ox') holds the KH·InC
// values of input column ox'-Pad in rows oy-Pad .. oy-Pad+KH-1 (0 outside
// the image), for the Wp = OutW+KW-1 columns the row's windows cover. The
// window of output pixel (oy, ox) is then the KW cells from (oy, ox), a
// row of KW·KH·InC floats of the strips read as a matrix whose rows
// overlap (one cell apart): its product with the kernel columns' weights
// is the convolution, and the backward products follow. Rows of strips
// follow one another image after image, every row Wp cells long, so an
// output row is Wp product rows apart from the next: the KW-1 rows between
// are computed and dropped (for a 3×3 kernel on a 64-wide image, 2 of 66).

// imagesPer returns how many images one matrix product covers with a
// workspace of workLen floats: every image of any batch for a 1×1
// convolution (stride 1, no padding), else as many images' strips (with
// strips) or patch matrices as fit, at least one.
func (c *Conv2D) imagesPer(workLen int, strips bool) int {
	switch {
	case c.pointwise():
		return maxImages
	case strips:
		// A strip and its product rows per image, beyond one image.
		extra := c.stripLen() + c.OutH*c.stripW()*c.OutC
		return max(1, 1+(workLen-c.stripWorkLen(1))/extra)
	}
	return max(1, (workLen-c.WeightLen())/c.patchMatrixLen())
}

// maxImages stands for "any number of images".
const maxImages = 1 << 30

// useStrips reports whether the backward pass goes through strips: for
// stride 1, where im2col would copy short runs (KW·InC floats), which
// costs more than the product itself, and not where the runs are long
// enough, since the strip products compute KW-1 rows of every OutW+KW-1
// for nothing. The bound is from timing catnet64's layers at batch 16:
// strips paid off for runs of up to 48 floats, not 96.
func (c *Conv2D) useStrips() bool {
	return c.Stride == 1 && !c.pointwise() && c.KW*c.InC <= 48
}

// BatchWorkLen is the length of the workspace ForwardBatch and BackwardBatch
// need to put n images through each matrix product of the backward pass:
// n images' strips and product rows or n patch matrices (none for a 1×1
// convolution), and the weights rearranged; at least what Forward needs.
func (c *Conv2D) BatchWorkLen(n int) int {
	if n < 1 {
		panic(fmt.Sprintf("conv: BatchWorkLen of %d images", n))
	}
	l := max(c.WeightLen(), c.ForwardWorkLen())
	switch {
	case c.useStrips():
		l = max(l, c.stripWorkLen(n))
	case !c.pointwise():
		l = max(l, n*c.patchMatrixLen()+c.WeightLen())
	}
	return l
}

// stripWorkLen is the workspace for n images through strips: their strips
// and product rows (with KW-1 rows of zeros on either side), the weights
// rearranged and their gradient.
func (c *Conv2D) stripWorkLen(n int) int {
	return n*c.stripLen() + (c.stripRows(n)+2*(c.KW-1))*c.OutC + 2*c.WeightLen()
}

// stripW is the number of cells in a row of strips, OutW+KW-1 (stride 1).
func (c *Conv2D) stripW() int { return c.OutW + c.KW - 1 }

// stripLen is the number of floats in one image's strips.
func (c *Conv2D) stripLen() int { return c.OutH * c.stripW() * c.KH * c.InC }

// stripRows is the number of product rows for n images' strips: from the
// first output pixel to the last.
func (c *Conv2D) stripRows(n int) int { return (n*c.OutH-1)*c.stripW() + c.OutW }

// patchMatrixLen is the number of floats in one image's patch matrix.
func (c *Conv2D) patchMatrixLen() int { return c.OutH * c.OutW * c.patchLen() }

// ForwardBatch is Forward, or ForwardReLU with relu, for a training step:
// a 1×1 convolution is one matrix product over the whole batch; any other
// runs image by image and output row by output row straight from the
// zero-padded input (gemm.NNBiasRuns), as Forward does, which took half
// the time or less of strips or stacked patch matrices over the batch on
// catnet64's and catsep64's 3×3 convolutions at batch 16. work is at
// least BatchWorkLen(1) floats. dst must not alias src or work.
func (c *Conv2D) ForwardBatch(dst, src, w, b, work []float32, relu bool) {
	n := c.batch(src)
	c.check(n, "output", len(dst), c.OutLen())
	c.check(1, "weights", len(w), c.WeightLen())
	c.check(1, "bias", len(b), c.OutC)
	if len(work) < c.BatchWorkLen(1) {
		panic(fmt.Sprintf("conv: workspace has length %d, want at least %d", len(work), c.BatchWorkLen(1)))
	}
	if c.pointwise() {
		pl := c.patchLen()
		nnBiasBlocked(n*c.OutH*c.OutW, c.OutC, pl, src, pl, w, c.OutC, b, dst, c.OutC, relu)
		return
	}
	c.forward(dst, src, w, b, work, relu)
}

// BackwardBatch is Backward putting as many images through each matrix
// product as work holds (BatchWorkLen): one product adds their weight gradient to
// gw, one gives their input gradients. work is at least BatchWorkLen(1)
// floats. gx must not alias src, gy or work.
func (c *Conv2D) BackwardBatch(gx, gw, gb, src, w, gy, work []float32) {
	n := c.batch(src)
	c.check(n, "output gradient", len(gy), c.OutLen())
	c.check(1, "weights", len(w), c.WeightLen())
	c.check(1, "weight gradient", len(gw), c.WeightLen())
	c.check(1, "bias gradient", len(gb), c.OutC)
	if gx != nil {
		c.check(n, "input gradient", len(gx), c.InLen())
	}
	if len(work) < c.BatchWorkLen(1) {
		panic(fmt.Sprintf("conv: workspace has length %d, want at least %d", len(work), c.BatchWorkLen(1)))
	}
	in, out, pl, oc := c.InLen(), c.OutLen(), c.patchLen(), c.OutC
	p := c.OutH * c.OutW
	AddColumnSums(gb, gy, oc)
	if c.useStrips() {
		c.backwardStrips(gx, gw, src, w, gy, work)
		return
	}
	per := c.imagesPer(len(work), false)
	wl := c.WeightLen()
	wt := work[len(work)-wl:] // after the patch matrices
	if gx != nil {
		gemm.Transpose(wt, pl, w, oc, pl, oc) // wt is OutC×patchLen
	}
	if c.pointwise() {
		tnBlocked(pl, oc, n*p, src, pl, gy, oc, gw, oc)
		if gx != nil {
			clear(gx)
			nnBlocked(n*p, pl, oc, gy, oc, wt, pl, gx, pl)
		}
		return
	}
	for i0 := 0; i0 < n; i0 += per {
		m := min(per, n-i0)
		patches := work[:m*p*pl]
		for i := range m {
			Im2Col(c, patches[i*p*pl:(i+1)*p*pl], src[(i0+i)*in:(i0+i+1)*in], 0)
		}
		g := gy[i0*out : (i0+m)*out]
		tnBlocked(pl, oc, m*p, patches, pl, g, oc, gw, oc)
		if gx == nil {
			continue
		}
		// The patch matrices are spent: their space takes the gradient
		// of the patches, which col2im sums back onto the pixels.
		clear(patches)
		nnBlocked(m*p, pl, oc, g, oc, wt, pl, patches, pl)
		for i := range m {
			c.col2im(gx[(i0+i)*in:(i0+i+1)*in], patches[i*p*pl:(i+1)*p*pl])
		}
	}
}

// Strips writes the strips of the NHWC images x (stride 1) into dst,
// c.stripLen() floats per image.
func (c *Conv2D) Strips(dst, x []float32) {
	ic, kh, wp, p := c.InC, c.KH, c.stripW(), c.Pad
	n := len(x) / c.InLen()
	cell := kh * ic
	for i := range n {
		img := x[i*c.InLen() : (i+1)*c.InLen()]
		s := dst[i*c.stripLen() : (i+1)*c.stripLen()]
		for oy := range c.OutH {
			rowS := s[oy*wp*cell : (oy+1)*wp*cell]
			for ky := range kh {
				iy := oy - p + ky
				if iy < 0 || iy >= c.InH {
					for o := ky * ic; o < len(rowS); o += cell {
						clear(rowS[o : o+ic])
					}
					continue
				}
				rowX := img[iy*c.InW*ic : (iy+1)*c.InW*ic]
				// Columns ox of the strip are input columns ox-p: p of
				// padding on the left, the row, then the rest on the right.
				d := rowS[ky*ic:]
				for ox := range p {
					clear(d[ox*cell : ox*cell+ic])
				}
				interleave(d[p*cell:], rowX, ic, cell)
				for ox := p + c.InW; ox < wp; ox++ {
					clear(d[ox*cell : ox*cell+ic])
				}
			}
		}
	}
}

// interleave copies the pixels of ic values in row to dst, one every
// stride floats: pixel j goes to dst[j*stride : j*stride+ic].
func interleave(dst, row []float32, ic, stride int) {
	n := len(row) / ic
	if n == 0 {
		return
	}
	dst = dst[:(n-1)*stride+ic]
	switch ic {
	case 3: // the input of the first layer: three colour channels
		for j := range n {
			d := dst[j*stride : j*stride+3 : j*stride+3]
			s := row[j*3 : j*3+3 : j*3+3]
			d[0], d[1], d[2] = s[0], s[1], s[2]
		}
	case 8:
		for j := range n {
			*(*[8]float32)(dst[j*stride:]) = *(*[8]float32)(row[j*8:])
		}
	default:
		for j := range n {
			copy(dst[j*stride:j*stride+ic], row[j*ic:(j+1)*ic])
		}
	}
}

// kernelColumns writes the weights w ([KH][KW][InC][OutC]) as the KW
// matrices the strip products take, [KW][KH][InC][OutC]; with t, their
// transposes in the reverse order of kx, [KW-1-kx][OutC][KH][InC].
func (c *Conv2D) kernelColumns(dst, w []float32, t bool) {
	kh, kw, ic, oc := c.KH, c.KW, c.InC, c.OutC
	blk := ic * oc
	for ky := range kh {
		for kx := range kw {
			src := w[(ky*kw+kx)*blk : (ky*kw+kx+1)*blk]
			if !t {
				copy(dst[(kx*kh+ky)*blk:(kx*kh+ky+1)*blk], src)
				continue
			}
			d := dst[(kw-1-kx)*kh*blk:]
			for ch := range ic {
				for o, v := range src[ch*oc : (ch+1)*oc] {
					d[o*kh*ic+ky*ic+ch] = v
				}
			}
		}
	}
}

// backwardStrips is BackwardBatch for stride 1 through strips, but for the
// bias gradient. Each gradient is one product over the KW kernel columns
// at once, whose A has rows that overlap: the weight gradient's A is the
// strips, a row of KW cells from every cell, so that TN sums each column's
// taps where they come; the strips' gradient reads each cell's KW output
// gradients (rows of the product, KW-1 rows of zeros before the first and
// after the last) times the transposed kernel columns in reverse order.
func (c *Conv2D) backwardStrips(gx, gw, src, w, gy, work []float32) {
	n := c.batch(src)
	oc, wp, cell, kw := c.OutC, c.stripW(), c.KH*c.InC, c.KW
	per := min(n, c.imagesPer(len(work), true))
	wl := c.WeightLen()
	gwk, wt := work[:wl], work[wl:2*wl]
	// The weight gradient accumulates in kernel-column order from what gw
	// holds, and goes back at the end.
	c.kernelColumns(gwk, gw, false)
	if gx != nil {
		c.kernelColumns(wt, w, true)
	}
	strips := work[2*wl : 2*wl+per*c.stripLen()]
	pad := (kw - 1) * oc
	padded := work[2*wl+len(strips) : 2*wl+len(strips)+c.stripRows(per)*oc+2*pad]
	in, out, rowLen := c.InLen(), c.OutLen(), c.OutW*oc
	for i0 := 0; i0 < n; i0 += per {
		m := min(per, n-i0)
		x := src[i0*in : (i0+m)*in]
		c.Strips(strips, x)
		r := c.stripRows(m)
		// The output gradient, laid out like the product rows, 0 in the
		// rows that are dropped and in the KW-1 rows before and after.
		rows := padded[pad : pad+r*oc]
		clear(padded[:pad])
		clear(padded[pad+r*oc : 2*pad+r*oc])
		g := gy[i0*out : (i0+m)*out]
		for j := range m * c.OutH {
			copy(rows[j*wp*oc:j*wp*oc+rowLen], g[j*rowLen:(j+1)*rowLen])
			if j < m*c.OutH-1 {
				clear(rows[j*wp*oc+rowLen : (j+1)*wp*oc])
			}
		}
		tnBlocked(kw*cell, oc, r, strips, cell, rows, oc, gwk, oc)
		if gx == nil {
			continue
		}
		// The strips are spent: their space takes their gradient, which
		// goes back onto the pixels it came from.
		ds := strips[:m*c.stripLen()]
		clear(ds)
		nnBlocked(r+kw-1, cell, kw*oc, padded, oc, wt, cell, ds, cell)
		c.unstrip(gx[i0*in:(i0+m)*in], ds)
	}
	c.kernelColumnsBack(gw, gwk)
}

// kernelColumnsBack is the inverse of kernelColumns without t: it writes
// src ([KW][KH][InC][OutC]) into dst in HWIO order.
func (c *Conv2D) kernelColumnsBack(dst, src []float32) {
	kh, kw := c.KH, c.KW
	blk := c.InC * c.OutC
	for ky := range kh {
		for kx := range kw {
			copy(dst[(ky*kw+kx)*blk:(ky*kw+kx+1)*blk], src[(kx*kh+ky)*blk:(kx*kh+ky+1)*blk])
		}
	}
}

// unstrip is the adjoint of Strips: it overwrites the images gx with the
// sum, over every strip cell of ds, of the values that came from each
// input pixel.
func (c *Conv2D) unstrip(gx, ds []float32) {
	clear(gx)
	ic, kh, wp := c.InC, c.KH, c.stripW()
	n := len(gx) / c.InLen()
	cell := kh * ic
	for i := range n {
		img := gx[i*c.InLen() : (i+1)*c.InLen()]
		s := ds[i*c.stripLen() : (i+1)*c.stripLen()]
		for oy := range c.OutH {
			rowS := s[oy*wp*cell : (oy+1)*wp*cell]
			for ky := range kh {
				iy := oy - c.Pad + ky
				if iy < 0 || iy >= c.InH {
					continue
				}
				rowX := img[iy*c.InW*ic : (iy+1)*c.InW*ic]
				addInterleaved(rowX, rowS[c.Pad*cell+ky*ic:], ic, cell)
			}
		}
	}
}

// blockRows is how many rows of A, or for TN of K, one call of the matrix
// product takes: the products here run over whole batches, and the
// micro-kernels do not block for the cache, so a call over every row would
// stream the operands from memory once per block of C. A multiple of the
// kernels' 6, 8 and 12 rows. Splitting a product this way changes no
// result: each call carries on the sums in C where the last left them.
var blockRows = 120

// nnBlocked is gemm.NN in blocks of blockRows rows.
func nnBlocked(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	for i := 0; i < m; i += blockRows {
		r := min(blockRows, m-i)
		gemm.NN(r, n, k, a[i*lda:], lda, b, ldb, c[i*ldc:], ldc)
	}
}

// nnBiasBlocked is gemm.NNBias in blocks of blockRows rows.
func nnBiasBlocked(m, n, k int, a []float32, lda int, b []float32, ldb int, bias, c []float32, ldc int, relu bool) {
	for i := 0; i < m; i += blockRows {
		r := min(blockRows, m-i)
		gemm.NNBias(r, n, k, a[i*lda:], lda, b, ldb, bias, c[i*ldc:], ldc, relu)
	}
}

// tnBlocked is gemm.TN in blocks of blockRows of K.
func tnBlocked(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	for p := 0; p < k; p += blockRows {
		r := min(blockRows, k-p)
		gemm.TN(m, n, r, a[p*lda:], lda, b[p*ldb:], ldb, c, ldc)
	}
}

// addInterleaved is the adjoint of interleave: it adds to each pixel j of
// ic values in row the ic floats at src[j*stride].
func addInterleaved(row, src []float32, ic, stride int) {
	n := len(row) / ic
	if n == 0 {
		return
	}
	src = src[:(n-1)*stride+ic]
	if ic == 8 {
		for j := range n {
			d := (*[8]float32)(row[j*8:])
			s := (*[8]float32)(src[j*stride:])
			d[0] += s[0]
			d[1] += s[1]
			d[2] += s[2]
			d[3] += s[3]
			d[4] += s[4]
			d[5] += s[5]
			d[6] += s[6]
			d[7] += s[7]
		}
		return
	}
	for j := range n {
		addTo(row[j*ic:(j+1)*ic], src[j*stride:j*stride+ic])
	}
}

// onesLen is the number of rows AddColumnSums adds in one product.
const onesLen = 256

// ones is a row of 1s: AddColumnSums multiplies it into blocks of rows.
var ones = func() (o [onesLen]float32) {
	for i := range o {
		o[i] = 1
	}
	return o
}()

// AddColumnSums adds to dst (cols floats) the sum of the rows of the
// row-major matrix m of cols columns, row by row in order: a layer's bias
// gradient, the sum of its output gradient over every pixel of the batch.
// The rows go through the matrix product's vector kernels, as a row of 1s
// times a block of rows (1·g + s is g + s, exactly), so the result is the
// plain loop's, bit for bit where the assembly kernels run.
func AddColumnSums(dst, m []float32, cols int) {
	if cols < 1 || len(dst) != cols || len(m)%cols != 0 {
		panic(fmt.Sprintf("conv: column sums of %d floats into %d, want a whole number of rows of %d", len(m), len(dst), cols))
	}
	rows := len(m) / cols
	for r0 := 0; r0 < rows; r0 += onesLen {
		k := min(onesLen, rows-r0)
		gemm.NN(1, cols, k, ones[:k], k, m[r0*cols:(r0+k)*cols], cols, dst, cols)
	}
}

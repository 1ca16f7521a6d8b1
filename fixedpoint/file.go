package fixedpoint

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"

	"catd/model"
	"catd/safetensors"
)

// Int8 model files are safetensors files like float model files (package
// model), with the metadata
//
//	format      "catd-int8-model"
//	version     "1"
//	arch        the folded architecture (no batch norms), see model.Arch
//	arch_name, mean, std, threshold   as in a float model file
//	float_model the float model it was quantized from (informative)
//
// (and any other keys, kept), and the tensors, for layer i in PyTorch's
// names and layouts:
//
//	input.scale, input.zero_point          F32 [], I32 []: the input tensor
//	i.weight                               I8, OIHW (conv), [C,1,K,K] (dwconv), [Out,In] (dense)
//	i.weight_scale                         F32 [Out]: per output channel
//	i.bias                                 I32 [Out], at scale s_in*s_w
//	i.output_scale, i.output_zero_point    F32 [], I32 []: the output tensor of
//	                                       conv, dwconv, gap and a dense layer that is not the last
//
// Multipliers are not stored: loading recomputes them from the scales
// (quantizeMultiplier), so a file loads into exactly the net that was
// saved.
const (
	FormatInt8Model = "catd-int8-model"
	int8FileVersion = "1"
)

// errNotInt8Model is returned (wrapped) by FromFile, ReadFile and decode
// for a safetensors file whose format is not FormatInt8Model, such as a
// float model file.
var errNotInt8Model = errors.New("not a catd int8 model file")

// tensorName names a layer's tensor, e.g. "3.weight_scale".
func tensorName(i int, what string) string { return strconv.Itoa(i) + "." + what }

// Tensors returns n's parameters as int8 model file tensors.
func (n *Net) Tensors() []safetensors.Tensor {
	ts := []safetensors.Tensor{
		safetensors.FromFloat32("input.scale", []int{}, []float32{n.Input.Scale}),
		safetensors.FromInt32("input.zero_point", []int{}, []int32{n.Input.ZP}),
	}
	for i := range n.layers {
		l := &n.layers[i]
		if hasWeights(l.Kind) {
			shape, w := l.torchWeights()
			ts = append(ts, safetensors.FromInt8(tensorName(i, "weight"), shape, w),
				safetensors.FromFloat32(tensorName(i, "weight_scale"), []int{len(l.wScale)}, l.wScale),
				safetensors.FromInt32(tensorName(i, "bias"), []int{len(l.bias)}, l.bias))
		}
		if hasOut(n.Arch, i) {
			ts = append(ts, safetensors.FromFloat32(tensorName(i, "output_scale"), []int{}, []float32{l.out.Scale}),
				safetensors.FromInt32(tensorName(i, "output_zero_point"), []int{}, []int32{l.out.ZP}))
		}
	}
	return ts
}

// torchShape is the PyTorch shape of layer l's weights.
func (l *qlayer) torchShape() []int {
	switch l.Kind {
	case model.Conv:
		return []int{l.Out, l.in.c, l.K, l.K}
	case model.DWConv:
		return []int{l.in.c, 1, l.K, l.K}
	}
	return []int{l.Out, l.in.len()}
}

// torchWeights returns l's weights in PyTorch's layout, with its shape.
func (l *qlayer) torchWeights() ([]int, []int8) {
	w := make([]int8, len(l.w))
	switch l.Kind {
	case model.Conv:
		ohwiPermute(w, l.w, l.Out, l.in.c, l.K, true)
	case model.DWConv:
		dwPermute(w, l.w, l.in.c, l.K, true)
	default:
		densePermute(w, l.w, l.in, l.Out, true)
	}
	return l.torchShape(), w
}

// ohwiPermute copies convolution weights between PyTorch's OIHW (torch)
// and OHWI: into torch order if toTorch, else from it.
func ohwiPermute[T any](dst, src []T, out, in, k int, toTorch bool) {
	for o := range out {
		for i := range in {
			for t := range k * k {
				a, b := (o*in+i)*k*k+t, (o*k*k+t)*in+i
				if toTorch {
					dst[a] = src[b]
				} else {
					dst[b] = src[a]
				}
			}
		}
	}
}

// dwPermute copies depthwise weights between PyTorch's [C][1][K][K] and
// [K][K][C].
func dwPermute[T any](dst, src []T, c, k int, toTorch bool) {
	for ch := range c {
		for t := range k * k {
			a, b := ch*k*k+t, t*c+ch
			if toTorch {
				dst[a] = src[b]
			} else {
				dst[b] = src[a]
			}
		}
	}
}

// densePermute copies dense weights between PyTorch's [Out][C*H*W]
// (inputs in CHW order) and [Out][H*W*C].
func densePermute[T any](dst, src []T, in dims, out int, toTorch bool) {
	n := in.len()
	for o := range out {
		for c := range in.c {
			for p := range in.h * in.w {
				a, b := o*n+c*in.h*in.w+p, o*n+p*in.c+c
				if toTorch {
					dst[a] = src[b]
				} else {
					dst[b] = src[a]
				}
			}
		}
	}
}

// Metadata returns the int8 model file metadata for n and info.
func (n *Net) Metadata(info model.Info) map[string]string {
	md := model.InfoMetadata(info)
	md["format"] = FormatInt8Model
	md["version"] = int8FileVersion
	md["arch"] = n.Arch.String()
	return md
}

// Encode writes n as an int8 model file to w.
func (n *Net) Encode(w io.Writer, info model.Info) error {
	md, ts := n.sealed(info)
	return safetensors.Encode(w, md, ts)
}

// Bytes returns n encoded as an int8 model file.
func (n *Net) Bytes(info model.Info) ([]byte, error) {
	var b bytes.Buffer
	err := n.Encode(&b, info)
	return b.Bytes(), err
}

// WriteFile saves n as an int8 model file at path, atomically.
func (n *Net) WriteFile(path string, info model.Info) error {
	md, ts := n.sealed(info)
	return safetensors.WriteFile(path, md, ts)
}

// sealed is the metadata and tensors of n's file, with its digest
// (model.Seal).
func (n *Net) sealed(info model.Info) (map[string]string, []safetensors.Tensor) {
	md, ts := n.Metadata(info), n.Tensors()
	model.Seal(md, ts)
	return md, ts
}

// ReadFile loads an int8 model file into a new Net built with opt.
func ReadFile(path string, opt Options) (*Net, model.Info, error) {
	f, err := safetensors.ReadFile(path, model.MaxFileBytes)
	if err != nil {
		return nil, model.Info{}, fmt.Errorf("fixedpoint: %w", err)
	}
	n, info, err := FromFile(f, opt)
	if err != nil {
		return nil, model.Info{}, fmt.Errorf("%s: %w", path, err)
	}
	return n, info, nil
}

// decode loads an int8 model file held in memory.
func decode(b []byte, opt Options) (*Net, model.Info, error) {
	f, err := safetensors.Parse(b)
	if err != nil {
		return nil, model.Info{}, fmt.Errorf("fixedpoint: %w", err)
	}
	return FromFile(f, opt)
}

// FromFile builds a Net from a parsed int8 model file, checking its
// metadata and every tensor's name, dtype, shape and values: weights in
// -127..127, scales finite and above 0, zero points in -128..127,
// multipliers in range. A file of another format (a float model file) is
// refused with an error naming its format.
func FromFile(f *safetensors.File, opt Options) (*Net, model.Info, error) {
	md := f.Metadata
	if format := md["format"]; format != FormatInt8Model {
		return nil, model.Info{}, fmt.Errorf("fixedpoint: format %q, want %q: %w", format, FormatInt8Model, errNotInt8Model)
	}
	if err := model.CheckDigest(f); err != nil {
		return nil, model.Info{}, err
	}
	if v := md["version"]; v != int8FileVersion {
		return nil, model.Info{}, fmt.Errorf("fixedpoint: int8 model file version %q, this catd reads version %s", v, int8FileVersion)
	}
	spec, ok := md["arch"]
	if !ok {
		return nil, model.Info{}, fmt.Errorf("fixedpoint: no \"arch\" in the metadata")
	}
	a, err := model.ParseArch(spec)
	if err != nil {
		return nil, model.Info{}, err
	}
	if err := checkArch(a); err != nil {
		return nil, model.Info{}, err
	}
	info, err := model.ParseInfo(md, a)
	if err != nil {
		return nil, model.Info{}, err
	}
	r := fileReader{f: f, seen: map[string]bool{}}
	input := QParams{Scale: r.scalarF32("input.scale"), ZP: r.scalarI32("input.zero_point")}
	ps := make([]layerParams, len(a.Layers))
	cur := dims{a.H, a.W, a.C}
	for i, l := range a.Layers {
		p := &ps[i]
		next := outDims(cur, l)
		switch l.Kind {
		case model.Conv:
			if w := r.int8s(tensorName(i, "weight"), []int{l.Out, cur.c, l.K, l.K}); w != nil {
				p.w = make([]int8, len(w))
				ohwiPermute(p.w, w, l.Out, cur.c, l.K, false)
			}
		case model.DWConv:
			if w := r.int8s(tensorName(i, "weight"), []int{cur.c, 1, l.K, l.K}); w != nil {
				p.w = make([]int8, len(w))
				dwPermute(p.w, w, cur.c, l.K, false)
			}
		case model.Dense:
			if w := r.int8s(tensorName(i, "weight"), []int{l.Out, cur.len()}); w != nil {
				p.w = make([]int8, len(w))
				densePermute(p.w, w, cur, l.Out, false)
			}
		}
		if hasWeights(l.Kind) {
			p.wScale = r.f32s(tensorName(i, "weight_scale"), next.c)
			p.bias = r.i32s(tensorName(i, "bias"), next.c)
		}
		if hasOut(a, i) {
			p.out = QParams{Scale: r.scalarF32(tensorName(i, "output_scale")), ZP: r.scalarI32(tensorName(i, "output_zero_point"))}
		}
		cur = next
	}
	if r.err != nil {
		return nil, model.Info{}, r.err
	}
	for _, t := range f.Tensors {
		if !r.seen[t.Name] {
			return nil, model.Info{}, fmt.Errorf("fixedpoint: unexpected tensor %q: the file does not match architecture %q", t.Name, a)
		}
	}
	n, err := build(a, info, input, ps, opt)
	if err != nil {
		return nil, model.Info{}, err
	}
	return n, info, nil
}

// fileReader reads tensors of an int8 model file, remembering the first
// error and the names it has read.
type fileReader struct {
	f    *safetensors.File
	seen map[string]bool
	err  error
}

// tensor returns the tensor name with the given shape, or nil after
// recording an error.
func (r *fileReader) tensor(name string, shape []int) *safetensors.Tensor {
	if r.err != nil {
		return nil
	}
	r.seen[name] = true
	t, ok := r.f.Tensor(name)
	if !ok {
		r.err = fmt.Errorf("fixedpoint: tensor %q is missing", name)
		return nil
	}
	if !slices.Equal(t.Shape, shape) {
		r.err = fmt.Errorf("fixedpoint: tensor %q has shape %v, want %v", name, t.Shape, shape)
		return nil
	}
	return t
}

func (r *fileReader) fail(err error) {
	if r.err == nil && err != nil {
		r.err = fmt.Errorf("fixedpoint: %w", err)
	}
}

func (r *fileReader) int8s(name string, shape []int) []int8 {
	t := r.tensor(name, shape)
	if t == nil {
		return nil
	}
	v, err := t.Int8s()
	r.fail(err)
	for j, x := range v {
		if x == math.MinInt8 && r.err == nil {
			r.err = fmt.Errorf("fixedpoint: tensor %q holds -128 at index %d: weights are symmetric, -127..127", name, j)
		}
	}
	return v
}

func (r *fileReader) f32s(name string, n int) []float32 {
	t := r.tensor(name, []int{n})
	if t == nil {
		return nil
	}
	if t.DType != safetensors.F32 {
		r.fail(fmt.Errorf("tensor %q: dtype is %s, want F32", name, t.DType))
		return nil
	}
	v, err := t.Float32s()
	r.fail(err)
	for j, x := range v {
		if (!(x > 0) || math.IsInf(float64(x), 0)) && r.err == nil {
			r.err = fmt.Errorf("fixedpoint: tensor %q holds %v at index %d, want a finite scale above 0", name, x, j)
		}
	}
	return v
}

func (r *fileReader) i32s(name string, n int) []int32 {
	t := r.tensor(name, []int{n})
	if t == nil {
		return nil
	}
	v, err := t.Int32s()
	r.fail(err)
	return v
}

func (r *fileReader) scalarF32(name string) float32 {
	t := r.tensor(name, []int{})
	if t == nil {
		return 0
	}
	if t.DType != safetensors.F32 {
		r.fail(fmt.Errorf("tensor %q: dtype is %s, want F32", name, t.DType))
		return 0
	}
	v, err := t.Float32s()
	r.fail(err)
	if r.err != nil {
		return 0
	}
	if !(v[0] > 0) || math.IsInf(float64(v[0]), 0) {
		r.err = fmt.Errorf("fixedpoint: tensor %q holds %v, want a finite scale above 0", name, v[0])
	}
	return v[0]
}

func (r *fileReader) scalarI32(name string) int32 {
	t := r.tensor(name, []int{})
	if t == nil {
		return 0
	}
	v, err := t.Int32s()
	r.fail(err)
	if r.err != nil {
		return 0
	}
	if v[0] < math.MinInt8 || v[0] > math.MaxInt8 {
		r.err = fmt.Errorf("fixedpoint: tensor %q holds zero point %d, want -128..127", name, v[0])
	}
	return v[0]
}

package model

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"catd/conv"
	"catd/safetensors"
)

// Model files are safetensors files. Their tensors are the network's
// parameters under PyTorch's state_dict names ("0.weight", "0.bias", …) in
// PyTorch's layouts (OIHW convolution weights, [out][in] dense weights), so
// a model trained in PyTorch loads in catd and a catd model loads in
// PyTorch. The metadata holds:
//
//	format     "catd-model"
//	version    "1"
//	arch       the architecture description (see Arch), required
//	arch_name  the built-in name, e.g. "catnet64" (informative)
//	mean, std  comma-separated per-channel normalisation of pixels in [0,1]
//	threshold  the decision threshold on p(cat), in (0,1)
//
// and any other keys, which are kept. Tensors whose names start with
// "optim." (a fine-tuning checkpoint's optimizer state) are ignored by the
// model loader; any other unknown tensor is an error.
const (
	FormatModel  = "catd-model"
	FileVersion  = "1"
	MaxFileBytes = 256 << 20 // largest model file catd reads
	stateprefix  = "optim."
)

// Info is what a model file says about its model besides the weights.
type Info struct {
	Name      string            // built-in architecture name, if any
	Mean, Std []float32         // per-channel normalisation of [0,1] pixels
	Threshold float32           // decision threshold on p(cat)
	Extra     map[string]string // other metadata, written back on save
}

// DefaultInfo is the Info of a new model: ImageNet's channel statistics and
// a threshold of 0.5.
func DefaultInfo(a Arch, name string) Info {
	info := Info{Name: name, Threshold: 0.5}
	if a.C == 3 {
		info.Mean = []float32{0.485, 0.456, 0.406}
		info.Std = []float32{0.229, 0.224, 0.225}
	} else {
		info.Mean = slices.Repeat([]float32{0.5}, a.C)
		info.Std = slices.Repeat([]float32{0.25}, a.C)
	}
	return info
}

// NormalizePixels writes the model input for interleaved 8-bit pixels px
// (H×W×C, the same order as the input) into dst:
// dst[i] = (px[i]/255 - Mean[c]) / Std[c].
func (info *Info) NormalizePixels(dst []float32, px []uint8) {
	c := len(info.Mean)
	if len(dst) != len(px) || c == 0 || len(px)%c != 0 {
		panic(fmt.Sprintf("model: NormalizePixels lengths %d and %d with %d channels", len(dst), len(px), c))
	}
	var scale, offset [8]float32
	if c > len(scale) {
		panic("model: NormalizePixels supports up to 8 channels")
	}
	for ch := range c {
		scale[ch] = 1 / (255 * info.Std[ch])
		offset[ch] = -info.Mean[ch] / info.Std[ch]
	}
	px = px[:len(dst)]
	for i := 0; i < len(px); i += c {
		for ch := range c {
			dst[i+ch] = float32(px[i+ch])*scale[ch] + offset[ch]
		}
	}
}

// ReadFile loads a model file into a new Net built with opt.
func ReadFile(path string, opt Options) (*Net, Info, error) {
	f, err := safetensors.ReadFile(path, MaxFileBytes)
	if err != nil {
		return nil, Info{}, fmt.Errorf("model: %w", err)
	}
	n, info, err := FromFile(f, opt)
	if err != nil {
		return nil, Info{}, fmt.Errorf("%s: %w", path, err)
	}
	return n, info, nil
}

// Decode loads a model file held in memory.
func Decode(b []byte, opt Options) (*Net, Info, error) {
	f, err := safetensors.Parse(b)
	if err != nil {
		return nil, Info{}, fmt.Errorf("model: %w", err)
	}
	return FromFile(f, opt)
}

// FromFile builds a Net from a parsed model file, checking its metadata and
// every tensor's name, shape and values.
func FromFile(f *safetensors.File, opt Options) (*Net, Info, error) {
	if err := CheckDigest(f); err != nil {
		return nil, Info{}, err
	}
	md := f.Metadata
	if format, ok := md["format"]; ok && format != FormatModel && format != FormatCheckpoint {
		return nil, Info{}, fmt.Errorf("model: format %q, want %q", format, FormatModel)
	}
	if v, ok := md["version"]; ok && v != FileVersion {
		return nil, Info{}, fmt.Errorf("model: file version %q, this catd reads version %s", v, FileVersion)
	}
	spec, ok := md["arch"]
	if !ok {
		return nil, Info{}, fmt.Errorf("model: no \"arch\" in the metadata: not a catd model file")
	}
	a, err := ParseArch(spec)
	if err != nil {
		return nil, Info{}, err
	}
	info, err := parseInfo(md, a)
	if err != nil {
		return nil, Info{}, err
	}
	n, err := New(a, opt)
	if err != nil {
		return nil, Info{}, err
	}
	if err := n.SetTensors(f); err != nil {
		return nil, Info{}, err
	}
	return n, info, nil
}

func parseInfo(md map[string]string, a Arch) (Info, error) {
	info := DefaultInfo(a, md["arch_name"])
	for _, k := range []struct {
		key string
		dst *[]float32
		pos bool
	}{{"mean", &info.Mean, false}, {"std", &info.Std, true}} {
		s, ok := md[k.key]
		if !ok {
			continue
		}
		fields := strings.Split(s, ",")
		if len(fields) != a.C {
			return Info{}, fmt.Errorf("model: %s %q has %d values, want one per input channel (%d)", k.key, s, len(fields), a.C)
		}
		vals := make([]float32, len(fields))
		for i, f := range fields {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 32)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || (k.pos && v <= 0) {
				return Info{}, fmt.Errorf("model: %s value %q is not a finite number%s", k.key, f, map[bool]string{true: " above 0"}[k.pos])
			}
			vals[i] = float32(v)
		}
		*k.dst = vals
	}
	if s, ok := md["threshold"]; ok {
		v, err := strconv.ParseFloat(s, 32)
		if err != nil || !(v > 0 && v < 1) {
			return Info{}, fmt.Errorf("model: threshold %q is not a number between 0 and 1", s)
		}
		info.Threshold = float32(v)
	}
	known := map[string]bool{"format": true, "version": true, "arch": true, "arch_name": true, "mean": true, "std": true, "threshold": true, DigestKey: true}
	for k, v := range md {
		if !known[k] {
			if info.Extra == nil {
				info.Extra = map[string]string{}
			}
			info.Extra[k] = v
		}
	}
	return info, nil
}

// tensorName is the PyTorch state_dict name of layer i's weight or bias.
func tensorName(i int, bias bool) string {
	if bias {
		return strconv.Itoa(i) + ".bias"
	}
	return strconv.Itoa(i) + ".weight"
}

// torchShape is the PyTorch shape of layer l's weights.
func (l *layer) torchShape() []int {
	switch l.Kind {
	case Conv:
		return []int{l.Out, l.in.c, l.K, l.K}
	case DWConv:
		return []int{l.in.c, 1, l.K, l.K}
	case BatchNorm:
		return []int{l.in.c}
	}
	return []int{l.Out, l.in.len()}
}

// readVector copies a 1-D tensor of n finite values into dst.
func readVector(f *safetensors.File, name string, dst []float32, what string) error {
	t, ok := f.Tensor(name)
	if !ok {
		return fmt.Errorf("model: tensor %q (%s) is missing", name, what)
	}
	if !slices.Equal(t.Shape, []int{len(dst)}) {
		return fmt.Errorf("model: tensor %q has shape %v, want [%d] (%s)", name, t.Shape, len(dst), what)
	}
	if err := t.CopyFloat32s(dst); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	return checkFinite(name, dst)
}

func checkFinite(name string, v []float32) error {
	for j, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("model: tensor %q holds %v at index %d", name, x, j)
		}
	}
	return nil
}

// SetTensors copies the parameters of a model file into n, converting from
// PyTorch's layouts. Every parameter tensor must be present with the right
// shape and finite values; on error n's parameters may be partly written.
func (n *Net) SetTensors(f *safetensors.File) error {
	want := map[string]bool{}
	for i := range n.layers {
		l := &n.layers[i]
		if l.w == nil {
			continue
		}
		for _, bias := range []bool{false, true} {
			name := tensorName(i, bias)
			want[name] = true
			t, ok := f.Tensor(name)
			if !ok {
				return fmt.Errorf("model: tensor %q (layer %d, %s) is missing", name, i, l.Kind)
			}
			shp := l.torchShape()
			if bias {
				shp = []int{l.out.c}
			}
			if !slices.Equal(t.Shape, shp) {
				return fmt.Errorf("model: tensor %q has shape %v, want %v for layer %d (%s)", name, t.Shape, shp, i, l.Kind)
			}
			vals, err := t.Float32s()
			if err != nil {
				return fmt.Errorf("model: %w", err)
			}
			if err := checkFinite(name, vals); err != nil {
				return err
			}
			switch {
			case bias:
				copy(l.b, vals)
			case l.Kind == Conv:
				conv.OIHWToHWIO(l.w, vals, l.Out, l.in.c, l.K, l.K)
			case l.Kind == DWConv:
				conv.DepthwiseFromTorch(l.w, vals, l.in.c, l.K)
			case l.Kind == BatchNorm:
				copy(l.w, vals)
			default:
				l.denseFromTorch(vals)
			}
		}
		if l.Kind == BatchNorm {
			for _, st := range []struct {
				suffix string
				dst    []float32
			}{{".running_mean", l.runMean}, {".running_var", l.runVar}} {
				name := strconv.Itoa(i) + st.suffix
				want[name] = true
				if err := readVector(f, name, st.dst, fmt.Sprintf("layer %d, bn", i)); err != nil {
					return err
				}
			}
			for j, v := range l.runVar {
				if v < 0 {
					return fmt.Errorf("model: tensor \"%d.running_var\" holds a negative variance %v at index %d", i, v, j)
				}
			}
			want[strconv.Itoa(i)+".num_batches_tracked"] = true // PyTorch's counter; catd does not need it
		}
	}
	for _, t := range f.Tensors {
		if !want[t.Name] && !strings.HasPrefix(t.Name, stateprefix) {
			return fmt.Errorf("model: unexpected tensor %q: the file does not match architecture %q", t.Name, n.Arch)
		}
	}
	return nil
}

// denseFromTorch copies a PyTorch Linear weight [out][in] into l.w
// ([in][out]). PyTorch flattens a C×H×W map in CHW order, catd in HWC
// order, so the input index is permuted when the dense layer follows a
// spatial map.
func (l *layer) denseFromTorch(src []float32) {
	h, w, c, out := l.in.h, l.in.w, l.in.c, l.Out
	for o := range out {
		for ch := range c {
			for y := range h {
				for x := range w {
					l.w[((y*w+x)*c+ch)*out+o] = src[o*c*h*w+(ch*h+y)*w+x]
				}
			}
		}
	}
}

func (l *layer) denseToTorch(dst, src []float32) {
	h, w, c, out := l.in.h, l.in.w, l.in.c, l.Out
	for o := range out {
		for ch := range c {
			for y := range h {
				for x := range w {
					dst[o*c*h*w+(ch*h+y)*w+x] = src[((y*w+x)*c+ch)*out+o]
				}
			}
		}
	}
}

// Tensors returns n's parameters as model file tensors, in PyTorch's names
// and layouts, in layer order.
func (n *Net) Tensors() []safetensors.Tensor { return n.tensorsOf(false) }

// GradTensors returns n's gradients like Tensors returns its parameters, for
// comparing with PyTorch's; the Net must be built with Training.
func (n *Net) GradTensors() []safetensors.Tensor { return n.tensorsOf(true) }

func (n *Net) tensorsOf(grads bool) []safetensors.Tensor {
	var ts []safetensors.Tensor
	for i := range n.layers {
		l := &n.layers[i]
		if l.w == nil {
			continue
		}
		src, b := l.w, l.b
		if grads {
			src, b = l.gw, l.gb
		}
		w := make([]float32, len(src))
		switch l.Kind {
		case Conv:
			conv.HWIOToOIHW(w, src, l.Out, l.in.c, l.K, l.K)
		case DWConv:
			conv.DepthwiseToTorch(w, src, l.in.c, l.K)
		case BatchNorm:
			copy(w, src)
		default:
			l.denseToTorch(w, src)
		}
		ts = append(ts, safetensors.FromFloat32(tensorName(i, false), l.torchShape(), w),
			safetensors.FromFloat32(tensorName(i, true), []int{l.out.c}, b))
		if l.Kind == BatchNorm && !grads {
			p := strconv.Itoa(i)
			ts = append(ts, safetensors.FromFloat32(p+".running_mean", []int{l.in.c}, l.runMean),
				safetensors.FromFloat32(p+".running_var", []int{l.in.c}, l.runVar),
				safetensors.FromInt64(p+".num_batches_tracked", []int{}, []int64{0}))
		}
	}
	return ts
}

// Metadata returns the model file metadata for n and info.
func (n *Net) Metadata(info Info) map[string]string {
	md := InfoMetadata(info)
	md["format"] = FormatModel
	md["version"] = FileVersion
	md["arch"] = n.Arch.String()
	return md
}

// Encode writes n as a model file to w.
func (n *Net) Encode(w io.Writer, info Info) error {
	md, ts := n.sealed(info)
	return safetensors.Encode(w, md, ts)
}

// WriteFile saves n as a model file at path, atomically: a reader sees the
// old file or the new one, never a partial file.
func (n *Net) WriteFile(path string, info Info) error {
	md, ts := n.sealed(info)
	return safetensors.WriteFile(path, md, ts)
}

// Bytes returns n encoded as a model file.
func (n *Net) Bytes(info Info) ([]byte, error) {
	md, ts := n.sealed(info)
	return safetensors.Marshal(md, ts)
}

// sealed is the metadata and tensors of n's model file, with its digest.
func (n *Net) sealed(info Info) (map[string]string, []safetensors.Tensor) {
	md, ts := n.Metadata(info), n.Tensors()
	Seal(md, ts)
	return md, ts
}

// FormatCheckpoint is the format of a fine-tuning checkpoint: a model file
// plus optimizer state (see package train), which the model loader reads as
// a model.
const FormatCheckpoint = "catd-checkpoint"

package learn

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"

	"catd/model"
	"catd/safetensors"
)

// FormatImportance is the format of an importance file: a model file's
// tensors (names, shapes and layouts of the folded network's parameters)
// holding each parameter's Fisher information instead of its value.
const FormatImportance = "catd-importance"

// ParamsDigest is the SHA-256 of a network's parameters (float32, little
// endian, in Net.Params order): what ties an importance file to the one
// model it was measured on.
func ParamsDigest(params []float32) string {
	h := sha256.New()
	var b [4 * 1024]byte
	for i := 0; i < len(params); {
		n := 0
		for ; n+4 <= len(b) && i < len(params); i++ {
			binary.LittleEndian.PutUint32(b[n:], math.Float32bits(params[i]))
			n += 4
		}
		h.Write(b[:n])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// EncodeImportance returns the importance file of fisher (see Importance),
// measured on net: net's architecture and parameter digest go into its
// metadata with md's entries (what it was measured on).
func EncodeImportance(net *model.Net, fisher []float32, md map[string]string) ([]byte, error) {
	meta, ts, err := importanceFile(net, fisher, md)
	if err != nil {
		return nil, err
	}
	return safetensors.Marshal(meta, ts)
}

// WriteImportance saves EncodeImportance's file at path, atomically.
func WriteImportance(path string, net *model.Net, fisher []float32, md map[string]string) error {
	meta, ts, err := importanceFile(net, fisher, md)
	if err != nil {
		return err
	}
	return safetensors.WriteFile(path, meta, ts)
}

func importanceFile(net *model.Net, fisher []float32, md map[string]string) (map[string]string, []safetensors.Tensor, error) {
	if len(fisher) != len(net.Params) {
		return nil, nil, fmt.Errorf("learn: importance of %d parameters for a network of %d", len(fisher), len(net.Params))
	}
	holder, err := model.New(net.Arch, model.Options{MaxBatch: 1})
	if err != nil {
		return nil, nil, err
	}
	copy(holder.Params, fisher)
	meta := map[string]string{}
	for k, v := range md {
		meta[k] = v
	}
	meta["format"] = FormatImportance
	meta["arch"] = net.Arch.String()
	meta["model_params_sha256"] = ParamsDigest(net.Params)
	// bfloat16 is all the precision a weight of the anchor needs (the
	// learner holds it so), and half the bytes.
	ts := holder.Tensors()
	for i, t := range ts {
		v, err := t.Float32s()
		if err != nil {
			return nil, nil, err
		}
		h := make([]uint16, len(v))
		toBfloat16(h, v)
		b := make([]byte, 2*len(h))
		for j, x := range h {
			binary.LittleEndian.PutUint16(b[2*j:], x)
		}
		ts[i] = safetensors.Tensor{Name: t.Name, DType: safetensors.BF16, Shape: t.Shape, Data: b}
	}
	model.Seal(meta, ts)
	return meta, ts, nil
}

// ErrOtherModel is an importance file measured on another model than the
// one learning starts from.
var ErrOtherModel = errors.New("the importance was measured on another model")

// DecodeImportance reads an importance file for the network of arch whose
// parameters are params (the folded model learning starts from), and
// returns its Fisher information per parameter. A file of another model
// is ErrOtherModel; a damaged one, negative or non-finite values are an
// error naming the problem.
func DecodeImportance(b []byte, arch model.Arch, params []float32) ([]float32, error) {
	f, err := safetensors.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("learn: importance: %w", err)
	}
	if err := model.CheckDigest(f); err != nil {
		return nil, fmt.Errorf("learn: importance: %w", err)
	}
	md := f.Metadata
	if md["format"] != FormatImportance {
		return nil, fmt.Errorf("learn: importance: format %q, want %q", md["format"], FormatImportance)
	}
	if md["arch"] != arch.String() {
		return nil, fmt.Errorf("learn: importance of a %q network, the model is %q: %w", md["arch"], arch.String(), ErrOtherModel)
	}
	if d := md["model_params_sha256"]; d != ParamsDigest(params) {
		return nil, fmt.Errorf("learn: importance for parameters %.12s…, the model's are %.12s…: %w", d, ParamsDigest(params), ErrOtherModel)
	}
	holder, err := model.New(arch, model.Options{MaxBatch: 1})
	if err != nil {
		return nil, err
	}
	if err := holder.SetTensors(f); err != nil {
		return nil, fmt.Errorf("learn: importance: %w", err)
	}
	if len(holder.Params) != len(params) {
		return nil, fmt.Errorf("learn: importance of %d parameters for a network of %d", len(holder.Params), len(params))
	}
	if _, err := importanceMean(holder.Params); err != nil {
		return nil, err
	}
	return holder.Params, nil
}

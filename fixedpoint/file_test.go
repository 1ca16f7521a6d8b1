package fixedpoint

import (
	"bytes"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"catd/model"
	"catd/safetensors"
)

func TestFileRoundTrip(t *testing.T) {
	for _, tc := range testArchs {
		t.Run(tc.name, func(t *testing.T) {
			q, _, info, imgs := quantizeTest(t, tc.spec, 8, 4)
			info.Extra = map[string]string{"float_model": "random"}
			path := filepath.Join(t.TempDir(), "m8.safetensors")
			if err := q.WriteFile(path, info); err != nil {
				t.Fatal(err)
			}
			r, rinfo, err := ReadFile(path, Options{MaxBatch: 4})
			if err != nil {
				t.Fatal(err)
			}
			if r.Arch.String() != q.Arch.String() || r.Input != q.Input {
				t.Errorf("read back arch %q input %+v, wrote %q %+v", r.Arch, r.Input, q.Arch, q.Input)
			}
			if rinfo.Threshold != info.Threshold || rinfo.Extra["float_model"] != "random" || rinfo.Mean[1] != info.Mean[1] {
				t.Errorf("read back info %+v, wrote %+v", rinfo, info)
			}
			b1, _ := q.Bytes(info)
			b2, _ := r.Bytes(rinfo)
			if !bytes.Equal(b1, b2) {
				t.Error("the file read back encodes differently")
			}
			px := flatten(imgs[:4])
			z1, z2 := make([]float32, 4*q.Outputs()), make([]float32, 4*q.Outputs())
			q.Logits(z1, px)
			r.Logits(z2, px)
			for i := range z1 {
				if math.Float32bits(z1[i]) != math.Float32bits(z2[i]) {
					t.Fatalf("logit %d: %v saved, %v loaded", i, z1[i], z2[i])
				}
			}
		})
	}
}

// testFile returns a valid int8 model file, parsed, for corrupting.
func testFile(t testing.TB) *safetensors.File {
	t.Helper()
	q, _, info, _ := quantizeTest(t, testArchs[0].spec, 9, 1)
	b, err := q.Bytes(info)
	if err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func setTensor(f *safetensors.File, t safetensors.Tensor) {
	for i := range f.Tensors {
		if f.Tensors[i].Name == t.Name {
			f.Tensors[i] = t
			return
		}
	}
	f.Tensors = append(f.Tensors, t)
}

func TestFileRejectsCorruption(t *testing.T) {
	nan := float32(math.NaN())
	for _, tc := range []struct {
		name   string
		change func(f *safetensors.File)
		want   string
	}{
		{"float model", func(f *safetensors.File) { f.Metadata["format"] = model.FormatModel }, "not a catd int8 model"},
		{"no format", func(f *safetensors.File) { delete(f.Metadata, "format") }, "not a catd int8 model"},
		{"version", func(f *safetensors.File) { f.Metadata["version"] = "9" }, "version \"9\""},
		{"no arch", func(f *safetensors.File) { delete(f.Metadata, "arch") }, "no \"arch\""},
		{"bad arch", func(f *safetensors.File) { f.Metadata["arch"] = "input 3x8x8; warp 9" }, "warp"},
		{"batch norm", func(f *safetensors.File) {
			f.Metadata["arch"] = strings.Replace(f.Metadata["arch"], "relu; maxpool", "bn; relu; maxpool", 1)
		}, "batch norm"},
		{"grey input", func(f *safetensors.File) {
			f.Metadata["arch"] = strings.Replace(f.Metadata["arch"], "input 3x", "input 1x", 1)
		}, "input channels"},
		{"threshold", func(f *safetensors.File) { f.Metadata["threshold"] = "2" }, "threshold"},
		{"std", func(f *safetensors.File) { f.Metadata["std"] = "0.2,0,0.2" }, "std"},
		{"missing weight", func(f *safetensors.File) {
			f.Tensors = f.Tensors[:0:0]
		}, "input.scale\" is missing"},
		{"weight shape", func(f *safetensors.File) {
			setTensor(f, safetensors.FromInt8("0.weight", []int{8, 3, 3, 2}, make([]int8, 144)))
		}, "\"0.weight\" has shape [8 3 3 2]"},
		{"weight dtype", func(f *safetensors.File) {
			setTensor(f, safetensors.FromFloat32("0.weight", []int{8, 3, 3, 3}, make([]float32, 216)))
		}, "dtype is F32, want I8"},
		{"weight -128", func(f *safetensors.File) {
			w := make([]int8, 216)
			w[5] = -128
			setTensor(f, safetensors.FromInt8("0.weight", []int{8, 3, 3, 3}, w))
		}, "holds -128 at index 5"},
		{"zero weight scale", func(f *safetensors.File) {
			setTensor(f, safetensors.FromFloat32("0.weight_scale", []int{8}, make([]float32, 8)))
		}, "\"0.weight_scale\" holds 0 at index 0"},
		{"NaN output scale", func(f *safetensors.File) {
			setTensor(f, safetensors.FromFloat32("0.output_scale", []int{}, []float32{nan}))
		}, "\"0.output_scale\" holds NaN"},
		{"infinite input scale", func(f *safetensors.File) {
			setTensor(f, safetensors.FromFloat32("input.scale", []int{}, []float32{float32(math.Inf(1))}))
		}, "\"input.scale\" holds +Inf"},
		{"zero point", func(f *safetensors.File) {
			setTensor(f, safetensors.FromInt32("3.output_zero_point", []int{}, []int32{200}))
		}, "zero point 200"},
		{"bias length", func(f *safetensors.File) {
			setTensor(f, safetensors.FromInt32("0.bias", []int{7}, make([]int32, 7)))
		}, "\"0.bias\" has shape [7]"},
		{"huge multiplier", func(f *safetensors.File) {
			setTensor(f, safetensors.FromFloat32("0.weight_scale", []int{8}, []float32{1, 1, 1, 1, 1, 1, 1, 1e30}))
		}, "channel 7: multiplier"},
		{"extra tensor", func(f *safetensors.File) {
			setTensor(f, safetensors.FromInt8("1.weight", []int{1}, []int8{1}))
		}, "unexpected tensor \"1.weight\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := testFile(t)
			tc.change(f)
			model.Seal(f.Metadata, f.Tensors) // damage the digest cannot see: the checks behind it
			var b bytes.Buffer
			if err := safetensors.Encode(&b, f.Metadata, f.Tensors); err != nil {
				t.Fatal(err)
			}
			_, _, err := decode(b.Bytes(), Options{MaxBatch: 1})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if notInt8 := errors.Is(err, errNotInt8Model); notInt8 != strings.Contains(tc.want, "not a catd int8") {
				t.Errorf("errors.Is(err, ErrNotInt8Model) = %v", notInt8)
			}
		})
	}
}

func TestReadFileNamesThePath(t *testing.T) {
	dir := t.TempDir()
	fn, info := randomNet(t, testArchs[0].spec, 1)
	path := filepath.Join(dir, "float.safetensors")
	if err := fn.WriteFile(path, info); err != nil {
		t.Fatal(err)
	}
	_, _, err := ReadFile(path, Options{MaxBatch: 1})
	if !errors.Is(err, errNotInt8Model) || !strings.Contains(err.Error(), path) {
		t.Errorf("reading a float model file: %v", err)
	}
	if _, _, err := ReadFile(filepath.Join(dir, "absent"), Options{MaxBatch: 1}); err == nil {
		t.Error("reading a missing file succeeded")
	}
}

func FuzzInt8File(f *testing.F) {
	b, err := func() ([]byte, error) {
		q, _, info, _ := quantizeTest(f, testArchs[0].spec, 10, 1)
		return q.Bytes(info)
	}()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add([]byte{})
	hdr := 8 + int(b[0]) + int(b[1])<<8
	for _, at := range []int{hdr, hdr + 10, hdr + 300, len(b) - 5} {
		c := bytes.Clone(b)
		c[at] ^= 0x80
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, _, err := decode(data, Options{MaxBatch: 1})
		if err != nil {
			return
		}
		if n.InputLen() > 1<<14 {
			return // a fuzzed size: running it would only be slow
		}
		// Whatever loads runs.
		px := make([]uint8, n.InputLen())
		z := make([]float32, n.Outputs())
		n.Logits(z, px)
	})
}

// TestFileDigest: an int8 model file catd wrote carries a digest, and a
// bit flipped in its weights after writing is refused by name.
func TestFileDigest(t *testing.T) {
	q, _, info, _ := quantizeTest(t, testArchs[0].spec, 9, 1)
	b, err := q.Bytes(info)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := decode(b, Options{MaxBatch: 1}); err != nil {
		t.Fatal(err)
	}
	b[len(b)-3] ^= 0x10
	if _, _, err := decode(b, Options{MaxBatch: 1}); err == nil || !strings.Contains(err.Error(), model.DigestKey) {
		t.Fatalf("a flipped bit: err = %v, want the digest named", err)
	}
}

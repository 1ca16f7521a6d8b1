package safetensors_test

import (
	"bytes"
	"fmt"

	"catd/safetensors"
)

func Example() {
	weights := []safetensors.Tensor{
		safetensors.FromFloat32("fc.weight", []int{2, 3}, []float32{0.5, -1, 2, 0.25, 0, 3}),
		safetensors.FromFloat32("fc.bias", []int{2}, []float32{0.1, -0.1}),
		safetensors.FromInt32("step", []int{}, []int32{1200}),
	}
	var buf bytes.Buffer
	if err := safetensors.Encode(&buf, map[string]string{"format": "pt"}, weights); err != nil {
		fmt.Println(err)
		return
	}

	f, err := safetensors.Parse(buf.Bytes())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("metadata:", f.Metadata)
	for _, t := range f.Tensors {
		fmt.Println(t.Name, t.DType, t.Shape, len(t.Data), "bytes")
	}
	w, _ := f.Tensor("fc.weight")
	dst := make([]float32, w.NumElements()) // sized once, reused
	if err := w.CopyFloat32s(dst); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(dst)
	if _, err := w.Int8s(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// metadata: map[format:pt]
	// fc.weight F32 [2 3] 24 bytes
	// fc.bias F32 [2] 8 bytes
	// step I32 [] 4 bytes
	// [0.5 -1 2 0.25 0 3]
	// safetensors: tensor "fc.weight": dtype is F32, want I8
}

func ExampleParse_error() {
	// A header whose tensor claims 8 bytes of a 4-byte buffer.
	hdr := `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	b := append([]byte{byte(len(hdr)), 0, 0, 0, 0, 0, 0, 0}, hdr...)
	b = append(b, 0, 0, 0x80, 0x3f)
	_, err := safetensors.Parse(b)
	fmt.Println(err)
	// Output:
	// safetensors: tensor "w": data_offsets [0,8] extend beyond the end of the 4-byte buffer
}

func ExampleFloat16ToFloat32() {
	for _, h := range []uint16{0x3c00, 0x0001, 0x7bff, 0xfc00, 0x7e00} {
		fmt.Println(safetensors.Float16ToFloat32(h))
	}
	// Output:
	// 1
	// 5.9604645e-08
	// 65504
	// -Inf
	// NaN
}

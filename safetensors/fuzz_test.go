package safetensors

import (
	"bytes"
	"maps"
	"runtime"
	"slices"
	"testing"
)

// fuzzSeeds returns valid files of every dtype and one malformed file per
// validation rule.
func fuzzSeeds(f testing.TB) [][]byte {
	seeds := [][]byte{
		encode(f, map[string]string{"format": "pt"}, sampleTensors()),
		encode(f, nil, nil),
		encode(f, nil, []Tensor{FromFloat32("a", []int{0}, nil), FromFloat32("b", []int{0}, nil)}),
		withHeader(`{"b":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"a":{"dtype":"BF16","shape":[],"data_offsets":[2,4]}}  `, []byte{0, 0x3c, 0x80, 0x3f}),
	}
	for _, m := range malformedFiles() {
		seeds = append(seeds, m.file)
	}
	return seeds
}

// FuzzParse checks that Parse never panics, and that whatever it accepts
// Encode writes back and Parse reads again to the same tensors and metadata.
// Read and ReadIndex must accept exactly what Parse accepts, and ReadIndex
// must place every tensor where Parse found it.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		sf, serr := Read(bytes.NewReader(data), int64(len(data)))
		if (err == nil) != (serr == nil) {
			t.Fatalf("Parse error %v, Read error %v", err, serr)
		}
		idx, ierr := ReadIndex(bytes.NewReader(data), int64(len(data)))
		if (err == nil) != (ierr == nil) {
			t.Fatalf("Parse error %v, ReadIndex error %v", err, ierr)
		}
		if err != nil {
			return
		}
		if d := sameTensors(sf.Tensors, file.Tensors); d != "" {
			t.Fatalf("Read and Parse differ: %s", d)
		}
		if len(idx.Tensors) != len(file.Tensors) || !maps.Equal(idx.Metadata, file.Metadata) {
			t.Fatalf("ReadIndex found %d tensors and metadata %v, Parse %d and %v", len(idx.Tensors), idx.Metadata, len(file.Tensors), file.Metadata)
		}
		for i, x := range idx.Tensors {
			p := &file.Tensors[i]
			if x.Name != p.Name || x.DType != p.DType || !slices.Equal(x.Shape, p.Shape) ||
				!bytes.Equal(data[x.Offset:x.Offset+x.Size], p.Data) {
				t.Fatalf("ReadIndex tensor %d: %q %s %v at %d+%d, Parse %q %s %v", i, x.Name, x.DType, x.Shape, x.Offset, x.Size, p.Name, p.DType, p.Shape)
			}
		}
		for i := range file.Tensors {
			x := &file.Tensors[i]
			if x.NumElements()*x.DType.Size() != len(x.Data) {
				t.Fatalf("tensor %q: %d elements of %s in %d bytes", x.Name, x.NumElements(), x.DType, len(x.Data))
			}
			x.Float32s()
			x.Float64s()
			x.Int8s()
			x.Bools()
		}
		var buf bytes.Buffer
		if err := Encode(&buf, file.Metadata, file.Tensors); err != nil {
			t.Fatalf("Encode of an accepted file: %v", err)
		}
		again, err := Parse(buf.Bytes())
		if err != nil {
			t.Fatalf("Parse of re-encoded file: %v", err)
		}
		if d := sameTensors(again.Tensors, file.Tensors); d != "" {
			t.Fatalf("re-encoded file differs: %s", d)
		}
		if !maps.Equal(again.Metadata, file.Metadata) {
			t.Fatalf("metadata %v, want %v", again.Metadata, file.Metadata)
		}
	})
}

// TestParseAllocBound checks that what Parse and Read allocate is bounded by
// the size of the input, even when the header claims huge tensors.
func TestParseAllocBound(t *testing.T) {
	inputs := fuzzSeeds(t)
	inputs = append(inputs,
		withHeader(`{"a":{"dtype":"F64","shape":[1000000000000],"data_offsets":[0,8000000000000]}}`, nil),
		withHeader(`{"a":{"dtype":"U8","shape":[4294967295,4294967295],"data_offsets":[0,18446744065119617025]}}`, nil),
		withLen(1<<62, "{}"),
		// Valid header, missing buffer: Read with no limit must not trust it.
		withHeader(`{"a":{"dtype":"U8","shape":[1000000000],"data_offsets":[0,1000000000]}}`, []byte{1, 2}),
	)
	for i, in := range inputs {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		Parse(in)
		Read(bytes.NewReader(in), int64(len(in)))
		Read(bytes.NewReader(in), 0) // no limit
		runtime.ReadMemStats(&after)
		if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(64*len(in)+64<<10); got > limit {
			t.Errorf("input %d (%d bytes): allocated %d bytes, limit %d", i, len(in), got, limit)
		}
	}
}

package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// sampleTensors returns one tensor of every supported dtype, with awkward
// values (extremes, negative zero, NaN bits) and shapes (scalar, empty,
// odd sizes).
func sampleTensors() []Tensor {
	return []Tensor{
		FromFloat64("f64", []int{2, 2}, []float64{1.5, math.Copysign(0, -1), math.MaxFloat64, math.SmallestNonzeroFloat64}),
		FromFloat32("f32", []int{3}, []float32{float32(math.NaN()), float32(math.Inf(-1)), 0.1}),
		{Name: "f16", DType: F16, Shape: []int{2, 1}, Data: []byte{0x00, 0x3c, 0x01, 0x80}},
		{Name: "bf16", DType: BF16, Shape: []int{}, Data: []byte{0x80, 0x3f}},
		FromInt64("i64", []int{2}, []int64{math.MinInt64, math.MaxInt64}),
		FromInt32("i32", []int{1, 1, 3}, []int32{math.MinInt32, -1, math.MaxInt32}),
		FromInt16("i16", []int{3}, []int16{math.MinInt16, 0, math.MaxInt16}),
		FromInt8("i8", []int{5}, []int8{-128, -1, 0, 1, 127}),
		FromUint8("u8", []int{0, 4}, []uint8{}),
		FromBool("bool", []int{3}, []bool{true, false, true}),
	}
}

func encode(t testing.TB, meta map[string]string, tensors []Tensor) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, meta, tensors); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return buf.Bytes()
}

// sameTensors reports how got differs from want, or "" if they are equal.
func sameTensors(got, want []Tensor) string {
	if len(got) != len(want) {
		return "got " + strings.Join(names(got), ",") + ", want " + strings.Join(names(want), ",")
	}
	for i := range got {
		g, w := got[i], want[i]
		switch {
		case g.Name != w.Name:
			return "tensor " + g.Name + " in place of " + w.Name
		case g.DType != w.DType:
			return g.Name + ": dtype " + string(g.DType) + ", want " + string(w.DType)
		case !slices.Equal(g.Shape, w.Shape):
			return g.Name + ": shape " + formatShape(g.Shape) + ", want " + formatShape(w.Shape)
		case !bytes.Equal(g.Data, w.Data):
			return g.Name + ": data differ"
		}
	}
	return ""
}

func names(ts []Tensor) []string { return (&File{Tensors: ts}).Names() }

func TestRoundTrip(t *testing.T) {
	all := sampleTensors()
	cases := []struct {
		name    string
		meta    map[string]string
		tensors []Tensor
	}{
		{"empty", nil, nil},
		{"metadata only", map[string]string{"format": "pt", "": "", "ünï\"code\n": "<&>"}, nil},
		{"all dtypes with metadata", map[string]string{"epoch": "3", "format": "pt"}, all},
		{"zero-size tensors", nil, []Tensor{
			FromFloat32("a", []int{0}, nil), FromFloat32("b", []int{2, 0}, nil), FromInt8("c", []int{1}, []int8{7}),
		}},
	}
	for _, d := range all {
		cases = append(cases, struct {
			name    string
			meta    map[string]string
			tensors []Tensor
		}{string(d.DType), nil, []Tensor{d}})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := encode(t, c.meta, c.tensors)
			if hl := binary.LittleEndian.Uint64(b); hl%8 != 0 {
				t.Errorf("header length %d is not a multiple of 8", hl)
			}
			f, err := Parse(b)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if d := sameTensors(f.Tensors, c.tensors); d != "" {
				t.Errorf("Parse: %s", d)
			}
			if !maps.Equal(f.Metadata, c.meta) {
				t.Errorf("Parse: metadata %v, want %v", f.Metadata, c.meta)
			}

			// The stream reader, one byte at a time, must agree.
			g, err := Read(iotest.OneByteReader(bytes.NewReader(b)), int64(len(b)))
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if d := sameTensors(g.Tensors, c.tensors); d != "" {
				t.Errorf("Read: %s", d)
			}

			path := filepath.Join(t.TempDir(), "m.safetensors")
			if err := WriteFile(path, c.meta, c.tensors); err != nil {
				t.Fatalf("WriteFile: %v", err)
			}
			h, err := ReadFile(path, 0)
			if err != nil {
				t.Fatalf("ReadFile: %v", err)
			}
			if d := sameTensors(h.Tensors, c.tensors); d != "" {
				t.Errorf("ReadFile: %s", d)
			}
			if !maps.Equal(h.Metadata, c.meta) {
				t.Errorf("ReadFile: metadata %v, want %v", h.Metadata, c.meta)
			}
		})
	}
}

// TestGolden pins the byte layout Encode writes, and checks Parse reads it.
func TestGolden(t *testing.T) {
	tensors := []Tensor{
		FromFloat32("b", []int{2}, []float32{1, -2}),
		FromInt8("a", []int{3}, []int8{1, -1, 127}),
		{Name: "c", DType: F16, Shape: []int{}, Data: []byte{0x00, 0x3c}},
	}
	meta := map[string]string{"format": "catd"}

	header := `{"__metadata__":{"format":"catd"},` +
		`"a":{"dtype":"I8","shape":[3],"data_offsets":[8,11]},` +
		`"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},` +
		`"c":{"dtype":"F16","shape":[],"data_offsets":[11,13]}}` +
		"      " // 194 bytes of JSON padded to 200
	want := []byte{200, 0, 0, 0, 0, 0, 0, 0}
	want = append(want, header...)
	want = append(want,
		0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0, // b: 1, -2
		0x01, 0xff, 0x7f, // a: 1, -1, 127
		0x00, 0x3c, // c: 1 (F16)
	)

	got := encode(t, meta, tensors)
	if !bytes.Equal(got, want) {
		t.Fatalf("Encode:\n got %q\nwant %q", got, want)
	}
	f, err := Parse(want)
	if err != nil {
		t.Fatal(err)
	}
	if d := sameTensors(f.Tensors, tensors); d != "" {
		t.Error(d)
	}
	if c, _ := f.Tensor("c"); c == nil || c.NumElements() != 1 {
		t.Errorf("scalar c: %+v", c)
	}
	if v, _ := f.Tensors[0].Float32s(); !slices.Equal(v, []float32{1, -2}) {
		t.Errorf("b = %v", v)
	}
}

// TestReferenceLayout parses a file laid out as the reference writer does it
// (metadata first, tensors sorted by descending dtype alignment then name,
// header in offset order rather than name order, tab and newline padding).
func TestReferenceLayout(t *testing.T) {
	hdr := `{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},` +
		`"b":{"dtype":"F16","shape":[1],"data_offsets":[8,10]}}` + " \t\n\r "
	b := withHeader(hdr, []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0x00, 0xc0})
	f, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Names(); !slices.Equal(got, []string{"w", "b"}) {
		t.Errorf("Names = %v, want [w b] (offset order)", got)
	}
	w, _ := f.Tensor("w")
	if v, err := w.Float32s(); err != nil || !slices.Equal(v, []float32{1, 2}) {
		t.Errorf("w = %v, %v", v, err)
	}
	bias, _ := f.Tensor("b")
	if v, err := bias.Float32s(); err != nil || !slices.Equal(v, []float32{-2}) {
		t.Errorf("b = %v, %v", v, err)
	}
	if _, ok := f.Tensor("missing"); ok {
		t.Error("Tensor(missing) found")
	}
}

// TestParseAliases checks the documented aliasing: Data points into the
// input, and appending to one tensor does not overwrite the next.
func TestParseAliases(t *testing.T) {
	b := encode(t, nil, []Tensor{FromUint8("a", []int{2}, []uint8{1, 2}), FromUint8("b", []int{2}, []uint8{3, 4})})
	f, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-4] = 9
	if f.Tensors[0].Data[0] != 9 {
		t.Error("Data does not alias the input")
	}
	_ = append(f.Tensors[0].Data, 0xee)
	if f.Tensors[1].Data[0] != 3 {
		t.Error("append to one tensor overwrote the next")
	}
}

// withHeader builds a file from a header string and a buffer.
func withHeader(hdr string, buf []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
	return append(append(b, hdr...), buf...)
}

func withLen(n uint64, rest string) []byte {
	return append(binary.LittleEndian.AppendUint64(nil, n), rest...)
}

type malformed struct {
	name string
	file []byte
	want string // fragment of the error
}

// malformedFiles returns one broken file per validation rule.
func malformedFiles() []malformed {
	f32 := func(name, shape, off string) string {
		return `"` + name + `":{"dtype":"F32","shape":` + shape + `,"data_offsets":` + off + `}`
	}
	one := func(body string, n int) []byte { return withHeader("{"+body+"}", make([]byte, n)) }
	return []malformed{
		{"empty file", nil, "file is 0 bytes, shorter than the 8-byte header length"},
		{"short file", []byte{1, 2, 3}, "file is 3 bytes, shorter than the 8-byte header length"},
		{"header over limit", withLen(MaxHeaderSize+1, "{}"), "header length 4194305 exceeds the limit of 4194304 bytes (4 MiB"},
		{"header length max uint64", withLen(math.MaxUint64, "{}"), "exceeds the limit"},
		{"header beyond file", withLen(100, "{}      "), "header length 100 exceeds the 8 bytes after the length prefix"},
		{"header not UTF-8", withHeader("{\"\xff\":1}", nil), "header is not valid UTF-8"},
		{"header not JSON", withHeader(`{"a":`, nil), "header is not valid JSON"},
		{"header empty", withHeader("", nil), "header is not valid JSON"},
		{"header bad syntax", withHeader(`{"a" 1}`, nil), "header is not valid JSON"},
		{"header not object", withHeader(`[]`, nil), "header is an array, not a JSON object"},
		{"header string", withHeader(`"x"`, nil), "header is a string, not a JSON object"},
		{"data after header object", withHeader(`{} {}`, nil), "header has data after the JSON object"},
		{"NUL padding", withHeader("{}\x00\x00", nil), "header has data after the JSON object"},
		{"entry not object", one(`"a":[1]`, 0), `tensor "a": header entry is an array, not an object`},
		{"dtype not string", one(`"a":{"dtype":4,"shape":[],"data_offsets":[0,4]}`, 4), `tensor "a": dtype is a number, not a string`},
		{"unknown dtype", one(`"a":{"dtype":"F8_E4M3","shape":[],"data_offsets":[0,1]}`, 1), `tensor "a": unsupported dtype "F8_E4M3"`},
		{"unsupported dtype U16", one(`"a":{"dtype":"U16","shape":[],"data_offsets":[0,2]}`, 2), `tensor "a": unsupported dtype "U16"`},
		{"lower-case dtype", one(`"a":{"dtype":"f32","shape":[],"data_offsets":[0,4]}`, 4), `unsupported dtype "f32"`},
		{"shape not array", one(f32("a", `"2"`, `[0,8]`), 8), `tensor "a": shape is a string, not an array`},
		{"shape of strings", one(f32("a", `["2"]`, `[0,8]`), 8), `tensor "a": shape: dimension is a string, not an integer`},
		{"negative dimension", one(f32("a", `[2,-1]`, `[0,8]`), 8), `tensor "a": shape: negative dimension -1`},
		{"fractional dimension", one(f32("a", `[1.5]`, `[0,8]`), 8), `tensor "a": shape: dimension 1.5 is not an integer`},
		{"exponent dimension", one(f32("a", `[2e0]`, `[0,8]`), 8), `dimension 2e0 is not an integer`},
		{"dimension over uint64", one(f32("a", `[18446744073709551616]`, `[0,8]`), 8), `dimension 18446744073709551616 is too large`},
		{"dimension over int", one(f32("a", `[9223372036854775808]`, `[0,8]`), 8), `dimension 9223372036854775808 is too large`},
		{"shape product overflows", one(f32("a", `[4294967296,4294967296,0]`, `[0,0]`), 0), `tensor "a": shape [4294967296,4294967296,0] overflows`},
		{"shape bytes overflow", one(f32("a", `[4611686018427387904]`, `[0,0]`), 0), `tensor "a": shape [4611686018427387904] with 4-byte elements overflows`},
		{"offsets not array", one(f32("a", `[2]`, `"0,8"`), 8), `tensor "a": data_offsets is a string, not an array [begin, end]`},
		{"offsets object", one(f32("a", `[2]`, `{}`), 8), `data_offsets is an object, not an array`},
		{"one offset", one(f32("a", `[2]`, `[0]`), 8), `tensor "a": data_offsets has 1 elements, want [begin, end]`},
		{"three offsets", one(f32("a", `[2]`, `[0,8,8]`), 8), `tensor "a": data_offsets has more than 2 elements`},
		{"negative offset", one(f32("a", `[2]`, `[-8,0]`), 8), `tensor "a": data_offsets: negative data offset -8`},
		{"null offset", one(f32("a", `[2]`, `[null,8]`), 8), `data offset is null, not an integer`},
		{"begin after end", one(f32("a", `[2]`, `[8,0]`), 8), `tensor "a": data_offsets [8,0] begin after they end`},
		{"size mismatch", one(f32("a", `[2]`, `[0,4]`), 4), `tensor "a": data_offsets [0,4] hold 4 bytes, but F32 [2] needs 8`},
		{"huge shape, small span", one(f32("a", `[10000,10000]`, `[0,8]`), 8), `hold 8 bytes, but F32 [10000,10000] needs 400000000`},
		{"offsets beyond buffer", one(f32("a", `[2]`, `[0,8]`), 4), `tensor "a": data_offsets [0,8] extend beyond the end of the 4-byte buffer`},
		{"huge offsets", one(f32("a", `[2]`, `[18446744073709551608,18446744073709551615]`), 8), `hold 7 bytes`},
		{"offsets near max", one(f32("a", `[2]`, `[18446744073709551600,18446744073709551608]`), 8), `hole of 18446744073709551600 bytes before tensor "a"`},
		{"overlap", one(f32("a", `[2]`, `[0,8]`)+","+f32("b", `[2]`, `[4,12]`), 12), `tensors "a" (data_offsets [0,8]) and "b" (data_offsets [4,12]) overlap`},
		{"same offsets", one(f32("a", `[2]`, `[0,8]`)+","+f32("b", `[2]`, `[0,8]`), 8), `tensors "a" (data_offsets [0,8]) and "b" (data_offsets [0,8]) overlap`},
		{"empty tensor inside another", one(f32("a", `[2]`, `[0,8]`)+","+f32("b", `[0]`, `[4,4]`), 8), `overlap`},
		{"hole between", one(f32("a", `[1]`, `[0,4]`)+","+f32("b", `[1]`, `[8,12]`), 12), `hole of 4 bytes before tensor "b" (data_offsets [8,12])`},
		{"hole at start", one(f32("a", `[1]`, `[4,8]`), 8), `hole of 4 bytes before tensor "a"`},
		{"uncovered tail", one(f32("a", `[1]`, `[0,4]`), 6), `not covered by any tensor`},
		{"no tensors, data", one(``, 1), `not covered by any tensor`},
		{"duplicate tensor", one(f32("a", `[1]`, `[0,4]`)+","+f32("a", `[1]`, `[4,8]`), 8), `duplicate tensor name "a"`},
		{"duplicate metadata", one(`"__metadata__":{},"__metadata__":{}`, 0), `duplicate __metadata__`},
		{"metadata not object", one(`"__metadata__":["a"]`, 0), `__metadata__ is an array, not an object`},
		{"metadata value number", one(`"__metadata__":{"k":1}`, 0), `__metadata__: value of "k" is a number, not a string`},
		{"metadata value object", one(`"__metadata__":{"k":{}}`, 0), `__metadata__: value of "k" is an object, not a string`},
		{"metadata value null", one(`"__metadata__":{"k":null}`, 0), `value of "k" is null, not a string`},
		{"duplicate metadata key", one(`"__metadata__":{"k":"1","k":"2"}`, 0), `__metadata__: duplicate key "k"`},
		{"unknown field", one(`"a":{"dtype":"F32","shape":[1],"offsets":[0,4]}`, 4), `tensor "a": unknown field "offsets"`},
		{"duplicate field", one(`"a":{"dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4]}`, 4), `tensor "a": duplicate field "dtype"`},
		{"missing dtype", one(`"a":{"shape":[1],"data_offsets":[0,4]}`, 4), `tensor "a": missing dtype`},
		{"missing shape", one(`"a":{"dtype":"F32","data_offsets":[0,4]}`, 4), `tensor "a": missing shape`},
		{"missing offsets", one(`"a":{"dtype":"F32","shape":[1]}`, 4), `tensor "a": missing data_offsets`},
	}
}

func TestMalformed(t *testing.T) {
	for _, c := range malformedFiles() {
		t.Run(c.name, func(t *testing.T) {
			if strings.Contains(c.name, "overflow") && math.MaxInt == math.MaxInt32 {
				t.Skip("the dimensions themselves are too large for 32-bit int")
			}
			f, err := Parse(c.file)
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", f)
			}
			if !strings.HasPrefix(err.Error(), "safetensors: ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Parse error %q, want it to contain %q", err, c.want)
			}
			_, err = Read(bytes.NewReader(c.file), 0)
			if err == nil {
				t.Fatal("Read accepted it")
			}
			if !strings.HasPrefix(err.Error(), "safetensors: ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Read error %q, want it to contain %q", err, c.want)
			}
		})
	}
}

// TestMetadataNull checks that "__metadata__": null, which the reference
// implementation accepts, reads as no metadata.
func TestMetadataNull(t *testing.T) {
	f, err := Parse(withHeader(`{"__metadata__":null}`, nil))
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata != nil || len(f.Tensors) != 0 {
		t.Errorf("got %+v", f)
	}
}

func TestReadLimits(t *testing.T) {
	valid := encode(t, map[string]string{"k": "v"}, []Tensor{FromFloat32("w", []int{4}, []float32{1, 2, 3, 4})})
	size := int64(len(valid))
	hdrLen := int64(binary.LittleEndian.Uint64(valid))
	errRead := errors.New("disk on fire")
	cases := []struct {
		name     string
		r        io.Reader // nil for the valid file
		maxBytes int64
		want     string // "" for success
	}{
		{name: "exact limit", maxBytes: size},
		{name: "no limit", maxBytes: 0},
		{name: "negative means no limit", maxBytes: -1},
		{name: "one byte over", maxBytes: size - 1, want: "more than the limit of"},
		{name: "header over limit", maxBytes: 8 + hdrLen - 1, want: "more than the limit of"},
		{name: "tiny limit", maxBytes: 1, want: "more than the limit of 1 bytes"},
		{name: "read error in prefix", r: iotest.ErrReader(errRead), want: "safetensors: read: disk on fire"},
		{name: "read error in header", r: io.MultiReader(bytes.NewReader(valid[:12]), iotest.ErrReader(errRead)), want: "safetensors: read: disk on fire"},
		{name: "read error in buffer", r: io.MultiReader(bytes.NewReader(valid[:size-2]), iotest.ErrReader(errRead)), want: "safetensors: read: disk on fire"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.r
			if r == nil {
				r = bytes.NewReader(valid)
			}
			f, err := Read(r, c.maxBytes)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(f.Tensors) != 1 {
					t.Errorf("got %+v", f)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want it to contain %q", err, c.want)
			}
		})
	}

	t.Run("trailing data in stream", func(t *testing.T) {
		_, err := Read(bytes.NewReader(append(slices.Clone(valid), 0)), 0)
		if err == nil || !strings.Contains(err.Error(), "not covered by any tensor") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("truncated stream", func(t *testing.T) {
		_, err := Read(bytes.NewReader(valid[:len(valid)-3]), 0)
		if err == nil || !strings.Contains(err.Error(), `tensor "w": data_offsets [0,16] extend beyond the end of the 13-byte buffer`) {
			t.Errorf("error %v", err)
		}
	})
	t.Run("stream claims huge buffer", func(t *testing.T) {
		// A 1 GB tensor under a 1 MB limit is refused before allocating.
		b := withHeader(`{"a":{"dtype":"U8","shape":[1000000000],"data_offsets":[0,1000000000]}}`, nil)
		allocs := testing.AllocsPerRun(1, func() { Read(bytes.NewReader(b), 1<<20) })
		_, err := Read(bytes.NewReader(b), 1<<20)
		if err == nil || !strings.Contains(err.Error(), "more than the limit") {
			t.Errorf("error %v", err)
		}
		t.Logf("%v allocations", allocs)
	})
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.safetensors")
	if err := WriteFile(good, nil, []Tensor{FromInt32("x", []int{2}, []int32{1, 2})}); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.safetensors")
	if err := os.WriteFile(bad, []byte{1, 2}, 0o644); err != nil {
		t.Fatal(err)
	}
	liar := filepath.Join(dir, "liar.safetensors")
	if err := os.WriteFile(liar, withHeader(`{"a":{"dtype":"U8","shape":[1000000000],"data_offsets":[0,1000000000]}}`, []byte{1}), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path string
		maxBytes   int64
		want       string
	}{
		{"good", good, 1 << 20, ""},
		{"over limit", good, 10, "good.safetensors: file is at least"},
		{"malformed", bad, 0, "safetensors: " + bad + ": file is 2 bytes, shorter than the 8-byte header length"},
		{"missing", filepath.Join(dir, "nope"), 0, "nope: no such file"},
		{"header claims more than the file", liar, 0, `liar.safetensors: tensor "a": data_offsets [0,1000000000] extend beyond the end of the 1-byte buffer`},
		{"directory", dir, 0, dir},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := ReadFile(c.path, c.maxBytes)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if v, err := f.Tensors[0].Int32s(); err != nil || !slices.Equal(v, []int32{1, 2}) {
					t.Errorf("x = %v, %v", v, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	ok := FromFloat32("ok", []int{1}, []float32{1})
	cases := []struct {
		name    string
		meta    map[string]string
		tensors []Tensor
		want    string
	}{
		{"duplicate name", nil, []Tensor{ok, ok}, `duplicate tensor name "ok"`},
		{"reserved name", nil, []Tensor{{Name: "__metadata__", DType: U8, Shape: []int{0}}}, `tensor name "__metadata__" is reserved`},
		{"name not UTF-8", nil, []Tensor{{Name: "\xff", DType: U8, Shape: []int{0}}}, `is not valid UTF-8`},
		{"metadata not UTF-8", map[string]string{"k": "\xfe"}, nil, `__metadata__: key "k" or its value is not valid UTF-8`},
		{"unsupported dtype", nil, []Tensor{{Name: "x", DType: "U16", Shape: []int{0}}}, `tensor "x": unsupported dtype "U16"`},
		{"empty dtype", nil, []Tensor{{Name: "x", Shape: []int{0}}}, `tensor "x": unsupported dtype ""`},
		{"negative dimension", nil, []Tensor{{Name: "x", DType: U8, Shape: []int{-1}}}, `tensor "x": negative dimension -1 at index 0 of shape [-1]`},
		{"overflow", nil, []Tensor{{Name: "x", DType: F64, Shape: []int{math.MaxInt / 4}}}, `tensor "x": shape`},
		{"size mismatch", nil, []Tensor{{Name: "x", DType: F32, Shape: []int{2}, Data: make([]byte, 7)}}, `tensor "x": data is 7 bytes, but F32 [2] needs 8`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Encode(&buf, c.meta, c.tensors)
			if err == nil || !strings.HasPrefix(err.Error(), "safetensors: ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want it to contain %q", err, c.want)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes before failing", buf.Len())
			}
		})
	}
	t.Run("writer error", func(t *testing.T) {
		err := Encode(failWriter{}, nil, []Tensor{ok})
		if err == nil || !strings.Contains(err.Error(), "safetensors: write: no space") {
			t.Errorf("error %v", err)
		}
	})
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("no space") }

func TestFromPanics(t *testing.T) {
	cases := []struct {
		name string
		f    func()
		want string
	}{
		{"too few values", func() { FromFloat32("w", []int{2, 2}, []float32{1}) }, `safetensors: tensor "w": shape [2,2] does not hold 1 values`},
		{"negative", func() { FromInt8("w", []int{-1}, nil) }, `safetensors: tensor "w": negative dimension`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.HasPrefix(s, c.want) {
					t.Errorf("panic %v, want %q", r, c.want)
				}
			}()
			c.f()
		})
	}
}

func TestFromCopiesShape(t *testing.T) {
	shape := []int{2}
	x := FromUint8("x", shape, []uint8{1, 2})
	shape[0] = 5
	if x.Shape[0] != 2 {
		t.Error("tensor shares the caller's shape slice")
	}
}

func BenchmarkParse(b *testing.B) {
	for _, n := range []int{1, 16, 256} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			ts := make([]Tensor, n)
			for i := range ts {
				ts[i] = FromFloat32("layer"+strconv.Itoa(i)+".weight", []int{8, 3, 3, 8}, make([]float32, 8*3*3*8))
			}
			file := encode(b, map[string]string{"format": "pt"}, ts)
			b.SetBytes(int64(len(file)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(file); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package safetensors

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestFloat16ToFloat32(t *testing.T) {
	cases := []struct {
		name string
		h    uint16
		want uint32 // float32 bits, so that -0 and NaN payloads are checked
	}{
		{"+0", 0x0000, 0x00000000},
		{"-0", 0x8000, 0x80000000},
		{"1", 0x3c00, math.Float32bits(1)},
		{"-2", 0xc000, math.Float32bits(-2)},
		{"1/3 rounded", 0x3555, math.Float32bits(0.333251953125)},
		{"largest below 1", 0x3bff, math.Float32bits(0.99951171875)},
		{"max normal 65504", 0x7bff, math.Float32bits(65504)},
		{"min normal 2^-14", 0x0400, math.Float32bits(0x1p-14)},
		{"min subnormal 2^-24", 0x0001, math.Float32bits(0x1p-24)},
		{"max subnormal", 0x03ff, math.Float32bits(1023 * 0x1p-24)},
		{"subnormal 2^-15", 0x0200, math.Float32bits(0x1p-15)},
		{"negative subnormal", 0x8001, math.Float32bits(-0x1p-24)},
		{"+Inf", 0x7c00, 0x7f800000},
		{"-Inf", 0xfc00, 0xff800000},
		{"quiet NaN", 0x7e00, 0x7fc00000},
		{"negative quiet NaN", 0xfe00, 0xffc00000},
		{"signalling NaN keeps payload", 0x7c01, 0x7f802000},
		{"NaN all payload bits", 0x7fff, 0x7fffe000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := math.Float32bits(Float16ToFloat32(c.h)); got != c.want {
				t.Errorf("Float16ToFloat32(%#04x) = %#08x (%g), want %#08x (%g)",
					c.h, got, math.Float32frombits(got), c.want, math.Float32frombits(c.want))
			}
		})
	}
}

// float16Ref is the reference decoding of IEEE binary16 straight from its
// definition, in float64.
func float16Ref(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	e, m := int(h>>10&0x1f), float64(h&0x3ff)
	switch e {
	case 0:
		return sign * math.Ldexp(m, -24)
	case 0x1f:
		if m == 0 {
			return math.Inf(int(sign))
		}
		return math.NaN()
	}
	return sign * math.Ldexp(1024+m, e-25)
}

// bfloat16Ref decodes bfloat16 (1 sign, 8 exponent, 7 mantissa bits) from
// its definition, in float64.
func bfloat16Ref(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	e, m := int(h>>7&0xff), float64(h&0x7f)
	switch e {
	case 0:
		return sign * math.Ldexp(m, -133)
	case 0xff:
		if m == 0 {
			return math.Inf(int(sign))
		}
		return math.NaN()
	}
	return sign * math.Ldexp(128+m, e-134)
}

// TestHalfExhaustive compares both 16-bit conversions with their references
// for all 65536 inputs, signs of zeros included.
func TestHalfExhaustive(t *testing.T) {
	for _, c := range []struct {
		name string
		conv func(uint16) float32
		ref  func(uint16) float64
	}{
		{"F16", Float16ToFloat32, float16Ref},
		{"BF16", BFloat16ToFloat32, bfloat16Ref},
	} {
		t.Run(c.name, func(t *testing.T) {
			for i := range 1 << 16 {
				h := uint16(i)
				got, want := float64(c.conv(h)), c.ref(h)
				if math.IsNaN(want) {
					if !math.IsNaN(got) || math.Signbit(got) != (h&0x8000 != 0) {
						t.Fatalf("%#04x: got %g, want NaN with the same sign", h, got)
					}
					continue
				}
				if got != want || math.Signbit(got) != math.Signbit(want) {
					t.Fatalf("%#04x: got %g, want %g", h, got, want)
				}
			}
		})
	}
}

func TestBFloat16ToFloat32(t *testing.T) {
	cases := []struct {
		name string
		h    uint16
		want uint32
	}{
		{"1", 0x3f80, math.Float32bits(1)},
		{"pi rounded", 0x4049, math.Float32bits(3.140625)},
		{"-0", 0x8000, 0x80000000},
		{"min subnormal 2^-133", 0x0001, math.Float32bits(0x1p-133)},
		{"+Inf", 0x7f80, 0x7f800000},
		{"-Inf", 0xff80, 0xff800000},
		{"quiet NaN", 0x7fc0, 0x7fc00000},
		{"signalling NaN", 0x7f81, 0x7f810000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := math.Float32bits(BFloat16ToFloat32(c.h)); got != c.want {
				t.Errorf("BFloat16ToFloat32(%#04x) = %#08x, want %#08x", c.h, got, c.want)
			}
		})
	}
}

func TestFloatAccessors(t *testing.T) {
	cases := []struct {
		name string
		t    Tensor
		want []float32
	}{
		{"F32", FromFloat32("x", []int{3}, []float32{1.5, -0.25, 3e38}), []float32{1.5, -0.25, 3e38}},
		{"F64 rounds", FromFloat64("x", []int{3}, []float64{0.1, 1e300, -1e-300}), []float32{0.1, float32(math.Inf(1)), float32(math.Copysign(0, -1))}},
		{"F16", Tensor{Name: "x", DType: F16, Shape: []int{3}, Data: []byte{0x00, 0x3c, 0x01, 0x00, 0x00, 0xfc}}, []float32{1, 0x1p-24, float32(math.Inf(-1))}},
		{"BF16", Tensor{Name: "x", DType: BF16, Shape: []int{1, 2}, Data: []byte{0x80, 0x3f, 0x49, 0x40}}, []float32{1, 3.140625}},
		{"empty", FromFloat32("x", []int{0, 3}, nil), []float32{}},
		{"scalar", FromFloat32("x", []int{}, []float32{7}), []float32{7}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.t.Float32s()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, c.want, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
				t.Errorf("Float32s = %v, want %v", got, c.want)
			}
			dst := make([]float32, len(c.want))
			if err := c.t.CopyFloat32s(dst); err != nil || !slices.Equal(dst, got) {
				t.Errorf("CopyFloat32s = %v, %v", dst, err)
			}
			f64, err := c.t.Float64s()
			if err != nil {
				t.Fatal(err)
			}
			for i := range f64 {
				if c.t.DType != F64 && f64[i] != float64(got[i]) {
					t.Errorf("Float64s[%d] = %g, want %g", i, f64[i], got[i])
				}
			}
		})
	}
	t.Run("F64 exact", func(t *testing.T) {
		want := []float64{0.1, math.MaxFloat64, math.SmallestNonzeroFloat64}
		x := FromFloat64("x", []int{3}, want)
		if got, err := x.Float64s(); err != nil || !slices.Equal(got, want) {
			t.Errorf("Float64s = %v, %v", got, err)
		}
	})
}

func TestIntAccessors(t *testing.T) {
	i64 := FromInt64("x", []int{2}, []int64{math.MinInt64, 5})
	i32 := FromInt32("x", []int{2}, []int32{math.MinInt32, 5})
	i16 := FromInt16("x", []int{2}, []int16{math.MinInt16, 5})
	i8 := FromInt8("x", []int{2}, []int8{math.MinInt8, 5})
	u8 := FromUint8("x", []int{2}, []uint8{255, 5})
	bl := Tensor{Name: "x", DType: BOOL, Shape: []int{3}, Data: []byte{0, 1, 2}}
	cases := []struct {
		name      string
		got, want any
		err       error
	}{
		{"Int64s", must(i64.Int64s()), []int64{math.MinInt64, 5}, nil},
		{"Int32s", must(i32.Int32s()), []int32{math.MinInt32, 5}, nil},
		{"Int16s", must(i16.Int16s()), []int16{math.MinInt16, 5}, nil},
		{"Int8s", must(i8.Int8s()), []int8{math.MinInt8, 5}, nil},
		{"Uint8s", must(u8.Uint8s()), []uint8{255, 5}, nil},
		{"Bools nonzero is true", must(bl.Bools()), []bool{false, true, true}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
				t.Errorf("got %v, want %v", c.got, c.want)
			}
		})
	}
	t.Run("Uint8s copies", func(t *testing.T) {
		v, _ := u8.Uint8s()
		v[0] = 0
		if u8.Data[0] != 255 {
			t.Error("Uint8s aliases Data")
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestAccessorErrors(t *testing.T) {
	f32 := FromFloat32("w", []int{2}, []float32{1, 2})
	short := Tensor{Name: "w", DType: F32, Shape: []int{2}, Data: make([]byte, 5)}
	q8, qu8 := FromInt8("q", []int{1}, []int8{1}), FromUint8("q", []int{1}, []uint8{1})
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"Int8s of F32", second(f32.Int8s()), `safetensors: tensor "w": dtype is F32, want I8`},
		{"Int32s of F32", second(f32.Int32s()), `dtype is F32, want I32`},
		{"Int64s of F32", second(f32.Int64s()), `want I64`},
		{"Int16s of F32", second(f32.Int16s()), `want I16`},
		{"Uint8s of F32", second(f32.Uint8s()), `want U8`},
		{"Bools of F32", second(f32.Bools()), `want BOOL`},
		{"Float32s of I8", second(q8.Float32s()), `tensor "q": dtype is I8, want F32, F64, F16 or BF16`},
		{"Float64s of U8", second(qu8.Float64s()), `dtype is U8`},
		{"data shorter than shape", second(short.Float32s()), `tensor "w": data is 5 bytes, but F32 [2] needs 8`},
		{"CopyFloat32s short data", short.CopyFloat32s(make([]float32, 2)), `data is 5 bytes`},
		{"CopyFloat32s wrong length", f32.CopyFloat32s(make([]float32, 3)), `tensor "w": destination has 3 elements, tensor has 2`},
		{"negative shape", second((&Tensor{Name: "n", DType: F32, Shape: []int{-2}}).Float32s()), `tensor "n": negative dimension -2`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
				t.Errorf("error %v, want it to contain %q", c.err, c.want)
			}
		})
	}
}

func second[T any](_ T, err error) error { return err }

func TestCopyFloat32sNoAlloc(t *testing.T) {
	for _, d := range []DType{F32, F64, F16, BF16} {
		t.Run(string(d), func(t *testing.T) {
			x := Tensor{Name: "x", DType: d, Shape: []int{3, 37}, Data: make([]byte, 3*37*d.Size())}
			dst := make([]float32, 3*37)
			if n := testing.AllocsPerRun(100, func() { x.CopyFloat32s(dst) }); n != 0 {
				t.Errorf("%v allocations per CopyFloat32s, want 0", n)
			}
		})
	}
}

func BenchmarkCopyFloat32s(b *testing.B) {
	for _, d := range []DType{F32, F16, BF16} {
		for _, n := range []int{64, 4096, 1 << 18} {
			b.Run(fmt.Sprintf("%s/%d", d, n), func(b *testing.B) {
				x := Tensor{Name: "x", DType: d, Shape: []int{n}, Data: make([]byte, n*d.Size())}
				dst := make([]float32, n)
				b.SetBytes(int64(len(x.Data)))
				b.ReportAllocs()
				for b.Loop() {
					if err := x.CopyFloat32s(dst); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

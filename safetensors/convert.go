package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
)

// newTensor returns a tensor with a copy of shape and room for n elements of
// dtype, panicking if shape does not hold n elements.
func newTensor(name string, dtype DType, shape []int, n int) Tensor {
	size, err := byteLen(shape, dtype.Size())
	if err != nil {
		panic(fmt.Sprintf("safetensors: tensor %q: %v", name, err))
	}
	if size != n*dtype.Size() {
		panic(fmt.Sprintf("safetensors: tensor %q: shape %s does not hold %d values", name, formatShape(shape), n))
	}
	return Tensor{Name: name, DType: dtype, Shape: append([]int{}, shape...), Data: make([]byte, size)}
}

// FromFloat64 returns an F64 tensor holding a copy of shape and of v. It
// panics if product(shape) != len(v).
func FromFloat64(name string, shape []int, v []float64) Tensor {
	t := newTensor(name, F64, shape, len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(t.Data[8*i:], math.Float64bits(x))
	}
	return t
}

// FromFloat32 returns an F32 tensor holding a copy of shape and of v. It
// panics if product(shape) != len(v).
func FromFloat32(name string, shape []int, v []float32) Tensor {
	t := newTensor(name, F32, shape, len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(t.Data[4*i:], math.Float32bits(x))
	}
	return t
}

// FromInt64 returns an I64 tensor holding a copy of shape and of v. It
// panics if product(shape) != len(v).
func FromInt64(name string, shape []int, v []int64) Tensor {
	t := newTensor(name, I64, shape, len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(t.Data[8*i:], uint64(x))
	}
	return t
}

// FromInt32 returns an I32 tensor holding a copy of shape and of v. It
// panics if product(shape) != len(v).
func FromInt32(name string, shape []int, v []int32) Tensor {
	t := newTensor(name, I32, shape, len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(t.Data[4*i:], uint32(x))
	}
	return t
}

// FromInt16 returns an I16 tensor holding a copy of shape and of v. It
// panics if product(shape) != len(v).
func FromInt16(name string, shape []int, v []int16) Tensor {
	t := newTensor(name, I16, shape, len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(t.Data[2*i:], uint16(x))
	}
	return t
}

// FromInt8 returns an I8 tensor holding a copy of shape and of v. It panics
// if product(shape) != len(v).
func FromInt8(name string, shape []int, v []int8) Tensor {
	t := newTensor(name, I8, shape, len(v))
	for i, x := range v {
		t.Data[i] = byte(x)
	}
	return t
}

// FromUint8 returns a U8 tensor holding a copy of shape and of v. It panics
// if product(shape) != len(v).
func FromUint8(name string, shape []int, v []uint8) Tensor {
	t := newTensor(name, U8, shape, len(v))
	copy(t.Data, v)
	return t
}

// FromBool returns a BOOL tensor (one byte per element, 1 for true) holding a
// copy of shape and of v. It panics if product(shape) != len(v).
func FromBool(name string, shape []int, v []bool) Tensor {
	t := newTensor(name, BOOL, shape, len(v))
	for i, x := range v {
		if x {
			t.Data[i] = 1
		}
	}
	return t
}

// check returns the number of elements of t, or an error if its dtype is
// wrong (ok is false; want names the right ones) or its data does not match
// its shape. It does not allocate unless it fails.
func (t *Tensor) check(ok bool, want string) (int, error) {
	if !ok {
		return 0, fmt.Errorf("safetensors: tensor %q: dtype is %s, want %s", t.Name, t.DType, want)
	}
	size, err := byteLen(t.Shape, t.DType.Size())
	if err != nil {
		return 0, fmt.Errorf("safetensors: tensor %q: %v", t.Name, err)
	}
	if len(t.Data) != size {
		return 0, fmt.Errorf("safetensors: tensor %q: data is %d bytes, but %s %s needs %d",
			t.Name, len(t.Data), t.DType, formatShape(t.Shape), size)
	}
	return size / t.DType.Size(), nil
}

func (t *Tensor) isFloat() bool {
	switch t.DType {
	case F32, F64, F16, BF16:
		return true
	}
	return false
}

// Float32s returns t's elements as a new []float32. F32 is copied exactly;
// F16 and BF16 widen exactly; F64 rounds to the nearest float32 (values out
// of float32's range become ±Inf). Other dtypes are an error.
func (t *Tensor) Float32s() ([]float32, error) {
	n, err := t.check(t.isFloat(), "F32, F64, F16 or BF16")
	if err != nil {
		return nil, err
	}
	dst := make([]float32, n)
	t.decodeFloat32s(dst)
	return dst, nil
}

// CopyFloat32s writes t's elements into dst, converting as Float32s does,
// without allocating. len(dst) must be t.NumElements().
func (t *Tensor) CopyFloat32s(dst []float32) error {
	n, err := t.check(t.isFloat(), "F32, F64, F16 or BF16")
	if err != nil {
		return err
	}
	if len(dst) != n {
		return fmt.Errorf("safetensors: tensor %q: destination has %d elements, tensor has %d", t.Name, len(dst), n)
	}
	t.decodeFloat32s(dst)
	return nil
}

// decodeFloat32s converts t.Data, already checked, into dst.
func (t *Tensor) decodeFloat32s(dst []float32) {
	b := t.Data
	switch t.DType {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i : 4*i+4 : 4*i+4]))
		}
	case F64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i : 8*i+8 : 8*i+8])))
		}
	case F16:
		for i := range dst {
			dst[i] = Float16ToFloat32(binary.LittleEndian.Uint16(b[2*i : 2*i+2 : 2*i+2]))
		}
	case BF16:
		for i := range dst {
			dst[i] = BFloat16ToFloat32(binary.LittleEndian.Uint16(b[2*i : 2*i+2 : 2*i+2]))
		}
	}
}

// Float64s returns t's elements as a new []float64. F64 is copied exactly;
// F32, F16 and BF16 widen exactly. Other dtypes are an error.
func (t *Tensor) Float64s() ([]float64, error) {
	n, err := t.check(t.isFloat(), "F64, F32, F16 or BF16")
	if err != nil {
		return nil, err
	}
	dst := make([]float64, n)
	if t.DType == F64 {
		for i := range dst {
			dst[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:]))
		}
		return dst, nil
	}
	f := make([]float32, n)
	t.decodeFloat32s(f)
	for i, x := range f {
		dst[i] = float64(x)
	}
	return dst, nil
}

// Int64s returns the elements of an I64 tensor as a new []int64.
func (t *Tensor) Int64s() ([]int64, error) {
	n, err := t.check(t.DType == I64, "I64")
	if err != nil {
		return nil, err
	}
	dst := make([]int64, n)
	for i := range dst {
		dst[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return dst, nil
}

// Int32s returns the elements of an I32 tensor as a new []int32.
func (t *Tensor) Int32s() ([]int32, error) {
	n, err := t.check(t.DType == I32, "I32")
	if err != nil {
		return nil, err
	}
	dst := make([]int32, n)
	for i := range dst {
		dst[i] = int32(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return dst, nil
}

// Int16s returns the elements of an I16 tensor as a new []int16.
func (t *Tensor) Int16s() ([]int16, error) {
	n, err := t.check(t.DType == I16, "I16")
	if err != nil {
		return nil, err
	}
	dst := make([]int16, n)
	for i := range dst {
		dst[i] = int16(binary.LittleEndian.Uint16(t.Data[2*i:]))
	}
	return dst, nil
}

// Int8s returns the elements of an I8 tensor as a new []int8.
func (t *Tensor) Int8s() ([]int8, error) {
	n, err := t.check(t.DType == I8, "I8")
	if err != nil {
		return nil, err
	}
	dst := make([]int8, n)
	for i := range dst {
		dst[i] = int8(t.Data[i])
	}
	return dst, nil
}

// Uint8s returns the elements of a U8 tensor as a new []uint8.
func (t *Tensor) Uint8s() ([]uint8, error) {
	if _, err := t.check(t.DType == U8, "U8"); err != nil {
		return nil, err
	}
	return append([]uint8{}, t.Data...), nil
}

// Bools returns the elements of a BOOL tensor as a new []bool; any non-zero
// byte is true.
func (t *Tensor) Bools() ([]bool, error) {
	n, err := t.check(t.DType == BOOL, "BOOL")
	if err != nil {
		return nil, err
	}
	dst := make([]bool, n)
	for i := range dst {
		dst[i] = t.Data[i] != 0
	}
	return dst, nil
}

// Float16ToFloat32 returns the IEEE 754 binary16 value with bits h as a
// float32. The conversion is exact: subnormals become normal float32s,
// infinities stay infinite and NaNs keep their sign and payload (shifted into
// the top of the float32 mantissa, so a quiet NaN stays quiet).
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch exp {
	case 0:
		// Zero or subnormal: mant × 2^-24, exact in float32.
		v := float32(mant) * (1.0 / (1 << 24))
		return math.Float32frombits(math.Float32bits(v) | sign)
	case 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// BFloat16ToFloat32 returns the bfloat16 value with bits h as a float32.
// bfloat16 is the top half of a float32, so the conversion is exact for every
// value, subnormals, infinities and NaNs included.
func BFloat16ToFloat32(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

// Package safetensors reads and writes tensors in the Hugging Face
// safetensors format, the file format catd uses for model weights and
// fine-tuning checkpoints.
//
// # Format
//
// A file is an 8-byte little-endian unsigned header length N, then N bytes of
// UTF-8 JSON (the header, possibly padded with trailing spaces), then the
// byte buffer. The header is an object that maps each tensor name to
//
//	{"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}
//
// where begin and end are byte offsets relative to the start of the buffer,
// plus an optional "__metadata__" object of string keys and string values.
// Tensor data is little-endian and row-major (C order); a tensor of shape
// [d0, d1, …, dk] has d0·d1·…·dk elements, and shape [] is a scalar with one
// element.
//
// # Validation
//
// Parse, Read and ReadFile accept a file only if, like the reference
// implementation, the tensors cover the buffer exactly: sorted by offset, each
// tensor starts where the previous one ends, the first starts at 0, the last
// ends at the end of the file, and every tensor's byte length is
// product(shape) times the element size of its dtype. They also reject
// duplicate names (which a plain JSON decoder would silently merge), unknown
// dtypes and fields, overflowing shapes and headers over MaxHeaderSize bytes.
// Errors from outside data start with "safetensors: " and name the tensor and
// the problem; malformed input never panics. Whatever the header claims,
// Parse allocates in proportion to its input, ReadFile no more than the file's
// size, and Read no more than its caller's byte limit (or, without one, than
// the data it actually reads).
//
// # Buffers
//
// Parse returns tensors whose Data aliases the input slice; Read and ReadFile
// allocate one buffer for the tensor data and the tensors alias it. The typed
// accessors (Float32s, Int8s, …) return new slices, and CopyFloat32s writes
// into a caller-provided destination without allocating. Conversions decode
// the little-endian bytes explicitly, so they are correct on big-endian
// machines too.
//
// Wrong arguments to the From… constructors (a shape that does not match the
// number of values) are programmer errors and panic with a message starting
// "safetensors: ".
package safetensors

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// MaxHeaderSize is the largest JSON header, in bytes, that Parse, Read,
// ReadFile, ReadIndex and the writers accept: 4 MiB. catd's models have
// headers of about 10 KB (the built-in one 10,152 bytes, a checkpoint with
// its optimizer state a few times that), and a header is checked against
// this limit before any of it is read. The reference implementation allows
// 100,000,000 bytes, but a header that size takes the JSON decoder some
// 700 MB and seconds to refuse, too much for a Raspberry Pi.
const MaxHeaderSize = 4 << 20

// metadataKey is the reserved header key of the free-form string map.
const metadataKey = "__metadata__"

// DType is the element type of a tensor, spelled as in the safetensors header.
type DType string

// The supported element types. Integers and floats are little-endian; BOOL is
// one byte per element, zero for false.
const (
	F64  DType = "F64"  // IEEE 754 binary64
	F32  DType = "F32"  // IEEE 754 binary32
	F16  DType = "F16"  // IEEE 754 binary16
	BF16 DType = "BF16" // bfloat16: the top 16 bits of a binary32
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U8   DType = "U8"
	BOOL DType = "BOOL"
)

// Size returns the size of one element of d in bytes, or 0 if d is not one of
// the supported dtypes.
func (d DType) Size() int {
	switch d {
	case F64, I64:
		return 8
	case F32, I32:
		return 4
	case F16, BF16, I16:
		return 2
	case I8, U8, BOOL:
		return 1
	}
	return 0
}

// Tensor is one named tensor. Data holds the elements in little-endian,
// row-major order, len(Data) == NumElements()*DType.Size() bytes.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// File is the content of a safetensors file. Metadata is nil when the header
// has no "__metadata__". Tensors are in the order of their data offsets;
// zero-size tensors that share an offset are in name order.
type File struct {
	Metadata map[string]string
	Tensors  []Tensor
}

// Tensor returns a pointer to the tensor called name in f.Tensors, and whether
// there is one. It scans the tensors linearly.
func (f *File) Tensor(name string) (*Tensor, bool) {
	for i := range f.Tensors {
		if f.Tensors[i].Name == name {
			return &f.Tensors[i], true
		}
	}
	return nil, false
}

// Names returns the names of f's tensors, in file order, in a new slice.
func (f *File) Names() []string {
	names := make([]string, len(f.Tensors))
	for i := range f.Tensors {
		names[i] = f.Tensors[i].Name
	}
	return names
}

// NumElements returns the number of elements of t, the product of its shape
// (1 for a scalar, shape []). It does not check for overflow; tensors from
// Parse, Read and ReadFile never overflow.
func (t *Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// byteLen returns product(shape)*size and whether it is valid: no negative
// dimension and no overflow of int. The product is folded left to right, as in
// the reference implementation, so [2^40, 2^40, 0] overflows.
func byteLen(shape []int, size int) (int, error) {
	n := uint64(1)
	for i, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d at index %d of shape %s", d, i, formatShape(shape))
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt {
			return 0, fmt.Errorf("shape %s overflows", formatShape(shape))
		}
		n = lo
	}
	hi, lo := bits.Mul64(n, uint64(size))
	if hi != 0 || lo > math.MaxInt {
		return 0, fmt.Errorf("shape %s with %d-byte elements overflows", formatShape(shape), size)
	}
	return int(lo), nil
}

// formatShape formats a shape the way the header spells it: [2,3].
func formatShape(shape []int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range shape {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(d))
	}
	b.WriteByte(']')
	return b.String()
}

package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// entry is one tensor of a decoded header.
type entry struct {
	name       string
	dtype      DType
	shape      []int
	begin, end uint64
}

// Parse decodes a whole safetensors file held in b. The returned tensors'
// Data alias b (each with its capacity cut at its end, so appending to one
// never overwrites another); b must not be modified while they are in use.
func Parse(b []byte) (*File, error) {
	f, err := parse(b)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return f, nil
}

func parse(b []byte) (*File, error) {
	if len(b) < 8 {
		return nil, errShort(len(b))
	}
	n := binary.LittleEndian.Uint64(b)
	if err := checkHeaderLen(n); err != nil {
		return nil, err
	}
	if n > uint64(len(b)-8) {
		return nil, errHeaderBeyondFile(n, uint64(len(b)-8))
	}
	meta, entries, total, err := decodeHeader(b[8 : 8+n])
	if err != nil {
		return nil, err
	}
	buf := b[8+n:]
	switch have := uint64(len(buf)); {
	case have < total:
		return nil, errBeyond(entries, have)
	case have > total:
		return nil, errUncovered(have - total)
	}
	return assemble(meta, entries, buf), nil
}

// Read decodes a safetensors file from r, reading until the end of the buffer
// the header describes and then checking that r has no more data. The file
// may be at most maxBytes bytes long; Read rejects a longer file as soon as
// its header says so, before allocating the buffer. With a limit, Read
// allocates the buffer in one go, so a lying header can cost up to maxBytes
// of memory; maxBytes <= 0 means no limit, and then the buffer grows with
// the data actually read. The tensors' Data alias one new buffer.
func Read(r io.Reader, maxBytes int64) (*File, error) {
	f, err := read(r, maxBytes, -1)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return f, nil
}

// ReadFile reads and decodes the safetensors file at path, which may be at
// most maxBytes bytes long (maxBytes <= 0 means no limit). Errors name the
// path. ReadFile checks the header against the size of the file before
// allocating, so it allocates no more than the file's size. The tensors'
// Data alias one new buffer.
func ReadFile(path string, maxBytes int64) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer fd.Close()
	avail := int64(-1)
	if st, err := fd.Stat(); err == nil && st.Mode().IsRegular() {
		if maxBytes > 0 && st.Size() > maxBytes {
			return nil, fmt.Errorf("safetensors: %s: %w", path, errOverLimit(uint64(st.Size()), maxBytes))
		}
		avail = st.Size()
	}
	f, err := read(fd, maxBytes, avail)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	return f, nil
}

// read reads a file from r. avail is the size of the file if known, else -1:
// it lets read reject a header that claims more than the file holds before
// allocating the buffer.
func read(r io.Reader, maxBytes, avail int64) (*File, error) {
	limit := uint64(math.MaxInt64)
	if maxBytes > 0 {
		limit = uint64(maxBytes)
	}
	var prefix [8]byte
	if k, err := io.ReadFull(r, prefix[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, errShort(k)
		}
		return nil, fmt.Errorf("read: %w", err)
	}
	n := binary.LittleEndian.Uint64(prefix[:])
	if err := checkHeaderLen(n); err != nil {
		return nil, err
	}
	if 8+n > limit {
		return nil, errOverLimit(8+n, maxBytes)
	}
	// ReadAll grows its buffer as data arrives, so a header length that
	// lies about a short stream costs no more than the stream itself.
	hdr, err := io.ReadAll(io.LimitReader(r, int64(n)))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if uint64(len(hdr)) < n {
		return nil, errHeaderBeyondFile(n, uint64(len(hdr)))
	}
	meta, entries, total, err := decodeHeader(hdr)
	if err != nil {
		return nil, err
	}
	if total > limit-8-n {
		return nil, errOverLimit(8+n+total, maxBytes)
	}
	if total > math.MaxInt {
		return nil, fmt.Errorf("buffer of %d bytes is too large for this platform", total)
	}
	if avail >= 0 && uint64(avail) >= 8+n && total > uint64(avail)-8-n {
		return nil, errBeyond(entries, uint64(avail)-8-n)
	}
	var buf []byte
	if maxBytes > 0 || avail >= 0 || total <= 1<<20 {
		buf = make([]byte, total)
		k, err := io.ReadFull(r, buf)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("read: %w", err)
		}
		buf = buf[:k]
	} else {
		// No limit: grow with the data, so that a header claiming a huge
		// buffer in front of a short stream costs no more than the stream.
		if buf, err = io.ReadAll(io.LimitReader(r, int64(total))); err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
	}
	var extra [1]byte
	more, err := io.ReadFull(r, extra[:])
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("read: %w", err)
	}
	if uint64(len(buf)) < total {
		return nil, errBeyond(entries, uint64(len(buf)))
	}
	if more > 0 {
		return nil, errors.New("data after the end of the buffer is not covered by any tensor")
	}
	return assemble(meta, entries, buf), nil
}

// Index is a safetensors file's header: where each tensor's bytes are,
// for reading parts of a file without loading all of it.
type Index struct {
	Metadata map[string]string
	Tensors  []TensorInfo // in the order of their data
}

// TensorInfo is one tensor of an Index.
type TensorInfo struct {
	Name   string
	DType  DType
	Shape  []int
	Offset int64 // of its first byte, from the start of the file
	Size   int64 // bytes
}

// Tensor returns the tensor called name, and whether there is one.
func (x *Index) Tensor(name string) (TensorInfo, bool) {
	for _, t := range x.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return TensorInfo{}, false
}

// ReadIndex reads and checks the header of the safetensors file r of size
// bytes (an *os.File, say): everything Read checks but the tensors' data,
// which it does not read. The tensors must cover the rest of the file
// exactly.
func ReadIndex(r io.ReaderAt, size int64) (*Index, error) {
	x, err := readIndex(r, size)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return x, nil
}

func readIndex(r io.ReaderAt, size int64) (*Index, error) {
	var prefix [8]byte
	if size < 8 {
		return nil, errShort(int(max(size, 0)))
	}
	if _, err := r.ReadAt(prefix[:], 0); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	n := binary.LittleEndian.Uint64(prefix[:])
	if err := checkHeaderLen(n); err != nil {
		return nil, err
	}
	if n > uint64(size-8) {
		return nil, errHeaderBeyondFile(n, uint64(size-8))
	}
	hdr := make([]byte, n)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	meta, entries, total, err := decodeHeader(hdr)
	if err != nil {
		return nil, err
	}
	switch have := uint64(size) - 8 - n; {
	case have < total:
		return nil, errBeyond(entries, have)
	case have > total:
		return nil, errUncovered(have - total)
	}
	x := &Index{Metadata: meta, Tensors: make([]TensorInfo, len(entries))}
	for i, e := range entries {
		x.Tensors[i] = TensorInfo{Name: e.name, DType: e.dtype, Shape: e.shape, Offset: int64(8 + n + e.begin), Size: int64(e.end - e.begin)}
	}
	return x, nil
}

func assemble(meta map[string]string, entries []entry, buf []byte) *File {
	f := &File{Metadata: meta, Tensors: make([]Tensor, len(entries))}
	for i, e := range entries {
		f.Tensors[i] = Tensor{
			Name:  e.name,
			DType: e.dtype,
			Shape: e.shape,
			Data:  buf[e.begin:e.end:e.end],
		}
	}
	return f
}

func errShort(n int) error {
	return fmt.Errorf("file is %d bytes, shorter than the 8-byte header length", n)
}

func checkHeaderLen(n uint64) error {
	if n > MaxHeaderSize {
		return fmt.Errorf("header length %d exceeds the limit of %d bytes (4 MiB; a catd model's header is about 10 KB)", n, MaxHeaderSize)
	}
	return nil
}

func errHeaderBeyondFile(n, have uint64) error {
	return fmt.Errorf("header length %d exceeds the %d bytes after the length prefix", n, have)
}

func errOverLimit(size uint64, maxBytes int64) error {
	return fmt.Errorf("file is at least %d bytes, more than the limit of %d bytes", size, maxBytes)
}

// errBeyond names the first tensor that ends past a buffer of have bytes.
// Tensors are sorted and contiguous, so it is the one the buffer cuts short.
func errBeyond(entries []entry, have uint64) error {
	for _, e := range entries {
		if e.end > have {
			return fmt.Errorf("tensor %q: data_offsets [%d,%d] extend beyond the end of the %d-byte buffer", e.name, e.begin, e.end, have)
		}
	}
	return fmt.Errorf("buffer of %d bytes is truncated", have) // unreachable when have < total
}

func errUncovered(n uint64) error {
	return fmt.Errorf("%d bytes at the end of the buffer are not covered by any tensor", n)
}

// decodeHeader decodes and validates the JSON header. It returns the metadata,
// the tensors sorted by offset, and the number of buffer bytes they cover.
// Duplicate keys are detected by walking the tokens, since decoding into a
// map would silently keep the last one.
func decodeHeader(hdr []byte) (map[string]string, []entry, uint64, error) {
	if !utf8.Valid(hdr) {
		return nil, nil, 0, errors.New("header is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, 0, errJSON(err)
	}
	if tok != json.Delim('{') {
		return nil, nil, 0, fmt.Errorf("header is %s, not a JSON object", describe(tok))
	}
	var (
		meta    map[string]string
		entries []entry
		seen    = make(map[string]bool)
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, 0, errJSON(err)
		}
		key, _ := tok.(string) // the decoder only returns strings as object keys
		if seen[key] {
			if key == metadataKey {
				return nil, nil, 0, errors.New("duplicate " + metadataKey)
			}
			return nil, nil, 0, fmt.Errorf("duplicate tensor name %q", key)
		}
		seen[key] = true
		if key == metadataKey {
			if meta, err = decodeMetadata(dec); err != nil {
				return nil, nil, 0, err
			}
			continue
		}
		e, err := decodeEntry(dec, key)
		if err != nil {
			return nil, nil, 0, err
		}
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, nil, 0, errJSON(err)
	}
	for _, c := range hdr[dec.InputOffset():] {
		switch c {
		case ' ', '\t', '\n', '\r':
		default:
			return nil, nil, 0, fmt.Errorf("header has data after the JSON object at byte %d", dec.InputOffset())
		}
	}

	// Sort by offset; only zero-size tensors can tie, and those go by name
	// so that the order does not depend on the order of the header.
	slices.SortFunc(entries, func(a, b entry) int {
		if c := cmp.Compare(a.begin, b.begin); c != 0 {
			return c
		}
		if c := cmp.Compare(a.end, b.end); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	var pos uint64
	for i, e := range entries {
		switch {
		case e.begin < pos:
			p := entries[i-1]
			return nil, nil, 0, fmt.Errorf("tensors %q (data_offsets [%d,%d]) and %q (data_offsets [%d,%d]) overlap",
				p.name, p.begin, p.end, e.name, e.begin, e.end)
		case e.begin > pos:
			return nil, nil, 0, fmt.Errorf("hole of %d bytes before tensor %q (data_offsets [%d,%d]): tensors must cover the buffer contiguously",
				e.begin-pos, e.name, e.begin, e.end)
		}
		pos = e.end
	}
	return meta, entries, pos, nil
}

func errJSON(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("header is not valid JSON: %w", err)
}

// describe names the JSON type of a token, for error messages.
func describe(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			return "an object"
		case '[':
			return "an array"
		}
		return "a " + strconv.Quote(v.String())
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", tok)
}

// decodeMetadata decodes the value of "__metadata__": an object of strings,
// or null (as the reference implementation allows), which gives a nil map.
func decodeMetadata(dec *json.Decoder) (map[string]string, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, errJSON(err)
	}
	if tok == nil {
		return nil, nil
	}
	if tok != json.Delim('{') {
		return nil, fmt.Errorf("%s is %s, not an object", metadataKey, describe(tok))
	}
	meta := make(map[string]string)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errJSON(err)
		}
		key, _ := tok.(string)
		if _, dup := meta[key]; dup {
			return nil, fmt.Errorf("%s: duplicate key %q", metadataKey, key)
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, errJSON(err)
		}
		v, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%s: value of %q is %s, not a string", metadataKey, key, describe(tok))
		}
		meta[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, errJSON(err)
	}
	return meta, nil
}

// decodeEntry decodes and checks the header object of the tensor called name.
func decodeEntry(dec *json.Decoder, name string) (entry, error) {
	e := entry{name: name}
	fail := func(format string, args ...any) (entry, error) {
		return entry{}, fmt.Errorf("tensor %q: "+format, append([]any{name}, args...)...)
	}
	tok, err := dec.Token()
	if err != nil {
		return entry{}, errJSON(err)
	}
	if tok != json.Delim('{') {
		return fail("header entry is %s, not an object", describe(tok))
	}
	var haveDType, haveShape, haveOffsets bool
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return entry{}, errJSON(err)
		}
		field, _ := tok.(string)
		dup := false
		switch field {
		case "dtype":
			dup, haveDType = haveDType, true
		case "shape":
			dup, haveShape = haveShape, true
		case "data_offsets":
			dup, haveOffsets = haveOffsets, true
		default:
			return fail("unknown field %q", field)
		}
		if dup {
			return fail("duplicate field %q", field)
		}
		tok, err = dec.Token()
		if err != nil {
			return entry{}, errJSON(err)
		}
		switch field {
		case "dtype":
			s, ok := tok.(string)
			if !ok {
				return fail("dtype is %s, not a string", describe(tok))
			}
			e.dtype = DType(s)
			if e.dtype.Size() == 0 {
				return fail("unsupported dtype %q", s)
			}
		case "shape":
			if tok != json.Delim('[') {
				return fail("shape is %s, not an array", describe(tok))
			}
			e.shape = []int{}
			for dec.More() {
				tok, err := dec.Token()
				if err != nil {
					return entry{}, errJSON(err)
				}
				d, err := decodeUint(tok, "dimension")
				if err != nil {
					return fail("shape: %v", err)
				}
				if d > math.MaxInt {
					return fail("shape: dimension %d is too large", d)
				}
				e.shape = append(e.shape, int(d))
			}
			if _, err := dec.Token(); err != nil {
				return entry{}, errJSON(err)
			}
		case "data_offsets":
			if tok != json.Delim('[') {
				return fail("data_offsets is %s, not an array [begin, end]", describe(tok))
			}
			var off [2]uint64
			k := 0
			for dec.More() {
				if k == 2 {
					return fail("data_offsets has more than 2 elements, want [begin, end]")
				}
				tok, err := dec.Token()
				if err != nil {
					return entry{}, errJSON(err)
				}
				if off[k], err = decodeUint(tok, "data offset"); err != nil {
					return fail("data_offsets: %v", err)
				}
				k++
			}
			if _, err := dec.Token(); err != nil {
				return entry{}, errJSON(err)
			}
			if k != 2 {
				return fail("data_offsets has %d elements, want [begin, end]", k)
			}
			e.begin, e.end = off[0], off[1]
		}
	}
	if _, err := dec.Token(); err != nil {
		return entry{}, errJSON(err)
	}
	switch {
	case !haveDType:
		return fail("missing dtype")
	case !haveShape:
		return fail("missing shape")
	case !haveOffsets:
		return fail("missing data_offsets")
	}
	if e.begin > e.end {
		return fail("data_offsets [%d,%d] begin after they end", e.begin, e.end)
	}
	n, err := byteLen(e.shape, e.dtype.Size())
	if err != nil {
		return fail("%v", err)
	}
	if e.end-e.begin != uint64(n) {
		return fail("data_offsets [%d,%d] hold %d bytes, but %s %s needs %d",
			e.begin, e.end, e.end-e.begin, e.dtype, formatShape(e.shape), n)
	}
	return e, nil
}

// decodeUint decodes a non-negative JSON integer token; what names it in errors.
func decodeUint(tok json.Token, what string) (uint64, error) {
	num, ok := tok.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%s is %s, not an integer", what, describe(tok))
	}
	s := string(num)
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	if len(s) > 0 && s[0] == '-' {
		return 0, fmt.Errorf("negative %s %s", what, s)
	}
	v, err := strconv.ParseUint(string(num), 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("%s %s is too large", what, s)
		}
		return 0, fmt.Errorf("%s %s is not an integer", what, s)
	}
	return v, nil
}

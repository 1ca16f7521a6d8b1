package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"unicode/utf8"
)

// Encode writes a safetensors file holding metadata (omitted from the header
// when empty) and tensors to w. The data follows in the order of tensors,
// without gaps; the header lists "__metadata__" first and then the tensors
// sorted by name, each as {"dtype", "shape", "data_offsets"} in that order,
// and is padded with spaces to a multiple of 8 bytes so that the buffer
// starts 8-byte aligned. This is the layout of the reference writer except
// for the order of the data (the reference sorts it by dtype and name).
//
// Encode checks everything before writing anything: the names must be
// distinct valid UTF-8 other than "__metadata__", the dtypes supported and
// each len(Data) must be product(Shape)*DType.Size(). It writes the prefix
// and header in one Write and then one Write per tensor; wrap w in a
// bufio.Writer if small writes are costly.
func Encode(w io.Writer, metadata map[string]string, tensors []Tensor) error {
	hdr, err := wholeHeader(metadata, tensors)
	if err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	for i := range tensors {
		if _, err := w.Write(tensors[i].Data); err != nil {
			return fmt.Errorf("safetensors: write tensor %q: %w", tensors[i].Name, err)
		}
	}
	return nil
}

// Marshal returns the file Encode writes, in one allocation of exactly its
// size.
func Marshal(metadata map[string]string, tensors []Tensor) ([]byte, error) {
	hdr, err := wholeHeader(metadata, tensors)
	if err != nil {
		return nil, err
	}
	n := len(hdr)
	for i := range tensors {
		n += len(tensors[i].Data)
	}
	b := make([]byte, 0, n)
	b = append(b, hdr...)
	for i := range tensors {
		b = append(b, tensors[i].Data...)
	}
	return b, nil
}

// wholeHeader is the header of a file written with every tensor's data:
// encodeHeader, which lets Data be nil (Header), after a check that no
// tensor needing bytes lacks them.
func wholeHeader(metadata map[string]string, tensors []Tensor) ([]byte, error) {
	for i := range tensors {
		t := &tensors[i]
		if size := t.DType.Size(); t.Data == nil && size > 0 {
			if n, err := byteLen(t.Shape, size); err == nil && n > 0 {
				return nil, fmt.Errorf("safetensors: tensor %q: data is 0 bytes, but %s %s needs %d", t.Name, t.DType, formatShape(t.Shape), n)
			}
		}
	}
	hdr, err := encodeHeader(metadata, tensors)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return hdr, nil
}

// Header returns what Encode writes before the tensors' data (the length
// prefix and the padded JSON header) for tensors whose Data may be absent:
// each one's size comes from its dtype and shape. Writing the header and
// then each tensor's bytes in the order of tensors gives the file Encode
// would, for files too large to hold in memory at once. Encode's checks
// apply, but for the length of Data, which is checked only when Data is
// not nil.
func Header(metadata map[string]string, tensors []Tensor) ([]byte, error) {
	hdr, err := encodeHeader(metadata, tensors)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return hdr, nil
}

// encodeHeader validates the input and returns the 8-byte length prefix
// followed by the padded JSON header. A tensor with nil Data takes its
// size from its shape (Header); Encode checks Data is there first.
func encodeHeader(metadata map[string]string, tensors []Tensor) ([]byte, error) {
	type placed struct {
		t          *Tensor
		begin, end uint64
	}
	order := make([]placed, len(tensors))
	seen := make(map[string]bool, len(tensors))
	var off uint64
	for i := range tensors {
		t := &tensors[i]
		if !utf8.ValidString(t.Name) {
			return nil, fmt.Errorf("tensor name %q is not valid UTF-8", t.Name)
		}
		if t.Name == metadataKey {
			return nil, fmt.Errorf("tensor name %q is reserved", t.Name)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("duplicate tensor name %q", t.Name)
		}
		seen[t.Name] = true
		size := t.DType.Size()
		if size == 0 {
			return nil, fmt.Errorf("tensor %q: unsupported dtype %q", t.Name, string(t.DType))
		}
		n, err := byteLen(t.Shape, size)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %v", t.Name, err)
		}
		if t.Data != nil && len(t.Data) != n {
			return nil, fmt.Errorf("tensor %q: data is %d bytes, but %s %s needs %d",
				t.Name, len(t.Data), t.DType, formatShape(t.Shape), n)
		}
		if off+uint64(n) < off {
			return nil, errors.New("total size of the tensors overflows")
		}
		order[i] = placed{t, off, off + uint64(n)}
		off += uint64(n)
	}
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, fmt.Errorf("%s: key %q or its value is not valid UTF-8", metadataKey, k)
		}
	}
	slices.SortFunc(order, func(a, b placed) int {
		switch {
		case a.t.Name < b.t.Name:
			return -1
		case a.t.Name > b.t.Name:
			return 1
		}
		return 0
	})

	var buf bytes.Buffer
	buf.Write(make([]byte, 8)) // length prefix, filled in below
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	str := func(s string) {
		enc.Encode(s) // cannot fail: s is valid UTF-8 and buf grows
		buf.Truncate(buf.Len() - 1)
	}
	buf.WriteByte('{')
	if len(metadata) > 0 {
		str(metadataKey)
		buf.WriteString(":{")
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			str(k)
			buf.WriteByte(':')
			str(metadata[k])
		}
		buf.WriteByte('}')
		if len(order) > 0 {
			buf.WriteByte(',')
		}
	}
	for i, p := range order {
		if i > 0 {
			buf.WriteByte(',')
		}
		str(p.t.Name)
		fmt.Fprintf(&buf, `:{"dtype":"%s","shape":%s,"data_offsets":[%d,%d]}`,
			p.t.DType, formatShape(p.t.Shape), p.begin, p.end)
	}
	buf.WriteByte('}')
	for buf.Len()%8 != 0 {
		buf.WriteByte(' ')
	}
	b := buf.Bytes()
	n := uint64(len(b) - 8)
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("header of %d bytes exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	binary.LittleEndian.PutUint64(b, n)
	return b, nil
}

// WriteFile writes a safetensors file holding metadata and tensors (see
// Encode) to path atomically: it writes a temporary file in the same
// directory, syncs it to disk, renames it over path and syncs the directory.
// If anything fails, the file previously at path is left untouched and the
// temporary file is removed. The new file has mode 0644.
func WriteFile(path string, metadata map[string]string, tensors []Tensor) (err error) {
	hdr, err := encodeHeader(metadata, tensors)
	if err != nil {
		return fmt.Errorf("safetensors: %s: %w", path, err)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<16)
	bw.Write(hdr)
	for i := range tensors {
		bw.Write(tensors[i].Data)
	}
	if err := bw.Flush(); err != nil { // bufio keeps the first write error
		return fmt.Errorf("safetensors: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("safetensors: sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("safetensors: close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if err := syncDir(dir); err != nil {
		// The rename happened: the new file is in place, only its
		// durability across a power cut is in doubt.
		return fmt.Errorf("safetensors: sync directory %s: %w", dir, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

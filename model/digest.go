package model

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"

	"catd/safetensors"
)

// DigestKey is the metadata key of the SHA-256 digest catd writes into
// every model, int8 model and checkpoint file it saves: the digest of the
// metadata (every other key and value, in key order, each followed by a
// zero byte) and then of the tensors' bytes in file order. A file whose
// digest does not match was damaged after it was written (a flipped bit
// on an SD card, a torn copy) and is refused; a file without one (older
// catd, PyTorch, hand-made) is read as before.
const DigestKey = "catd_sha256"

// Seal sets md[DigestKey] to the digest of md and tensors, which are in the
// order their data will be written (safetensors.Encode's order).
func Seal(md map[string]string, tensors []safetensors.Tensor) {
	delete(md, DigestKey)
	md[DigestKey] = digest(md, func(yield func([]byte)) {
		for i := range tensors {
			yield(tensors[i].Data)
		}
	})
}

// CheckDigest returns an error if f carries a digest that does not match
// its content; nil if it matches or f has none.
func CheckDigest(f *safetensors.File) error {
	want, ok := f.Metadata[DigestKey]
	if !ok {
		return nil
	}
	got := digest(f.Metadata, func(yield func([]byte)) {
		for i := range f.Tensors { // in file order
			yield(f.Tensors[i].Data)
		}
	})
	if got != want {
		return fmt.Errorf("model: content does not match its %s digest (the file was damaged after it was written)", DigestKey)
	}
	return nil
}

func digest(md map[string]string, data func(yield func([]byte))) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(md)) {
		if k == DigestKey {
			continue
		}
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write([]byte(md[k]))
		h.Write([]byte{0})
	}
	data(func(b []byte) { h.Write(b) })
	return hex.EncodeToString(h.Sum(nil))
}

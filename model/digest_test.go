package model

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"

	"catd/safetensors"
)

// sealedFile is a small model file as catd writes it.
func sealedFile(t *testing.T) []byte {
	t.Helper()
	a, err := ArchByName("input 3x8x8; conv 4 k3 p1; relu; flatten; dense 1")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := New(a, Options{MaxBatch: 1})
	n.Init(rand.New(rand.NewPCG(1, 2)))
	info := DefaultInfo(a, "")
	info.Threshold = 0.4
	b, err := n.Bytes(info)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDigestRoundTrip(t *testing.T) {
	b := sealedFile(t)
	f, err := safetensors.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Metadata[DigestKey]) != 64 {
		t.Fatalf("%s = %q, want 64 hex digits", DigestKey, f.Metadata[DigestKey])
	}
	_, info, err := Decode(b, Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := info.Extra[DigestKey]; ok {
		t.Errorf("the digest is kept in Info.Extra; it is recomputed on every save")
	}
}

// TestDigestRefusesDamage flips single bits in the data and in the
// metadata's values: every flip that still parses is refused by the digest.
func TestDigestRefusesDamage(t *testing.T) {
	b := sealedFile(t)
	hdr := int(binary.LittleEndian.Uint64(b)) + 8
	r := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		d := bytes.Clone(b)
		i := hdr + r.IntN(len(b)-hdr) // a weight's bit
		d[i] ^= 1 << r.IntN(8)
		if _, _, err := Decode(d, Options{MaxBatch: 1}); err == nil || !strings.Contains(err.Error(), DigestKey) {
			t.Fatalf("bit flipped at byte %d of the data: err = %v, want the digest named", i, err)
		}
	}
	// The threshold, as the metadata spells it: a changed digit still
	// parses as a threshold, and would move every decision.
	i := bytes.Index(b, []byte(`"threshold":"0.4`))
	if i < 0 {
		t.Fatal("no threshold in the header")
	}
	d := bytes.Clone(b)
	d[i+len(`"threshold":"0.4`)-1] = '6'
	if _, _, err := Decode(d, Options{MaxBatch: 1}); err == nil || !strings.Contains(err.Error(), DigestKey) {
		t.Fatalf("threshold 0.4 -> 0.6: err = %v, want the digest named", err)
	}
}

// TestNoDigestIsRead: files from PyTorch or an older catd carry none.
func TestNoDigestIsRead(t *testing.T) {
	f, err := safetensors.Parse(sealedFile(t))
	if err != nil {
		t.Fatal(err)
	}
	delete(f.Metadata, DigestKey)
	var b bytes.Buffer
	if err := safetensors.Encode(&b, f.Metadata, f.Tensors); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Decode(b.Bytes(), Options{MaxBatch: 1}); err != nil {
		t.Fatal(err)
	}
}

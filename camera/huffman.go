package camera

import "catd/preprocess/jpeg"

// stdDHT is one DHT segment (marker included) holding the four Huffman
// tables of ITU T.81 Annex K.3 — luminance DC (class 0, id 0), luminance AC
// (1, 0), chrominance DC (0, 1) and chrominance AC (1, 1) — the tables UVC
// MJPEG cameras assume when their frames carry none (as in the Linux and
// ffmpeg mjpeg code). The tables are preprocess/jpeg's, which assumes the
// same for such frames.
var stdDHT = buildDHT()

func buildDHT() []byte {
	seg := []byte{0xFF, 0xC4, 0, 0}
	for _, t := range jpeg.StandardTables {
		n := 0
		for _, b := range t.Counts {
			n += int(b)
		}
		if n != len(t.Values) {
			panic("camera: bad built-in Huffman table")
		}
		seg = append(seg, t.Class<<4|t.ID)
		seg = append(seg, t.Counts[:]...)
		seg = append(seg, t.Values...)
	}
	l := len(seg) - 2
	seg[2], seg[3] = byte(l>>8), byte(l)
	return seg
}

// InsertHuffmanTables writes jpeg to dst[:0] with the standard Huffman
// tables (ITU T.81 Annex K.3) inserted before the first SOS when the header
// has no DHT segment, as in frames from UVC webcams. The result reuses
// dst's capacity; dst must not overlap jpeg.
//
// When jpeg already has a DHT before its first SOS, or its header cannot be
// parsed (it is then left for the decoder to reject), the result is an
// unchanged copy of jpeg. It never panics on bad input.
func InsertHuffmanTables(dst, jpeg []byte) []byte {
	dst = dst[:0]
	if at := dhtInsertPoint(jpeg); at > 0 {
		dst = append(dst, jpeg[:at]...)
		dst = append(dst, stdDHT...)
		return append(dst, jpeg[at:]...)
	}
	return append(dst, jpeg...)
}

// dhtInsertPoint returns the offset of the first SOS marker of jpeg when
// no DHT segment comes before it, and -1 otherwise.
func dhtInsertPoint(jpeg []byte) int {
	if len(jpeg) < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8 {
		return -1
	}
	i := 2
	for i+1 < len(jpeg) {
		if jpeg[i] != 0xFF {
			return -1
		}
		m := jpeg[i+1]
		switch {
		case m == 0xFF: // fill byte
			i++
			continue
		case m == 0xC4:
			return -1
		case m == 0xDA:
			return i
		case m == 0xD8 || m == 0xD9 || m == 0x00:
			return -1
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7):
			i += 2
			continue
		}
		if i+3 >= len(jpeg) {
			return -1
		}
		n := int(jpeg[i+2])<<8 | int(jpeg[i+3])
		if n < 2 {
			return -1
		}
		i += 2 + n
	}
	return -1
}

package jpeg

import "errors"

// lutBits is how many bits the Huffman lookahead table resolves at once.
// Most codes of camera frames are shorter, and with the AC coefficient's
// extra bits included the table often gives the value itself.
const lutBits = 10

// huffTable is one Huffman table (ITU T.81 C, F.2.2.3) in the two forms
// decoding uses:
//
//   - lut, indexed by the next lutBits bits of the scan, for codes of up
//     to lutBits bits: the code's length and symbol, or 0 for a longer
//     code. When the code and the extra bits that follow it fit in lutBits
//     together, the entry is resolved too: it holds their total length,
//     and the value (signed): the DC difference in a DC table; in an AC
//     table the coefficient, with the run of zeros before it instead of
//     the symbol. End of block and a run of 16 zeros are resolved too: a
//     run of 64 (which ends any block) and a zero coefficient after a run
//     of 15.
//   - maxcode, valptr and mincode for the rest, by code length, as in
//     F.2.2.3 but with codes left-justified to 16 bits.
type huffTable struct {
	lut     [1 << lutBits]lutEntry
	maxcode [17]uint32 // codes of length l, left-justified, are below maxcode[l]
	valptr  [17]int32
	mincode [17]int32
	vals    [256]uint8
}

// lutEntry is an entry of huffTable.lut: bits 0-3 the total length of a
// resolved entry (0: not resolved), 4-5 zero, 6-9 the code length, 10-17
// the symbol or run, 22-31 the value. The total length is the low 6 bits
// so that the scan shifts its bits out by e&63, which amd64's and arm64's
// variable shifts do without masking: the decoder's critical path is a
// lookup and a shift per symbol.
type lutEntry int32

func resolved(total, l uint, sym uint8, v int32) lutEntry {
	return lutEntry(int32(total) | int32(l)<<6 | int32(sym)<<10 | v<<22)
}

func unresolved(l uint, sym uint8) lutEntry { return lutEntry(int32(l)<<6 | int32(sym)<<10) }

// total is the length of code and extra bits of a resolved entry, or 0.
func (e lutEntry) total() uint { return uint(e & 63) }

// codeLen is the length of the code alone.
func (e lutEntry) codeLen() uint { return uint(e >> 6 & 15) }

// sym is the code's symbol, or a resolved AC entry's run.
func (e lutEntry) sym() uint8 { return uint8(e >> 10) }

// value is a resolved entry's DC difference or AC coefficient.
func (e lutEntry) value() int32 { return int32(e) >> 22 }

// build makes t from the BITS and HUFFVAL lists of a DHT segment.
func (t *huffTable) build(counts *[16]uint8, vals []uint8, ac bool) error {
	copy(t.vals[:], vals)
	// C.2: code sizes and codes in order; a code must fit in its length.
	code, k, fill := 0, 0, 0 // fill: lut entries set so far
	for l := 1; l <= 16; l++ {
		n := int(counts[l-1])
		t.valptr[l] = int32(k)
		t.mincode[l] = int32(code)
		code += n
		if code > 1<<l {
			return errors.New("code lengths over-subscribed")
		}
		// Exclusive bound, left-justified to 16 bits; all-ones codes are
		// not valid (C.2), which the bound leaves out once the table is full.
		t.maxcode[l] = uint32(code) << (16 - l)
		if l <= lutBits {
			shift := uint(lutBits - l)
			for i := range n {
				sym := vals[k+i]
				e := unresolved(uint(l), sym)
				base := (int(t.mincode[l]) + i) << shift
				lut := t.lut[base : base+1<<shift]
				var s uint // extra bits to resolve into the entry
				switch {
				case ac && sym == 0x00: // EOB
					e = resolved(uint(l), uint(l), eobRun, 0)
				case ac && sym == 0xF0: // ZRL
					e = resolved(uint(l), uint(l), 15, 0)
				case ac:
					s = uint(sym & 15)
				case sym == 0: // DC difference 0
					e = resolved(uint(l), uint(l), 0, 0)
				case sym <= 15:
					s = uint(sym)
				}
				if s == 0 || uint(l)+s > lutBits {
					for j := range lut {
						lut[j] = e
					}
					continue
				}
				// The s extra bits follow the code in the index: each of
				// their values has its own run of entries.
				run := 1 << (shift - s)
				for v := range 1 << s {
					ev := resolved(uint(l)+s, uint(l), sym, extend(int32(v), s))
					if ac {
						ev = resolved(uint(l)+s, uint(l), sym>>4, extend(int32(v), s))
					}
					for j := range lut[v*run : (v+1)*run] {
						lut[v*run+j] = ev
					}
				}
			}
			fill = code << shift
		}
		k += n
		code <<= 1
	}
	clear(t.lut[fill:]) // prefixes of longer codes, or of none
	return nil
}

// eobRun is the run of a resolved end of block: past any coefficient.
const eobRun = 64

// extend turns s extra bits v into a coefficient value (F.2.2.1).
func extend(v int32, s uint) int32 {
	if s == 0 {
		return 0
	}
	if v < 1<<(s-1) {
		v += -1<<s + 1
	}
	return v
}

// The tables of ITU T.81 Annex K.3, assumed by UVC cameras whose frames
// carry none: DC luminance, DC chrominance, AC luminance, AC chrominance.
var stdTables = func() (t [4]huffTable) {
	for i, s := range StandardTables {
		if err := t[i].build(&s.Counts, s.Values, i >= 2); err != nil {
			panic("jpeg: built-in Huffman table: " + err.Error())
		}
	}
	return t
}()

// HuffmanSpec is one Huffman table as a DHT segment states it: the number
// of codes of each length 1…16 and the symbols in code order.
type HuffmanSpec struct {
	Class  uint8 // 0 DC, 1 AC
	ID     uint8 // destination 0…3
	Counts [16]uint8
	Values []uint8
}

// StandardTables are the Huffman tables of ITU T.81 Annex K.3 (K.3.3.1
// and K.3.3.2): DC luminance, DC chrominance, AC luminance, AC
// chrominance. UVC MJPEG cameras assume them when their frames carry no
// DHT segment.
var StandardTables = [4]HuffmanSpec{
	{0, 0, [16]uint8{0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0}, []uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
	{0, 1, [16]uint8{0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0}, []uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
	{1, 0, [16]uint8{0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d}, []uint8{
		0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
		0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0,
		0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
		0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
		0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
		0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
		0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
		0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5,
		0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
		0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
		0xf9, 0xfa,
	}},
	{1, 1, [16]uint8{0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77}, []uint8{
		0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
		0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0,
		0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26,
		0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
		0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
		0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
		0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
		0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
		0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda,
		0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
		0xf9, 0xfa,
	}},
}

//go:build purego || !(amd64 || arm64)

package preprocess

// pairsKernel would run an assembly kernel of wordTab.addPairs over a
// prefix of the row: there is none on this architecture.
func pairsKernel(acc []uint64, ys, cb, cr []uint8, step int, w uint64, t *wordTab) int { return 0 }

// yuyvKernel would run an assembly kernel of wordTab.addYUYV over a
// prefix of the row: there is none on this architecture.
func yuyvKernel(acc []uint64, src []uint8, w uint64, t *wordTab) int { return 0 }

// grayKernel would run an assembly kernel of addGray over a prefix of the
// row: there is none on this architecture.
func grayKernel(acc []uint64, row []uint8, w uint64) int { return 0 }

// rgbKernel would run an assembly kernel of addRGB over a prefix of the
// row: there is none on this architecture.
func rgbKernel(acc []uint64, rgb []uint8, w uint64) int { return 0 }

// hboxKernels says that hbox has an assembly kernel here: it has not.
const hboxKernels = false

// hboxKernel would run an assembly kernel of hbox over a prefix of the
// output row: there is none on this architecture.
func hboxKernel(o []uint8, acc []uint64, first []int32, w4 []uint64, q *hquot) int { return 0 }

// scaledKernel would run an assembly kernel of addScaled over a prefix of
// the row: there is none on this architecture.
func scaledKernel(acc, next []uint64, w, w2 uint64) int { return 0 }

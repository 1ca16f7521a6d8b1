//go:build purego || !(amd64 || arm64)

package model

// batchTol bounds how far the batched training step may be from the
// per-image one (see the other build's batchTol). The portable kernel sums
// each block of K in a register before adding it to C, so a product over
// the batch rounds differently from one per image in every layer, not only
// where strips are used; catsep64's seventeen batch norms, over as few as
// 48 values per channel at batch 3, amplify that to 4e-3 of the largest
// gradient (some values ReLUs cut off one way see the other side of 0 the
// other way). A batching mistake (an image's rows in the wrong place) would
// be of the size of the gradients themselves. Only the first step is
// compared: after an update from such gradients the two nets part further.
const (
	batchTol   = 1e-2
	batchSteps = 1
)

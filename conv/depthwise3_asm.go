//go:build !purego && (amd64 || arm64)

package conv

import "math"

// reluFloor is the floor the assembly kernels clamp their sums to: 0 for a
// ReLU, -Inf (no clamp) otherwise.
func reluFloor(relu bool) float32 {
	if relu {
		return 0
	}
	return float32(math.Inf(-1))
}

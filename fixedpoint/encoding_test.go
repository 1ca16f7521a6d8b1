package fixedpoint

import (
	"testing"

	"catd/internal/asmcheck"
)

// TestARM64Encodings checks every WORD-encoded instruction of
// kernels_arm64.s against LLVM's assembler (asmcheck.Words).
func TestARM64Encodings(t *testing.T) {
	asmcheck.Words(t, "kernels_arm64.s", 20, "+dotprod")
}

// TestDW3ARM64Encodings checks the WORD-encoded instructions of the 3×3
// depthwise kernel.
func TestDW3ARM64Encodings(t *testing.T) {
	asmcheck.Words(t, "dw3_arm64.s", 19, "")
}

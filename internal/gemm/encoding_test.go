package gemm

import (
	"testing"

	"catd/internal/asmcheck"
)

// TestARM64Encodings checks every WORD-encoded instruction of
// kernels_arm64.s against LLVM's assembler (asmcheck.Words).
func TestARM64Encodings(t *testing.T) {
	asmcheck.Words(t, "kernels_arm64.s", 10, "")
}

package preprocess

import (
	"testing"

	"catd/internal/asmcheck"
)

// TestARM64Encodings checks the WORD-encoded NEON instructions of
// box_arm64.s against LLVM's assembler (asmcheck.Words).
func TestARM64Encodings(t *testing.T) {
	asmcheck.Words(t, "box_arm64.s", 15, "")
}

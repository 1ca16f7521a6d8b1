package conv

import (
	"testing"

	"catd/internal/asmcheck"
)

// TestARM64Encodings checks every WORD-encoded instruction of
// depthwise3_arm64.s, maxpool2_arm64.s and bnkern_arm64.s against LLVM's assembler
// (asmcheck.Words).
func TestARM64Encodings(t *testing.T) {
	asmcheck.Words(t, "depthwise3_arm64.s", 1, "")
	asmcheck.Words(t, "maxpool2_arm64.s", 6, "")
	asmcheck.Words(t, "bnkern_arm64.s", 10, "")
}

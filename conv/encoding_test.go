package conv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestARM64Encodings checks every WORD-encoded instruction of
// depthwise3_arm64.s against LLVM's assembler: the comment after each WORD
// names the instruction, llvm-mc encodes it, and the two must agree. It
// runs on any host with llvm-mc (it only reads the .s file) and is skipped
// elsewhere.
func TestARM64Encodings(t *testing.T) {
	mc, err := exec.LookPath("llvm-mc")
	if err != nil {
		t.Skip("llvm-mc not installed")
	}
	src, err := os.ReadFile("depthwise3_arm64.s")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`WORD \$0x([0-9a-f]{8}) // (.*)`)
	want := map[string]string{} // instruction -> encoding
	var order []string
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		ins := strings.ToLower(m[2])
		if e, ok := want[ins]; ok {
			if e != m[1] {
				t.Errorf("%s encoded both as %s and %s", m[2], e, m[1])
			}
			continue
		}
		want[ins] = m[1]
		order = append(order, ins)
	}
	if len(order) < 1 {
		t.Fatalf("found only %d distinct WORD instructions", len(order))
	}
	cmd := exec.Command(mc, "-triple=aarch64", "-show-encoding")
	cmd.Stdin = strings.NewReader(strings.Join(order, "\n") + "\n")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("llvm-mc: %v\n%s", err, errb.String())
	}
	enc := regexp.MustCompile(`encoding: \[0x(..),0x(..),0x(..),0x(..)\]`)
	got := enc.FindAllStringSubmatch(out.String(), -1)
	if len(got) != len(order) {
		t.Fatalf("llvm-mc encoded %d of %d instructions:\n%s", len(got), len(order), errb.String())
	}
	for i, ins := range order {
		g := got[i]
		if e := fmt.Sprint(g[4], g[3], g[2], g[1]); e != want[ins] {
			t.Errorf("%s: WORD $0x%s, llvm-mc says 0x%s", ins, want[ins], e)
		}
	}
	t.Logf("%d distinct WORD instructions agree with llvm-mc", len(order))
}

// Package asmcheck checks hand-encoded arm64 instructions in Go assembly
// against LLVM's assembler, for the tests of the packages that have them.
//
// Go's assembler lacks some NEON instructions (dot products, some
// widening and lane forms); the kernels write those as WORD $0x…
// directives with the instruction in a comment after each. Words tells
// llvm-mc to encode every such instruction and compares.
package asmcheck

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// Words checks every WORD-encoded instruction of the assembly file path
// against llvm-mc (with the extra -mattr features, e.g. "+dotprod"): the
// comment after each WORD names the instruction, llvm-mc encodes it, and
// the two must agree. It fails if the file has fewer than min distinct
// WORD instructions (a sign the pattern no longer matches), and skips the
// test when llvm-mc is not installed. It only reads the file, so it runs
// on any host.
func Words(t *testing.T, path string, min int, mattr string) {
	t.Helper()
	mc, err := exec.LookPath("llvm-mc")
	if err != nil {
		t.Skip("llvm-mc not installed")
	}
	src, err := os.ReadFile(path)
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
	if len(order) < min {
		t.Fatalf("%s: found only %d distinct WORD instructions, want at least %d", path, len(order), min)
	}
	args := []string{"-triple=aarch64"}
	if mattr != "" {
		args = append(args, "-mattr="+mattr)
	}
	cmd := exec.Command(mc, append(args, "-show-encoding")...)
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
	t.Logf("%s: %d distinct WORD instructions agree with llvm-mc", path, len(order))
}

// The inner loop of bnGradSumsNEON (conv/bnkern_arm64.s: the sums of a block
// of 4 channels' gradient through the ReLU's mask, in memory) in LLVM's
// syntax, for
// llvm-mca -mtriple=aarch64 -mcpu=cortex-a72 -iterations=200 scripts/llvm-mca/bn_sums_neon.s
ld1 {v3.4s}, [x12], #16
ld1 {v4.4s}, [x11], #16
ld1 {v5.4s}, [x10], #16
ld1 {v0.4s}, [x13], #16
ld1 {v1.4s}, [x14]
ld1 {v2.4s}, [x15]
fcmgt v3.4s, v3.4s, #0.0
and v4.16b, v3.16b, v4.16b
fadd v1.4s, v1.4s, v4.4s
fsub v5.4s, v5.4s, v0.4s
fmul v5.4s, v4.4s, v5.4s
fadd v2.4s, v2.4s, v5.4s
st1 {v1.4s}, [x14], #16
st1 {v2.4s}, [x15], #16
add x8, x8, #16
cmp x8, x5
b.lt 0

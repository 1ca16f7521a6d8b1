// The full-window loop of dw3NEON (conv/depthwise3_arm64.s) in LLVM's syntax, for
// llvm-mca -mtriple=aarch64 -mcpu=cortex-a72 -iterations=200 scripts/llvm-mca/dw3_neon.s
mov v10.16b, v9.16b
ld1 {v11.4s}, [x12], x4
ld1 {v12.4s}, [x12], x4
ld1 {v13.4s}, [x12]
add x12, x12, x17
ld1 {v14.4s}, [x13], x4
ld1 {v15.4s}, [x13], x4
ld1 {v16.4s}, [x13]
add x13, x13, x17
ld1 {v17.4s}, [x14], x4
ld1 {v18.4s}, [x14], x4
ld1 {v19.4s}, [x14]
add x14, x14, x17
fmla v10.4s, v11.4s, v0.4s
fmla v10.4s, v12.4s, v1.4s
fmla v10.4s, v13.4s, v2.4s
fmla v10.4s, v14.4s, v3.4s
fmla v10.4s, v15.4s, v4.4s
fmla v10.4s, v16.4s, v5.4s
fmla v10.4s, v17.4s, v6.4s
fmla v10.4s, v18.4s, v7.4s
fmla v10.4s, v19.4s, v8.4s
fmax v10.4s, v31.4s, v10.4s
st1 {v10.4s}, [x11], x4
subs x10, x10, #1
b.ne 0

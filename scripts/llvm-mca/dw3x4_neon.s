// The stride-1 four-pixel loop of dw3NEON (full4s1 in conv/depthwise3_arm64.s) in LLVM's
// syntax, for llvm-mca -mtriple=aarch64 -mcpu=cortex-a72 -iterations=200 scripts/llvm-mca/dw3x4_neon.s
// (the TBZ that skips a row missing from an edge row's windows is never taken here)
cmp x10, #4
b.lt 0
mov v10.16b, v9.16b
mov v20.16b, v9.16b
mov v21.16b, v9.16b
mov v22.16b, v9.16b
tbz x9, #0, 0
mov x15, x12
ld1 {v11.4s}, [x15], x4
ld1 {v12.4s}, [x15], x4
ld1 {v13.4s}, [x15], x4
ld1 {v14.4s}, [x15], x4
ld1 {v15.4s}, [x15], x4
ld1 {v16.4s}, [x15], x4
fmla v10.4s, v11.4s, v0.4s
fmla v10.4s, v12.4s, v1.4s
fmla v10.4s, v13.4s, v2.4s
fmla v20.4s, v12.4s, v0.4s
fmla v20.4s, v13.4s, v1.4s
fmla v20.4s, v14.4s, v2.4s
fmla v21.4s, v13.4s, v0.4s
fmla v21.4s, v14.4s, v1.4s
fmla v21.4s, v15.4s, v2.4s
fmla v22.4s, v14.4s, v0.4s
fmla v22.4s, v15.4s, v1.4s
fmla v22.4s, v16.4s, v2.4s
tbz x9, #3, 0
mov x15, x13
ld1 {v11.4s}, [x15], x4
ld1 {v12.4s}, [x15], x4
ld1 {v13.4s}, [x15], x4
ld1 {v14.4s}, [x15], x4
ld1 {v15.4s}, [x15], x4
ld1 {v16.4s}, [x15], x4
fmla v10.4s, v11.4s, v3.4s
fmla v10.4s, v12.4s, v4.4s
fmla v10.4s, v13.4s, v5.4s
fmla v20.4s, v12.4s, v3.4s
fmla v20.4s, v13.4s, v4.4s
fmla v20.4s, v14.4s, v5.4s
fmla v21.4s, v13.4s, v3.4s
fmla v21.4s, v14.4s, v4.4s
fmla v21.4s, v15.4s, v5.4s
fmla v22.4s, v14.4s, v3.4s
fmla v22.4s, v15.4s, v4.4s
fmla v22.4s, v16.4s, v5.4s
tbz x9, #6, 0
mov x15, x14
ld1 {v11.4s}, [x15], x4
ld1 {v12.4s}, [x15], x4
ld1 {v13.4s}, [x15], x4
ld1 {v14.4s}, [x15], x4
ld1 {v15.4s}, [x15], x4
ld1 {v16.4s}, [x15], x4
fmla v10.4s, v11.4s, v6.4s
fmla v10.4s, v12.4s, v7.4s
fmla v10.4s, v13.4s, v8.4s
fmla v20.4s, v12.4s, v6.4s
fmla v20.4s, v13.4s, v7.4s
fmla v20.4s, v14.4s, v8.4s
fmla v21.4s, v13.4s, v6.4s
fmla v21.4s, v14.4s, v7.4s
fmla v21.4s, v15.4s, v8.4s
fmla v22.4s, v14.4s, v6.4s
fmla v22.4s, v15.4s, v7.4s
fmla v22.4s, v16.4s, v8.4s
fmax v10.4s, v31.4s, v10.4s
fmax v20.4s, v31.4s, v20.4s
fmax v21.4s, v31.4s, v21.4s
fmax v22.4s, v31.4s, v22.4s
st1 {v10.4s}, [x11], x4
st1 {v20.4s}, [x11], x4
st1 {v21.4s}, [x11], x4
st1 {v22.4s}, [x11], x4
add x12, x12, x6, lsl #2
add x13, x13, x6, lsl #2
add x14, x14, x6, lsl #2
subs x10, x10, #4
b.ne 0

// The chunk loop of rqOneNEON (fixedpoint/kernels_arm64.s, one rounding for fused-ReLU
// layers, eight channels) in LLVM's syntax, for
// llvm-mca -mtriple=aarch64 -mcpu=cortex-a72 -iterations=200 scripts/llvm-mca/rqone_neon.s
ld1 {v0.4s, v1.4s}, [x8], #32
ld1 {v16.4s, v17.4s, v18.4s, v19.4s}, [x7], #64
sqrdmulh v0.4s, v0.4s, v16.4s
srshl v0.4s, v0.4s, v18.4s
add v0.4s, v0.4s, v28.4s
smax v0.4s, v0.4s, v29.4s
smin v0.4s, v0.4s, v30.4s
sqrdmulh v1.4s, v1.4s, v17.4s
srshl v1.4s, v1.4s, v19.4s
add v1.4s, v1.4s, v28.4s
smax v1.4s, v1.4s, v29.4s
smin v1.4s, v1.4s, v30.4s
xtn v0.4h, v0.4s
xtn2 v0.8h, v1.4s
xtn v0.8b, v0.8h
st1 {v0.8b}, [x9], #8
subs x6, x6, #1

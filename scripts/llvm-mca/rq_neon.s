// The chunk loop of rqNEON (fixedpoint/kernels_arm64.s, TFLite's two roundings, eight
// channels) in LLVM's syntax, for
// llvm-mca -mtriple=aarch64 -mcpu=cortex-a72 -iterations=200 scripts/llvm-mca/rq_neon.s
ld1 {v0.4s, v1.4s}, [x8], #32
ld1 {v16.4s, v17.4s, v18.4s, v19.4s}, [x7], #64
ld1 {v20.4s, v21.4s, v22.4s, v23.4s}, [x7], #64
ld1 {v24.4s, v25.4s}, [x7], #32
sshl v0.4s, v0.4s, v16.4s
sqrdmulh v0.4s, v0.4s, v18.4s
and v4.16b, v0.16b, v22.16b
ushr v6.4s, v0.4s, #31
add v6.4s, v6.4s, v24.4s
cmgt v4.4s, v4.4s, v6.4s
neg v8.4s, v20.4s
sshl v0.4s, v0.4s, v8.4s
sub v0.4s, v0.4s, v4.4s
add v0.4s, v0.4s, v28.4s
smax v0.4s, v0.4s, v29.4s
smin v0.4s, v0.4s, v30.4s
sshl v1.4s, v1.4s, v17.4s
sqrdmulh v1.4s, v1.4s, v19.4s
and v5.16b, v1.16b, v23.16b
ushr v7.4s, v1.4s, #31
add v7.4s, v7.4s, v25.4s
cmgt v5.4s, v5.4s, v7.4s
neg v9.4s, v21.4s
sshl v1.4s, v1.4s, v9.4s
sub v1.4s, v1.4s, v5.4s
add v1.4s, v1.4s, v28.4s
smax v1.4s, v1.4s, v29.4s
smin v1.4s, v1.4s, v30.4s
xtn v0.4h, v0.4s
xtn2 v0.8h, v1.4s
xtn v0.8b, v0.8h
st1 {v0.8b}, [x9], #8
subs x6, x6, #1

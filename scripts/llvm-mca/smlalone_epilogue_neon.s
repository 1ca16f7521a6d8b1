// The epilogue of smlalOne4x16 (fixedpoint/kernels_arm64.s): four rows of 16 accumulators
// requantised with one rounding and stored as int8s, in LLVM's syntax, for
// llvm-mca -mtriple=aarch64 -mcpu=cortex-a72 -iterations=200 scripts/llvm-mca/smlalone_epilogue_neon.s
mov x5, x6
ld1 {v0.4s, v1.4s, v2.4s, v3.4s}, [x25]
add x5, x25, #64
ld1 {v4.4s, v5.4s, v6.4s, v7.4s}, [x5]
mov x5, x6
dup v8.4s, w16
dup v9.4s, w17
dup v10.4s, w24
sqrdmulh v16.4s, v16.4s, v0.4s
srshl v16.4s, v16.4s, v2.4s
add v16.4s, v16.4s, v8.4s
smax v16.4s, v16.4s, v9.4s
smin v16.4s, v16.4s, v10.4s
sqrdmulh v17.4s, v17.4s, v1.4s
srshl v17.4s, v17.4s, v3.4s
add v17.4s, v17.4s, v8.4s
smax v17.4s, v17.4s, v9.4s
smin v17.4s, v17.4s, v10.4s
sqrdmulh v18.4s, v18.4s, v4.4s
srshl v18.4s, v18.4s, v6.4s
add v18.4s, v18.4s, v8.4s
smax v18.4s, v18.4s, v9.4s
smin v18.4s, v18.4s, v10.4s
sqrdmulh v19.4s, v19.4s, v5.4s
srshl v19.4s, v19.4s, v7.4s
add v19.4s, v19.4s, v8.4s
smax v19.4s, v19.4s, v9.4s
smin v19.4s, v19.4s, v10.4s
xtn v11.4h, v16.4s
xtn2 v11.8h, v17.4s
xtn v11.8b, v11.8h
xtn v12.4h, v18.4s
xtn2 v12.8h, v19.4s
xtn v12.8b, v12.8h
st1 {v11.8b, v12.8b}, [x5], x7
sqrdmulh v20.4s, v20.4s, v0.4s
srshl v20.4s, v20.4s, v2.4s
add v20.4s, v20.4s, v8.4s
smax v20.4s, v20.4s, v9.4s
smin v20.4s, v20.4s, v10.4s
sqrdmulh v21.4s, v21.4s, v1.4s
srshl v21.4s, v21.4s, v3.4s
add v21.4s, v21.4s, v8.4s
smax v21.4s, v21.4s, v9.4s
smin v21.4s, v21.4s, v10.4s
sqrdmulh v22.4s, v22.4s, v4.4s
srshl v22.4s, v22.4s, v6.4s
add v22.4s, v22.4s, v8.4s
smax v22.4s, v22.4s, v9.4s
smin v22.4s, v22.4s, v10.4s
sqrdmulh v23.4s, v23.4s, v5.4s
srshl v23.4s, v23.4s, v7.4s
add v23.4s, v23.4s, v8.4s
smax v23.4s, v23.4s, v9.4s
smin v23.4s, v23.4s, v10.4s
xtn v11.4h, v20.4s
xtn2 v11.8h, v21.4s
xtn v11.8b, v11.8h
xtn v12.4h, v22.4s
xtn2 v12.8h, v23.4s
xtn v12.8b, v12.8h
st1 {v11.8b, v12.8b}, [x5], x7
sqrdmulh v24.4s, v24.4s, v0.4s
srshl v24.4s, v24.4s, v2.4s
add v24.4s, v24.4s, v8.4s
smax v24.4s, v24.4s, v9.4s
smin v24.4s, v24.4s, v10.4s
sqrdmulh v25.4s, v25.4s, v1.4s
srshl v25.4s, v25.4s, v3.4s
add v25.4s, v25.4s, v8.4s
smax v25.4s, v25.4s, v9.4s
smin v25.4s, v25.4s, v10.4s
sqrdmulh v26.4s, v26.4s, v4.4s
srshl v26.4s, v26.4s, v6.4s
add v26.4s, v26.4s, v8.4s
smax v26.4s, v26.4s, v9.4s
smin v26.4s, v26.4s, v10.4s
sqrdmulh v27.4s, v27.4s, v5.4s
srshl v27.4s, v27.4s, v7.4s
add v27.4s, v27.4s, v8.4s
smax v27.4s, v27.4s, v9.4s
smin v27.4s, v27.4s, v10.4s
xtn v11.4h, v24.4s
xtn2 v11.8h, v25.4s
xtn v11.8b, v11.8h
xtn v12.4h, v26.4s
xtn2 v12.8h, v27.4s
xtn v12.8b, v12.8h
st1 {v11.8b, v12.8b}, [x5], x7
sqrdmulh v28.4s, v28.4s, v0.4s
srshl v28.4s, v28.4s, v2.4s
add v28.4s, v28.4s, v8.4s
smax v28.4s, v28.4s, v9.4s
smin v28.4s, v28.4s, v10.4s
sqrdmulh v29.4s, v29.4s, v1.4s
srshl v29.4s, v29.4s, v3.4s
add v29.4s, v29.4s, v8.4s
smax v29.4s, v29.4s, v9.4s
smin v29.4s, v29.4s, v10.4s
sqrdmulh v30.4s, v30.4s, v4.4s
srshl v30.4s, v30.4s, v6.4s
add v30.4s, v30.4s, v8.4s
smax v30.4s, v30.4s, v9.4s
smin v30.4s, v30.4s, v10.4s
sqrdmulh v31.4s, v31.4s, v5.4s
srshl v31.4s, v31.4s, v7.4s
add v31.4s, v31.4s, v8.4s
smax v31.4s, v31.4s, v9.4s
smin v31.4s, v31.4s, v10.4s
xtn v11.4h, v28.4s
xtn2 v11.8h, v29.4s
xtn v11.8b, v11.8h
xtn v12.4h, v30.4s
xtn2 v12.8h, v31.4s
xtn v12.8b, v12.8h
st1 {v11.8b, v12.8b}, [x5], x7

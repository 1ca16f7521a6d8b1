// The block loop of the int8 dw3NEON (fixedpoint/dw3_arm64.s) in LLVM's syntax, for
// llvm-mca -mtriple=aarch64 -mcpu=cortex-a72 -iterations=200 scripts/llvm-mca/dw3i8_neon.s
ld1 {v16.4s, v17.4s}, [x6], #32
add x24, x12, x10
ld1 {v0.8b}, [x24]
add x24, x13, x10
ld1 {v1.8b}, [x24]
add x24, x14, x10
ld1 {v2.8b}, [x24]
add x24, x15, x10
ld1 {v3.8b}, [x24]
add x24, x19, x10
ld1 {v4.8b}, [x24]
add x24, x20, x10
ld1 {v5.8b}, [x24]
add x24, x21, x10
ld1 {v6.8b}, [x24]
add x24, x22, x10
ld1 {v7.8b}, [x24]
add x24, x23, x10
ld1 {v8.8b}, [x24]
sxtl v0.8h, v0.8b
sxtl v1.8h, v1.8b
sxtl v2.8h, v2.8b
sxtl v3.8h, v3.8b
sxtl v4.8h, v4.8b
sxtl v5.8h, v5.8b
sxtl v6.8h, v6.8b
sxtl v7.8h, v7.8b
sxtl v8.8h, v8.8b
ld2 {v20.8h, v21.8h}, [x5], #32
ld2 {v22.8h, v23.8h}, [x5], #32
ld2 {v24.8h, v25.8h}, [x5], #32
ld2 {v26.8h, v27.8h}, [x5], #32
ld2 {v28.8h, v29.8h}, [x5], #32
smlal v16.4s, v0.4h, v20.4h
smlal2 v17.4s, v0.8h, v20.8h
smlal v16.4s, v1.4h, v21.4h
smlal2 v17.4s, v1.8h, v21.8h
smlal v16.4s, v2.4h, v22.4h
smlal2 v17.4s, v2.8h, v22.8h
smlal v16.4s, v3.4h, v23.4h
smlal2 v17.4s, v3.8h, v23.8h
smlal v16.4s, v4.4h, v24.4h
smlal2 v17.4s, v4.8h, v24.8h
smlal v16.4s, v5.4h, v25.4h
smlal2 v17.4s, v5.8h, v25.8h
smlal v16.4s, v6.4h, v26.4h
smlal2 v17.4s, v6.8h, v26.8h
smlal v16.4s, v7.4h, v27.4h
smlal2 v17.4s, v7.8h, v27.8h
smlal v16.4s, v8.4h, v28.4h
smlal2 v17.4s, v8.8h, v28.8h
st1 {v16.4s, v17.4s}, [x11], #32
add x10, x10, #8
subs x9, x9, #1
b.ne 0

// The group loop of smlalOne4x16 (fixedpoint/kernels_arm64.s; the same as smlal4x16's):
// four k of four rows by 16 channels, 256 multiply-adds, in LLVM's syntax, for
// llvm-mca -mtriple=aarch64 -mcpu=cortex-a72 -iterations=200 scripts/llvm-mca/smlal4x16_neon.s
group:
ld1 {v8.16b, v9.16b, v10.16b, v11.16b}, [x4], #64
sxtl v4.8h, v8.8b
sxtl2 v5.8h, v8.16b
sxtl v6.8h, v9.8b
sxtl2 v7.8h, v9.16b
sxtl v12.8h, v10.8b
sxtl2 v13.8h, v10.16b
sxtl v14.8h, v11.8b
sxtl2 v15.8h, v11.16b
ld1r {v0.4s}, [x9], #4
sxtl v0.8h, v0.8b
ld1r {v1.4s}, [x11], #4
sxtl v1.8h, v1.8b
ld1r {v2.4s}, [x12], #4
sxtl v2.8h, v2.8b
ld1r {v3.4s}, [x13], #4
sxtl v3.8h, v3.8b
smlal v16.4s, v4.4h, v0.h[0]
smlal2 v17.4s, v4.8h, v0.h[0]
smlal v18.4s, v5.4h, v0.h[0]
smlal2 v19.4s, v5.8h, v0.h[0]
smlal v20.4s, v4.4h, v1.h[0]
smlal2 v21.4s, v4.8h, v1.h[0]
smlal v22.4s, v5.4h, v1.h[0]
smlal2 v23.4s, v5.8h, v1.h[0]
smlal v24.4s, v4.4h, v2.h[0]
smlal2 v25.4s, v4.8h, v2.h[0]
smlal v26.4s, v5.4h, v2.h[0]
smlal2 v27.4s, v5.8h, v2.h[0]
smlal v28.4s, v4.4h, v3.h[0]
smlal2 v29.4s, v4.8h, v3.h[0]
smlal v30.4s, v5.4h, v3.h[0]
smlal2 v31.4s, v5.8h, v3.h[0]
smlal v16.4s, v6.4h, v0.h[1]
smlal2 v17.4s, v6.8h, v0.h[1]
smlal v18.4s, v7.4h, v0.h[1]
smlal2 v19.4s, v7.8h, v0.h[1]
smlal v20.4s, v6.4h, v1.h[1]
smlal2 v21.4s, v6.8h, v1.h[1]
smlal v22.4s, v7.4h, v1.h[1]
smlal2 v23.4s, v7.8h, v1.h[1]
smlal v24.4s, v6.4h, v2.h[1]
smlal2 v25.4s, v6.8h, v2.h[1]
smlal v26.4s, v7.4h, v2.h[1]
smlal2 v27.4s, v7.8h, v2.h[1]
smlal v28.4s, v6.4h, v3.h[1]
smlal2 v29.4s, v6.8h, v3.h[1]
smlal v30.4s, v7.4h, v3.h[1]
smlal2 v31.4s, v7.8h, v3.h[1]
smlal v16.4s, v12.4h, v0.h[2]
smlal2 v17.4s, v12.8h, v0.h[2]
smlal v18.4s, v13.4h, v0.h[2]
smlal2 v19.4s, v13.8h, v0.h[2]
smlal v20.4s, v12.4h, v1.h[2]
smlal2 v21.4s, v12.8h, v1.h[2]
smlal v22.4s, v13.4h, v1.h[2]
smlal2 v23.4s, v13.8h, v1.h[2]
smlal v24.4s, v12.4h, v2.h[2]
smlal2 v25.4s, v12.8h, v2.h[2]
smlal v26.4s, v13.4h, v2.h[2]
smlal2 v27.4s, v13.8h, v2.h[2]
smlal v28.4s, v12.4h, v3.h[2]
smlal2 v29.4s, v12.8h, v3.h[2]
smlal v30.4s, v13.4h, v3.h[2]
smlal2 v31.4s, v13.8h, v3.h[2]
smlal v16.4s, v14.4h, v0.h[3]
smlal2 v17.4s, v14.8h, v0.h[3]
smlal v18.4s, v15.4h, v0.h[3]
smlal2 v19.4s, v15.8h, v0.h[3]
smlal v20.4s, v14.4h, v1.h[3]
smlal2 v21.4s, v14.8h, v1.h[3]
smlal v22.4s, v15.4h, v1.h[3]
smlal2 v23.4s, v15.8h, v1.h[3]
smlal v24.4s, v14.4h, v2.h[3]
smlal2 v25.4s, v14.8h, v2.h[3]
smlal v26.4s, v15.4h, v2.h[3]
smlal2 v27.4s, v15.8h, v2.h[3]
smlal v28.4s, v14.4h, v3.h[3]
smlal2 v29.4s, v14.8h, v3.h[3]
smlal v30.4s, v15.4h, v3.h[3]
smlal2 v31.4s, v15.8h, v3.h[3]
subs x10, x10, #1
b.ne group

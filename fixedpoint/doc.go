// Package fixedpoint implements catd's int8 inference: the integer
// arithmetic of TensorFlow Lite's quantization scheme, bit for bit, and the
// int8 layer kernels built on it (convolution, depthwise convolution, 2×2
// max pooling, global average pooling, dense), so that boards without much
// floating-point throughput can run a network trained in float32 by package
// conv.
//
// # Scheme
//
// A quantized tensor stores q and means real = scale * (q - zero_point)
// (TFLite's affine scheme):
//
//   - activations are int8, asymmetric, one scale and zero point per tensor;
//   - convolution, depthwise and dense weights are int8, symmetric (zero
//     point 0, values in -127..127 as TFLite's int8 spec asks; the kernels
//     are exact for -128 too), with one scale per output channel (or one per
//     tensor for dense);
//   - biases are int32 with scale s_in * s_w[channel] and zero point 0.
//
// A layer accumulates Σ (q_in - zp_in) * q_w + bias in int32, then scales
// the accumulator by the real multiplier M = s_in * s_w / s_out, held as a
// Q31 mantissa and a power-of-two exponent (quantizeMultiplier), with
// multiplyByQuantizedMultiplier, adds the output zero point and clamps to
// [requantParams.Min, requantParams.Max]; a following ReLU is fused as the clamp
// (Min = zp_out). Padding contributes as if the input were zp_in, that is a
// real 0.
//
// # Rounding
//
// The arithmetic mirrors gemmlowp's fixedpoint.h and TFLite's
// kernels/internal/common.h and quantization_util.cc (non-single-rounding
// build, the default): saturatingRoundingDoublingHighMul rounds x*m/2^31
// half up and saturates only INT32_MIN*INT32_MIN; roundingDivideByPOT
// rounds half away from zero; so a requantization rounds twice, exactly as
// TFLite does. The kernels follow TFLite's reference integer kernels
// (reference_integer_ops) operation for operation, including int32
// wrap-around of the accumulator, so their results are meant to be
// bit-exact with TFLite's; the tests hold them bit for bit to independent
// int64 and math/big restatements of those rules (there are no golden
// files from TFLite itself yet). Float
// conversions (quantizeMultiplier, quantize, floatToQ, the input lookup
// table) round half away from zero (TfLiteRound, math.Round) and saturate.
//
// # Layout
//
// Activations are NHWC, as in package conv: element (n, y, x, c) of a batch
// of H×W×C images is at index ((n*H+y)*W+x)*C+c. Convolution weights are
// OHWI, [OutC][KH][KW][InC], TFLite's layout (package conv uses HWIO): one
// output channel's weights are a contiguous run in the order of an im2col
// patch row. Depthwise weights are [KH][KW][C] and dense weights
// [Out][In], also as in TFLite.
//
// # Buffers
//
// Layers are built once (newConv2D and friends copy and pre-process their
// parameters: per-channel weight sums folded into the bias, weights packed
// for the inner loop). Forward methods write into caller-provided
// destinations and take a caller-provided workspace (WorkLen); nothing on a
// forward path allocates. Outputs never alias inputs. Wrong lengths are
// programmer errors and panic with a message starting "fixedpoint: ";
// parameters that come from outside (a model file) are checked by the
// constructors, which return errors.
//
// Each kernel has a plain reference twin (Conv2DRef and friends, in
// reference_test.go) that
// accumulates in int64 and requantizes with RequantizeRef, a restatement of
// the rounding rules in exact int64 arithmetic rather than gemmlowp's bit
// tricks; the tests hold the fast kernels to them bit for bit.
//
// # Speed
//
// Convolution and dense layers are one int8×int8→int32 matrix product
// (gemm.go): rows are output pixels, columns output channels, and there is
// no im2col: a pixel's patch is read straight from the image, KH runs of
// KW*InC int8s, after a convolution that pads has copied the image with
// its zero-point border into the workspace. The weights are packed once,
// at construction, into panels of 8 or 16 channels in the layout the
// kernel wants, and the input zero point leaves the inner loop as -zp_in*Σw
// folded into the bias (exact modulo 2^32, as TFLite's int32 accumulator
// is). A block of accumulators lands in an int32 tile on the stack and is
// requantized eight channels at a time. Depthwise convolution runs per
// output row in runs of pixels sharing their in-image taps, a block of
// channels at a time, into the same kind of tile.
//
// Where a layer's clamp floor is at or above its output zero point (a
// fused ReLU) and its right shifts are 1..20, TFLite's two roundings give
// the same int8 as one, floor((acc·m + C) / 2^(31+e)) with the rounding
// terms and the zero point in C (oneRounding in outstage.go), and on
// AVX-512 (VNNI, BW) the products are requantized that way in the block
// kernels' epilogue while still in registers and stored as int8s: no
// tile. So are the 3×3 depthwise layers: stride 1 in a row kernel reading
// input rows widened to int16 once and padded with the zero point
// (dwRowOne512), other strides in one reading int8 taps (dw3One512).
// On arm64 the SMLAL block kernels (the Pi 4's) have fused twins too,
// smlalOne, requantising with SQRDMULH and a rounding shift (SRSHL), which
// is the same single rounding bit for bit (outStage.one8At), on layers of
// whole 8- or 16-channel panels; the SDOT kernels still go through the
// tile and rqOneNEON.
//
// The kernels are assembly behind //go:build !purego, chosen at run time
// with golang.org/x/sys/cpu, and generated by gen.go:
//
//   - amd64: AVX-512 VNNI VPDPBUSD (on YMM registers; panels of 8, 16 or
//     24 channels) where the CPU has AVX512VL and AVX512_VNNI, reading the
//     input as unsigned a+128 and taking 128*Σw out of the bias; otherwise
//     AVX2 VPMOVSXBW+VPMADDWD, exact where VPMADDUBSW would saturate.
//     Requantization (VPMULDQ) is AVX2 or AVX-512, fused into the VNNI
//     kernels as above; the 3×3 depthwise kernels use VPMADDWD (AVX2) or
//     VPDPWSSD (fused), other depthwise layers VPMULLD, max pooling
//     VPMAXSB; the input lookup runs in AVX-512 VBMI (VPERMI2B).
//   - arm64: SDOT where the CPU has the dot-product extension
//     (cpu.ARM64.HasASIMDDP; the Pi 5's Cortex-A76), otherwise SMLAL by
//     element on int16-widened operands (the Pi 4's Cortex-A72); the
//     requantization uses SQRDMULH, which is gemmlowp's
//     SaturatingRoundingDoublingHighMul bit for bit. Go's assembler lacks
//     these instructions, so they are WORDs, each with the instruction as a
//     comment and checked against llvm-mc by the tests.
//   - everywhere else (32-bit arm, the purego tag, CPUs without the
//     features): portable Go, whose matrix kernel carries two channels in
//     one int64 (each sum stays below 2^30, so the lanes never interfere).
//
// Every assembly kernel has a Go twin that reads the same packed data, and
// the tests hold each kernel to its twin and every layer, with every
// instruction set the CPU has, to the references, bit for bit.
package fixedpoint

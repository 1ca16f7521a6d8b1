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
//     tensor for Dense);
//   - biases are int32 with scale s_in * s_w[channel] and zero point 0.
//
// A layer accumulates Σ (q_in - zp_in) * q_w + bias in int32, then scales
// the accumulator by the real multiplier M = s_in * s_w / s_out, held as a
// Q31 mantissa and a power-of-two exponent (QuantizeMultiplier), with
// MultiplyByQuantizedMultiplier, adds the output zero point and clamps to
// [Requant.Min, Requant.Max]; a following ReLU is fused as the clamp
// (Min = zp_out). Padding contributes as if the input were zp_in, that is a
// real 0.
//
// # Rounding
//
// The arithmetic mirrors gemmlowp's fixedpoint.h and TFLite's
// kernels/internal/common.h and quantization_util.cc (non-single-rounding
// build, the default): SaturatingRoundingDoublingHighMul rounds x*m/2^31
// half up and saturates only INT32_MIN*INT32_MIN; RoundingDivideByPOT
// rounds half away from zero; so a requantization rounds twice, exactly as
// TFLite does. The kernels follow TFLite's reference integer kernels
// (reference_integer_ops) operation for operation, including int32
// wrap-around of the accumulator, so their results are meant to be
// bit-exact with TFLite's; the tests hold them bit for bit to independent
// int64 and math/big restatements of those rules (there are no golden
// files from TFLite itself yet). Float
// conversions (QuantizeMultiplier, Quantize, FloatToQ, the input lookup
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
// Layers are built once (NewConv2D and friends copy and pre-process their
// parameters: per-channel weight sums folded into the bias, weights packed
// for the inner loop). Forward methods write into caller-provided
// destinations and take a caller-provided workspace (WorkLen); nothing on a
// forward path allocates. Outputs never alias inputs. Wrong lengths are
// programmer errors and panic with a message starting "fixedpoint: ";
// parameters that come from outside (a model file) are checked by the
// constructors, which return errors.
//
// Each kernel has a plain reference twin (Conv2DRef and friends) that
// accumulates in int64 and requantizes with RequantizeRef, a restatement of
// the rounding rules in exact int64 arithmetic rather than gemmlowp's bit
// tricks; the tests hold the fast kernels to them bit for bit.
//
// # Speed
//
// The kernels are pure Go. The convolution lowers to im2col into an int8
// workspace and an int8×int8→int32 matrix product whose inner loop keeps a
// 4-pixel × 4-channel block of accumulators in registers, two channels per
// 64-bit register (the products are exact integers, so two 32-bit lanes of
// one int64 never interfere); the input zero point is moved out of the inner
// loop by folding zp_in * Σw into the bias. arm64 NEON kernels (SDOT/SMLAL)
// are future work, to live in x_arm64.go/x_arm64.s under //go:build !purego
// with this Go code as the fallback.
package fixedpoint

// Package conv implements the float32 layers of catd's convolutional network:
// 2-D convolution (forward and backward), ReLU, 2x2 max pooling, global average
// pooling and the fully connected (dense) layer.
//
// # Layout
//
// Activations are NHWC: element (n, y, x, c) of a batch with height H, width W
// and C channels lives at index ((n*H+y)*W+x)*C+c. NHWC keeps the channels of
// one pixel together, so a convolution is a matrix product of a patch matrix
// (one row per output pixel, KH*KW*C columns, built by im2col from contiguous
// runs of the input; the forward pass reads those runs in place) with the
// weights; the same layout is what int8 inference (TFLite) and ARM NEON
// kernels want, and camera frames arrive as interleaved pixels already.
//
// Convolution weights are HWIO, [KH][KW][InC][OutC]: read as a (KH*KW*InC)×OutC
// matrix they multiply the patch matrix directly. Dense weights are [In][Out]
// for the same reason, and depthwise weights [KH][KW][C]. PyTorch stores OIHW and [Out][In]; OIHWToHWIO and
// HWIOToOIHW convert between the two.
//
// # Buffers
//
// Every kernel writes into caller-provided destinations and takes a caller-
// provided workspace sized once (WorkLen; BatchWorkLen for the batched
// convolution of a training step, ForwardBatch and BackwardBatch); nothing
// allocates. Outputs never
// alias inputs unless a doc comment says so. Weight and bias gradients
// accumulate (+=), so a batch sums into them and the caller zeroes them
// between steps; input gradients are overwritten. Wrong lengths are
// programmer errors and panic with a message starting "conv: ".
//
// Each kernel has a plain reference twin (ConvForwardRef and friends, in
// reference_test.go) generic over float32 and float64: the tests compare the
// fast kernels against them and check the references against finite
// differences in float64 and against PyTorch golden files in testdata/
// (in PyTorch's layouts; package convtest converts them).
package conv

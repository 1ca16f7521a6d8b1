// Package optim implements the parameter-update rules used to fine-tune
// catd's network, and the learning-rate schedules that drive them.
//
// All vectors are flat []float32 with one element per trainable parameter;
// the layout (NHWC or otherwise) is the model's business, because every rule
// here works element by element. The parameters and gradients belong to the
// caller; an [Optimizer] owns only its state vectors.
//
// With θ the parameters, g the gradient of the loss, η the learning rate and
// all operations element-wise, the rules are (with their usual names):
//
// SGD ([KindSGD]):
//
//	θ ← θ − η·g
//
// Momentum ([KindMomentum]), with V starting at 0; this is PyTorch's
// SGD(momentum=β, dampening=0):
//
//	V ← β·V + g
//	θ ← θ − η·V
//
// Adam with bias correction ([KindAdam]), with t = 1 at the first step and
// defaults β1 = 0.9, β2 = 0.999, η = 1e-3, ε = 1e-8:
//
//	v ← β1·v + (1−β1)·g
//	s ← β2·s + (1−β2)·g²
//	v̂ = v / (1−β1^t)
//	ŝ = s / (1−β2^t)
//	θ ← θ − η·v̂ / (√ŝ + ε)
//
// ε is added after the square root. As in PyTorch's torch.optim.Adam, the
// last line is evaluated as
//
//	denom = √s / √(1−β2^t) + ε
//	θ ← θ − (η/(1−β1^t))·v / denom
//
// with the two bias-correction factors computed once per step in float64 and
// the per-element loop in float32, so that results agree with PyTorch's
// float32 Adam to about 1e-6 relative.
//
// The element loops round every product to float32 before adding it (no
// fused multiply-add), so a step gives the same bits on amd64, arm64 and
// 32-bit arm: a run on a developer's machine reproduces the board's.
//
// Learning-rate schedules map the step count t (0 at the first step) to η:
// [Constant], [Piecewise] and [Exponential]; [ParseSchedule] reads the
// textual form used by the --schedule flag.
package optim

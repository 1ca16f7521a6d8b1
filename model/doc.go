// Package model is catd's cat detector network: a sequential CNN described
// by an Arch (the reference catnet64 among the built-in ones), with its
// parameters and gradients in two flat buffers, a numerically stable
// sigmoid and binary cross-entropy on logits, batched forward and backward
// passes that allocate nothing after New, and the model file format
// (safetensors, interchangeable with PyTorch).
//
// Images are NHWC float32, normalised as the model's Info says (see
// NormalizePixels); the layer kernels live in package conv.
package model

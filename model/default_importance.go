package model

import _ "embed"

// defaultImportance is the built-in model's importance file: the Fisher
// information of each of its folded parameters on its training images,
// made by "make default-importance" (catd importance). On-device learning
// holds the parameters it names as important near the built-in values
// (package learn decodes it: learn.DecodeImportance).
//
//go:embed default-importance.safetensors
var defaultImportance []byte

// DefaultImportance returns the built-in model's importance file; the
// caller must not modify it.
func DefaultImportance() []byte { return defaultImportance }

package model

import (
	_ "embed"
	"fmt"
)

// defaultModel is the model catd uses when none is given, trained by
// "make default-model" (see the Makefile for the exact command and the
// README for its measured accuracy).
//
//go:embed default.safetensors
var defaultModel []byte

// Default returns the model built into catd, in a new Net built with opt.
func Default(opt Options) (*Net, Info, error) {
	n, info, err := Decode(defaultModel, opt)
	if err != nil {
		return nil, Info{}, fmt.Errorf("model: the built-in default model: %w", err)
	}
	return n, info, nil
}

// DefaultBytes returns the built-in model's file, for hashing or saving;
// the caller must not modify it.
func DefaultBytes() []byte { return defaultModel }

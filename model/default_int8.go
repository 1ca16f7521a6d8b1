package model

import _ "embed"

// defaultInt8 is the int8 version of the built-in model, made by "make
// default-int8" (catd quantize on Tiny ImageNet's train split). It lives
// here, next to the float model it comes from, because go:embed reaches no
// file outside its package's folder; package fixedpoint, which imports
// this one, decodes it (fixedpoint.Default), since decoding it here would
// make the packages import each other.
//
//go:embed default-int8.safetensors
var defaultInt8 []byte

// DefaultInt8Bytes returns the built-in int8 model's file (format
// "catd-int8-model", see package fixedpoint); the caller must not modify
// it.
func DefaultInt8Bytes() []byte { return defaultInt8 }

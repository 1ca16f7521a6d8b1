// Package config is catd's configuration file: the schema, strict YAML
// parsing that names the file, line and key of every problem, defaults,
// validation and the difference between two configs.
//
// # The file
//
// The file is one YAML mapping (under systemd /etc/catd/catd.yaml); a
// complete example with every key at its default is systemd/catd.yaml:
//
//	source: "v4l2:/dev/video0"
//	detect:
//	  threshold: 0.7
//	  roi: [120, 300, 520, 480]
//	stats_every: 10s
//	snapshots:
//	  max_bytes: 64MiB
//	on_detect:
//	  command: ["/usr/local/bin/notify", "cat at the door"]
//
// A key the file leaves out keeps its default (Default), so partial files
// are fine; a key written with no value, null or ~ also means the default,
// and so does a section written that way ("detect: ~"). An empty file, or
// one holding only comments, means all defaults.
//
// Values are typed strictly. Integers are written without a fraction
// (2, not 2.5 or 2.0); booleans are true or false (YAML 1.1's yes, no, on
// and off are refused); strings are not numbers ("0.5" in quotes is not a
// threshold). Durations carry a unit, in Go's syntax: 10s, 500ms, 5m,
// 1h30m; the bare number 0 means zero. Sizes in bytes are an integer, or
// an integer with one of the units B, KB, MB, GB (powers of 1000) or KiB,
// MiB, GiB (powers of 1024): 64MiB. Unknown keys, duplicate keys, anchors
// and aliases, merge keys and more than one YAML document are errors.
//
// # Limits
//
// A config file is a regular file (or a link to one) of at most
// MaxFileSize bytes (1 MiB); a named pipe, a device or a larger file is
// refused at once, without waiting and without reading more than 1 MiB
// (ReadFile). A file may also hold at most 10,000 line ends and YAML
// separators (: - , [ { ?), so that the YAML parser's node tree stays
// within a few MB; the full example has about 400. Anchors and aliases are
// refused, so nothing is expanded.
//
// # Errors
//
// Parse reports every problem it finds, not just the first, as one
// error that joins (errors.Join) up to 20 values of type *Error, ordered
// by line. Each reads
//
//	FILE:LINE: KEY: PROBLEM
//
// for example
//
//	catd.yaml:12: detect.threshold: want a number in (0, 1), got 1.5 (or 0: the model's own)
//	catd.yaml:14: detect.thresold: unknown key (did you mean "threshold"?)
//	catd.yaml:3: YAML syntax: mapping values are not allowed in this context
//
// where KEY is the dotted path of the key (absent for problems of the
// whole file) and LINE the line of the key. Use errors.As to get at the
// first *Error, or the error's Unwrap() []error method for all of them.
// Validate, meant for a Config changed after Parse (by command-line flags),
// reports the same range problems without FILE and LINE.
package config

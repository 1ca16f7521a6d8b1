package config

import (
	"bytes"
	"fmt"
	"image"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// decoder walks the YAML node tree of a file into a Config, by the yaml
// tags of its fields, and collects every problem it meets rather than
// stopping at the first. It is strict where yaml.Unmarshal is lenient:
// types must match exactly, and unknown keys, duplicate keys, anchors and
// aliases are errors.
type decoder struct {
	file  string
	lines map[string]int // dotted key → line of the key in the file
	errs  []*Error
}

func newDecoder(file string) *decoder {
	return &decoder{file: file, lines: make(map[string]int)}
}

// place is where a value sits: its dotted key and the line to report.
type place struct {
	key  string
	line int
}

func (d *decoder) fail(at place, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: at.line, Key: at.key, Msg: fmt.Sprintf(format, args...)})
}

// maxItems is the most line ends and YAML indicators that can start or
// separate values (: - , [ { ?) a config file may hold; the full example,
// systemd/catd.yaml, with all its comments, has about 400. The YAML parser
// makes a node tree of a whole document before the decoder sees it, about
// 250 bytes per node, and a file of MaxFileSize bytes can hold half a
// million nodes ("[0,0,0,…]"): 140 MB. Nodes cannot outnumber twice the
// items plus two, so this bounds the tree to about 5 MB.
const maxItems = 10_000

// decode overlays the keys that data sets on c.
func (d *decoder) decode(data []byte, c *Config) {
	if len(data) > MaxFileSize {
		d.fail(place{}, "%d bytes, more than the %d (1 MiB) a config file may hold", len(data), MaxFileSize)
		return
	}
	if n := items(data); n > maxItems {
		d.fail(place{}, "more than %d lines and YAML separators (: - , [ { ?), too many for a catd config (the full example has about 400)", maxItems)
		return
	}
	doc, second, err := parseYAML(data)
	if err != nil {
		line, msg := syntaxProblem(data, err)
		d.fail(place{"", line}, "YAML syntax: %s", msg)
		return
	}
	if second != nil {
		d.fail(place{"", second.Line}, "want one YAML document, found a second (--- starts a new one)")
	}
	if doc == nil || len(doc.Content) == 0 {
		return // empty, or only comments
	}
	top := doc.Content[0]
	at := place{"", top.Line}
	if !d.plain(top, at) || isNull(top) {
		return
	}
	if top.Kind != yaml.MappingNode {
		d.fail(at, "want a mapping of keys (source: …, detect: …), got %s", describe(top))
		return
	}
	d.section(top, reflect.ValueOf(c).Elem(), "")
}

// items counts the bytes of data that end a line or are YAML indicators
// able to start or separate a value, wherever they are (in comments and
// quoted strings too, which only overestimates).
func items(data []byte) int {
	n := 0
	for _, b := range data {
		switch b {
		case '\n', ':', '-', ',', '[', '{', '?':
			n++
		}
	}
	return n
}

// parseYAML parses data into the node of its first document, nil if data
// holds no document, and of its second document, nil if there is none.
// A panic of the YAML parser on strange input is returned as an error.
func parseYAML(data []byte) (first, second *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			first, second, err = nil, nil, fmt.Errorf("yaml: the YAML parser failed: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs [2]yaml.Node
	for i := range docs {
		err := dec.Decode(&docs[i])
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		if i == 0 {
			first = &docs[0]
		} else {
			second = &docs[1]
		}
	}
	return first, second, nil
}

// syntaxProblem returns the line (0 if unknown) and message of an error of
// the YAML parser, "yaml: line 3: did not find expected key".
//
// The line yaml gives is 1-based for errors of its scanner but 0-based for
// errors of its parser (the "did not find expected …" and "found … directive"
// family), and left out when it would be 0; errors of its reader (bad
// UTF-8, control characters) carry no line at all.
func syntaxProblem(data []byte, err error) (line int, msg string) {
	msg = strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		num, after, ok := strings.Cut(rest, ": ")
		if n, err := strconv.Atoi(num); ok && err == nil {
			line, msg = n, after
		}
	}
	switch {
	case line > 0 && (strings.HasPrefix(msg, "did not find expected") || strings.HasPrefix(msg, "found duplicate %") ||
		msg == "found incompatible YAML document" || msg == "found undefined tag handle"):
		line++
	case line > 0:
	case strings.Contains(msg, "UTF-") || strings.Contains(msg, "Unicode") || strings.Contains(msg, "control characters"):
		line = badCharLine(data)
	case !strings.Contains(msg, "anchor") && !strings.Contains(msg, "alias") && !strings.Contains(msg, "parser failed"):
		line = 1 // a scanner or parser error on the first line
	}
	if msg == "mapping values are not allowed in this context" {
		msg += ` (a value that holds ": " or ends in ":" needs quotes: source: "test:")`
	}
	return line, msg
}

// badCharLine returns the line of the first character that YAML does not
// allow in a file (a control character, or bytes that are not UTF-8), or 0
// if there is none.
func badCharLine(data []byte) int {
	line := 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 || !yamlChar(r) {
			return line
		}
		if r == '\n' {
			line++
		}
		i += size
	}
	return 0
}

// yamlChar reports whether YAML 1.2 allows r in a file (its c-printable).
func yamlChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0x7e || r == 0x85 ||
		r >= 0xa0 && r <= 0xd7ff || r >= 0xe000 && r <= 0xfffd || r >= 0x10000 && r <= 0x10ffff
}

// section decodes the mapping n into the struct v, whose keys are written
// with prefix ("" at the top, "detect." in detect).
func (d *decoder) section(n *yaml.Node, v reflect.Value, prefix string) {
	seen := make(map[string]int) // key → line where it was first set
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		at := place{strings.TrimSuffix(prefix, "."), k.Line}
		if !d.plain(k, at) {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.fail(at, "want a key name, got %s", describe(k))
			continue
		}
		if k.Tag == "!!merge" {
			d.fail(at, "merge keys (<<) are not supported")
			continue
		}
		at.key = prefix + keyName(k.Value)
		if line, dup := seen[k.Value]; dup {
			d.fail(at, "duplicate key (first set on line %d)", line)
			continue
		}
		seen[k.Value] = k.Line
		f, ok := field(v, k.Value)
		if !ok {
			d.fail(at, "unknown key%s", suggest(v.Type(), prefix, k.Value))
			continue
		}
		d.lines[at.key] = k.Line
		d.value(val, f, at)
	}
}

// field returns the field of the struct v whose yaml tag is key.
func field(v reflect.Value, key string) (reflect.Value, bool) {
	for i := range v.NumField() {
		if v.Type().Field(i).Tag.Get("yaml") == key {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// value decodes n into v. A null value leaves v as it was: the default.
func (d *decoder) value(n *yaml.Node, v reflect.Value, at place) {
	if !d.plain(n, at) || isNull(n) {
		return
	}
	if isSection(v.Type()) {
		if n.Kind != yaml.MappingNode {
			first := v.Type().Field(0).Tag.Get("yaml")
			d.fail(at, "want a mapping of keys such as %s:, got %s", first, describe(n))
			return
		}
		d.section(n, v, at.key+".")
		return
	}
	switch p := v.Addr().Interface().(type) {
	case *string:
		if s, ok := d.str(n, at); ok {
			*p = s
		}
	case *int:
		if i, ok := d.integer(n, at); ok {
			*p = i
		}
	case *float64:
		if f, ok := d.number(n, at); ok {
			*p = f
		}
	case *bool:
		if b, ok := d.boolean(n, at); ok {
			*p = b
		}
	case *Duration:
		if t, ok := d.duration(n, at); ok {
			*p = t
		}
	case *Bytes:
		if b, ok := d.bytes(n, at); ok {
			*p = b
		}
	case *Command:
		if c, ok := d.command(n, at); ok {
			*p = c
		}
	case *[]string:
		if s, ok := d.strings(n, at); ok {
			*p = s
		}
	case *image.Rectangle:
		if r, ok := d.rect(n, at); ok {
			*p = r
		}
	default:
		panic("config: no decoder for " + v.Type().String())
	}
}

// plain reports whether n is neither an alias nor an anchor, and reports
// the problem if it is one.
func (d *decoder) plain(n *yaml.Node, at place) bool {
	switch {
	case n.Kind == yaml.AliasNode:
		d.fail(at, "aliases are not supported (*%s): write the value out", clip(n.Value))
		return false
	case n.Anchor != "":
		d.fail(at, "anchors are not supported (&%s): write the value out", clip(n.Anchor))
		return false
	}
	return true
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func isScalar(n *yaml.Node, tags ...string) bool {
	if n.Kind != yaml.ScalarNode {
		return false
	}
	for _, t := range tags {
		if n.Tag == t {
			return true
		}
	}
	return false
}

func (d *decoder) str(n *yaml.Node, at place) (string, bool) {
	switch {
	case isScalar(n, "!!str"):
		return n.Value, true
	case isScalar(n, "!!int", "!!float", "!!bool"):
		d.fail(at, "want a string, got %s (put it in quotes if you mean the text)", describe(n))
	default:
		d.fail(at, "want a string, got %s", describe(n))
	}
	return "", false
}

func (d *decoder) integer(n *yaml.Node, at place) (int, bool) {
	var i int64
	switch {
	case isScalar(n, "!!int") && n.Decode(&i) == nil && int64(int(i)) == i:
		return int(i), true
	case isScalar(n, "!!int"):
		d.fail(at, "want an integer, got %s (too large)", describe(n))
	default:
		d.fail(at, "want an integer, got %s%s", describe(n), unquoteHint(n))
	}
	return 0, false
}

func (d *decoder) number(n *yaml.Node, at place) (float64, bool) {
	var f float64
	if isScalar(n, "!!int", "!!float") && n.Decode(&f) == nil {
		return f, true
	}
	d.fail(at, "want a number, got %s%s", describe(n), unquoteHint(n))
	return 0, false
}

// unquoteHint returns a hint for a number written as a string.
func unquoteHint(n *yaml.Node) string {
	if isScalar(n, "!!str") {
		if _, err := strconv.ParseFloat(n.Value, 64); err == nil {
			return " (a string: remove the quotes)"
		}
	}
	return ""
}

func (d *decoder) boolean(n *yaml.Node, at place) (bool, bool) {
	var b bool
	switch {
	case isScalar(n, "!!bool") && n.Decode(&b) == nil:
		return b, true
	case isScalar(n, "!!str") && isYAML11Bool(n.Value):
		d.fail(at, "want true or false, got %s (YAML 1.1 booleans such as yes, no, on and off are not accepted: write true or false)", describe(n))
	default:
		d.fail(at, "want true or false, got %s", describe(n))
	}
	return false, false
}

func isYAML11Bool(s string) bool {
	switch strings.ToLower(s) {
	case "y", "yes", "n", "no", "on", "off":
		return true
	}
	return false
}

func (d *decoder) duration(n *yaml.Node, at place) (Duration, bool) {
	if !isScalar(n, "!!str", "!!int", "!!float") {
		d.fail(at, "want a duration like 500ms, 10s, 5m or 1h30m, got %s", describe(n))
		return 0, false
	}
	t, err := parseDuration(n.Value)
	if err != nil {
		d.fail(at, "%v", err)
		return 0, false
	}
	return t, true
}

func (d *decoder) bytes(n *yaml.Node, at place) (Bytes, bool) {
	var i int64
	switch {
	case isScalar(n, "!!int") && n.Decode(&i) == nil:
		if i < 0 {
			d.fail(at, "want a size of 0 or more, got %d", i)
			return 0, false
		}
		return Bytes(i), true
	case isScalar(n, "!!str"):
		b, err := ParseBytes(n.Value)
		if err != nil {
			d.fail(at, "%v", err)
			return 0, false
		}
		return b, true
	}
	d.fail(at, "want a size like 65536, 500KB or 64MiB, got %s", describe(n))
	return 0, false
}

// command reads a command line (a string) or a program and its arguments
// (a list of strings). What makes a command runnable is left to
// Command.check, run by Validate.
func (d *decoder) command(n *yaml.Node, at place) (Command, bool) {
	if isScalar(n, "!!str") {
		return Command{Shell: n.Value}, true
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(at, `want a command line ("notify-send cat") or a list of words (["/usr/bin/notify-send", "cat"]), got %s`, describe(n))
		return Command{}, false
	}
	argv, ok := make([]string, 0, len(n.Content)), true
	for _, item := range n.Content {
		word := place{at.key, item.Line}
		switch {
		case !d.plain(item, word):
			ok = false
		case !isScalar(item, "!!str"):
			d.fail(word, "want a list of strings, got %s in it%s", describe(item), quoteHint(item))
			ok = false
		default:
			argv = append(argv, item.Value)
		}
	}
	return Command{Argv: argv}, ok
}

// strings reads a list of strings; the empty list gives nil. What the
// strings must be is left to Validate.
func (d *decoder) strings(n *yaml.Node, at place) ([]string, bool) {
	if n.Kind != yaml.SequenceNode {
		d.fail(at, `want a list of strings ([] or ["NAME", ...]), got %s`, describe(n))
		return nil, false
	}
	var list []string
	ok := true
	for _, item := range n.Content {
		elem := place{at.key, item.Line}
		switch {
		case !d.plain(item, elem):
			ok = false
		case !isScalar(item, "!!str"):
			d.fail(elem, "want a list of strings, got %s in it%s", describe(item), quoteHint(item))
			ok = false
		default:
			list = append(list, item.Value)
		}
	}
	return list, ok
}

// quoteHint returns a hint for a number or boolean where a string is wanted.
func quoteHint(n *yaml.Node) string {
	if isScalar(n, "!!int", "!!float", "!!bool") {
		return " (put it in quotes)"
	}
	return ""
}

// rect reads [x0, y0, x1, y1], or [] for the zero Rectangle. Validate checks
// the order of the corners.
func (d *decoder) rect(n *yaml.Node, at place) (image.Rectangle, bool) {
	if n.Kind != yaml.SequenceNode || len(n.Content) != 0 && len(n.Content) != 4 {
		d.fail(at, "want [x0, y0, x1, y1] in frame pixels, or [] for the whole frame, got %s", describeList(n))
		return image.Rectangle{}, false
	}
	if len(n.Content) == 0 {
		return image.Rectangle{}, true
	}
	var v [4]int
	ok := true
	for i, item := range n.Content {
		corner := place{at.key, item.Line}
		if !d.plain(item, corner) {
			ok = false
			continue
		}
		x, good := d.integer(item, corner)
		v[i], ok = x, ok && good
	}
	r := image.Rectangle{Min: image.Pt(v[0], v[1]), Max: image.Pt(v[2], v[3])}
	if ok && r == (image.Rectangle{}) {
		d.fail(at, "want a region of at least one pixel, got [0, 0, 0, 0] (write [] for the whole frame)")
		return r, false
	}
	return r, ok
}

// describe says what n is, for "got …" in messages: "a mapping",
// "a list", "2.5", `"abc"`, "null".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	switch n.Tag {
	case "!!str":
		return quote(n.Value)
	case "!!int", "!!float", "!!bool":
		return clip(n.Value)
	case "!!null":
		return "null"
	}
	return quote(n.Value) + " tagged " + clip(n.Tag)
}

// describeList is describe, with the length of a list.
func describeList(n *yaml.Node) string {
	if n.Kind == yaml.SequenceNode {
		return fmt.Sprintf("a list of %d", len(n.Content))
	}
	return describe(n)
}

// keyName returns a key as it is shown in messages: as written, or quoted
// and clipped if it is long or holds spaces or control characters.
func keyName(s string) string {
	if len(s) > 40 || strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) >= 0 {
		return quote(s)
	}
	return s
}

// suggest returns ` (did you mean "threshold"?)` for the unknown key name
// in the section of type t, whose keys start with prefix: the section's
// key closest to name, if within 2 edits, or else the one leaf key of
// another section named name. It returns "" if there is none.
func suggest(t reflect.Type, prefix, name string) string {
	best, bestDist := "", 3
	for i := range t.NumField() {
		key := t.Field(i).Tag.Get("yaml")
		if dist := levenshtein(name, key); dist < bestDist {
			best, bestDist = key, dist
		}
	}
	if best == "" {
		var same []string
		for _, l := range schema {
			if l.key[strings.LastIndexByte(l.key, '.')+1:] == name && l.key != prefix+name {
				same = append(same, l.key)
			}
		}
		if len(same) == 1 {
			best = same[0]
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// levenshtein returns the number of byte insertions, deletions and
// substitutions that turn a into b.
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

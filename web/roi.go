package web

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"catd/config"
)

// SetROI writes r as detect.roi into the config file at path, keeping the
// rest of the file as it is (comments, order, quoting): the value of an
// existing one-line roi is replaced in its line; a roi key is added under
// detect, or a detect section at the end. The result must parse
// (config.Parse) before it is written; it is written in place of the old
// file (a new file renamed over it when the folder is writable, else the
// file rewritten), through a symbolic link to its target. The file
// watcher then applies it like any edit.
func SetROI(path string, r image.Rectangle) error {
	if path == "" {
		return errors.New("web: catd runs without a config file (--config): the region of interest cannot be saved")
	}
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("web: config file: %w", err)
	}
	data, err := config.ReadFile(target)
	if err != nil {
		return err
	}
	out, err := withROI(data, r)
	if err != nil {
		return fmt.Errorf("web: config file %s: %w", path, err)
	}
	c, err := config.Parse(path, out)
	if err != nil {
		return fmt.Errorf("web: config file %s with the new region would not parse: %w", path, err)
	}
	if c.Detect.ROI != r {
		return fmt.Errorf("web: config file %s: detect.roi would read %v, not %v", path, c.Detect.ROI, r)
	}
	return writeInPlace(target, out)
}

// roiText is r as the config file writes it.
func roiText(r image.Rectangle) string {
	if r == (image.Rectangle{}) {
		return "[]"
	}
	return fmt.Sprintf("[%d, %d, %d, %d]", r.Min.X, r.Min.Y, r.Max.X, r.Max.Y)
}

// withROI returns data with detect.roi set to r.
func withROI(data []byte, r image.Rectangle) ([]byte, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("not UTF-8 text: edit detect.roi by hand")
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	val := roiText(r)
	if len(doc.Content) == 0 { // empty, or only comments
		return append(withNewline(data), "detect:\n  roi: "+val+"\n"...), nil
	}
	top := doc.Content[0]
	if isNull(top) { // "~", "null": a mapping replaces it
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", HeadComment: top.HeadComment, FootComment: top.FootComment}
		doc.Content[0] = m
		return rewriteNode(&doc, m, r)
	}
	if top.Kind != yaml.MappingNode {
		return nil, errors.New("not a mapping of keys")
	}
	lines := strings.SplitAfter(string(data), "\n")
	detect := lookup(top, "detect")
	if detect == nil && top.Style&yaml.FlowStyle == 0 && top.Tag == "!!map" {
		return append(withNewline(data), "detect:\n  roi: "+val+"\n"...), nil
	}
	if detect != nil && detect.Kind != yaml.MappingNode && !isNull(detect) {
		return nil, errors.New("detect is not a mapping of keys")
	}
	if detect == nil || isNull(detect) || detect.Style&yaml.FlowStyle != 0 || top.Style&yaml.FlowStyle != 0 {
		// {…} or no detect section in a flow mapping: the node tree is
		// encoded again, keeping comments.
		return rewriteNode(&doc, top, r)
	}
	roi := lookup(detect, "roi")
	if roi == nil { // a new key, indented like detect's first
		first := detect.Content[0]
		i := first.Line - 1
		line := strings.Repeat(" ", first.Column-1) + "roi: " + val + "\n"
		lines = append(lines[:i], append([]string{line}, lines[i:]...)...)
		return []byte(strings.Join(lines, "")), nil
	}
	// A value on one line ([..], [], null): replaced where it stands.
	i := roi.Line - 1
	if i < len(lines) && (roi.Kind == yaml.SequenceNode && roi.Style&yaml.FlowStyle != 0 || roi.Kind == yaml.ScalarNode) {
		line := lines[i]
		start := roi.Column - 1
		end := valueEnd(line, start, roi)
		if end > start {
			lines[i] = line[:start] + val + line[end:]
			return []byte(strings.Join(lines, "")), nil
		}
	}
	return rewriteNode(&doc, top, r)
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// valueEnd returns the byte offset in line where the one-line value n,
// starting at start, ends; -1 if it does not end on this line.
func valueEnd(line string, start int, n *yaml.Node) int {
	if start > len(line) {
		return -1
	}
	rest := line[start:]
	if n.Kind == yaml.SequenceNode {
		if j := strings.IndexByte(rest, ']'); j >= 0 {
			return start + j + 1
		}
		return -1
	}
	end := len(rest)
	if j := strings.Index(rest, " #"); j >= 0 {
		end = j
	}
	return start + len(strings.TrimRight(rest[:end], " \t\r\n"))
}

// rewriteNode sets detect.roi in the node tree under top (making the
// detect section if needed) and encodes the whole document again
// (comments kept by yaml.v3, layout normalised): for layouts the line edit
// does not handle.
func rewriteNode(doc, top *yaml.Node, r image.Rectangle) ([]byte, error) {
	detect := lookup(top, "detect")
	if detect == nil || isNull(detect) {
		detect = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		if i := index(top, "detect"); i >= 0 {
			top.Content[i+1] = detect
		} else {
			top.Content = append(top.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "detect"}, detect)
		}
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
	if r != (image.Rectangle{}) {
		for _, v := range []int{r.Min.X, r.Min.Y, r.Max.X, r.Max.Y} {
			seq.Content = append(seq.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(v)})
		}
	}
	if i := index(detect, "roi"); i >= 0 {
		seq.LineComment = detect.Content[i+1].LineComment
		detect.Content[i+1] = seq
	} else {
		detect.Content = append(detect.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "roi"}, seq)
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// lookup returns the value of key in the mapping m, or nil.
func lookup(m *yaml.Node, key string) *yaml.Node {
	if i := index(m, key); i >= 0 {
		return m.Content[i+1]
	}
	return nil
}

// index returns the index of key's node in the mapping m, or -1.
func index(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

func withNewline(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] != '\n' {
		return append(b, '\n')
	}
	return b
}

// writeInPlace replaces the file at path with data, keeping its mode: a
// temporary file in the same folder renamed over it (a watcher sees one
// whole change), or, when the folder is not writable to catd but the file
// is, the file rewritten.
func writeInPlace(path string, data []byte) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("web: config file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		f, err2 := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
		if err2 != nil {
			return fmt.Errorf("web: config file %s is not writable by catd (%v); edit detect.roi by hand", path, err2)
		}
		_, werr := f.Write(data)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("web: config file %s: %w", path, werr)
		}
		return nil
	}
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp.Name(), fi.Mode().Perm())
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("web: config file %s: %w", path, werr)
	}
	return nil
}

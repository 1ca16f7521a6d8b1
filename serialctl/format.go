package serialctl

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Format is how lines are written to the port.
type Format int

const (
	// Text lines are short and greppable:
	//
	//	EVT cat_present p=0.93 frame=1234
	//	STATUS cat=yes p=0.91 fps=4.80
	//	OK threshold 0.7 until restart or the next config change
	//	ERR unknown command "foo" (try help)
	Text Format = iota
	// JSON writes one object per line:
	//
	//	{"type":"event","event":"cat_present","p":0.93,"frame":1234}
	//	{"type":"status","text":"cat=yes p=0.91 fps=4.80"}
	//	{"type":"reply","ok":true,"text":"threshold 0.7 until restart or the next config change"}
	JSON
)

// ParseFormat reads "text" or "json"; "" is Text.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "", "text":
		return Text, nil
	case "json":
		return JSON, nil
	}
	return 0, fmt.Errorf("serialctl: format %q: want text or json", s)
}

// String returns "text" or "json".
func (f Format) String() string {
	switch f {
	case Text:
		return "text"
	case JSON:
		return "json"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// Field is one key=value of an event. Values are written as numbers when
// they are numbers (floats with 2 to 4 decimals), as true/false for bools,
// and as strings otherwise (time.Duration and time.Time in their usual
// forms, errors by their message, anything else by fmt.Sprint).
type Field struct {
	Key   string
	Value any
}

// F is shorthand for Field{key, value}.
func F(key string, value any) Field { return Field{key, value} }

// appendEvent appends one event line, newline included.
func appendEvent(b []byte, f Format, kind string, fields []Field) []byte {
	kind = cleanKey(kind)
	if f == JSON {
		b = append(b, `{"type":"event","event":`...)
		b = appendJSONString(b, kind)
		for _, fl := range fields {
			k := cleanKey(fl.Key)
			if k == "type" || k == "event" {
				k = "x_" + k
			}
			b = append(b, ',')
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONValue(b, fl.Value)
		}
		return append(b, "}\n"...)
	}
	b = append(b, "EVT "...)
	b = append(b, kind...)
	for _, fl := range fields {
		b = append(b, ' ')
		b = append(b, cleanKey(fl.Key)...)
		b = append(b, '=')
		b = appendTextValue(b, fl.Value)
	}
	return append(b, '\n')
}

// appendReply appends the answer to one command: in Text, lines (help's
// list) each as "HELP …", then "OK text" or "ERR text"; in JSON one object.
func appendReply(b []byte, f Format, ok bool, text string, lines []string) []byte {
	if f == JSON {
		b = append(b, `{"type":"reply","ok":`...)
		b = strconv.AppendBool(b, ok)
		b = append(b, `,"text":`...)
		b = appendJSONString(b, text)
		if len(lines) > 0 {
			b = append(b, `,"lines":[`...)
			for i, l := range lines {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, l)
			}
			b = append(b, ']')
		}
		return append(b, "}\n"...)
	}
	for _, l := range lines {
		b = append(b, "HELP "...)
		b = appendOneLine(b, l)
		b = append(b, '\n')
	}
	if ok {
		b = append(b, "OK"...)
	} else {
		b = append(b, "ERR"...)
	}
	if text != "" {
		b = append(b, ' ')
		b = appendOneLine(b, text)
	}
	return append(b, '\n')
}

// appendStatus appends the periodic status line.
func appendStatus(b []byte, f Format, text string) []byte {
	if f == JSON {
		b = append(b, `{"type":"status","text":`...)
		b = appendJSONString(b, text)
		return append(b, "}\n"...)
	}
	b = append(b, "STATUS "...)
	b = appendOneLine(b, text)
	return append(b, '\n')
}

// maxText bounds free text in a Text line (handler messages), in bytes.
const maxText = 240

// appendOneLine appends s with control bytes turned into spaces and cut to
// maxText bytes, so that one reply stays one line.
func appendOneLine(b []byte, s string) []byte {
	if len(s) > maxText {
		s = s[:maxText]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}

// cleanKey keeps keys and kinds to [A-Za-z0-9_.-], so they can never split a
// line or a key=value pair.
func cleanKey(k string) string {
	if k == "" {
		return "_"
	}
	for i := 0; i < len(k); i++ {
		if !keyByte(k[i]) {
			b := []byte(k)
			for j, c := range b {
				if !keyByte(c) {
					b[j] = '_'
				}
			}
			return string(b)
		}
	}
	return k
}

func keyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

// appendFloat writes v with at least 2 and at most 4 decimals.
func appendFloat(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.AppendFloat(b, v, 'f', -1, 64)
	}
	n := len(b)
	b = strconv.AppendFloat(b, v, 'f', 4, 64)
	for len(b)-n > 0 && b[len(b)-1] == '0' && b[len(b)-3] != '.' {
		b = b[:len(b)-1]
	}
	return b
}

func appendTextValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case float64:
		return appendFloat(b, x)
	case float32:
		return appendFloat(b, float64(x))
	case bool:
		return strconv.AppendBool(b, x)
	case time.Duration:
		return append(b, x.String()...)
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Append(b, x)
	}
	s := valueString(v)
	if needsQuote(s) {
		return strconv.AppendQuoteToASCII(b, s)
	}
	return append(b, s...)
}

func appendJSONValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(b, "null"...)
		}
		return appendFloat(b, x)
	case float32:
		return appendJSONValue(b, float64(x))
	case bool:
		return strconv.AppendBool(b, x)
	case time.Duration:
		return appendJSONString(b, x.String())
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Append(b, x)
	}
	return appendJSONString(b, valueString(v))
}

func valueString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case error:
		return x.Error()
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

// needsQuote reports whether s would not read back as one bare value.
func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '=' || c == '\\' {
			return true
		}
	}
	return false
}

func appendJSONString(b []byte, s string) []byte {
	q, err := json.Marshal(s) // never fails for a string; invalid UTF-8 becomes U+FFFD
	if err != nil {
		return append(b, `""`...)
	}
	return append(b, q...)
}

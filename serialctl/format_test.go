package serialctl

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestAppendEvent(t *testing.T) {
	tests := []struct {
		name       string
		kind       string
		fields     []Field
		text, json string
	}{
		{"cat present", "cat_present", []Field{F("p", float32(0.93)), F("frame", uint64(1234))},
			"EVT cat_present p=0.93 frame=1234\n", `{"type":"event","event":"cat_present","p":0.93,"frame":1234}` + "\n"},
		{"float decimals", "trained", []Field{F("loss", 0.123456), F("lr", 1.0), F("acc", 0.5)},
			"EVT trained loss=0.1235 lr=1.00 acc=0.50\n", `{"type":"event","event":"trained","loss":0.1235,"lr":1.00,"acc":0.50}` + "\n"},
		{"strings quoted when needed", "config_refused", []Field{F("err", errors.New(`bad "x" = 2`)), F("file", "catd.yaml"), F("ok", false)},
			`EVT config_refused err="bad \"x\" = 2" file=catd.yaml ok=false` + "\n",
			`{"type":"event","event":"config_refused","err":"bad \"x\" = 2","file":"catd.yaml","ok":false}` + "\n"},
		{"hostile keys and newlines", "bad kind\n", []Field{F("a b=c", "x\ny"), F("type", 1), F("nan", 0.0/zero())},
			"EVT bad_kind_ a_b_c=\"x\\ny\" type=1 nan=NaN\n",
			`{"type":"event","event":"bad_kind_","a_b_c":"x\ny","x_type":1,"nan":null}` + "\n"},
		{"duration", "stats", []Field{F("took", 1500*time.Millisecond), F("empty", "")},
			"EVT stats took=1.5s empty=\"\"\n", `{"type":"event","event":"stats","took":"1.5s","empty":""}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendEvent(nil, Text, tt.kind, tt.fields)); got != tt.text {
				t.Errorf("text:\n got %q\nwant %q", got, tt.text)
			}
			got := appendEvent(nil, JSON, tt.kind, tt.fields)
			if string(got) != tt.json {
				t.Errorf("json:\n got %s\nwant %s", got, tt.json)
			}
			var m map[string]any
			if err := json.Unmarshal(got, &m); err != nil {
				t.Errorf("not JSON: %v", err)
			}
		})
	}
}

func zero() float64 { return 0 }

func TestAppendReply(t *testing.T) {
	tests := []struct {
		name       string
		ok         bool
		text       string
		lines      []string
		wantText   string
		wantJSON   string
		wantLength int
	}{
		{"ok", true, "learning on", nil, "OK learning on\n", `{"type":"reply","ok":true,"text":"learning on"}` + "\n", 0},
		{"err one line", false, "save: disk\nfull", nil, "ERR save: disk full\n", `{"type":"reply","ok":false,"text":"save: disk\nfull"}` + "\n", 0},
		{"help", true, "help: 1 commands", []string{"help  list"}, "HELP help  list\nOK help: 1 commands\n",
			`{"type":"reply","ok":true,"text":"help: 1 commands","lines":["help  list"]}` + "\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendReply(nil, Text, tt.ok, tt.text, tt.lines)); got != tt.wantText {
				t.Errorf("text: got %q, want %q", got, tt.wantText)
			}
			if got := string(appendReply(nil, JSON, tt.ok, tt.text, tt.lines)); got != tt.wantJSON {
				t.Errorf("json: got %q, want %q", got, tt.wantJSON)
			}
		})
	}
}

func TestParseFormat(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Format
		ok   bool
	}{{"", Text, true}, {"text", Text, true}, {"JSON", JSON, true}, {"xml", 0, false}} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFormat(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("ParseFormat(%q) = %v, %v", tt.in, got, err)
			}
		})
	}
}

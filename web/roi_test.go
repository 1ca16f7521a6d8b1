package web

import (
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"catd/config"
)

func TestSetROI(t *testing.T) {
	r := image.Rect(10, 20, 300, 200)
	for _, tc := range []struct {
		name, in, want string
		roi            image.Rectangle
	}{
		{"flow value replaced, comments kept",
			"# catd\nsource: \"test:\"\ndetect:\n  # where the flap is\n  roi: []   # whole frame\n  fit: crop\n",
			"# catd\nsource: \"test:\"\ndetect:\n  # where the flap is\n  roi: [10, 20, 300, 200]   # whole frame\n  fit: crop\n", r},
		{"old region replaced",
			"detect:\n    roi: [1, 2, 3, 4]\n",
			"detect:\n    roi: [10, 20, 300, 200]\n", r},
		{"cleared",
			"detect:\n  roi: [1, 2, 3, 4] # flap\n",
			"detect:\n  roi: [] # flap\n", image.Rectangle{}},
		{"null value",
			"detect:\n  roi: ~\n  fit: crop\n",
			"detect:\n  roi: [10, 20, 300, 200]\n  fit: crop\n", r},
		{"key added under detect",
			"source: \"test:\"\ndetect:\n  # the threshold\n  threshold: 0.6\nlog:\n  level: info\n",
			"source: \"test:\"\ndetect:\n  # the threshold\n  roi: [10, 20, 300, 200]\n  threshold: 0.6\nlog:\n  level: info\n", r},
		{"section added",
			"# only a comment\nsource: \"test:\"",
			"# only a comment\nsource: \"test:\"\ndetect:\n  roi: [10, 20, 300, 200]\n", r},
		{"empty file",
			"",
			"detect:\n  roi: [10, 20, 300, 200]\n", r},
		{"block list",
			"detect:\n  roi:\n    - 1\n    - 2\n    - 3\n    - 4\n  fit: crop # how\n",
			"detect:\n  roi: [10, 20, 300, 200]\n  fit: crop # how\n", r},
		{"flow section",
			"detect: {fit: crop, roi: [1, 2, 3, 4]} # d\n",
			"detect: {fit: crop, roi: [10, 20, 300, 200]} # d\n", r},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "catd.yaml")
			if err := os.WriteFile(path, []byte(tc.in), 0o640); err != nil {
				t.Fatal(err)
			}
			if err := SetROI(path, tc.roi); err != nil {
				t.Fatalf("SetROI: %v", err)
			}
			got, _ := os.ReadFile(path)
			if string(got) != tc.want {
				t.Errorf("file\n%s\nwant\n%s", got, tc.want)
			}
			c, err := config.Parse(path, got)
			if err != nil || c.Detect.ROI != tc.roi {
				t.Errorf("Parse: %v, roi %v", err, c.Detect.ROI)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
				t.Errorf("mode %v, want 0640 kept", fi.Mode())
			}
		})
	}
}

func TestSetROIRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, in, says string }{
		{"not a mapping", "- a\n", "not a mapping"},
		{"invalid file", "detect:\n  roi: []\nbogus: 1\n", "would not parse"},
		{"syntax", "detect: [\n", "config file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".yaml")
			os.WriteFile(path, []byte(tc.in), 0o640)
			err := SetROI(path, image.Rect(0, 0, 5, 5))
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("SetROI: %v, want an error saying %q", err, tc.says)
			}
			if got, _ := os.ReadFile(path); string(got) != tc.in {
				t.Errorf("the file changed to %q", got)
			}
		})
	}
	if err := SetROI("", image.Rect(0, 0, 5, 5)); err == nil || !strings.Contains(err.Error(), "without a config file") {
		t.Errorf("no config file: %v", err)
	}
	// Through a symbolic link, the target is written and the link stays.
	target := filepath.Join(dir, "real.yaml")
	os.WriteFile(target, []byte("detect:\n  roi: []\n"), 0o600)
	link := filepath.Join(dir, "link.yaml")
	os.Symlink(target, link)
	if err := SetROI(link, image.Rect(1, 1, 9, 9)); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v", err)
	}
	if got, _ := os.ReadFile(target); string(got) != "detect:\n  roi: [1, 1, 9, 9]\n" {
		t.Errorf("target: %q", got)
	}
}

// FuzzWithROI: whatever the file, withROI either refuses it or gives a
// file whose detect.roi is the region, when the original parsed.
func FuzzWithROI(f *testing.F) {
	for _, s := range []string{"", "detect:\n  roi: []\n", "detect: {roi: [1,2,3,4]}\n", "detect:\n  fit: crop\n",
		"source: \"test:\"\n# c\n", "detect:\n  roi:\n  - 1\n  - 2\n  - 3\n  - 4\n", "detect:\n  roi: [1, 2, # x\n    3, 4]\n"} {
		f.Add([]byte(s), 1, 2, 30, 40)
	}
	f.Fuzz(func(t *testing.T, data []byte, x0, y0, x1, y1 int) {
		if len(data) > 4096 {
			return
		}
		r := image.Rect(x0%5000, y0%5000, x1%5000, y1%5000)
		if r.Min.X < 0 || r.Min.Y < 0 || r.Empty() {
			return
		}
		if _, err := config.Parse("c.yaml", data); err != nil {
			return
		}
		out, err := withROI(data, r)
		if err != nil {
			return
		}
		c, err := config.Parse("c.yaml", out)
		if err != nil {
			t.Fatalf("withROI(%q) = %q, which does not parse: %v", data, out, err)
		}
		if c.Detect.ROI != r {
			t.Fatalf("withROI(%q) = %q: roi %v, want %v", data, out, c.Detect.ROI, r)
		}
	})
}

// FuzzImageName: names checkName accepts are plain .jpg names, and
// parseImageName never fails on them.
func FuzzImageName(f *testing.F) {
	for _, s := range []string{"20261127T031500.123Z-f000001234-p0.93.jpg", "a.jpg", "../a.jpg", ".a.jpg", "a..jpg", "a/b.jpg"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if checkName(name) != nil {
			return
		}
		if strings.ContainsAny(name, "/\\\x00") || strings.HasPrefix(name, ".") || strings.Contains(name, "..") ||
			!strings.HasSuffix(name, ".jpg") || filepath.Base(name) != name {
			t.Fatalf("checkName accepted %q", name)
		}
		if ts, p := parseImageName(name); ts == "" && p != 0 {
			t.Fatalf("parseImageName(%q) = %q, %v", name, ts, p)
		}
	})
}

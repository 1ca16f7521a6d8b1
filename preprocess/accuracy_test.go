package preprocess_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"image/jpeg"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"catd/metrics"
	"catd/model"
	"catd/preprocess"
	framejpeg "catd/preprocess/jpeg"
)

// labelled is one image file and whether it shows a cat.
type labelled struct {
	name string
	data []byte
	cat  bool
}

// petsTest reads the Oxford pets sample's test split (cat/, noncat/).
func petsTest(t *testing.T, dir string) []labelled {
	var set []labelled
	for _, class := range []string{"cat", "noncat"} {
		files, _ := filepath.Glob(filepath.Join(dir, class, "*"))
		sort.Strings(files)
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			set = append(set, labelled{f, data, class == "cat"})
		}
	}
	return set
}

// tinyVal reads Tiny ImageNet's val/cat and the first maxNon files of
// val/noncat from the shared tar, in tar order.
func tinyVal(t *testing.T, path string, maxNon int) []labelled {
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	tr := tar.NewReader(fh)
	var set []labelled
	non := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		cat := strings.HasPrefix(h.Name, "val/cat/")
		if h.Typeflag != tar.TypeReg || !cat && !strings.HasPrefix(h.Name, "val/noncat/") || !cat && non >= maxNon {
			continue
		}
		if !cat {
			non++
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		set = append(set, labelled{h.Name, data, cat})
	}
	return set
}

// scores runs the built-in model on every image through the frame path
// (Resizer.JPEG, image/jpeg for what it leaves) or through the path of
// labels and data sets (image/jpeg, then Image).
func scores(t *testing.T, net *model.Net, info model.Info, set []labelled, framePath bool) []float32 {
	rz := preprocess.NewResizer(net.Arch.W, net.Arch.H, preprocess.Options{})
	pix := make([]uint8, rz.OutLen())
	x := make([]float32, net.InputLen())
	out := make([]float32, len(set))
	for i, im := range set {
		err := framejpeg.ErrUnsupported
		if framePath {
			err = rz.JPEG(pix, im.data, 0)
		}
		if errors.Is(err, framejpeg.ErrUnsupported) {
			img, derr := jpeg.Decode(bytes.NewReader(im.data))
			if derr != nil {
				t.Fatalf("%s: %v", im.name, derr)
			}
			err = rz.Image(pix, img)
		}
		if err != nil {
			t.Fatalf("%s: %v", im.name, err)
		}
		info.NormalizePixels(x, pix)
		net.Predict(out[i:i+1], x)
	}
	return out
}

// TestJPEGAccuracy: the built-in model ranks the same images as well
// through the frame path, which decodes at a reduced DCT scale, as
// through image/jpeg's full decode: ROC AUC within 0.002 on the Oxford
// pets sample's test split and on Tiny ImageNet's val split (its 150 cats
// and the first 1,000 non-cats). Needs ../shared; skipped without it.
func TestJPEGAccuracy(t *testing.T) {
	data := filepath.Join("..", "..", "shared", "data")
	if _, err := os.Stat(data); err != nil {
		t.Skipf("no shared data in %s", data)
	}
	if testing.Short() {
		t.Skip("runs the model on 1,300 images twice")
	}
	net, info, err := model.Default(model.Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string][]labelled{
		"oxford-pets-sample/test":  petsTest(t, filepath.Join(data, "oxford-pets-sample", "test")),
		"tinyimagenet val (1,150)": tinyVal(t, filepath.Join(data, "tinyimagenet-cat64.tar"), 1000),
	}
	for name, set := range sets {
		t.Run(name, func(t *testing.T) {
			labels := make([]bool, len(set))
			for i, im := range set {
				labels[i] = im.cat
			}
			before, err := metrics.ROCAUC(scores(t, net, info, set, false), labels)
			if err != nil {
				t.Fatal(err)
			}
			after, err := metrics.ROCAUC(scores(t, net, info, set, true), labels)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d images: ROC AUC %.4f through image/jpeg, %.4f through the frame path", len(set), before, after)
			if math.Abs(after-before) > 0.002 {
				t.Errorf("ROC AUC %.4f through the frame path, %.4f through image/jpeg: more than 0.002 apart", after, before)
			}
		})
	}
}

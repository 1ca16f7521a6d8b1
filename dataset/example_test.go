package dataset_test

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"

	"catd/dataset"
)

func ExampleDecodeImage() {
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 640, 480)))

	img, err := dataset.DecodeImage(bytes.NewReader(b.Bytes()), 0)
	fmt.Println(img.Bounds(), err)
	_, err = dataset.DecodeImage(bytes.NewReader(b.Bytes()), 100_000)
	fmt.Println(err)
	// Output:
	// (0,0)-(640,480) <nil>
	// dataset: PNG of 640x480 = 307200 pixels is over the limit of 100000 pixels: too large
}

func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "dataset-example")
	defer os.RemoveAll(dir)
	write := func(name string, w, h int) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		f, _ := os.Create(p)
		png.Encode(f, image.NewRGBA(image.Rect(0, 0, w, h)))
		f.Close()
	}
	write("cat/n02123045_1.png", 120, 90)
	write("noncat/n01443537_1.png", 64, 64)
	write("noncat/n01443537_2.png", 300, 200)
	write("bigcat_excluded/n02125311_1.png", 64, 64)
	os.WriteFile(filepath.Join(dir, "noncat", "notes.jpg"), []byte("not a photo"), 0o644)

	s, rep, err := dataset.Load(dir, dataset.Options{W: 64, H: 64})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Len(), "images,", s.NumCat(), "cat;", len(s.Pixels), "bytes")
	fmt.Println(s.Classes)
	fmt.Println("loaded", rep.Loaded, "ignored", rep.Ignored)
	for _, sk := range rep.Skipped {
		rel, _ := filepath.Rel(dir, sk.Path)
		fmt.Println("skipped", filepath.ToSlash(rel)+":", sk.Reason)
	}
	// Output:
	// 3 images, 1 cat; 36864 bytes
	// [n02123045 n01443537 n01443537]
	// loaded map[cat:1 noncat:2] ignored map[bigcat_excluded:1]
	// skipped noncat/notes.jpg: not a JPEG or PNG image
}

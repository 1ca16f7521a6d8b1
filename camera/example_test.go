package camera_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io"

	"catd/camera"
)

func ExampleOpen() {
	src, err := camera.Open("test:?w=64&h=48&fps=1000", camera.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()
	var f camera.Frame // reused: Data's capacity carries over
	for range 2 {
		if err := src.Next(context.Background(), &f); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(f.Seq, f.Format, f.W, f.H, f.Stride, len(f.Data))
	}
	_, err = camera.Open("rtsp://cam/stream", camera.Options{})
	fmt.Println(err)
	// Output:
	// 1 rgb24 64 48 192 9216
	// 2 rgb24 64 48 192 9216
	// camera: open "rtsp://cam/stream": unknown scheme "rtsp" (supported: dir, exec, file, http, https, test, v4l2)
}

func ExampleMJPEGSplitter() {
	var one bytes.Buffer
	jpeg.Encode(&one, image.NewGray(image.Rect(0, 0, 8, 8)), nil)
	stream := io.MultiReader(
		bytes.NewReader(one.Bytes()),
		bytes.NewReader([]byte("--boundary\r\n\r\n")), // junk between frames is skipped
		bytes.NewReader(one.Bytes()),
		bytes.NewReader(one.Bytes()[:20]), // a truncated last frame
	)
	sp := camera.NewMJPEGSplitter(stream, 1<<20)
	var buf []byte
	for {
		frame, err := sp.Next(buf)
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Println(len(frame) == one.Len())
		buf = frame
	}
	// Output:
	// true
	// true
	// unexpected EOF
}

func ExampleInsertHuffmanTables() {
	// A UVC frame without DHT would fail to decode; with the standard
	// tables inserted it decodes. A JPEG that has tables is copied as is.
	var b bytes.Buffer
	jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 8, 8)), nil)
	out := camera.InsertHuffmanTables(nil, b.Bytes())
	fmt.Println(bytes.Equal(out, b.Bytes()))
	// Output: true
}

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"catd/camera"
	"catd/daemon"
	"catd/dataset"
	"catd/fixedpoint"
	"catd/model"
	"catd/preprocess"
	framejpeg "catd/preprocess/jpeg"
)

// pipeResult is what "catd bench --pipeline --json" prints: the daemon's
// pipeline (capture, JPEG decode, preprocessing, inference, decision) run
// end to end on one core, and the cost of each stage on one representative
// frame of the same source, measured after the pipeline has stopped.
type pipeResult struct {
	PipelineFPS    float64 `json:"pipeline_fps"`     // frames inferred per second
	Frames         uint64  `json:"frames"`           // frames inferred in the timed window
	LatencyP50     float64 `json:"latency_p50_us"`   // capture to decision
	LatencyP99     float64 `json:"latency_p99_us"`   //
	AllocsPerFrame float64 `json:"allocs_per_frame"` // heap allocations of the whole process per frame inferred
	BytesPerFrame  float64 `json:"bytes_per_frame"`  // heap bytes allocated per frame inferred
	Dropped        uint64  `json:"dropped_frames"`   // frames captured but replaced before inference took them
	Corrupt        uint64  `json:"corrupt_frames"`   // frames the pipeline could not decode
	DurationS      float64 `json:"duration_s"`       // length of the timed window
	// CPU time (user and system) the process used per frame inferred in
	// the window, µs: unlike frames/s, not inflated by other processes
	// taking the CPU. 1e6 / CPUPerFrameUS is frames per CPU-second.
	CPUPerFrameUS float64 `json:"cpu_per_frame_us"`

	// The representative frame: the median-sized one of those captured
	// during warm-up.
	FrameFormat string `json:"frame_format"`
	FrameBytes  int    `json:"frame_bytes"`
	FrameW      int    `json:"frame_width_px"`
	FrameH      int    `json:"frame_height_px"`

	// Stages, per frame. Decoding is 0 for raw frames; preprocess is the
	// resize to the model input plus normalisation, as the daemon does it.
	// A baseline JPEG frame is decoded and resized in one pass
	// (preprocess.Resizer.JPEG, at 1/JPEGScale of its size): that is the
	// decode stage, and preprocess is the normalisation alone.
	JPEGScale        int     `json:"jpeg_scale,omitempty"`
	JPEGDecodeUS     float64 `json:"jpeg_decode_us"`
	JPEGDecodeBytes  float64 `json:"jpeg_decode_bytes"`
	JPEGDecodeAllocs float64 `json:"jpeg_decode_allocs"`
	PreprocessUS     float64 `json:"preprocess_us"`
	PreprocessAllocs float64 `json:"preprocess_allocs"`
	InferUS          float64 `json:"infer_us"`

	Source     string `json:"source"`
	Model      string `json:"model"`
	GOARCH     string `json:"goarch"`
	GOMAXPROCS int    `json:"gomaxprocs"`
}

// pipeOptions are the flags of "catd bench --pipeline".
type pipeOptions struct {
	source   string // camera URI; "" generates a synthetic MJPEG file
	model    string // model file or built-in architecture; "" is the built-in default model
	duration time.Duration
	warmup   time.Duration
	int8     bool // run the built-in int8 model (the daemon's detect.int8)
}

// The synthetic default source: what a 640×480 MJPEG camera delivers.
const (
	synthW, synthH  = 640, 480
	synthFrames     = 30
	synthQuality    = 85
	samplesToRecord = 32 // frames kept during warm-up to pick a representative one
)

// benchPipeline runs the daemon's pipeline with GOMAXPROCS 1 for
// opt.warmup, then for opt.duration while counting frames and
// allocations, and then times each stage on one frame of the source.
func benchPipeline(ctx context.Context, e *env, opt pipeOptions) (*pipeResult, error) {
	uri, label := opt.source, opt.source
	if uri != "" {
		if err := camera.Check(uri); err != nil {
			return nil, fmt.Errorf("--source: %w", err)
		}
	}
	net, info, modelName, err := loadPipeModel(opt.model)
	if err != nil {
		return nil, err
	}
	var q *fixedpoint.Net
	if opt.int8 {
		if q, _, err = fixedpoint.Default(fixedpoint.Options{MaxBatch: 1}); err != nil {
			return nil, err
		}
		modelName += ", int8"
	}
	if uri == "" {
		dir, err := os.MkdirTemp("", "catd-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "synthetic.mjpeg")
		if err := writeSyntheticMJPEG(path, synthW, synthH, synthFrames, synthQuality); err != nil {
			return nil, err
		}
		// Every frame, each read once the one before is taken: what the
		// pipeline costs per frame, with no CPU spent on frames dropped.
		uri = "file:" + path + "?fps=max&loop=true"
		label = fmt.Sprintf("synthetic %dx%d MJPEG, %d frames at JPEG quality %d, file:?fps=max&loop=true",
			synthW, synthH, synthFrames, synthQuality)
	}
	// The pipeline's info-level events (stats, cat_present) are not wanted
	// here; warnings (corrupt frames) still show.
	log := e.log.Level(max(e.log.GetLevel(), zerolog.WarnLevel))
	src, err := camera.Open(uri, camera.Options{Log: log})
	if err != nil {
		return nil, err
	}
	defer src.Close()

	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	rec := &recordingSource{Source: src, keep: samplesToRecord}
	res := &pipeResult{Source: label, Model: modelName, GOARCH: runtime.GOARCH, GOMAXPROCS: runtime.GOMAXPROCS(0)}
	if err := runPipelineWindow(ctx, res, rec, net, q, info, modelName, opt, log); err != nil {
		return nil, err
	}
	f := rec.representative()
	if f == nil {
		return nil, fmt.Errorf("bench: no frame recorded from %s", label)
	}
	if err := benchStages(res, f, net, q, info, max(100*time.Millisecond, opt.duration/20)); err != nil {
		return nil, err
	}
	return res, nil
}

// runPipelineWindow runs daemon.RunPipeline on src: a first stats event
// after opt.warmup opens the timed window and asks for the next one
// opt.duration later, which closes it and stops the pipeline.
func runPipelineWindow(ctx context.Context, res *pipeResult, src *recordingSource, net *model.Net, q *fixedpoint.Net, info model.Info,
	modelName string, opt pipeOptions, log zerolog.Logger) error {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ctl := &daemon.Control{}
	updates := make(chan daemon.Update, 1)
	var (
		phase  int
		m0, m1 runtime.MemStats
		f0, f1 uint64
		t0, t1 time.Time
		c0, c1 time.Duration
		stats  daemon.Stats
	)
	// OnEvent runs in the pipeline's inference goroutine, which is this
	// one: RunPipeline calls it directly.
	onEvent := func(ev daemon.Event) {
		if ev.Kind != daemon.EventStats {
			return
		}
		switch phase {
		case 0:
			src.stop()
			runtime.ReadMemStats(&m0)
			f0, t0, c0 = ctl.Snapshot().Frames, time.Now(), cpuTime()
			updates <- daemon.Update{StatsEvery: opt.duration}
		case 1:
			runtime.ReadMemStats(&m1)
			f1, t1, c1 = ctl.Snapshot().Frames, time.Now(), cpuTime()
			stats = *ev.Stats
			cancel()
		}
		phase++
	}
	cfg := daemon.PipelineConfig{Source: src, Net: net, Int8: q, Info: info, StatsEvery: opt.warmup, Control: ctl,
		Updates: updates, OnEvent: onEvent, ModelName: modelName}
	if err := daemon.RunPipeline(pctx, cfg, log); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if phase < 2 {
		return errors.New("bench: the pipeline stopped before the end of the run")
	}
	res.Frames = f1 - f0
	res.Dropped, res.Corrupt = stats.Dropped, stats.Corrupt
	if res.Frames == 0 {
		return fmt.Errorf("bench: no frame inferred from %s in %v (%d corrupt)", res.Source, opt.duration, stats.Corrupt)
	}
	dt := t1.Sub(t0)
	res.DurationS = dt.Seconds()
	res.PipelineFPS = float64(res.Frames) / dt.Seconds()
	res.LatencyP50, res.LatencyP99 = us(stats.LatencyP50), us(stats.LatencyP99)
	res.CPUPerFrameUS = us(c1-c0) / float64(res.Frames)
	res.AllocsPerFrame = float64(m1.Mallocs-m0.Mallocs) / float64(res.Frames)
	res.BytesPerFrame = float64(m1.TotalAlloc-m0.TotalAlloc) / float64(res.Frames)
	return nil
}

// cpuTime returns the user and system CPU time of the process so far (0
// where getrusage fails).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadPipeModel loads what the daemon would run: the built-in default
// model (name ""), a model file, or a built-in architecture with random
// weights (as fast as trained ones), batch norms folded.
func loadPipeModel(name string) (*model.Net, model.Info, string, error) {
	opt := model.Options{MaxBatch: 1}
	if name == "" {
		n, info, label, err := loadModel("", opt)
		if err == nil && info.Name != "" {
			label += " (" + info.Name + ")"
		}
		return n, info, label, err
	}
	if _, err := os.Stat(name); err == nil {
		return loadModel(name, opt)
	}
	n, label, err := loadNet(name, opt)
	if err != nil {
		return nil, model.Info{}, "", err
	}
	f, err := n.Folded(opt)
	if err != nil {
		return nil, model.Info{}, "", err
	}
	return f, model.DefaultInfo(n.Arch, name), label + " (random weights)", nil
}

// recordingSource passes frames through and copies the first keep of
// them, until stop, to pick a representative frame from.
type recordingSource struct {
	camera.Source
	keep int

	mu      sync.Mutex
	stopped bool
	frames  []*camera.Frame
}

func (s *recordingSource) Next(ctx context.Context, f *camera.Frame) error {
	err := s.Source.Next(ctx, f)
	if err != nil {
		return err
	}
	s.mu.Lock()
	// After stop, one frame is still kept if none was.
	if len(s.frames) < s.keep && !(s.stopped && len(s.frames) > 0) {
		c := *f
		c.Data = slices.Clone(f.Data)
		s.frames = append(s.frames, &c)
	}
	s.mu.Unlock()
	return nil
}

// WaitsForReader passes on the wrapped source's answer (camera.BackPressure).
func (s *recordingSource) WaitsForReader() bool { return camera.WaitsForReader(s.Source) }

func (s *recordingSource) stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
}

// representative returns the recorded frame of median size, or nil.
func (s *recordingSource) representative() *camera.Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.frames) == 0 {
		return nil
	}
	fs := slices.Clone(s.frames)
	slices.SortStableFunc(fs, func(a, b *camera.Frame) int { return len(a.Data) - len(b.Data) })
	return fs[len(fs)/2]
}

// benchStages times decoding (JPEG or PNG frames), preprocessing and
// inference of f as the daemon does them, each for about budget. With q,
// inference is q's on the pixels, as the daemon runs an int8 model.
func benchStages(res *pipeResult, f *camera.Frame, net *model.Net, q *fixedpoint.Net, info model.Info, budget time.Duration) error {
	rz := preprocess.NewResizer(net.Arch.W, net.Arch.H, preprocess.Options{})
	pix := make([]uint8, rz.OutLen())
	x := make([]float32, net.InputLen())
	p := make([]float32, 1)
	res.FrameFormat, res.FrameBytes = f.Format.String(), len(f.Data)
	res.FrameW, res.FrameH = f.W, f.H

	var resize func() error
	if f.Format == camera.JPEG {
		err := rz.JPEG(pix, f.Data, 0)
		switch {
		case err == nil:
			var d framejpeg.Decoder
			cfg, _ := d.DecodeHeader(f.Data) // as rz.JPEG read it
			res.FrameW, res.FrameH, res.JPEGScale = cfg.Width, cfg.Height, rz.JPEGScale()
			once := func() { rz.JPEG(pix, f.Data, 0) }
			n := roundsFor(budget, once)
			res.JPEGDecodeUS = medianUS(1, n, once)
			res.JPEGDecodeAllocs, res.JPEGDecodeBytes = memPerOp(n, once)
			resize = func() error { return nil }
		case !errors.Is(err, framejpeg.ErrUnsupported):
			return fmt.Errorf("bench: the sample frame (%s, %d bytes): %w", f.Format, len(f.Data), err)
		}
	}
	switch {
	case resize != nil:
	case f.Format == camera.JPEG || f.Format == camera.PNG:
		var r bytes.Reader
		decode := func() (image.Image, error) {
			r.Reset(f.Data)
			return dataset.DecodeImage(&r, 0)
		}
		img, err := decode()
		if err != nil {
			return fmt.Errorf("bench: the sample frame (%s, %d bytes): %w", f.Format, len(f.Data), err)
		}
		res.FrameW, res.FrameH = img.Bounds().Dx(), img.Bounds().Dy()
		once := func() { decode() }
		n := roundsFor(budget, once)
		res.JPEGDecodeUS = medianUS(1, n, once)
		res.JPEGDecodeAllocs, res.JPEGDecodeBytes = memPerOp(n, once)
		resize = func() error { return rz.Image(pix, img) }
	case f.Format == camera.RGB24:
		resize = func() error { return rz.RGB(pix, f.Data, f.W, f.H, f.Stride) }
	case f.Format == camera.YUYV:
		resize = func() error { return rz.YUYV(pix, f.Data, f.W, f.H, f.Stride) }
	case f.Format == camera.I420:
		resize = func() error { return rz.I420(pix, f.Data, f.W, f.H) }
	case f.Format == camera.NV12:
		resize = func() error { return rz.NV12(pix, f.Data, f.W, f.H) }
	case f.Format == camera.Gray8:
		resize = func() error { return rz.Gray(pix, f.Data, f.W, f.H, f.Stride) }
	default:
		return fmt.Errorf("bench: frame format %v not supported", f.Format)
	}
	if err := resize(); err != nil {
		return fmt.Errorf("bench: the sample frame: %w", err)
	}
	prep := func() {
		resize()
		if q == nil {
			info.NormalizePixels(x, pix)
		}
	}
	n := roundsFor(budget, prep)
	res.PreprocessUS = medianUS(1, n, prep)
	res.PreprocessAllocs, _ = memPerOp(n, prep)

	infer := func() { net.Predict(p, x) }
	if q != nil {
		infer = func() { q.Predict(p, pix) }
	}
	res.InferUS = medianUS(1, roundsFor(budget, infer), infer)
	return nil
}

// roundsFor returns how many calls of f fit in budget (3 to 1000).
func roundsFor(budget time.Duration, f func()) int {
	f()
	t0 := time.Now()
	f()
	d := max(time.Since(t0), time.Microsecond)
	return int(min(max(budget/d, 3), 1000))
}

// memPerOp returns the heap allocations and bytes allocated per call of f.
func memPerOp(rounds int, f func()) (allocs, bytes float64) {
	f()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	for range rounds {
		f()
	}
	runtime.ReadMemStats(&b)
	return float64(b.Mallocs-a.Mallocs) / float64(rounds), float64(b.TotalAlloc-a.TotalAlloc) / float64(rounds)
}

// writeSyntheticMJPEG writes n w×h JPEG frames of a varied scene
// (gradients, moving shapes, texture and sensor-like noise) to path, one
// after the other: an MJPEG file as a camera would record it.
func writeSyntheticMJPEG(path string, w, h, n, quality int) error {
	var buf bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(5, 6))
	for i := range n {
		drawSynthetic(img, i, r)
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
			return fmt.Errorf("bench: encode a synthetic frame: %w", err)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// drawSynthetic draws frame i of the synthetic scene into img.
func drawSynthetic(img *image.RGBA, i int, r *rand.Rand) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	ph := float64(i) * 2 * math.Pi / synthFrames
	type disc struct {
		cx, cy, rad float64
		c           [3]float64
	}
	discs := []disc{
		{float64(w) * (0.5 + 0.35*math.Cos(ph)), float64(h) * (0.5 + 0.3*math.Sin(ph)), 60, [3]float64{230, 120, 40}},
		{float64(w) * (0.5 + 0.3*math.Sin(2*ph)), float64(h) * (0.45 + 0.25*math.Cos(ph)), 35, [3]float64{40, 60, 200}},
	}
	rx0, ry0 := int(float64(w)*(0.1+0.6*float64(i)/synthFrames)), h/5
	for y := range h {
		row := img.Pix[y*img.Stride : y*img.Stride+4*w]
		for x := range w {
			fx, fy := float64(x), float64(y)
			// Lit wall and floor: smooth gradients.
			c := [3]float64{
				60 + 120*fx/float64(w),
				50 + 140*fy/float64(h),
				90 + 60*math.Sin(fx/90+fy/70+ph),
			}
			// A textured rug in the lower part: fine detail costs bytes.
			if fy > 0.7*float64(h) {
				t := 30 * math.Sin(fx/3.1) * math.Cos(fy/2.3+ph)
				c[0], c[1], c[2] = c[0]+t, c[1]+t/2, c[2]-t
			}
			// A moving box with a hard edge.
			if x >= rx0 && x < rx0+120 && y >= ry0 && y < ry0+90 {
				c = [3]float64{200, 200, 60}
			}
			for _, d := range discs {
				if dx, dy := fx-d.cx, fy-d.cy; dx*dx+dy*dy < d.rad*d.rad {
					c = d.c
				}
			}
			noise := r.Uint64()
			for k := range 3 {
				v := c[k] + float64(int(noise>>(8*k)&15)-8)
				row[4*x+k] = uint8(min(max(v, 0), 255))
			}
			row[4*x+3] = 255
		}
	}
}

func printPipeBench(e *env, r *pipeResult) error {
	lines := []string{
		fmt.Sprintf("pipeline: model %s, %s/%s, GOMAXPROCS %d, %.1f s after a warm-up", r.Model, runtime.GOOS, r.GOARCH, r.GOMAXPROCS, r.DurationS),
		fmt.Sprintf("source:   %s", r.Source),
		"",
		fmt.Sprintf("frames/s:                 %9.1f     (%d frames; %d dropped, %d corrupt)", r.PipelineFPS, r.Frames, r.Dropped, r.Corrupt),
		fmt.Sprintf("CPU time per frame:       %9.0f µs  (%.1f frames per CPU-second)", r.CPUPerFrameUS, 1e6/r.CPUPerFrameUS),
		fmt.Sprintf("latency p50, p99:         %9.0f µs  %.0f µs, capture to decision", r.LatencyP50, r.LatencyP99),
		fmt.Sprintf("allocated per frame:      %9.0f B   (%.1f allocs)", r.BytesPerFrame, r.AllocsPerFrame),
		"",
		fmt.Sprintf("one %dx%d %s frame of %d bytes, stage by stage:", r.FrameW, r.FrameH, r.FrameFormat, r.FrameBytes),
	}
	if _, err := fmt.Fprintln(e.stdout, strings.Join(lines, "\n")); err != nil {
		return err
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "\tµs\tallocs\tbytes\t")
	switch {
	case r.JPEGScale > 0:
		fmt.Fprintf(w, "jpeg decode at 1/%d + resize\t%.1f\t%.0f\t%.0f\t\n", r.JPEGScale, r.JPEGDecodeUS, r.JPEGDecodeAllocs, r.JPEGDecodeBytes)
		fmt.Fprintf(w, "normalise\t%.1f\t%.0f\t\t\n", r.PreprocessUS, r.PreprocessAllocs)
	case r.FrameFormat == "jpeg" || r.FrameFormat == "png":
		fmt.Fprintf(w, "%s decode\t%.1f\t%.0f\t%.0f\t\n", r.FrameFormat, r.JPEGDecodeUS, r.JPEGDecodeAllocs, r.JPEGDecodeBytes)
		fallthrough
	default:
		fmt.Fprintf(w, "resize + normalise\t%.1f\t%.0f\t\t\n", r.PreprocessUS, r.PreprocessAllocs)
	}
	fmt.Fprintf(w, "inference\t%.1f\t\t\t\n", r.InferUS)
	return w.Flush()
}

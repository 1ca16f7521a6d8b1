package daemon

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"time"

	"catd/camera"
	"catd/dataset"
	"catd/hook"
	"catd/preprocess"
	"catd/state"
)

// detection is a cat_present event with a copy of its frame.
type detection struct {
	ev    Event
	frame camera.Frame
}

// detected is the pipeline's OnDetect: it copies the frame (a detection is
// rare; this allocation is not per frame) and hands it to snapshotLoop,
// dropping it if the loop is still busy with the previous one.
func (s *service) detected(ev Event, f *camera.Frame) {
	d := detection{ev: ev, frame: *f}
	d.frame.Data = bytes.Clone(f.Data)
	select {
	case s.detects <- d:
	default:
		s.log.Warn().Uint64("frame", ev.Frame).Msg("detection not snapshotted: the previous one is still being written")
	}
}

// snapshotLoop saves detections as JPEG snapshots (when enabled, at most
// one per snapshots.min_interval), publishes each to MQTT and runs
// on_detect with it.
func (s *service) snapshotLoop(ctx context.Context) {
	var last time.Time
	for {
		var d detection
		select {
		case <-ctx.Done():
			return
		case d = <-s.detects:
		}
		path := ""
		var data []byte // the JPEG, if made
		c, sn := s.snapCfg.Load(), s.snaps.Load()
		if c.Enabled && sn != nil && (last.IsZero() || time.Since(last) >= time.Duration(c.MinInterval)) {
			var err error
			data, err = snapshotJPEG(&d.frame)
			if err == nil {
				path, err = sn.Save(state.SnapshotName(d.ev.Time, d.ev.Frame, d.ev.PCat), data)
			}
			if err != nil {
				s.log.Warn().Err(err).Uint64("frame", d.ev.Frame).Msg("snapshot not saved")
			} else {
				last = time.Now()
				s.log.Info().Str("snapshot", path).Uint64("frame", d.ev.Frame).Int("bytes", len(data)).Msg("snapshot saved")
			}
		}
		s.mqttSnapshot(&d, data)
		if r := s.hook.Load(); r != nil {
			r.Fire(hook.Event{Kind: string(d.ev.Kind), Time: d.ev.Time, Frame: d.ev.Frame, PCat: d.ev.PCat, Snapshot: path,
				Model: *s.modelName.Load()})
		}
	}
}

// snapshotJPEG returns frame f as a JPEG file: its own bytes for a JPEG
// frame; otherwise its pixels, converted to RGB the way the model sees them
// (same colour conversion), encoded at quality 85.
func snapshotJPEG(f *camera.Frame) ([]byte, error) {
	var img image.Image
	switch f.Format {
	case camera.JPEG:
		return f.Data, nil
	case camera.PNG:
		var err error
		if img, err = dataset.DecodeImage(bytes.NewReader(f.Data), dataset.DefaultMaxPixels); err != nil {
			return nil, err
		}
	default:
		if f.W <= 0 || f.H <= 0 {
			return nil, fmt.Errorf("daemon: snapshot of a %dx%d frame", f.W, f.H)
		}
		rz := preprocess.NewResizer(f.W, f.H, preprocess.Options{Fit: preprocess.Stretch})
		pix := make([]uint8, rz.OutLen())
		if err := toInput(rz, pix, f, nil, 0); err != nil {
			return nil, err
		}
		rgba := image.NewRGBA(image.Rect(0, 0, f.W, f.H))
		for i := range f.W * f.H {
			copy(rgba.Pix[4*i:4*i+3], pix[3*i:3*i+3])
			rgba.Pix[4*i+3] = 0xff
		}
		img = rgba
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

package daemon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"catd/fixedpoint"
)

// quantizer gives the pipeline int8 versions of the models it runs
// (detect.int8): the built-in one for the built-in model, otherwise one
// quantized on a pool of recent frames' model inputs and the labels kept.
type quantizer struct {
	host quantizerHost
	log  zerolog.Logger
	on   atomic.Bool

	mu      sync.Mutex
	pool    [][]uint8 // model inputs of frames, one every sampleEvery
	next    int
	lastAdd int64
	size    int // bytes of one model input

	req chan *loaded // quantize this model (the newest wins)
}

const (
	poolSize = 128 // frames kept for calibration
	poolMin  = 32  // fewest images to calibrate on
)

// sampleEvery is the least time between two frames kept for calibration
// (tests shorten it).
var sampleEvery = 250 * time.Millisecond

// quantizerHost is what the quantizer needs of the service.
type quantizerHost interface {
	// inUse is the model in use.
	inUse() *loaded
	// update hands u to the pipeline and returns its answer (service.update).
	update(u Update) error
	setModelName(name string)
	// labelImages returns up to n model inputs of the labels kept.
	labelImages(n int) [][]uint8
}

func newQuantizer(host quantizerHost, log zerolog.Logger, on bool) *quantizer {
	q := &quantizer{host: host, log: log, req: make(chan *loaded, 1)}
	q.on.Store(on)
	return q
}

// builtin returns the built-in int8 model if m is the built-in model as
// shipped (not fine-tuned).
func builtin(m *loaded) *fixedpoint.Net {
	if !m.builtin || m.train != nil {
		return nil
	}
	q, _, err := fixedpoint.Default(fixedpoint.Options{MaxBatch: 1})
	if err != nil {
		return nil
	}
	return q
}

// sample keeps a copy of pix now and then (called for every frame; it
// allocates only while the pool fills).
func (q *quantizer) sample(pix []uint8) {
	if !q.on.Load() {
		return
	}
	now := time.Now().UnixNano()
	q.mu.Lock()
	defer q.mu.Unlock()
	if now-q.lastAdd < int64(sampleEvery) {
		return
	}
	q.lastAdd = now
	if len(pix) != q.size {
		q.pool, q.next, q.size = nil, 0, len(pix) // a new input size: start again
	}
	if len(q.pool) < poolSize {
		q.pool = append(q.pool, slices.Clone(pix))
		return
	}
	copy(q.pool[q.next], pix)
	q.next = (q.next + 1) % poolSize
}

// images returns the calibration images: the frames kept and the labels.
func (q *quantizer) images(inLen int) [][]uint8 {
	q.mu.Lock()
	var imgs [][]uint8
	for _, p := range q.pool {
		if len(p) == inLen {
			imgs = append(imgs, slices.Clone(p))
		}
	}
	q.mu.Unlock()
	imgs = append(imgs, q.host.labelImages(poolSize)...)
	return imgs
}

// quantize asks for an int8 version of m (the newest model asked for
// wins). It never blocks: apply and the learner both ask, and run may have
// stopped.
func (q *quantizer) quantize(m *loaded) { putNewest(q.req, m) }

// run quantizes the models asked for and hands them to the pipeline.
func (q *quantizer) run(ctx context.Context) {
	for {
		var m *loaded
		select {
		case <-ctx.Done():
			return
		case m = <-q.req:
		}
		if !q.on.Load() {
			continue
		}
		in := m.infer.InputLen()
		var imgs [][]uint8
		for {
			if imgs = q.images(in); len(imgs) >= poolMin {
				break
			}
			select { // wait for frames
			case <-ctx.Done():
				return
			case <-time.After(sampleEvery):
			case newer := <-q.req:
				m = newer
				in = m.infer.InputLen()
			}
		}
		start := time.Now()
		net, _, err := fixedpoint.QuantizeNet(m.infer, m.info, imgs, fixedpoint.DefaultCalibrateOptions, fixedpoint.Options{MaxBatch: 1})
		if err != nil {
			q.log.Error().Err(err).Str("model", m.name).Msg("int8: not quantized; the model runs in float32")
			continue
		}
		q.log.Info().Str("model", m.name).Int("images", len(imgs)).Dur("took", time.Since(start)).Msg("int8: model quantized")
		q.swap(m, net)
	}
}

// swap runs net, m's int8 version, if m is still the model in use.
func (q *quantizer) swap(m *loaded, net *fixedpoint.Net) {
	if q.host.inUse() != m || !q.on.Load() {
		return // overtaken by a newer model, or int8 turned off
	}
	switch err := q.host.update(Update{Net: m.infer, Info: m.info, ModelName: int8Name(m.name), Int8: net}); {
	case errors.Is(err, errStopped):
	case err != nil:
		q.log.Error().Err(err).Msg("int8: model refused")
	default:
		q.host.setModelName(int8Name(m.name))
	}
}

func int8Name(n string) string { return fmt.Sprintf("%s, int8", n) }

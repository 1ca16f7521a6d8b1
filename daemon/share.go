package daemon

import (
	"fmt"

	"catd/learn"
	"catd/mqtt"
)

// shared tells the other boards of the household about a label taken
// here, when labels are shared (mqtt.share_labels).
func (l *learning) shared(ex learn.Example) {
	if f := l.share.Load(); f != nil {
		(*f)(ex)
	}
}

// shareLabel hands a label taken here to the MQTT client, which publishes
// it if it shares labels; it never blocks.
func (s *service) shareLabel(ex learn.Example) {
	cl := s.mq.cl.Load()
	if cl == nil || s.learning == nil {
		return
	}
	cl.ShareLabel(mqtt.Label{Cat: ex.Cat, W: s.learning.w, H: s.learning.h, Pixels: ex.Pixels, Hash: ex.Hash,
		Time: ex.Time})
}

// takeShared takes a label another board shared (mqtt.Options.OnLabel):
// once, whatever number of times it comes (the replay buffer knows it by
// its hash, across restarts), and only for a model of the same input size.
func (s *service) takeShared(lb mqtt.Label) error {
	l := s.learning
	if l == nil {
		return fmt.Errorf("label from %s: no learning here", lb.Board)
	}
	if lb.W != l.w || lb.H != l.h {
		return fmt.Errorf("label from %s: %dx%d pixels, this model takes %dx%d", lb.Board, lb.W, lb.H, l.w, l.h)
	}
	if l.replay.Has(lb.Hash, lb.Cat) {
		l.log.Debug().Str("board", lb.Board).Msg("shared label known already")
		return nil
	}
	if err := l.replay.Add(learn.Example{Cat: lb.Cat, Pixels: lb.Pixels, Hash: lb.Hash, Time: lb.Time}); err != nil {
		return fmt.Errorf("label from %s: %w", lb.Board, err)
	}
	l.log.Info().Bool("cat", lb.Cat).Str("board", lb.Board).Msg("shared label taken")
	l.labelled()
	l.compact()
	return nil
}

package daemon

import (
	"fmt"
	"path/filepath"

	"catd/learn"
	"catd/mqtt"
)

// seenLabels returns the set of shared labels taken, opening it the first
// time; nil (logged) if it cannot be read, the replay buffer then being
// the only memory of them.
func (s *service) seenLabels() *seenLabels {
	s.mq.seenMu.Lock()
	defer s.mq.seenMu.Unlock()
	if s.mq.seen == nil {
		sl, err := openSeen(filepath.Join(s.opt.StateDir, "shared-labels.seen"), maxSeen, &s.meter)
		if err != nil {
			s.log.Warn().Err(err).Msg("shared labels seen before are forgotten")
			return nil
		}
		s.mq.seen = sl
	}
	return s.mq.seen
}

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
// its hash, and so does <state>/shared-labels.seen after the buffer let it
// go, across restarts), and only for a model of the same input size.
func (s *service) takeShared(lb mqtt.Label) error {
	l := s.learning
	if l == nil {
		return fmt.Errorf("label from %s: no learning here", lb.Board)
	}
	if lb.W != l.w || lb.H != l.h {
		return fmt.Errorf("label from %s: %dx%d pixels, this model takes %dx%d", lb.Board, lb.W, lb.H, l.w, l.h)
	}
	seen := s.seenLabels()
	if l.replay.Has(lb.Hash, lb.Cat) || (seen != nil && seen.has(lb.Hash, lb.Cat)) {
		l.log.Debug().Str("board", lb.Board).Msg("shared label known already")
		return nil
	}
	if err := l.replay.Add(learn.Example{Cat: lb.Cat, Pixels: lb.Pixels, Hash: lb.Hash, Time: lb.Time}); err != nil {
		return fmt.Errorf("label from %s: %w", lb.Board, err)
	}
	if seen != nil {
		if err := seen.add(lb.Hash, lb.Cat); err != nil {
			l.log.Warn().Err(err).Msg("shared label not remembered: it may be taken again after a restart")
		}
	}
	l.log.Info().Bool("cat", lb.Cat).Str("board", lb.Board).Msg("shared label taken")
	l.labelled()
	l.compact()
	return nil
}

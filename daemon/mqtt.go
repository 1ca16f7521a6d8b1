package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"catd/config"
	"catd/mqtt"
)

// mqttState is the service's MQTT client: the one running, and the one
// started last (running or stopping), whose end is every client's end.
// Start and stop hold service.mu; the event path reads cl without it.
type mqttState struct {
	run  *mqttRun
	last *mqttRun
	cl   atomic.Pointer[mqtt.Client]
	// seen are the shared labels taken (share.go), opened with the first.
	seenMu sync.Mutex
	seen   *seenLabels
}

// mqttRun is a running MQTT client.
type mqttRun struct {
	cl     *mqtt.Client
	cfg    config.MQTT
	cancel context.CancelFunc
	done   chan struct{} // closed once its Run, and every earlier one, returned
}

// newMQTT makes the client the mqtt section c describes (nil if it has no
// broker): the password file and the CA file are read now, so that a
// config naming a missing or unreadable one is refused.
func (s *service) newMQTT(c config.MQTT) (*mqtt.Client, error) {
	if c.Broker == "" {
		return nil, nil
	}
	opt := mqtt.Options{Broker: c.Broker, CAFile: c.CAFile, PinnedCert: c.PinnedCert, Username: c.Username,
		ClientID: c.ClientID, TopicPrefix: c.TopicPrefix, DiscoveryPrefix: c.DiscoveryPrefix,
		PCatEvery: time.Duration(c.PCatEvery), Handler: s, Poll: s.mqttPoll,
		Log: s.log.With().Str("component", "mqtt").Logger()}
	if c.ShareLabels {
		opt.ShareTopic, opt.OnLabel = c.ShareTopic, s.takeShared
	}
	if c.PasswordFile != "" {
		pw, err := mqtt.ReadPassword(c.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("daemon: %w", err)
		}
		opt.Password = pw
	}
	opt.Device.SWVersion = s.opt.Version
	opt.Device.Model = "catd (custom model)"
	if m := s.model.Load(); m != nil && m.info.Name != "" {
		opt.Device.Model = "catd " + m.info.Name
	}
	cl, err := mqtt.New(opt)
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	return cl, nil
}

// startMQTT runs cl (none if nil, or once ctx is done) under ctx, after
// the client it replaces has said goodbye; s.mu is held.
func (s *service) startMQTT(ctx context.Context, cl *mqtt.Client, c config.MQTT) {
	if cl == nil || ctx.Err() != nil {
		return
	}
	cctx, cancel := context.WithCancel(ctx)
	r := &mqttRun{cl: cl, cfg: c, cancel: cancel, done: make(chan struct{})}
	var prev <-chan struct{}
	if s.mq.last != nil {
		prev = s.mq.last.done
	}
	go func() {
		defer close(r.done)
		if prev != nil {
			<-prev // one connection with this client id at a time
		}
		if err := cl.Run(cctx); err != nil {
			s.log.Warn().Err(err).Msg("mqtt")
		}
	}()
	s.mq.run, s.mq.last = r, r
	s.mq.cl.Store(cl)
}

// stopMQTT tells the running client, if any, to stop without waiting for
// it (the caller may be its own command: a reload); retract removes its
// Home Assistant entities as it goes. s.mu is held.
func (s *service) stopMQTT(retract bool) {
	r := s.mq.run
	if r == nil {
		return
	}
	s.mq.run = nil
	s.mq.cl.Store(nil)
	if retract {
		r.cl.RetractOnStop()
	}
	r.cancel()
}

// waitMQTT stops the client and waits until every client started has
// stopped; s.mu must not be held. Run's context must be done.
func (s *service) waitMQTT() {
	s.mu.Lock()
	s.stopMQTT(false)
	last := s.mq.last
	s.mu.Unlock()
	if last != nil {
		<-last.done
	}
	s.mq.seenMu.Lock()
	if s.mq.seen != nil {
		s.mq.seen.close()
	}
	s.mq.seenMu.Unlock()
}

// swapMQTT restarts the client on the new mqtt section; prepare made it.
// The entities go from Home Assistant when MQTT is turned off or its
// broker, topics, client id or discovery prefix change.
func (s *service) swapMQTT(c *change) {
	if !c.has("mqtt") {
		return
	}
	o, n := s.cfg.MQTT, c.cfg.MQTT
	retract := n.Broker == "" || o.Broker != n.Broker || o.TopicPrefix != n.TopicPrefix || o.ClientID != n.ClientID ||
		o.DiscoveryPrefix != n.DiscoveryPrefix
	s.stopMQTT(retract)
	s.startMQTT(s.ctx, c.mq, n)
}

// mqttPoll is the state the client publishes, polled from its goroutine.
func (s *service) mqttPoll() mqtt.State {
	sn := s.ctl.Snapshot()
	st := mqtt.State{Present: sn.Present, PCat: sn.PCat, Threshold: sn.Threshold, Frames: sn.Frames,
		Model: *s.modelName.Load()}
	if l := s.learning; l != nil {
		var ls Status
		l.status(&ls)
		st.Learning, st.LearningState = ls.Learning == "on", ls.LearningState
		st.Rounds, st.RoundsAccepted, st.HeldOutAUC = ls.Rounds, ls.RoundsAccepted, ls.HeldOutAUC
		st.LabelsCat, st.LabelsNonCat, st.LastRound = ls.LabelsCat, ls.LabelsNonCat, ls.LastRound
	}
	return st
}

// eventJSON is an event on the MQTT event topic.
type eventJSON struct {
	Event EventKind `json:"event"`
	Time  time.Time `json:"time"`
	Frame uint64    `json:"frame,omitempty"`
	PCat  *float64  `json:"p_cat,omitempty"`
	Msg   string    `json:"msg,omitempty"`
}

// statsJSON is the MQTT stats topic.
type statsJSON struct {
	Frames      uint64  `json:"frames"`
	FPS         float64 `json:"fps"`
	Dropped     uint64  `json:"dropped"`
	Corrupt     uint64  `json:"corrupt"`
	LatencyP50  float64 `json:"latency_p50_ms"`
	LatencyP99  float64 `json:"latency_p99_ms"`
	Cat         bool    `json:"cat"`
	MQTTDropped uint64  `json:"mqtt_dropped"`
	// Labels not shared, or not taken from the other boards (they come
	// again at the next connection).
	LabelsDropped uint64 `json:"mqtt_labels_dropped"`
}

// mqttEvent hands ev to the MQTT client, if one runs: stats to the stats
// topic, a cat_present or cat_gone to the cat topic at once, every other
// event to the event topic. It never blocks (a rare event allocates its
// JSON; no frame does).
func (s *service) mqttEvent(ev Event) {
	cl := s.mq.cl.Load()
	if cl == nil {
		return
	}
	if st := ev.Stats; st != nil {
		b, err := json.Marshal(statsJSON{Frames: st.Frames, FPS: math.Round(st.FPS*100) / 100, Dropped: st.Dropped,
			Corrupt: st.Corrupt, LatencyP50: ms(st.LatencyP50), LatencyP99: ms(st.LatencyP99), Cat: st.Present,
			MQTTDropped: cl.Dropped(), LabelsDropped: cl.LabelsDropped()})
		if err == nil {
			cl.Set(mqtt.Stats, b)
		}
		return
	}
	switch ev.Kind {
	case EventCatPresent:
		cl.SetPresent(true)
	case EventCatGone:
		cl.SetPresent(false)
	}
	e := eventJSON{Event: ev.Kind, Time: ev.Time, Frame: ev.Frame, Msg: ev.Msg}
	if ev.Kind == EventCatPresent || ev.Kind == EventCatGone {
		p := math.Round(float64(ev.PCat)*1000) / 1000
		e.PCat = &p
	}
	if b, err := json.Marshal(e); err == nil {
		cl.Event(b)
	}
}

// mqttSnapshot publishes the JPEG of a cat_present, if a client runs.
func (s *service) mqttSnapshot(d *detection, jpeg []byte) {
	cl := s.mq.cl.Load()
	if cl == nil {
		return
	}
	if jpeg == nil {
		var err error
		if jpeg, err = snapshotJPEG(&d.frame); err != nil {
			s.log.Warn().Err(err).Uint64("frame", d.ev.Frame).Msg("mqtt: snapshot not encoded")
			return
		}
	}
	cl.Set(mqtt.Snapshot, jpeg)
}

// mqttStatus adds the client's state to status.json.
func (s *service) mqttStatus(st *Status) {
	cl := s.mq.cl.Load()
	if cl == nil {
		return
	}
	st.MQTT = "disconnected"
	if cl.Connected() {
		st.MQTT = "connected"
	}
	st.MQTTDropped = cl.Dropped()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }

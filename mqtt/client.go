package mqtt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/rs/zerolog"

	"catd/internal/regfile"
	"catd/serialctl"
)

// Options configure a Client. Zero values take the defaults noted.
type Options struct {
	// Broker is tcp://HOST[:PORT] or ssl://HOST[:PORT] (CheckBroker).
	Broker string
	// CAFile is a PEM file of the certificates that may sign an ssl://
	// broker's certificate ("": the system's). PinnedCert, if set, is the
	// broker certificate's SHA-256 (ParsePin), trusted alone instead, or
	// checked as well with CAFile.
	CAFile     string
	PinnedCert string
	// Username and Password authenticate to the broker; "" for none.
	// Password is never logged.
	Username, Password string
	// ClientID is the MQTT client id (default "catd-" + DefaultHost()); it
	// also names the device to Home Assistant.
	ClientID string
	// TopicPrefix starts every topic catd publishes and reads (default
	// "catd/" + DefaultHost()).
	TopicPrefix string
	// DiscoveryPrefix is Home Assistant's discovery prefix
	// ("homeassistant"); "" publishes no discovery.
	DiscoveryPrefix string
	// PCatEvery is the least time between two p(cat) messages (default
	// 10 s); the rest of the state is polled this often too.
	PCatEvery time.Duration
	// Device describes catd to Home Assistant.
	Device Device
	// Handler runs the commands that arrive on TopicPrefix/set/COMMAND;
	// nil refuses them all.
	Handler serialctl.Handler
	// Poll, if set, returns the state to publish; it is called from the
	// client's goroutine, every PCatEvery and after each command.
	Poll func() State
	Log  zerolog.Logger
	// Queue is how many events (and command replies) wait while the broker
	// is away or slow (default 64); more are dropped and counted.
	Queue int
	// MinBackoff and MaxBackoff bound the wait between two connection
	// attempts, doubling from one to the other (default 1 s and 60 s).
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds connecting, subscribing and each publish (default 10 s).
	Timeout time.Duration
	// ShareTopic, if set, is the topic under which the boards of a
	// household share their labels (see Label): ShareLabel publishes there,
	// and OnLabel, if set, is given each label of another board (from the
	// client's goroutine; it may take its time, the next labels wait in a
	// bounded queue). What each board has learnt goes there too.
	ShareTopic string
	OnLabel    func(Label) error
}

// Device is what Home Assistant shows of catd.
type Device struct {
	Name      string // "catd kitchen" (default "catd " + the host)
	Model     string // "catd catsep64"
	SWVersion string // catd's version
}

// State is the state polled from the daemon and published retained.
type State struct {
	Present        bool    // a cat is reported present
	PCat           float32 // p(cat) of the latest frame
	Threshold      float32 // the decision threshold in force
	Frames         uint64  // frames judged since start
	Learning       bool    // on-device learning is on
	LearningState  string  // what learning is doing (status.json's learning_state)
	Rounds         int64
	RoundsAccepted int64
	HeldOutAUC     *float64 // the accepted model's held-out ROC AUC; nil until measured
	LabelsCat      int
	LabelsNonCat   int
	Model          string
	LastRound      string // what the last learning round did
}

// Kind names a retained state topic the daemon sets.
type Kind int

// The retained topics under the topic prefix.
const (
	Cat       Kind = iota // "ON" or "OFF"
	PCat                  // "0.930"
	Threshold             // "0.254"
	Learning              // JSON: enabled, state, rounds, …
	Stats                 // JSON: the last stats event
	Snapshot              // JPEG bytes of the last cat_present
	numKinds
)

var kindTopics = [numKinds]string{Cat: "cat", PCat: "p_cat", Threshold: "threshold", Learning: "learning",
	Stats: "stats", Snapshot: "snapshot"}

// String returns the topic's last level.
func (k Kind) String() string {
	if k < 0 || k >= numKinds {
		return "Kind(" + strconv.Itoa(int(k)) + ")"
	}
	return kindTopics[k]
}

// The topics under the prefix that are not states.
const (
	topicAvailability = "availability" // "online" / "offline", retained, the last will
	topicEvent        = "event"        // JSON events
	topicReply        = "reply"        // answers to commands
	topicError        = "error"        // commands refused
	topicSet          = "set"          // set/COMMAND: commands
)

// message is one event or reply waiting to go out.
type message struct {
	topic   string
	payload []byte
}

// Client publishes catd's state and events to an MQTT broker, announces
// catd to Home Assistant, and takes commands. Build it with New, run it
// with Run; the setters never block and may be called from any goroutine,
// before, during and after Run: the pipeline hands over what it has and
// goes on, whatever the broker does.
type Client struct {
	opt    Options
	log    zerolog.Logger
	broker string // dial address
	tls    *tls.Config
	prefix string
	node   string // Home Assistant's node id, from the client id

	mu      sync.Mutex
	val     [numKinds][]byte // latest value of each state
	pending [numKinds]bool   // not yet published since it changed, or since connecting
	wake    chan struct{}    // a state is pending

	events   chan message
	commands chan serialctl.Command
	pollNow  chan struct{}
	lost     chan error

	limMu sync.Mutex
	lim   *serialctl.Limiter

	outLabels     chan message // labels of this board to share
	inLabels      chan Label   // labels of the others for OnLabel
	labelsDropped atomic.Uint64

	dropped   atomic.Uint64 // events and replies lost: queue full or publish failed
	refused   atomic.Uint64 // command messages refused
	connected atomic.Bool
	retract   atomic.Bool
	running   atomic.Bool
}

// New checks opt and returns a client; it connects to nothing. Errors
// name what is wrong (the CA file unreadable, a bad address); none quotes
// the password.
func New(opt Options) (*Client, error) {
	u, err := parseBroker(opt.Broker)
	if err != nil {
		return nil, fmt.Errorf("mqtt: %w", err)
	}
	host := DefaultHost()
	if opt.ClientID == "" {
		opt.ClientID = "catd-" + host
	}
	if opt.TopicPrefix == "" {
		opt.TopicPrefix = "catd/" + host
	}
	if opt.Device.Name == "" {
		opt.Device.Name = "catd " + host
	}
	for _, err := range []error{CheckClientID(opt.ClientID), CheckTopicPrefix(opt.TopicPrefix), CheckUsername(opt.Username)} {
		if err != nil {
			return nil, fmt.Errorf("mqtt: %w", err)
		}
	}
	if opt.DiscoveryPrefix != "" {
		if err := CheckTopicPrefix(opt.DiscoveryPrefix); err != nil {
			return nil, fmt.Errorf("mqtt: discovery: %w", err)
		}
	}
	if opt.ShareTopic != "" {
		if err := CheckTopicPrefix(opt.ShareTopic); err != nil {
			return nil, fmt.Errorf("mqtt: share: %w", err)
		}
	}
	if opt.Password != "" && opt.Username == "" {
		return nil, errors.New("mqtt: a password needs a username")
	}
	if opt.PCatEvery <= 0 {
		opt.PCatEvery = 10 * time.Second
	}
	if opt.Queue <= 0 {
		opt.Queue = 64
	}
	if opt.MinBackoff <= 0 {
		opt.MinBackoff = time.Second
	}
	if opt.MaxBackoff < opt.MinBackoff {
		opt.MaxBackoff = max(60*time.Second, opt.MinBackoff)
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 10 * time.Second
	}
	c := &Client{opt: opt, log: opt.Log.With().Str("broker", opt.Broker).Logger(), broker: dialURL(u),
		prefix: opt.TopicPrefix, node: nodeID(opt.ClientID),
		wake: make(chan struct{}, 1), events: make(chan message, opt.Queue),
		commands: make(chan serialctl.Command, serialctl.Burst), pollNow: make(chan struct{}, 1),
		lost: make(chan error, 1), outLabels: make(chan message, opt.Queue), inLabels: make(chan Label, opt.Queue),
		lim: serialctl.NewLimiter(serialctl.DefaultRate, serialctl.Burst, time.Now())}
	if u.Scheme == "ssl" {
		if c.tls, err = tlsConfig(u.Hostname(), opt.CAFile, opt.PinnedCert); err != nil {
			return nil, err
		}
	} else if opt.CAFile != "" || opt.PinnedCert != "" {
		return nil, fmt.Errorf("mqtt: broker %s: a CA file or pinned certificate needs ssl://", quote(opt.Broker))
	}
	return c, nil
}

// tlsConfig trusts the certificates of caFile ("": the system's), or the
// one certificate pinned, or with both, a certificate that passes both.
func tlsConfig(host, caFile, pin string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	if caFile != "" {
		pem, err := regfile.Read(caFile, 1<<20)
		if err != nil {
			return nil, fmt.Errorf("mqtt: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mqtt: CA file %s: no PEM certificate in it", caFile)
		}
		cfg.RootCAs = pool
	}
	if pin != "" {
		want, err := ParsePin(pin)
		if err != nil {
			return nil, fmt.Errorf("mqtt: %w", err)
		}
		// Without a CA file, the pin replaces the chain's check; with
		// one, the certificate must pass both.
		cfg.InsecureSkipVerify = caFile == ""
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the broker sent no certificate")
			}
			if got := sha256.Sum256(cs.PeerCertificates[0].Raw); got != want {
				return fmt.Errorf("the broker's certificate is sha256:%x, not the one pinned", got)
			}
			return nil
		}
	}
	return cfg, nil
}

// Topic returns the full name of a topic under the prefix ("catd/kitchen/cat").
func (c *Client) Topic(last string) string { return c.prefix + "/" + last }

// Set makes payload the value of the retained topic k, published as soon
// as the broker is there (and again after each reconnection). The newest
// value wins: values set while the broker is away are not queued. Set
// keeps payload; the caller must not change it afterwards.
func (c *Client) Set(k Kind, payload []byte) {
	c.mu.Lock()
	if c.val[k] != nil && bytes.Equal(c.val[k], payload) {
		c.mu.Unlock()
		return
	}
	c.val[k], c.pending[k] = payload, true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// SetPresent sets the cat topic ON or OFF.
func (c *Client) SetPresent(on bool) {
	if on {
		c.Set(Cat, []byte("ON"))
	} else {
		c.Set(Cat, []byte("OFF"))
	}
}

// Event queues an event (JSON) for the event topic. It never blocks:
// with the queue full, the event is dropped and counted.
func (c *Client) Event(payload []byte) { c.enqueue(message{c.Topic(topicEvent), payload}) }

func (c *Client) enqueue(m message) {
	select {
	case c.events <- m:
	default:
		c.dropped.Add(1)
	}
}

// Dropped returns how many events and replies were lost so far: queued
// beyond Options.Queue, or not accepted by the broker in time.
func (c *Client) Dropped() uint64 { return c.dropped.Load() }

// Refused returns how many command messages were refused so far.
func (c *Client) Refused() uint64 { return c.refused.Load() }

// Connected reports whether the client is connected to the broker now.
func (c *Client) Connected() bool { return c.connected.Load() }

// RetractOnStop makes Run, when it stops, remove the Home Assistant
// discovery it published (empty retained configs), as when MQTT is turned
// off or its topics change.
func (c *Client) RetractOnStop() { c.retract.Store(true) }

// Run connects to the broker and keeps the connection until ctx is done,
// reconnecting with exponential backoff when it fails (the first failure
// logged as a warning, the recovery once); each connection republishes
// availability, discovery and every state. When ctx is done it publishes
// "offline", disconnects and returns nil, having ended every goroutine it
// started; a broker that does not answer holds it at most Options.Timeout.
// Run may be called once at a time.
func (c *Client) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("mqtt: Run called twice")
	}
	defer c.running.Store(false)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() { defer wg.Done(); c.commandLoop(ctx) }()
	if c.opt.OnLabel != nil {
		wg.Add(1)
		go func() { defer wg.Done(); c.labelLoop(ctx.Done()) }()
	}

	backoff := c.opt.MinBackoff
	down := false
	var downSince time.Time
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return nil
		}
		cl, err := c.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !down {
				c.log.Warn().Err(err).Dur("retry_in", backoff).Msg("mqtt: broker unavailable; retrying in the background")
				down, downSince = true, time.Now()
			} else {
				c.log.Debug().Err(err).Int("attempt", attempt).Dur("retry_in", backoff).Msg("mqtt: broker still unavailable")
			}
			if !sleep(ctx, backoff) {
				return nil
			}
			backoff = min(2*backoff, c.opt.MaxBackoff)
			continue
		}
		if down {
			c.log.Info().Dur("down", time.Since(downSince)).Int("attempts", attempt).Msg("mqtt: broker back")
		} else {
			c.log.Info().Str("client_id", c.opt.ClientID).Str("topic_prefix", c.prefix).Msg("mqtt: connected")
		}
		attempt, down = 0, false
		start := time.Now()
		c.connected.Store(true)
		err = c.session(ctx, cl)
		c.connected.Store(false)
		if ctx.Err() != nil {
			c.goodbye(cl)
			return nil
		}
		cl.Disconnect(0)
		c.log.Warn().Err(err).Msg("mqtt: connection lost; reconnecting in the background")
		down, downSince = true, time.Now()
		if time.Since(start) >= 30*time.Second {
			backoff = c.opt.MinBackoff
		}
		if !sleep(ctx, backoff) {
			return nil
		}
		backoff = min(2*backoff, c.opt.MaxBackoff)
	}
}

// connect makes a paho client and connects it, within Options.Timeout.
func (c *Client) connect(ctx context.Context) (paho.Client, error) {
	select { // a loss reported by a previous connection is stale
	case <-c.lost:
	default:
	}
	o := paho.NewClientOptions().AddBroker(c.broker).SetClientID(c.opt.ClientID).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).
		SetKeepAlive(30*time.Second).SetPingTimeout(c.opt.Timeout).
		SetConnectTimeout(c.opt.Timeout).SetWriteTimeout(c.opt.Timeout).
		SetWill(c.Topic(topicAvailability), "offline", 1, true).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			select {
			case c.lost <- err:
			default:
			}
		})
	if c.opt.Username != "" {
		o.SetUsername(c.opt.Username)
	}
	if c.opt.Password != "" {
		o.SetPassword(c.opt.Password)
	}
	if c.tls != nil {
		o.SetTLSConfig(c.tls)
	}
	cl := paho.NewClient(o)
	tok := cl.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		// The attempt ends within its timeout; wait for it so that no
		// goroutine of it outlives Run.
		tok.WaitTimeout(c.opt.Timeout)
		cl.Disconnect(0)
		return nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("mqtt: connect %s: %w", c.opt.Broker, err)
	}
	return cl, nil
}

// session serves one connection until it is lost or ctx is done: it
// subscribes to the command topics, says online, publishes discovery and
// every state, and then states as they change, events as they come, and
// the polled state every PCatEvery.
func (c *Client) session(ctx context.Context, cl paho.Client) error {
	tok := cl.Subscribe(c.Topic(topicSet)+"/+", 1, c.onSet)
	if !tok.WaitTimeout(c.opt.Timeout) {
		return errors.New("mqtt: subscribe: no answer from the broker")
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("mqtt: subscribe %s: %w", c.Topic(topicSet)+"/+", err)
	}
	if err := c.subscribeLabels(cl); err != nil {
		return err
	}
	if err := c.publish(ctx, cl, c.Topic(topicAvailability), []byte("online"), true); err != nil {
		return err
	}
	if c.opt.DiscoveryPrefix != "" {
		for _, d := range Discovery(c.opt) {
			if err := c.publish(ctx, cl, d.Topic, d.Payload, true); err != nil {
				return err
			}
		}
	}
	c.mu.Lock()
	for k := range c.val {
		c.pending[k] = c.val[k] != nil
	}
	c.mu.Unlock()
	c.poll(true)
	if err := c.flush(ctx, cl); err != nil {
		return err
	}
	tick := time.NewTicker(c.opt.PCatEvery)
	defer tick.Stop()
	for {
		if ctx.Err() != nil { // before any other work that is ready too
			return nil
		}
		var err error
		select {
		case <-ctx.Done():
			return nil
		case err = <-c.lost:
			return fmt.Errorf("mqtt: %w", err)
		case <-c.wake:
			err = c.flush(ctx, cl)
		case m := <-c.events:
			if err = c.publish(ctx, cl, m.topic, m.payload, false); err != nil {
				c.dropped.Add(1)
			}
		case m := <-c.outLabels:
			if err = c.publish(ctx, cl, m.topic, m.payload, true); err != nil {
				select { // tried again later, if there is room
				case c.outLabels <- m:
				default:
					c.labelsDropped.Add(1)
				}
			}
		case <-tick.C:
			c.poll(true)
			err = c.flush(ctx, cl)
		case <-c.pollNow:
			c.poll(false)
			err = c.flush(ctx, cl)
		}
		if errors.Is(err, paho.ErrNotConnected) {
			return err
		}
	}
}

// poll takes the daemon's state and sets the topics it feeds; p(cat) only
// with withPCat, so that it goes out at most every PCatEvery.
func (c *Client) poll(withPCat bool) {
	if c.opt.Poll == nil {
		return
	}
	st := c.opt.Poll()
	c.SetPresent(st.Present)
	if withPCat {
		c.Set(PCat, strconv.AppendFloat(nil, float64(st.PCat), 'f', 3, 32))
	}
	c.Set(Threshold, strconv.AppendFloat(nil, float64(st.Threshold), 'f', 3, 32))
	b, err := json.Marshal(learningJSON{Enabled: st.Learning, State: st.LearningState, Rounds: st.Rounds,
		RoundsAccepted: st.RoundsAccepted, HeldOutAUC: st.HeldOutAUC, LabelsCat: st.LabelsCat,
		LabelsNonCat: st.LabelsNonCat, Frames: st.Frames, Model: st.Model, LastRound: st.LastRound})
	if err == nil {
		c.Set(Learning, b)
	}
}

// learningJSON is the learning topic's payload.
type learningJSON struct {
	Enabled        bool     `json:"enabled"`
	State          string   `json:"state"`
	Rounds         int64    `json:"rounds"`
	RoundsAccepted int64    `json:"rounds_accepted"`
	HeldOutAUC     *float64 `json:"held_out_auc,omitempty"`
	LabelsCat      int      `json:"labels_cat"`
	LabelsNonCat   int      `json:"labels_noncat"`
	Frames         uint64   `json:"frames"`
	Model          string   `json:"model"`
	LastRound      string   `json:"last_round,omitempty"`
}

// flush publishes the states pending. One that fails stays pending only
// if the connection is gone (a reconnection republishes all).
func (c *Client) flush(ctx context.Context, cl paho.Client) error {
	for k := range numKinds {
		c.mu.Lock()
		p, v := c.pending[k], c.val[k]
		c.pending[k] = false
		c.mu.Unlock()
		if !p {
			continue
		}
		if err := c.publish(ctx, cl, c.Topic(k.String()), v, true); err != nil {
			return err
		}
		if k == Learning && c.opt.ShareTopic != "" { // what this board has learnt, for the others
			if err := c.publish(ctx, cl, c.opt.ShareTopic+"/boards/"+c.opt.ClientID, v, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// publish sends one message (QoS 1) and waits for the broker's answer at
// most Options.Timeout.
func (c *Client) publish(ctx context.Context, cl paho.Client, topic string, payload []byte, retained bool) error {
	return c.publishWithin(ctx, cl, topic, payload, retained, c.opt.Timeout)
}

// publishWithin is publish waiting at most d, or until ctx is done.
func (c *Client) publishWithin(ctx context.Context, cl paho.Client, topic string, payload []byte, retained bool, d time.Duration) error {
	tok := cl.Publish(topic, 1, retained, payload)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		c.log.Debug().Str("topic", topic).Msg("mqtt: publish not acknowledged in time")
		return fmt.Errorf("mqtt: publish %s: no answer from the broker", topic)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("mqtt: publish %s: %w", topic, err)
	}
	return nil
}

// goodbyeWait bounds each step of goodbye: a stalled broker holds a
// stopping catd no longer than a few of these.
const goodbyeWait = 2 * time.Second

// goodbye says offline (and removes discovery if asked) and disconnects,
// each step within goodbyeWait.
func (c *Client) goodbye(cl paho.Client) {
	wait := min(c.opt.Timeout, goodbyeWait)
	if c.retract.Load() && c.opt.DiscoveryPrefix != "" {
		for _, d := range Discovery(c.opt) {
			if err := c.publishWithin(context.Background(), cl, d.Topic, nil, true, wait); err != nil {
				break
			}
		}
	}
	if err := c.publishWithin(context.Background(), cl, c.Topic(topicAvailability), []byte("offline"), true, wait); err != nil {
		c.log.Debug().Err(err).Msg("mqtt: offline not published")
	}
	cl.Disconnect(250)
	c.log.Info().Msg("mqtt: disconnected")
}

// sleep waits d, or returns false when ctx is done first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

package mqtttest

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Msg is a message a Sub received.
type Msg struct {
	Topic    string
	Payload  []byte
	Retained bool
}

// Sub is a test's own MQTT client: it records every message on the
// topics it subscribed to, and publishes.
type Sub struct {
	t   testing.TB
	cl  paho.Client
	mu  sync.Mutex
	got []Msg
	new chan struct{} // closed and replaced on each message
}

// SubOpts are a Sub's credentials, for a broker that wants them.
type SubOpts struct {
	Username, Password string
}

// Subscribe connects a Sub to b (trusting b's CA) and subscribes it to
// filter ("catd/#"); it disconnects when the test ends.
func Subscribe(t testing.TB, b *Broker, filter string, o SubOpts) *Sub {
	t.Helper()
	s := &Sub{t: t, new: make(chan struct{})}
	opts := paho.NewClientOptions().AddBroker(b.URL).SetClientID(fmt.Sprintf("test-sub-%d", time.Now().UnixNano())).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).
		SetUsername(o.Username).SetPassword(o.Password)
	if b.CAFile != "" {
		pem, err := os.ReadFile(b.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		opts.SetTLSConfig(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	}
	s.cl = paho.NewClient(opts)
	if tok := s.cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("test subscriber: connect %s: %v", b.URL, tok.Error())
	}
	t.Cleanup(func() { s.cl.Disconnect(100) })
	if filter != "" {
		if tok := s.cl.Subscribe(filter, 1, s.record); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("test subscriber: subscribe %s: %v", filter, tok.Error())
		}
	}
	return s
}

func (s *Sub) record(_ paho.Client, m paho.Message) {
	s.mu.Lock()
	s.got = append(s.got, Msg{Topic: m.Topic(), Payload: append([]byte(nil), m.Payload()...), Retained: m.Retained()})
	close(s.new)
	s.new = make(chan struct{})
	s.mu.Unlock()
}

// Publish publishes payload on topic (QoS 1) and waits for the broker.
func (s *Sub) Publish(topic string, payload []byte, retained bool) {
	s.t.Helper()
	if tok := s.cl.Publish(topic, 1, retained, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		s.t.Fatalf("test subscriber: publish %s: %v", topic, tok.Error())
	}
}

// Messages returns every message received so far on topic ("" for all).
func (s *Sub) Messages(topic string) []Msg {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Msg
	for _, m := range s.got {
		if topic == "" || m.Topic == topic {
			out = append(out, m)
		}
	}
	return out
}

// Last returns the last message received on topic.
func (s *Sub) Last(topic string) (Msg, bool) {
	m := s.Messages(topic)
	if len(m) == 0 {
		return Msg{}, false
	}
	return m[len(m)-1], true
}

// WaitFor waits up to timeout for a message on topic that ok accepts,
// received after the first skip messages of that topic, and returns it;
// the test fails if none comes, listing what did.
func (s *Sub) WaitFor(topic string, skip int, timeout time.Duration, ok func(Msg) bool) Msg {
	s.t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		ch := s.new
		n := 0
		for _, m := range s.got {
			if m.Topic != topic {
				continue
			}
			n++
			if n > skip && ok(m) {
				s.mu.Unlock()
				return m
			}
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			var seen []string
			for _, m := range s.Messages(topic) {
				seen = append(seen, fmt.Sprintf("%q (retained %v)", clip(m.Payload), m.Retained))
			}
			s.t.Fatalf("no awaited message on %s within %v; got %d: %s", topic, timeout, len(seen), strings.Join(seen, ", "))
			return Msg{}
		}
	}
}

// Payload is WaitFor accepting a message whose payload is want.
func (s *Sub) Payload(topic string, skip int, timeout time.Duration, want string) Msg {
	s.t.Helper()
	return s.WaitFor(topic, skip, timeout, func(m Msg) bool { return string(m.Payload) == want })
}

func clip(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

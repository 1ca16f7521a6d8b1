package web

import (
	"encoding/json"
	"sync"
	"sync/atomic"
)

// Event stream limits: pages listening at once, and events queued for a
// page that does not keep up (more are dropped for it).
const (
	maxEventClients = 8
	eventQueue      = 64
)

// hub hands each event, encoded once, to every page listening.
type hub struct {
	max, queue int

	mu      sync.Mutex
	clients map[chan []byte]struct{}
	dropped atomic.Uint64
}

func newHub(max, queue int) *hub {
	return &hub{max: max, queue: queue, clients: make(map[chan []byte]struct{})}
}

// subscribe adds a listener; ok is false when there are max already.
func (h *hub) subscribe() (ch chan []byte, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.clients) >= h.max {
		return nil, false
	}
	ch = make(chan []byte, h.queue)
	h.clients[ch] = struct{}{}
	return ch, true
}

func (h *hub) unsubscribe(ch chan []byte) {
	h.mu.Lock()
	delete(h.clients, ch)
	h.mu.Unlock()
}

// publish sends ev to every listener without waiting: a full queue loses
// the event.
func (h *hub) publish(ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.clients) == 0 {
		return
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return // an Event always encodes; a NaN in Stats would not
	}
	for ch := range h.clients {
		select {
		case ch <- data:
		default:
			h.dropped.Add(1)
		}
	}
}

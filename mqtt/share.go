package mqtt

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Label is a label shared between the boards of a household: the model
// input it was taken on (W×H×3 RGB bytes, as the replay buffer keeps it),
// its class, the board that took it and its hash, which names it in every
// board's replay buffer (a board takes a label it knows once).
//
// A label goes out retained on SHARE/labels/HASH (64 hex digits), so that
// a board that was away finds it on connecting; its payload is one line
// of JSON, then the pixels:
//
//	{"v":1,"board":"catd-kitchen","class":"cat","w":64,"h":64,"time":"…","sha256":"…"}\n<W*H*3 bytes>
//
// where sha256 is that of the pixels, checked on arrival. Each board also
// says what it has learnt on SHARE/boards/CLIENT_ID (retained JSON: the
// learning topic's fields).
type Label struct {
	Board  string
	Cat    bool
	W, H   int
	Pixels []byte
	Hash   [32]byte
	Time   time.Time
}

// MaxLabelSide is the largest width or height of a shared label's pixels,
// and MaxLabelHeader the longest header line, in bytes.
const (
	MaxLabelSide   = 256
	MaxLabelHeader = 512
)

// labelHeader is a shared label's first line.
type labelHeader struct {
	V      int       `json:"v"`
	Board  string    `json:"board"`
	Class  string    `json:"class"`
	W      int       `json:"w"`
	H      int       `json:"h"`
	Time   time.Time `json:"time"`
	SHA256 string    `json:"sha256"`
}

// AppendLabel appends l's payload to dst.
func AppendLabel(dst []byte, l Label) []byte {
	class := "noncat"
	if l.Cat {
		class = "cat"
	}
	sum := sha256.Sum256(l.Pixels)
	h, _ := json.Marshal(labelHeader{V: 1, Board: l.Board, Class: class, W: l.W, H: l.H, Time: l.Time.UTC(),
		SHA256: hex.EncodeToString(sum[:])})
	dst = append(dst, h...)
	dst = append(dst, '\n')
	return append(dst, l.Pixels...)
}

// ParseLabel reads a shared label from the last level of its topic (the
// hash, 64 hex digits) and its payload, checking everything: the header's
// size, version, board (a client id), class, size (1..MaxLabelSide a
// side), the pixels' length and SHA-256. The label's Pixels alias
// payload.
func ParseLabel(hash string, payload []byte) (Label, error) {
	var l Label
	if len(hash) != 64 || strings.ToLower(hash) != hash {
		return l, fmt.Errorf("label %s: want 64 lower-case hex digits", quote(hash))
	}
	if _, err := hex.Decode(l.Hash[:], []byte(hash)); err != nil {
		return l, fmt.Errorf("label %s: want 64 lower-case hex digits", quote(hash))
	}
	line, pixels, ok := bytes.Cut(payload, []byte{'\n'})
	if !ok || len(line) > MaxLabelHeader {
		return l, fmt.Errorf("label %s: no header line of at most %d bytes", hash[:12], MaxLabelHeader)
	}
	var h labelHeader
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return l, fmt.Errorf("label %s: header: %v", hash[:12], err)
	}
	switch {
	case h.V != 1:
		return l, fmt.Errorf("label %s: version %d, want 1", hash[:12], h.V)
	case CheckClientID(h.Board) != nil:
		return l, fmt.Errorf("label %s: board %s: want a client id", hash[:12], quote(h.Board))
	case h.Class != "cat" && h.Class != "noncat":
		return l, fmt.Errorf("label %s: class %s: want cat or noncat", hash[:12], quote(h.Class))
	case h.W < 1 || h.W > MaxLabelSide || h.H < 1 || h.H > MaxLabelSide:
		return l, fmt.Errorf("label %s: %dx%d: want 1..%d a side", hash[:12], h.W, h.H, MaxLabelSide)
	case len(pixels) != h.W*h.H*3:
		return l, fmt.Errorf("label %s: %d bytes of pixels, want %dx%dx3", hash[:12], len(pixels), h.W, h.H)
	}
	sum := sha256.Sum256(pixels)
	if hex.EncodeToString(sum[:]) != h.SHA256 {
		return l, fmt.Errorf("label %s: the pixels' SHA-256 is not the header's", hash[:12])
	}
	l.Board, l.Cat, l.W, l.H, l.Pixels, l.Time = h.Board, h.Class == "cat", h.W, h.H, pixels, h.Time
	return l, nil
}

// ShareLabel publishes a label taken on this board to the others, retained
// (Options.ShareTopic must be set). It never blocks: with the queue of
// labels full (the broker long away), the label is dropped and counted.
func (c *Client) ShareLabel(l Label) {
	if c.opt.ShareTopic == "" {
		return
	}
	l.Board = c.opt.ClientID
	select {
	case c.outLabels <- message{c.opt.ShareTopic + "/labels/" + hex.EncodeToString(l.Hash[:]), AppendLabel(nil, l)}:
	default:
		c.labelsDropped.Add(1)
	}
}

// LabelsDropped returns how many labels were not shared (queue full, or
// the broker did not take them) or not taken from the others (queue full;
// they come again, retained, on the next connection).
func (c *Client) LabelsDropped() uint64 { return c.labelsDropped.Load() }

// onLabel takes a label from another board (paho's router goroutine): it
// parses it and queues it for labelLoop, never blocking.
func (c *Client) onLabel(_ paho.Client, m paho.Message) {
	if len(m.Payload()) == 0 {
		return // a label taken back
	}
	hash := m.Topic()[strings.LastIndexByte(m.Topic(), '/')+1:]
	l, err := ParseLabel(hash, m.Payload())
	if err != nil {
		c.log.Warn().Err(err).Msg("mqtt: shared label refused")
		return
	}
	if l.Board == c.opt.ClientID {
		return // ours
	}
	l.Pixels = bytes.Clone(l.Pixels)
	select {
	case c.inLabels <- l:
	default:
		c.labelsDropped.Add(1)
	}
}

// labelLoop hands the other boards' labels to Options.OnLabel until ctx
// is done.
func (c *Client) labelLoop(done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case l := <-c.inLabels:
			if err := c.opt.OnLabel(l); err != nil {
				c.log.Warn().Err(err).Str("board", l.Board).Msg("mqtt: shared label not taken")
			}
		}
	}
}

// subscribeLabels subscribes to the other boards' labels (each
// connection: the retained ones come then).
func (c *Client) subscribeLabels(cl paho.Client) error {
	if c.opt.ShareTopic == "" || c.opt.OnLabel == nil {
		return nil
	}
	topic := c.opt.ShareTopic + "/labels/+"
	tok := cl.Subscribe(topic, 1, c.onLabel)
	if !tok.WaitTimeout(c.opt.Timeout) {
		return errors.New("mqtt: subscribe: no answer from the broker")
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("mqtt: subscribe %s: %w", topic, err)
	}
	return nil
}

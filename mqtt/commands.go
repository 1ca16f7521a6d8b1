package mqtt

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"catd/serialctl"
)

// Line turns a command message into the serial console's command line:
// the topic's last level is the command, the payload its arguments
// ("threshold" and "0.7" make "threshold 0.7"; "save" and an empty payload
// make "save"). The line is then parsed by serialctl.ParseCommand, with
// the console's limits: at most serialctl.DefaultMaxLine bytes, printable
// ASCII only. The command level must be a command's name in lower case,
// so that no part of a topic becomes an argument.
func Line(command string, payload []byte) (string, error) {
	if command == "" || len(command) > 16 || strings.Trim(command, "abcdefghijklmnopqrstuvwxyz") != "" {
		return "", errors.New("want " + topicSet + "/COMMAND, COMMAND one of " + strings.Join(commandNames(), ", "))
	}
	if len(command)+1+len(payload) > serialctl.DefaultMaxLine {
		return "", errors.New("line too long (max " + strconv.Itoa(serialctl.DefaultMaxLine) + " bytes)")
	}
	if len(payload) == 0 {
		return command, nil
	}
	return command + " " + string(payload), nil
}

// ParseMessage parses a command message exactly as the serial console
// parses a line (Line, then serialctl.ParseCommand).
func ParseMessage(command string, payload []byte) (serialctl.Command, error) {
	line, err := Line(command, payload)
	if err != nil {
		return serialctl.Command{}, err
	}
	cmd, err := serialctl.ParseCommand(line)
	if errors.Is(err, serialctl.ErrEmpty) {
		return cmd, errors.New("empty command")
	}
	return cmd, err
}

func commandNames() []string {
	var names []string
	for _, l := range serialctl.HelpLines() {
		names = append(names, strings.Fields(l)[0])
	}
	return names
}

// reply is what goes to the reply and error topics.
type reply struct {
	Command string   `json:"command"`
	OK      bool     `json:"ok"`
	Text    string   `json:"text,omitempty"`
	Lines   []string `json:"lines,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// onSet takes a message on set/+ (paho's router goroutine): it rate-limits,
// parses and queues it for commandLoop, answering what it refuses on the
// error topic. It never blocks.
func (c *Client) onSet(_ paho.Client, m paho.Message) {
	command := strings.TrimPrefix(m.Topic(), c.Topic(topicSet)+"/")
	c.limMu.Lock()
	ok, notify := c.lim.Allow(time.Now())
	c.limMu.Unlock()
	refuse := func(msg string) {
		c.refused.Add(1)
		c.log.Warn().Str("topic", clip(m.Topic())).Str("error", msg).Msg("mqtt: command refused")
		c.answer(reply{Command: clip(command), Error: msg})
	}
	switch {
	case !ok:
		c.refused.Add(1)
		if notify {
			c.log.Warn().Msg("mqtt: commands flooded; dropping them")
			c.answer(reply{Command: clip(command), Error: "rate limited"})
		}
		return
	case m.Retained():
		refuse("retained command ignored: publish commands without the retain flag")
		return
	}
	cmd, err := ParseMessage(command, m.Payload())
	if err != nil {
		refuse(err.Error())
		return
	}
	select {
	case c.commands <- cmd:
	default:
		refuse("busy: too many commands waiting")
	}
}

// commandLoop runs the queued commands on the handler until ctx is done,
// answering each on the reply or error topic.
func (c *Client) commandLoop(ctx context.Context) {
	for {
		var cmd serialctl.Command
		select {
		case <-ctx.Done():
			return
		case cmd = <-c.commands:
		}
		if c.opt.Handler == nil {
			c.answer(reply{Command: cmd.Op.String(), Error: "commands are not taken here"})
			continue
		}
		c.log.Info().Stringer("command", cmd.Op).Msg("mqtt command")
		text, lines, err := serialctl.Execute(c.opt.Handler, cmd)
		if err != nil {
			c.log.Warn().Err(err).Stringer("command", cmd.Op).Msg("mqtt command failed")
			c.answer(reply{Command: cmd.Op.String(), Error: err.Error()})
		} else {
			c.answer(reply{Command: cmd.Op.String(), OK: true, Text: text, Lines: lines})
		}
		select { // what the command changed goes out now
		case c.pollNow <- struct{}{}:
		default:
		}
	}
}

// answer queues a reply on the reply topic, or the error topic if it
// carries an error.
func (c *Client) answer(r reply) {
	b, err := json.Marshal(r)
	if err != nil {
		return
	}
	topic := topicReply
	if r.Error != "" {
		topic = topicError
	}
	c.enqueue(message{c.Topic(topic), b})
}

// clip cuts s to 64 bytes, for logs and replies.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

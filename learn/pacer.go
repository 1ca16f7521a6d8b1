package learn

import "fmt"

// Pacer decides which ticks of a round timer (catd's learn.every) run a
// training round. A round runs when labels came since the last one; rounds
// go on until Patience of them in a row brought no gain (Result.Gain).
// Then, while labels that no accepted round has used are waiting, rounds
// are retried at doubling intervals (2, 4, ... MaxBackoff ticks) instead of
// stopping: a learner that shrinks its step after each rejection may yet
// take them. Learning waits only when every label has been in an accepted
// round, or when rounds are skipped for want of labels.
//
// The zero Pacer is idle; a Pacer is not safe for concurrent use.
type Pacer struct {
	Patience   int // default 5
	MaxBackoff int // most ticks between retries, default 64

	fresh   int  // labels since the last round started
	left    int  // rounds before retries back off
	unused  bool // labels no accepted round has seen
	wait    int  // ticks to let pass before the next retry
	backoff int  // the last retry interval
	skipped bool // the last round wanted more labels
}

// Labelled notes n new labels.
func (p *Pacer) Labelled(n int) {
	if n > 0 {
		p.fresh += n
		p.unused = true
	}
}

// Retry makes the labels kept worth another series of rounds (a new
// model, new settings).
func (p *Pacer) Retry() {
	p.left, p.unused, p.wait, p.backoff = p.patience(), true, 0, 0
}

func (p *Pacer) patience() int {
	if p.Patience <= 0 {
		return 5
	}
	return p.Patience
}

// Tick reports whether a round runs at this tick of the timer; if so, the
// caller runs it and reports it with Done.
func (p *Pacer) Tick() bool {
	switch {
	case p.fresh > 0:
		p.fresh, p.skipped = 0, false
		p.left = p.patience()
		p.wait, p.backoff = 0, 0
		return true
	case p.left > 0:
		return true
	case p.unused && p.wait > 0:
		p.wait--
		return false
	}
	return p.unused
}

// Done takes the result of the round Tick asked for.
func (p *Pacer) Done(res Result) {
	switch {
	case res.Skipped:
		// Waiting for labels: only new ones can help.
		p.left, p.unused, p.skipped = 0, false, true
		return
	case res.Accepted:
		if p.fresh == 0 {
			p.unused = false
		}
		if res.Gain {
			p.left, p.wait, p.backoff = p.patience(), 0, 0
			return
		}
	}
	if p.left > 0 {
		p.left--
	}
	if p.left == 0 && p.unused {
		p.backoff = min(max(2*p.backoff, 2), p.maxBackoff())
		p.wait = p.backoff - 1
	}
}

func (p *Pacer) maxBackoff() int {
	if p.MaxBackoff <= 0 {
		return 64
	}
	return p.MaxBackoff
}

// State says what learning is doing, for status displays.
func (p *Pacer) State() string {
	switch {
	case p.fresh > 0 || p.left > 0:
		return "training"
	case p.skipped:
		return "waiting for labels"
	case p.unused:
		return fmt.Sprintf("retrying every %d rounds' time: %d rounds in a row without gain, labels not yet learnt from", p.backoff, p.patience())
	}
	return "idle: every label has been learnt from"
}

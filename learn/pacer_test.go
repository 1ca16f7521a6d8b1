package learn

import (
	"strings"
	"testing"
)

// ticks runs n ticks of p, answering each round with res, and returns
// which ticks ran a round.
func ticks(p *Pacer, n int, res Result) string {
	var b strings.Builder
	for range n {
		if p.Tick() {
			b.WriteByte('R')
			p.Done(res)
		} else {
			b.WriteByte('.')
		}
	}
	return b.String()
}

func TestPacer(t *testing.T) {
	gain := Result{Accepted: true, Gain: true}
	flat := Result{Accepted: true}
	rejected := Result{}
	skipped := Result{Skipped: true}
	tests := []struct {
		name  string
		steps func(p *Pacer) string
		want  string
	}{
		{"idle without labels", func(p *Pacer) string { return ticks(p, 5, gain) }, "....."},
		{"gains keep it going", func(p *Pacer) string { p.Labelled(3); return ticks(p, 6, gain) }, "RRRRRR"},
		{"accepted without gain: patience, then idle", func(p *Pacer) string {
			p.Labelled(1)
			return ticks(p, 8, flat)
		}, "RRR....."},
		{"rejections: patience, then retries at doubling intervals", func(p *Pacer) string {
			p.Labelled(1)
			return ticks(p, 20, rejected)
		}, "RRR.R...R.......R..."},
		{"a retry accepted ends the retries", func(p *Pacer) string {
			p.Labelled(1)
			return ticks(p, 5, rejected) + ticks(p, 8, flat)
		}, "RRR.R" + "...R...."},
		{"backoff is capped", func(p *Pacer) string {
			p.Labelled(1)
			s := ticks(p, 3+2+4+8, rejected)
			return s[len(s)-8:] + "|" + ticks(p, 16, rejected)
		}, ".......R|.......R.......R"},
		{"new labels restart at once", func(p *Pacer) string {
			p.Labelled(1)
			s := ticks(p, 5, rejected)
			p.Labelled(2)
			return s + ticks(p, 4, rejected)
		}, "RRR.R" + "RRR."},
		{"skipped: wait for labels", func(p *Pacer) string {
			p.Labelled(1)
			s := ticks(p, 4, skipped)
			p.Labelled(1)
			return s + ticks(p, 2, gain)
		}, "R..." + "RR"},
		{"retry after a new model", func(p *Pacer) string {
			p.Labelled(1)
			s := ticks(p, 5, flat)
			p.Retry()
			return s + ticks(p, 5, flat)
		}, "RRR.." + "RRR.."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &Pacer{Patience: 3, MaxBackoff: 8}
			if got := tc.steps(p); got != tc.want {
				t.Errorf("rounds %q, want %q (state %q)", got, tc.want, p.State())
			}
		})
	}
	p := &Pacer{Patience: 2}
	p.Labelled(1)
	for _, c := range []struct {
		res  Result
		want string
	}{{rejected, "training"}, {rejected, "retrying"}, {flat, "idle"}, {skipped, "waiting for labels"}} {
		if c.res.Skipped {
			p.Labelled(1)
		}
		for i := 0; !p.Tick(); i++ {
			if i > 100 {
				t.Fatalf("no round after %+v", c.res)
			}
		}
		p.Done(c.res)
		if !strings.HasPrefix(p.State(), c.want) {
			t.Errorf("after %+v: state %q, want %s", c.res, p.State(), c.want)
		}
	}
}

package learn

import (
	"math"
	"strings"
	"testing"
)

// sure is a validation of 10 cats scored pc and 10 non-cats scored 1-pc,
// with its class-weighted loss.
func sure(pc float32) validation {
	v := validation{auc: 1}
	for i := range 20 {
		cat := i < 10
		p := pc
		if !cat {
			p = 1 - pc
		}
		v.p, v.labels = append(v.p, p), append(v.labels, cat)
	}
	v.loss = exampleLoss(pc, true) // the same for both classes
	return v
}

// TestJudgeStopsDrift: rounds that are each within the margin of the last
// accepted one, but step by step worse, stop one margin from the best.
func TestJudgeStopsDrift(t *testing.T) {
	l := &Learner{}
	l.cfg.defaults()
	l.best, l.acc = sure(0.80), sure(0.795) // accepted: within a margin of the best
	if fail, _ := l.judge(sure(0.797), 10, 10); fail != "" {
		t.Errorf("a candidate between the best and the accepted model: refused (%s)", fail)
	}
	fail, blowUp := l.judge(sure(0.79), 10, 10)
	if !strings.Contains(fail, "above the best accepted") || blowUp {
		t.Errorf("a candidate within a margin of the accepted model but not of the best: %q", fail)
	}
	if fail, _ := l.judge(sure(0.70), 10, 10); !strings.Contains(fail, "held-out loss rose") {
		t.Errorf("a clearly worse candidate: %q", fail)
	}
	nan := sure(0.8)
	nan.loss = math.NaN()
	if _, blowUp := l.judge(nan, 10, 10); !blowUp {
		t.Error("a NaN held-out loss is not a blow-up")
	}
}

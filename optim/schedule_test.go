package optim

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestParseSchedule(t *testing.T) {
	tests := []struct {
		spec string
		eta0 float64
		want Schedule
		str  string // String() of the result
	}{
		{"", 0.1, Constant{0.1}, "constant"},
		{"constant", 0.1, Constant{0.1}, "constant"},
		{"  constant ", 0.1, Constant{0.1}, "constant"},
		{"piecewise:100=0.01", 0.1, Piecewise{0.1, []int64{100}, []float64{0.01}}, "piecewise:100=0.01"},
		{"piecewise:5=0.1,10=0.01,20=1e-3", 1, Piecewise{1, []int64{5, 10, 20}, []float64{0.1, 0.01, 0.001}}, "piecewise:5=0.1,10=0.01,20=0.001"},
		{"piecewise: 5 = 0.1 , 10=0.01", 1, Piecewise{1, []int64{5, 10}, []float64{0.1, 0.01}}, "piecewise:5=0.1,10=0.01"},
		{"piecewise:0=0.5,10=0.05", 1, Piecewise{1, []int64{0, 10}, []float64{0.5, 0.05}}, "piecewise:0=0.5,10=0.05"},
		{"piecewise:10=0.5", 1, Piecewise{1, []int64{10}, []float64{0.5}}, "piecewise:10=0.5"}, // rates may rise
		{"exp:0.001", 0.1, Exponential{0.1, 0.001}, "exp:0.001"},
		{"exp:0", 0.1, Exponential{0.1, 0}, "exp:0"},
		{"exp: 2.5e-4", 0.1, Exponential{0.1, 2.5e-4}, "exp:0.00025"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := ParseSchedule(tt.spec, tt.eta0)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseSchedule(%q, %v) = %#v, want %#v", tt.spec, tt.eta0, got, tt.want)
			}
			if s := got.String(); s != tt.str {
				t.Errorf("String() = %q, want %q", s, tt.str)
			}
			again, err := ParseSchedule(got.String(), tt.eta0)
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("round trip through %q: %#v, %v", got.String(), again, err)
			}
		})
	}
}

func TestParseScheduleErrors(t *testing.T) {
	tests := []struct {
		spec string
		eta0 float64
		want string // the whole message
	}{
		{"piecewise:5=0.1,3=0.2", 1, `optim: schedule "piecewise:5=0.1,3=0.2": steps must increase (3 after 5)`},
		{"piecewise:5=0.1,5=0.2", 1, `optim: schedule "piecewise:5=0.1,5=0.2": steps must increase (5 after 5)`},
		{"piecewise:-1=0.1", 1, `optim: schedule "piecewise:-1=0.1": step -1 is negative`},
		{"piecewise:5=0", 1, `optim: schedule "piecewise:5=0": rate 0 at step 5 must be positive and finite`},
		{"piecewise:5=-0.1", 1, `optim: schedule "piecewise:5=-0.1": rate -0.1 at step 5 must be positive and finite`},
		{"piecewise:5=inf", 1, `optim: schedule "piecewise:5=inf": rate +Inf at step 5 must be positive and finite`},
		{"piecewise:5=NaN", 1, `optim: schedule "piecewise:5=NaN": rate NaN at step 5 must be positive and finite`},
		{"piecewise:5=1e999", 1, `optim: schedule "piecewise:5=1e999": rate "1e999": value out of range`},
		{"piecewise:5=x", 1, `optim: schedule "piecewise:5=x": rate "x": invalid syntax`},
		{"piecewise:1.5=0.1", 1, `optim: schedule "piecewise:1.5=0.1": step "1.5": invalid syntax`},
		{"piecewise:99999999999999999999=0.1", 1, `optim: schedule "piecewise:99999999999999999999=0.1": step "99999999999999999999": value out of range`},
		{"piecewise:5", 1, `optim: schedule "piecewise:5": item "5" is not T=ETA`},
		{"piecewise:5=0.1,", 1, `optim: schedule "piecewise:5=0.1,": item "" is not T=ETA`},
		{"piecewise:", 1, `optim: schedule "piecewise:": piecewise needs T=ETA pairs`},
		{"piecewise", 1, `optim: schedule "piecewise": piecewise needs T=ETA pairs`},
		{"exp", 1, `optim: schedule "exp": exp needs a decay rate, as in exp:0.001`},
		{"exp:", 1, `optim: schedule "exp:": exp needs a decay rate, as in exp:0.001`},
		{"exp:-0.1", 1, `optim: schedule "exp:-0.1": lambda -0.1 must be non-negative and finite`},
		{"exp:inf", 1, `optim: schedule "exp:inf": lambda +Inf must be non-negative and finite`},
		{"exp:nan", 1, `optim: schedule "exp:nan": lambda NaN must be non-negative and finite`},
		{"exp:fast", 1, `optim: schedule "exp:fast": lambda "fast": invalid syntax`},
		{"constant:1", 1, `optim: schedule "constant:1": constant takes no argument`},
		{"cosine", 1, `optim: schedule "cosine": unknown schedule "cosine" (want constant, piecewise:T=ETA,... or exp:LAMBDA)`},
		{"Constant", 1, `optim: schedule "Constant": unknown schedule "Constant" (want constant, piecewise:T=ETA,... or exp:LAMBDA)`},
		{"constant", 0, `optim: schedule "constant": learning rate 0 must be positive and finite`},
		{"exp:0.1", math.NaN(), `optim: schedule "exp:0.1": learning rate NaN must be positive and finite`},
		{"constant", math.Inf(1), `optim: schedule "constant": learning rate +Inf must be positive and finite`},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s, err := ParseSchedule(tt.spec, tt.eta0)
			if err == nil {
				t.Fatalf("ParseSchedule(%q, %v) = %v, want error", tt.spec, tt.eta0, s)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n  %s\nwant\n  %s", err, tt.want)
			}
		})
	}
}

func TestScheduleRate(t *testing.T) {
	pw := Piecewise{Eta0: 1, Steps: []int64{10, 20, 30}, Etas: []float64{0.5, 0.25, 0.125}}
	from0 := Piecewise{Eta0: 1, Steps: []int64{0, 5}, Etas: []float64{0.3, 0.2}}
	ex := Exponential{Eta0: 0.1, Lambda: 0.01}
	tests := []struct {
		name string
		s    Schedule
		t    int64
		want float64
	}{
		{"constant t=0", Constant{0.01}, 0, 0.01},
		{"constant t=1e9", Constant{0.01}, 1e9, 0.01},
		{"piecewise before first", pw, 0, 1},
		{"piecewise just before t1", pw, 9, 1},
		{"piecewise at t1", pw, 10, 0.5},
		{"piecewise after t1", pw, 11, 0.5},
		{"piecewise just before t2", pw, 19, 0.5},
		{"piecewise at t2", pw, 20, 0.25},
		{"piecewise at t3", pw, 30, 0.125},
		{"piecewise far past t3", pw, math.MaxInt64, 0.125},
		{"piecewise from 0 at 0", from0, 0, 0.3},
		{"piecewise from 0 at 4", from0, 4, 0.3},
		{"piecewise from 0 at 5", from0, 5, 0.2},
		{"piecewise no steps", Piecewise{Eta0: 0.7}, 3, 0.7},
		{"exp t=0", ex, 0, 0.1},
		{"exp t=100", ex, 100, 0.1 * math.Exp(-1)},
		{"exp lambda 0", Exponential{0.1, 0}, 1e12, 0.1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Rate(tt.t); math.Abs(got-tt.want) > 1e-15*tt.want {
				t.Errorf("%v.Rate(%d) = %v, want %v", tt.s, tt.t, got, tt.want)
			}
		})
	}
}

func TestPiecewiseMismatchPanics(t *testing.T) {
	defer func() {
		if r, _ := recover().(string); !strings.HasPrefix(r, "optim: ") {
			t.Errorf("panic %q, want an optim: panic", r)
		}
	}()
	Piecewise{Eta0: 1, Steps: []int64{1, 2}, Etas: []float64{0.1}}.Rate(5)
}

func TestScheduleRateAllocs(t *testing.T) {
	scheds := []Schedule{Constant{0.1}, Piecewise{1, []int64{1, 5, 9}, []float64{0.5, 0.2, 0.1}}, Exponential{0.1, 1e-3}}
	for _, s := range scheds {
		t.Run(s.String(), func(t *testing.T) {
			var k int64
			if a := testing.AllocsPerRun(100, func() { k++; _ = s.Rate(k) }); a != 0 {
				t.Errorf("Rate: %v allocs, want 0", a)
			}
		})
	}
}

// FuzzParseSchedule checks that ParseSchedule never panics, and that what
// it accepts round-trips through String and gives sensible rates.
func FuzzParseSchedule(f *testing.F) {
	for _, spec := range []string{
		"", "constant", "piecewise:100=0.01", "piecewise:0=0.5,10=0.05,1000=1e-5",
		"piecewise:5=0.1,3=0.2", "exp:0.001", "exp:0", "exp:1e308", "piecewise: 1 = 2 ,3=4",
		"piecewise:9223372036854775807=1", "piecewise:5=4.9e-324", "exp:-0", "piecewise:+5=0x1p-3",
	} {
		f.Add(spec, 0.1)
	}
	f.Add("constant", 4.9e-324)
	f.Add("exp:1", 1.7976931348623157e308)
	f.Fuzz(func(t *testing.T, spec string, eta0 float64) {
		s, err := ParseSchedule(spec, eta0)
		if err != nil {
			if s != nil {
				t.Fatalf("ParseSchedule(%q) returned %v with error %v", spec, s, err)
			}
			if !strings.HasPrefix(err.Error(), "optim: schedule ") {
				t.Fatalf("error %q lacks the optim: schedule prefix", err)
			}
			return
		}
		str := s.String()
		again, err := ParseSchedule(str, eta0)
		if err != nil {
			t.Fatalf("ParseSchedule(%q) = %#v, whose String %q does not parse: %v", spec, s, str, err)
		}
		if !reflect.DeepEqual(again, s) {
			t.Fatalf("ParseSchedule(%q) = %#v; String %q parses to %#v", spec, s, str, again)
		}
		if again.String() != str {
			t.Fatalf("String not stable: %q then %q", str, again.String())
		}
		ts := []int64{0, 1, 2, 1000, 1 << 40, math.MaxInt64}
		if p, ok := s.(Piecewise); ok {
			for _, st := range p.Steps {
				ts = append(ts, st, st+1)
				if st > 0 {
					ts = append(ts, st-1)
				}
			}
		}
		prev := math.Inf(1)
		for _, tt := range ts {
			if tt < 0 { // st+1 overflowed
				continue
			}
			r := s.Rate(tt)
			if math.IsNaN(r) || math.IsInf(r, 0) || r < 0 {
				t.Fatalf("%v.Rate(%d) = %v", s, tt, r)
			}
			switch s := s.(type) {
			case Exponential:
				// Positive while exp(−λt) does not underflow; never rising.
				if tt == 0 && r != s.Eta0 {
					t.Fatalf("%v.Rate(0) = %v, want eta0 %v", s, r, s.Eta0)
				}
				if r > prev {
					t.Fatalf("%v.Rate rises to %v at t=%d", s, r, tt)
				}
				prev = r
			default:
				if r <= 0 {
					t.Fatalf("%v.Rate(%d) = %v, want positive", s, tt, r)
				}
			}
		}
	})
}

package optim

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseKind(t *testing.T) {
	tests := []struct {
		in      string
		want    Kind
		wantErr bool
	}{
		{"sgd", KindSGD, false},
		{"momentum", KindMomentum, false},
		{"adam", KindAdam, false},
		{"", "", true},
		{"Adam", "", true},
		{"adamw", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseKind(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ParseKind(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "optim: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	with := func(k Kind, f func(*Config)) Config {
		c := DefaultConfig(k)
		f(&c)
		return c
	}
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // substring; "" for valid
	}{
		{"sgd default", DefaultConfig(KindSGD), ""},
		{"momentum default", DefaultConfig(KindMomentum), ""},
		{"adam default", DefaultConfig(KindAdam), ""},
		{"sgd ignores momentum fields", Config{Kind: KindSGD, Momentum: nan, Beta1: 7}, ""},
		{"momentum beta 0", with(KindMomentum, func(c *Config) { c.Momentum = 0 }), ""},
		{"momentum beta 1", with(KindMomentum, func(c *Config) { c.Momentum = 1 }), "beta 1 out of range"},
		{"momentum beta negative", with(KindMomentum, func(c *Config) { c.Momentum = -0.1 }), "out of range"},
		{"momentum beta NaN", with(KindMomentum, func(c *Config) { c.Momentum = nan }), "out of range"},
		{"adam ignores momentum", with(KindAdam, func(c *Config) { c.Momentum = nan }), ""},
		{"adam beta1 0", with(KindAdam, func(c *Config) { c.Beta1 = 0 }), "beta1"},
		{"adam beta1 1", with(KindAdam, func(c *Config) { c.Beta1 = 1 }), "beta1"},
		{"adam beta2 0", with(KindAdam, func(c *Config) { c.Beta2 = 0 }), "beta2"},
		{"adam beta2 NaN", with(KindAdam, func(c *Config) { c.Beta2 = nan }), "beta2"},
		{"adam eps 0", with(KindAdam, func(c *Config) { c.Eps = 0 }), "eps"},
		{"adam eps Inf", with(KindAdam, func(c *Config) { c.Eps = inf }), "eps"},
		{"adam eps NaN", with(KindAdam, func(c *Config) { c.Eps = nan }), "eps"},
		{"adam eps below float32", with(KindAdam, func(c *Config) { c.Eps = 1e-60 }), "eps"},
		{"adam eps above float32", with(KindAdam, func(c *Config) { c.Eps = 1e60 }), "eps"},
		{"zero config", Config{}, "unknown optimizer kind"},
		{"unknown kind", Config{Kind: "rmsprop"}, `"rmsprop"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("Validate() = nil, want error containing %q", tt.wantErr)
			case err != nil && (!strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "optim: ")):
				t.Fatalf("Validate() = %q, want optim: error containing %q", err, tt.wantErr)
			}
			if _, nerr := New(tt.cfg, 3); (nerr == nil) != (err == nil) {
				t.Errorf("New error %v disagrees with Validate error %v", nerr, err)
			}
		})
	}
}

func TestNewNegativeLength(t *testing.T) {
	if _, err := New(DefaultConfig(KindSGD), -1); err == nil {
		t.Fatal("New with -1 params: no error")
	}
}

// TestHandComputed checks two or three steps of each rule against values
// worked out by hand (exact in binary for SGD and momentum).
func TestHandComputed(t *testing.T) {
	mom := DefaultConfig(KindMomentum)
	mom.Momentum = 0.5
	tests := []struct {
		name  string
		cfg   Config
		eta   float32
		init  []float32
		grads [][]float32
		want  [][]float32 // params after each step
		tol   float64
	}{
		{
			name: "sgd", cfg: DefaultConfig(KindSGD), eta: 0.5,
			init:  []float32{1, -2},
			grads: [][]float32{{0.5, 0.25}, {1, -1}, {0, 8}},
			// 1-0.25=0.75, -2-0.125=-2.125; 0.75-0.5=0.25, -2.125+0.5=-1.625; then -1.625-4.
			want: [][]float32{{0.75, -2.125}, {0.25, -1.625}, {0.25, -5.625}},
		},
		{
			name: "momentum beta 0.5", cfg: mom, eta: 0.5,
			init:  []float32{1, 0},
			grads: [][]float32{{1, 2}, {1, 0}, {-2, 0}},
			// V: 1,2 -> 1.5,1 -> -1.25,0.5; θ: 0.5,-1 -> -0.25,-1.5 -> 0.375,-1.75
			want: [][]float32{{0.5, -1}, {-0.25, -1.5}, {0.375, -1.75}},
		},
		{
			name: "adam", cfg: DefaultConfig(KindAdam), eta: 0.1,
			init:  []float32{1},
			grads: [][]float32{{2}, {2}, {-1}},
			// t=1: v=0.2 s=0.004, v̂=2 ŝ=4, θ=1-0.1·2/(2+1e-8)
			// t=2: v=0.38 s=0.007996, v̂=2 ŝ=4, θ≈0.8
			// t=3: v=0.242 s=0.008988004, v̂=0.242/0.271, ŝ=0.008988004/0.002997001
			want: [][]float32{{0.9000000005}, {0.8000000010000007}, {0.7484346607192304}},
			tol:  1e-6,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := New(tt.cfg, len(tt.init))
			if err != nil {
				t.Fatal(err)
			}
			p := append([]float32(nil), tt.init...)
			for k, g := range tt.grads {
				o.Step(p, g, tt.eta)
				if o.T() != int64(k+1) {
					t.Errorf("T() = %d after %d steps", o.T(), k+1)
				}
				for i := range p {
					if d := math.Abs(float64(p[i]) - float64(tt.want[k][i])); d > tt.tol {
						t.Errorf("step %d: θ[%d] = %v, want %v", k+1, i, p[i], tt.want[k][i])
					}
				}
			}
		})
	}
}

// ref64 is a float64 implementation of each rule, written straight from
// the textbook formulas.
type ref64 struct {
	cfg  Config
	t    int
	v, s []float64
}

func newRef64(cfg Config, n int) *ref64 {
	return &ref64{cfg: cfg, v: make([]float64, n), s: make([]float64, n)}
}

func (r *ref64) step(p, g []float64, eta float64) {
	r.t++
	c := r.cfg
	for i := range p {
		switch c.Kind {
		case KindSGD:
			p[i] = p[i] - eta*g[i]
		case KindMomentum:
			r.v[i] = c.Momentum*r.v[i] + g[i]
			p[i] = p[i] - eta*r.v[i]
		case KindAdam:
			r.v[i] = c.Beta1*r.v[i] + (1-c.Beta1)*g[i]
			r.s[i] = c.Beta2*r.s[i] + (1-c.Beta2)*g[i]*g[i]
			vh := r.v[i] / (1 - math.Pow(c.Beta1, float64(r.t)))
			sh := r.s[i] / (1 - math.Pow(c.Beta2, float64(r.t)))
			p[i] = p[i] - eta*vh/(math.Sqrt(sh)+c.Eps)
		}
	}
}

func allConfigs() []Config {
	m5 := DefaultConfig(KindMomentum)
	m5.Momentum = 0.5
	a := DefaultConfig(KindAdam)
	a.Beta1, a.Beta2, a.Eps = 0.8, 0.99, 1e-6
	return []Config{DefaultConfig(KindSGD), DefaultConfig(KindMomentum), m5, DefaultConfig(KindAdam), a}
}

func cfgName(c Config) string {
	switch c.Kind {
	case KindMomentum:
		return "momentum" + ftoa(c.Momentum)
	case KindAdam:
		return "adam" + ftoa(c.Beta1) + "," + ftoa(c.Beta2) + "," + ftoa(c.Eps)
	}
	return string(c.Kind)
}

// TestAgainstFloat64Reference runs each rule for 50 steps on random vectors
// and compares parameters and state with the float64 reference.
func TestAgainstFloat64Reference(t *testing.T) {
	const steps = 50
	for _, cfg := range allConfigs() {
		for _, n := range []int{1, 3, 7, 33, 1001} {
			t.Run(cfgName(cfg)+"/n="+itoa(n), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(n), 7))
				eta := float32(0.01)
				if cfg.Kind == KindAdam {
					eta = 1e-3
				}
				o, err := New(cfg, n)
				if err != nil {
					t.Fatal(err)
				}
				r := newRef64(cfg, n)
				p := make([]float32, n)
				p64 := make([]float64, n)
				g := make([]float32, n)
				g64 := make([]float64, n)
				for i := range p {
					p[i] = float32(rng.NormFloat64())
					p64[i] = float64(p[i])
				}
				var worst float64
				for k := 0; k < steps; k++ {
					for i := range g {
						g[i] = float32(rng.NormFloat64())
						g64[i] = float64(g[i])
					}
					o.Step(p, g, eta)
					r.step(p64, g64, float64(eta))
					for i := range p {
						d := math.Abs(float64(p[i])-p64[i]) / (1 + math.Abs(p64[i]))
						worst = max(worst, d)
					}
				}
				// 50 float32 roundings of θ of size ~1: a few 1e-7 each.
				if worst > 2e-6 {
					t.Errorf("worst relative difference in θ after %d steps: %g", steps, worst)
				}
				// State is a sum of O(1) terms, so it is judged like θ:
				// relative to 1 + its size, not to a value near cancellation.
				cmpState := func(name string, got []float32, want []float64) {
					for i := range got {
						if d := math.Abs(float64(got[i])-want[i]) / (1 + math.Abs(want[i])); d > 2e-6 {
							t.Errorf("%s[%d] = %v, reference %v", name, i, got[i], want[i])
							return
						}
					}
				}
				switch cfg.Kind {
				case KindMomentum:
					cmpState("V", o.v, r.v)
				case KindAdam:
					cmpState("v", o.v, r.v)
					cmpState("s", o.s, r.s)
				}
			})
		}
	}
}

func TestAdamFirstStepIsSignTimesEta(t *testing.T) {
	const eta = 1e-3
	g := []float32{3, -0.5, 1e-3, -7e4, 0, 1e-20}
	// |g| >> eps except the last two: 0 does not move, 1e-20 << eps barely does.
	want := []float64{-eta, eta, -eta, eta, 0, 0}
	o, _ := New(DefaultConfig(KindAdam), len(g))
	p := make([]float32, len(g))
	o.Step(p, g, eta)
	for i := range p {
		if d := math.Abs(float64(p[i]) - want[i]); d > 1e-5*eta {
			t.Errorf("g=%v: θ moved by %v, want %v", g[i], p[i], want[i])
		}
	}
}

// TestAdamMinimisesQuadratic runs Adam on f(θ) = ½ Σ a_i (θ_i − c_i)², with
// curvatures a_i spanning four decades, and checks it reaches the minimum.
func TestAdamMinimisesQuadratic(t *testing.T) {
	const n = 16
	rng := rand.New(rand.NewPCG(1, 2))
	a := make([]float64, n)
	c := make([]float64, n)
	p := make([]float32, n)
	g := make([]float32, n)
	for i := range a {
		a[i] = math.Pow(10, -2+4*rng.Float64())
		c[i] = 4*rng.Float64() - 2
	}
	loss := func() float64 {
		var f float64
		for i := range p {
			d := float64(p[i]) - c[i]
			f += 0.5 * a[i] * d * d
		}
		return f
	}
	f0 := loss()
	o, _ := New(DefaultConfig(KindAdam), n)
	sched := Exponential{Eta0: 0.1, Lambda: 2e-3}
	for k := int64(0); k < 5000; k++ {
		for i := range g {
			g[i] = float32(a[i] * (float64(p[i]) - c[i]))
		}
		o.Step(p, g, float32(sched.Rate(k)))
	}
	if f := loss(); !(f < 1e-6*f0) {
		t.Errorf("loss %g after 5000 steps, started at %g", f, f0)
	}
	for i := range p {
		if d := math.Abs(float64(p[i]) - c[i]); d > 1e-3 {
			t.Errorf("θ[%d] = %v, minimum at %v", i, p[i], c[i])
		}
	}
}

func TestMomentumBetaZeroIsSGD(t *testing.T) {
	const n = 101
	cfg := DefaultConfig(KindMomentum)
	cfg.Momentum = 0
	m, _ := New(cfg, n)
	s, _ := New(DefaultConfig(KindSGD), n)
	rng := rand.New(rand.NewPCG(3, 4))
	pm := randVec(rng, n)
	ps := append([]float32(nil), pm...)
	g := make([]float32, n)
	for k := 0; k < 20; k++ {
		copy(g, randVec(rng, n))
		m.Step(pm, g, 0.03)
		s.Step(ps, g, 0.03)
	}
	for i := range pm {
		if math.Float32bits(pm[i]) != math.Float32bits(ps[i]) {
			t.Fatalf("θ[%d]: momentum(β=0) %v, sgd %v", i, pm[i], ps[i])
		}
	}
}

func TestSwitch(t *testing.T) {
	const n = 10
	o, _ := New(DefaultConfig(KindSGD), n)
	p := make([]float32, n)
	g := make([]float32, n)
	for i := range g {
		g[i] = float32(i) - 4.5
	}
	steps := []struct {
		to        Config
		wantBytes int
		wantNames []string
		wantT     int64 // T right after the switch (before this case's Step)
	}{
		{DefaultConfig(KindMomentum), 4 * n, []string{StateMomentumV}, 2},
		{DefaultConfig(KindAdam), 8 * n, []string{StateAdamV, StateAdamS}, 0},
		{Config{Kind: KindAdam, Beta1: 0.5, Beta2: 0.9, Eps: 1e-6}, 8 * n, []string{StateAdamV, StateAdamS}, 2},
		{DefaultConfig(KindSGD), 0, nil, 4},
		{DefaultConfig(KindAdam), 8 * n, []string{StateAdamV, StateAdamS}, 0},
		{DefaultConfig(KindMomentum), 4 * n, []string{StateMomentumV}, 2},
	}
	o.Step(p, g, 0.1)
	o.Step(p, g, 0.1)
	for _, st := range steps {
		t.Run(cfgName(st.to), func(t *testing.T) {
			before := append([]float32(nil), p...)
			oldState := o.State()
			sameKind := o.Config().Kind == st.to.Kind
			if err := o.Switch(st.to); err != nil {
				t.Fatal(err)
			}
			if o.Config() != st.to {
				t.Errorf("Config() = %+v, want %+v", o.Config(), st.to)
			}
			for i := range p {
				if p[i] != before[i] {
					t.Fatalf("Switch changed θ[%d]", i)
				}
			}
			if got := o.StateBytes(); got != st.wantBytes {
				t.Errorf("StateBytes() = %d, want %d", got, st.wantBytes)
			}
			if got := 4 * (cap(o.v) + cap(o.s)); got != st.wantBytes {
				t.Errorf("%d bytes of state held, want %d", got, st.wantBytes)
			}
			if o.T() != st.wantT {
				t.Errorf("T() = %d, want %d", o.T(), st.wantT)
			}
			names := o.State()
			if len(names) != len(st.wantNames) {
				t.Fatalf("State() has %d vectors, want %v", len(names), st.wantNames)
			}
			for i, nv := range names {
				if nv.Name != st.wantNames[i] || len(nv.Data) != n {
					t.Errorf("State()[%d] = %q len %d, want %q len %d", i, nv.Name, len(nv.Data), st.wantNames[i], n)
				}
				if sameKind {
					if &nv.Data[0] != &oldState[i].Data[0] {
						t.Errorf("same-kind Switch replaced %q", nv.Name)
					}
					continue
				}
				for j, x := range nv.Data {
					if x != 0 {
						t.Errorf("%s[%d] = %v after Switch, want 0", nv.Name, j, x)
					}
				}
			}
			o.Step(p, g, 0.1)
			o.Step(p, g, 0.1)
		})
	}
	t.Run("invalid keeps everything", func(t *testing.T) {
		cfg, tt, bytes := o.Config(), o.T(), o.StateBytes()
		if err := o.Switch(Config{Kind: KindAdam}); err == nil {
			t.Fatal("Switch to a zero Adam config: no error")
		}
		if o.Config() != cfg || o.T() != tt || o.StateBytes() != bytes {
			t.Errorf("failed Switch changed the optimizer")
		}
	})
}

func TestReset(t *testing.T) {
	for _, cfg := range allConfigs() {
		t.Run(cfgName(cfg), func(t *testing.T) {
			const n = 9
			o, _ := New(cfg, n)
			fresh, _ := New(cfg, n)
			rng := rand.New(rand.NewPCG(5, 6))
			p := randVec(rng, n)
			for k := 0; k < 3; k++ {
				o.Step(p, randVec(rng, n), 0.1)
			}
			o.Reset()
			if o.T() != 0 {
				t.Errorf("T() = %d after Reset", o.T())
			}
			// From here o must behave exactly like a fresh optimizer.
			p2 := append([]float32(nil), p...)
			for k := 0; k < 3; k++ {
				g := randVec(rng, n)
				o.Step(p, g, 0.1)
				fresh.Step(p2, g, 0.1)
			}
			assertSameVec(t, "θ", p, p2)
		})
	}
}

func TestStepPanicsOnLengthMismatch(t *testing.T) {
	o, _ := New(DefaultConfig(KindAdam), 4)
	tests := []struct {
		name    string
		p, g    []float32
		wantMsg string
	}{
		{"short params", make([]float32, 3), make([]float32, 4), "optim: Step with 3 params and 4 grads, want 4"},
		{"short grads", make([]float32, 4), make([]float32, 3), "optim: Step with 4 params and 3 grads, want 4"},
		{"long both", make([]float32, 5), make([]float32, 5), "optim: Step with 5 params and 5 grads, want 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != tt.wantMsg {
					t.Errorf("panic %v, want %q", r, tt.wantMsg)
				}
				if o.T() != 0 {
					t.Errorf("T() = %d after a refused Step", o.T())
				}
			}()
			o.Step(tt.p, tt.g, 0.1)
		})
	}
	t.Run("zero Optimizer", func(t *testing.T) {
		defer func() {
			if r, _ := recover().(string); !strings.HasPrefix(r, "optim: ") {
				t.Errorf("panic %q, want an optim: panic", r)
			}
		}()
		new(Optimizer).Step(nil, nil, 0.1)
	})
}

func TestSetState(t *testing.T) {
	const n = 5
	vec := func(xs ...float32) []float32 {
		v := make([]float32, n)
		copy(v, xs)
		return v
	}
	good := vec(1, -2, 3, 0, 0.5)
	pos := vec(1, 2, 3, 0, 0.5)
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	tests := []struct {
		name    string
		kind    Kind
		t       int64
		vecs    []NamedVector
		wantErr string
	}{
		{"sgd empty", KindSGD, 7, nil, ""},
		{"sgd extra", KindSGD, 7, []NamedVector{{StateMomentumV, good}}, "1 vectors for sgd, want 0"},
		{"momentum", KindMomentum, 3, []NamedVector{{StateMomentumV, good}}, ""},
		{"momentum wrong name", KindMomentum, 3, []NamedVector{{StateAdamV, good}}, `unexpected vector "adam.v" for momentum`},
		{"momentum missing", KindMomentum, 3, nil, "0 vectors for momentum, want 1"},
		{"momentum short", KindMomentum, 3, []NamedVector{{StateMomentumV, good[:4]}}, `"momentum.V" has length 4, want 5`},
		{"momentum NaN", KindMomentum, 3, []NamedVector{{StateMomentumV, vec(0, 0, nan)}}, `"momentum.V"[2] is NaN`},
		{"momentum Inf", KindMomentum, 3, []NamedVector{{StateMomentumV, vec(0, -inf)}}, `"momentum.V"[1] is -Inf`},
		{"momentum negative t", KindMomentum, -1, []NamedVector{{StateMomentumV, good}}, "negative step count -1"},
		{"adam", KindAdam, 10, []NamedVector{{StateAdamV, good}, {StateAdamS, pos}}, ""},
		{"adam any order", KindAdam, 10, []NamedVector{{StateAdamS, pos}, {StateAdamV, good}}, ""},
		{"adam duplicate", KindAdam, 10, []NamedVector{{StateAdamV, good}, {StateAdamV, good}}, `duplicate vector "adam.v"`},
		{"adam missing s", KindAdam, 10, []NamedVector{{StateAdamV, good}}, "1 vectors for adam, want 2"},
		{"adam negative s", KindAdam, 10, []NamedVector{{StateAdamV, good}, {StateAdamS, good}}, `"adam.s"[1] is negative`},
		{"adam long v", KindAdam, 10, []NamedVector{{StateAdamV, append(good, 1)}, {StateAdamS, pos}}, `"adam.v" has length 6, want 5`},
		{"adam NaN in s", KindAdam, 10, []NamedVector{{StateAdamV, good}, {StateAdamS, vec(nan)}}, `"adam.s"[0] is NaN`},
		{"adam case matters", KindAdam, 10, []NamedVector{{"adam.V", good}, {StateAdamS, pos}}, `unexpected vector "adam.V"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, _ := New(DefaultConfig(tt.kind), n)
			p := vec(1, 1, 1, 1, 1)
			o.Step(p, vec(0.5, -0.5, 1, 2, 3), 0.1)
			beforeT := o.T()
			before := copyState(o)
			err := o.SetState(tt.t, tt.vecs)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "optim: set state: ") {
					t.Fatalf("SetState error %v, want one containing %q", err, tt.wantErr)
				}
				if o.T() != beforeT {
					t.Errorf("failed SetState changed T to %d", o.T())
				}
				for i, nv := range o.State() {
					assertSameVec(t, nv.Name, nv.Data, before[i].Data)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.T() != tt.t {
				t.Errorf("T() = %d, want %d", o.T(), tt.t)
			}
			for _, in := range tt.vecs {
				got := o.State()[indexName(o.State(), in.Name)].Data
				assertSameVec(t, in.Name, got, in.Data)
				if &got[0] == &in.Data[0] {
					t.Errorf("SetState kept the caller's %q instead of copying", in.Name)
				}
			}
		})
	}
}

// TestStateRoundTrip saves State and T mid-run, loads them into a fresh
// Optimizer, and checks both continue identically.
func TestStateRoundTrip(t *testing.T) {
	for _, cfg := range allConfigs() {
		t.Run(cfgName(cfg), func(t *testing.T) {
			const n = 13
			rng := rand.New(rand.NewPCG(8, 9))
			a, _ := New(cfg, n)
			p := randVec(rng, n)
			for k := 0; k < 4; k++ {
				a.Step(p, randVec(rng, n), 0.01)
			}
			saved := copyState(a)
			b, _ := New(cfg, n)
			if err := b.SetState(a.T(), saved); err != nil {
				t.Fatal(err)
			}
			q := append([]float32(nil), p...)
			for k := 0; k < 4; k++ {
				g := randVec(rng, n)
				a.Step(p, g, 0.01)
				b.Step(q, g, 0.01)
			}
			assertSameVec(t, "θ", p, q)
		})
	}
}

func TestCopyFrom(t *testing.T) {
	const n = 11
	rng := rand.New(rand.NewPCG(10, 11))
	for _, cfg := range allConfigs() {
		t.Run(cfgName(cfg), func(t *testing.T) {
			src, _ := New(cfg, n)
			dst, _ := New(cfg, n)
			p := randVec(rng, n)
			for k := 0; k < 3; k++ {
				src.Step(p, randVec(rng, n), 0.01)
			}
			if allocs := testing.AllocsPerRun(10, func() { dst.CopyFrom(src) }); allocs != 0 {
				t.Errorf("CopyFrom same kind and size: %v allocs, want 0", allocs)
			}
			if dst.T() != src.T() || dst.Config() != src.Config() {
				t.Errorf("CopyFrom: T %d config %+v, want %d %+v", dst.T(), dst.Config(), src.T(), src.Config())
			}
			// The copy is independent: stepping both from the same θ agrees,
			// and stepping only src leaves dst alone.
			saved := copyState(dst)
			q := append([]float32(nil), p...)
			g := randVec(rng, n)
			src.Step(p, g, 0.01)
			for i, nv := range dst.State() {
				assertSameVec(t, nv.Name, nv.Data, saved[i].Data)
			}
			dst.Step(q, g, 0.01)
			assertSameVec(t, "θ", p, q)
		})
	}
	t.Run("other kind and size", func(t *testing.T) {
		src, _ := New(DefaultConfig(KindAdam), n)
		p := randVec(rng, n)
		src.Step(p, randVec(rng, n), 0.01)
		dst, _ := New(DefaultConfig(KindMomentum), 3)
		dst.CopyFrom(src)
		if dst.Len() != n || dst.StateBytes() != 8*n || dst.T() != 1 {
			t.Fatalf("CopyFrom: Len %d StateBytes %d T %d", dst.Len(), dst.StateBytes(), dst.T())
		}
		for i, nv := range dst.State() {
			assertSameVec(t, nv.Name, nv.Data, src.State()[i].Data)
		}
		sgd, _ := New(DefaultConfig(KindSGD), 1)
		dst.CopyFrom(sgd)
		if dst.Len() != 1 || dst.StateBytes() != 0 || dst.v != nil || dst.s != nil {
			t.Fatalf("CopyFrom sgd: Len %d StateBytes %d", dst.Len(), dst.StateBytes())
		}
	})
	t.Run("self", func(t *testing.T) {
		o, _ := New(DefaultConfig(KindAdam), n)
		o.CopyFrom(o)
	})
	t.Run("nil panics", func(t *testing.T) {
		defer func() {
			if r, _ := recover().(string); !strings.HasPrefix(r, "optim: ") {
				t.Errorf("panic %q, want an optim: panic", r)
			}
		}()
		o, _ := New(DefaultConfig(KindAdam), n)
		o.CopyFrom(nil)
	})
}

func TestStepAllocs(t *testing.T) {
	for _, cfg := range allConfigs() {
		t.Run(cfgName(cfg), func(t *testing.T) {
			const n = 1003
			o, _ := New(cfg, n)
			p := make([]float32, n)
			g := make([]float32, n)
			for i := range g {
				g[i] = float32(i%7) - 3
			}
			if allocs := testing.AllocsPerRun(100, func() { o.Step(p, g, 1e-3) }); allocs != 0 {
				t.Errorf("Step: %v allocs, want 0", allocs)
			}
		})
	}
}

func randVec(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

func copyState(o *Optimizer) []NamedVector {
	var out []NamedVector
	for _, nv := range o.State() {
		out = append(out, NamedVector{nv.Name, append([]float32(nil), nv.Data...)})
	}
	return out
}

func assertSameVec(t *testing.T, name string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: length %d, want %d", name, len(got), len(want))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s[%d] = %v, want %v", name, i, got[i], want[i])
		}
	}
}

func itoa(i int) string     { return strconv.Itoa(i) }
func ftoa(x float64) string { return formatFloat(x) }

// TestStepGroups checks that a step with parameter groups is, for each
// group, the step of an optimizer over that group alone at the group's
// rate (bit for bit, Adam's bias correction included), that T counts one
// step, and that it allocates nothing.
func TestStepGroups(t *testing.T) {
	for _, k := range []Kind{KindSGD, KindMomentum, KindAdam} {
		t.Run(string(k), func(t *testing.T) {
			const n = 37
			ends := []int{5, 5, 30, n}
			etas := []float32{0.1, 0.5, 0.01, 0.002}
			r := rand.New(rand.NewPCG(3, uint64(len(k))))
			p := make([]float32, n)
			for i := range p {
				p[i] = r.Float32()*2 - 1
			}
			whole, _ := New(DefaultConfig(k), n)
			want := slices.Clone(p)
			parts := make([]*Optimizer, len(ends))
			groups := make([]Group, len(ends))
			start := 0
			for i, e := range ends {
				parts[i], _ = New(DefaultConfig(k), e-start)
				groups[i] = Group{End: e, Eta: etas[i]}
				start = e
			}
			g := make([]float32, n)
			for range 5 {
				for i := range g {
					g[i] = r.Float32()*2 - 1
				}
				whole.StepGroups(p, g, groups)
				start := 0
				for i, e := range ends {
					parts[i].Step(want[start:e], g[start:e], etas[i])
					start = e
				}
			}
			if !slices.Equal(p, want) {
				t.Errorf("StepGroups differs from a step per group:\n got %v\nwant %v", p, want)
			}
			if whole.T() != 5 {
				t.Errorf("T = %d after 5 steps", whole.T())
			}
			if a := testing.AllocsPerRun(10, func() { whole.StepGroups(p, g, groups) }); a != 0 {
				t.Errorf("%v allocations per step", a)
			}
		})
	}
	t.Run("bad groups", func(t *testing.T) {
		o, _ := New(DefaultConfig(KindSGD), 4)
		p, g := make([]float32, 4), make([]float32, 4)
		for _, groups := range [][]Group{nil, {{End: 3}}, {{End: 3}, {End: 2}, {End: 4}}} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("groups %v: no panic", groups)
					}
				}()
				o.StepGroups(p, g, groups)
			}()
		}
	})
}

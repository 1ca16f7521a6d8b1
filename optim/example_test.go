package optim_test

import (
	"fmt"

	"catd/optim"
)

// The momentum rule on one weight, with β = 0.5 and η = 0.5: V goes 1,
// 1.5, -1.25 and θ goes 0.5, -0.25, 0.375.
func ExampleOptimizer_Step() {
	cfg := optim.DefaultConfig(optim.KindMomentum)
	cfg.Momentum = 0.5
	o, err := optim.New(cfg, 1)
	if err != nil {
		panic(err)
	}
	theta := []float32{1}
	for _, g := range []float32{1, 1, -2} {
		o.Step(theta, []float32{g}, 0.5)
		fmt.Printf("t=%d V=%v θ=%v\n", o.T(), o.State()[0].Data[0], theta[0])
	}
	// Output:
	// t=1 V=1 θ=0.5
	// t=2 V=1.5 θ=-0.25
	// t=3 V=-1.25 θ=0.375
}

// At its first step Adam moves every weight by about η against the sign of
// its gradient, whatever the gradient's size.
func ExampleOptimizer_Step_adam() {
	o, _ := optim.New(optim.DefaultConfig(optim.KindAdam), 3)
	theta := []float32{0, 0, 0}
	o.Step(theta, []float32{1e3, -2, 1e-4}, 1e-3)
	fmt.Printf("%.6f\n", theta)
	// Output:
	// [-0.001000 0.001000 -0.001000]
}

// Switching rules keeps the weights and replaces the state.
func ExampleOptimizer_Switch() {
	o, _ := optim.New(optim.DefaultConfig(optim.KindSGD), 24593)
	fmt.Println(o.Config().Kind, o.StateBytes())
	for _, k := range []optim.Kind{optim.KindMomentum, optim.KindAdam, optim.KindSGD} {
		if err := o.Switch(optim.DefaultConfig(k)); err != nil {
			panic(err)
		}
		fmt.Println(o.Config().Kind, o.StateBytes())
	}
	// Output:
	// sgd 0
	// momentum 98372
	// adam 196744
	// sgd 0
}

// A checkpoint holds T and the named state vectors; loading them into a
// fresh Optimizer of the same kind and size continues the run.
func ExampleOptimizer_SetState() {
	a, _ := optim.New(optim.DefaultConfig(optim.KindAdam), 2)
	theta := []float32{1, 1}
	a.Step(theta, []float32{0.5, -0.5}, 1e-3)

	var saved []optim.NamedVector // State returns views: copy them out
	for _, nv := range a.State() {
		saved = append(saved, optim.NamedVector{Name: nv.Name, Data: append([]float32(nil), nv.Data...)})
		fmt.Println(nv.Name, nv.Data)
	}

	b, _ := optim.New(optim.DefaultConfig(optim.KindAdam), 2)
	if err := b.SetState(a.T(), saved); err != nil {
		panic(err)
	}
	fmt.Println(b.T())
	fmt.Println(b.SetState(1, saved[:1]))
	// Output:
	// adam.v [0.05 -0.05]
	// adam.s [0.00025 0.00025]
	// 1
	// optim: set state: 1 vectors for adam, want 2
}

func ExampleParseSchedule() {
	for _, spec := range []string{"constant", "piecewise:10=0.01,20=0.001", "exp:0.1", "piecewise:5=0.1,3=0.2"} {
		s, err := optim.ParseSchedule(spec, 0.1)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%-27s %.4g %.4g %.4g\n", s, s.Rate(0), s.Rate(10), s.Rate(20))
	}
	// Output:
	// constant                    0.1 0.1 0.1
	// piecewise:10=0.01,20=0.001  0.1 0.01 0.001
	// exp:0.1                     0.1 0.03679 0.01353
	// optim: schedule "piecewise:5=0.1,3=0.2": steps must increase (3 after 5)
}

func ExampleParseKind() {
	k, err := optim.ParseKind("momentum")
	fmt.Println(k, err)
	_, err = optim.ParseKind("rmsprop")
	fmt.Println(err)
	// Output:
	// momentum <nil>
	// optim: unknown optimizer kind "rmsprop" (want sgd, momentum or adam)
}

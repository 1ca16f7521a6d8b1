package fixedpoint_test

import (
	"fmt"

	"catd/fixedpoint"
	"catd/model"
)

func ExampleQuantizeNet() {
	// A float detector whose logit is the mean brightness minus 0.5 (in
	// the normalised units of mean 0.5, std 0.25), quantized on four grey
	// images and run on two more (float32 gives 0.133 and 0.721).
	a, _ := model.ParseArch("input 3x4x4; gap; flatten; dense 1")
	net, _ := model.New(a, model.Options{MaxBatch: 1})
	copy(net.Params, []float32{1.0 / 3, 1.0 / 3, 1.0 / 3, -0.5})
	info := model.DefaultInfo(a, "")
	info.Mean, info.Std = []float32{0.5, 0.5, 0.5}, []float32{0.25, 0.25, 0.25}
	grey := func(v uint8) []uint8 {
		px := make([]uint8, 4*4*3)
		for i := range px {
			px[i] = v
		}
		return px
	}
	calib := [][]uint8{grey(0), grey(90), grey(160), grey(255)}
	q, _, err := fixedpoint.QuantizeNet(net, info, calib, fixedpoint.DefaultCalibrateOptions, fixedpoint.Options{MaxBatch: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	p := make([]float32, 1)
	for _, v := range []uint8{40, 220} {
		q.Predict(p, grey(v))
		fmt.Printf("grey %d: p(cat) %.2f\n", v, p[0])
	}
	// Output:
	// grey 40: p(cat) 0.13
	// grey 220: p(cat) 0.72
}

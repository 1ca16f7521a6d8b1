package fixedpoint

import (
	"fmt"

	"catd/conv"
)

func Example_quantizeMultiplier() {
	// A layer with input scale 0.02, weight scale 0.005 and output scale
	// 0.04 scales its accumulator by 0.0025.
	mult, shift := quantizeMultiplier(0.02 * 0.005 / 0.04)
	fmt.Println(mult, shift)
	fmt.Println(multiplyByQuantizedMultiplier(1000, mult, shift)) // 2.5 rounds away from zero
	fmt.Println(multiplyByQuantizedMultiplier(-1000, mult, shift))
	// Output:
	// 1374389535 -8
	// 3
	// -3
}

func Example_saturatingRoundingDoublingHighMul() {
	const minInt32 = -1 << 31
	fmt.Println(saturatingRoundingDoublingHighMul(minInt32, minInt32)) // saturates
	fmt.Println(saturatingRoundingDoublingHighMul(1<<30, 1<<30))       // 0.5 * 0.5 in Q31
	fmt.Println(roundingDivideByPOT(-5, 1))                            // -2.5 rounds to -3
	// Output:
	// 2147483647
	// 536870912
	// -3
}

func Example_conv2D() {
	// A 1×1 convolution of a 2×2 image with 2 channels into 1 channel,
	// weights (1, -1) at scale 1/127, input zero point 10, output scale
	// equal to s_in*s_w*4 and zero point -5, with a fused ReLU.
	g, _ := conv.NewConv2D(2, 2, 2, 1, 1, 1, 0)
	mult, shift := quantizeMultiplier(0.25)
	l, err := newConv2D(g, []int8{1, -1}, []int32{0}, 10,
		requantParams{Mult: []int32{mult}, Shift: []int{shift}, ZP: -5, Min: -5, Max: 127})
	if err != nil {
		fmt.Println(err)
		return
	}
	x := []int8{50, 10, 10, 50, 30, 30, 127, -128}
	y := make([]int8, g.OutLen())
	l.Forward(y, x, make([]int8, l.WorkLen()))
	fmt.Println(y) // (40)/4-5, ReLU'd (-40)/4-5, 0/4-5, 255/4-5 rounded
	// Output:
	// [5 -5 -5 59]
}

func Example_quantizeInput() {
	// ImageNet normalisation, model input scale 1/48 and zero point 0.
	var lut [3][256]int8
	fillInputLUT(&lut, [3]float32{0.485, 0.456, 0.406}, [3]float32{0.229, 0.224, 0.225}, 1.0/48, 0)
	px := []uint8{0, 128, 255}
	q := make([]int8, 3)
	quantizeInput(q, px, &lut)
	fmt.Println(q)
	// Output:
	// [-102 10 127]
}

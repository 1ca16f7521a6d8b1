package fixedpoint

import (
	"flag"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

var long = flag.Bool("long", false, "run the long random sweeps (10^8 cases)")

// bigSRDHM is saturatingRoundingDoublingHighMul in math/big: the high word
// of 2ab rounded half up, floor((2ab + 2^31) / 2^32), saturated.
func bigSRDHM(a, b int32) int32 {
	if a == math.MinInt32 && b == math.MinInt32 {
		return math.MaxInt32
	}
	p := new(big.Int).Mul(big.NewInt(int64(a)), big.NewInt(int64(b)))
	p.Lsh(p, 1)
	p.Add(p, big.NewInt(1<<31))
	p.Rsh(p, 32) // big.Int shifts negative numbers toward -∞
	return int32(p.Int64())
}

// bigRDPOT is roundingDivideByPOT in math/big: x/2^e as an exact rational
// rounded to nearest, ties away from zero.
func bigRDPOT(x int32, e int) int32 {
	r := new(big.Rat).SetFrac(big.NewInt(int64(x)), new(big.Int).Lsh(big.NewInt(1), uint(e)))
	a := new(big.Rat).Abs(r)
	a.Add(a, big.NewRat(1, 2))
	q := new(big.Int).Quo(a.Num(), a.Denom()) // floor, a >= 0
	if r.Sign() < 0 {
		q.Neg(q)
	}
	return int32(q.Int64())
}

// bigMBQM is multiplyByQuantizedMultiplier from the two above.
func bigMBQM(x, m int32, shift int) int32 {
	return bigRDPOT(bigSRDHM(x<<uint(max(shift, 0)), m), max(-shift, 0))
}

func TestArithmeticEdgeCases(t *testing.T) {
	const minI, maxI = math.MinInt32, math.MaxInt32
	for _, tc := range []struct {
		name string
		a, b int32
		want int32
	}{
		{"min*min saturates", minI, minI, maxI},
		{"min*max", minI, maxI, -maxI},
		{"max*max", maxI, maxI, maxI - 1},
		{"min*1", minI, 1, -1},
		{"zero", 0, minI, 0},
		{"half*half", 1 << 30, 1 << 30, 1 << 29},
		{"positive tie rounds up", 1, 1 << 30, 1},     // 0.5 -> 1
		{"negative tie rounds up", -1, 1 << 30, 0},    // -0.5 -> 0 (toward +inf)
		{"just below negative tie", -3, 1 << 30, -1},  // -1.5 -> -1
		{"negative just over tie", -1, 1<<30 + 1, -1}, // -0.5000000005 -> -1
		{"1 times min", 1, minI, -1},                  // -1 exactly
		{"-1 times min", -1, minI, 1},
	} {
		t.Run("SRDHM/"+tc.name, func(t *testing.T) {
			if got := saturatingRoundingDoublingHighMul(tc.a, tc.b); got != tc.want {
				t.Errorf("SRDHM(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
			}
			if got := bigSRDHM(tc.a, tc.b); got != tc.want {
				t.Errorf("bigSRDHM(%d, %d) = %d, want %d (bad test)", tc.a, tc.b, got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name string
		x    int32
		e    int
		want int32
	}{
		{"exponent 0", -7, 0, -7},
		{"positive tie away", 5, 1, 3},
		{"negative tie away", -5, 1, -3},
		{"negative below tie", -9, 2, -2},  // -2.25
		{"negative above tie", -11, 2, -3}, // -2.75
		{"negative tie 2", -10, 2, -3},     // -2.5
		{"exponent 31 max", maxI, 31, 1},   // 0.99999
		{"exponent 31 min", minI, 31, -1},  // -1 exactly
		{"exponent 31 half", 1 << 30, 31, 1},
		{"exponent 31 minus half", -(1 << 30), 31, -1},
		{"exponent 31 just under half", 1<<30 - 1, 31, 0},
		{"exponent 31 -1", -1, 31, 0},
		{"min exponent 1", minI, 1, -(1 << 30)},
	} {
		t.Run("RDPOT/"+tc.name, func(t *testing.T) {
			if got := roundingDivideByPOT(tc.x, tc.e); got != tc.want {
				t.Errorf("RoundingDivideByPOT(%d, %d) = %d, want %d", tc.x, tc.e, got, tc.want)
			}
			if got := bigRDPOT(tc.x, tc.e); got != tc.want {
				t.Errorf("bigRDPOT(%d, %d) = %d, want %d (bad test)", tc.x, tc.e, got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name  string
		x, m  int32
		shift int
		want  int32
	}{
		{"identity multiplier", 12345, 1 << 30, 1, 12345},
		{"half, tie rounds up", 3, 1 << 30, 0, 2},      // 1.5 -> 2
		{"half, negative tie", -3, 1 << 30, 0, -1},     // -1.5 -> -1: SRDHM rounds half up
		{"quarter, negative tie", -6, 1 << 30, -1, -2}, // SRDHM -3 exactly, then -1.5 -> -2 away from zero
		{"shift -31", maxI, maxI, -31, 1},
		{"shift -31 min*min", minI, minI, -31, 1},
		{"shift +31 wraps", 1, 1 << 30, 31, -(1 << 30)},
		{"left shift into min*min", minI >> 1, minI, 1, maxI},
		{"zero multiplier", maxI, 0, -5, 0},
	} {
		t.Run("MBQM/"+tc.name, func(t *testing.T) {
			got := multiplyByQuantizedMultiplier(tc.x, tc.m, tc.shift)
			if got != tc.want {
				t.Errorf("MBQM(%d, %d, %d) = %d, want %d", tc.x, tc.m, tc.shift, got, tc.want)
			}
			if want := bigMBQM(tc.x, tc.m, tc.shift); got != want {
				t.Errorf("MBQM(%d, %d, %d) = %d, big reference %d", tc.x, tc.m, tc.shift, got, want)
			}
			if ref := multiplyRef(int64(tc.x), tc.m, tc.shift); got != ref {
				t.Errorf("MBQM(%d, %d, %d) = %d, int64 reference %d", tc.x, tc.m, tc.shift, got, ref)
			}
		})
	}
}

// randInt32 draws int32s that hit the interesting places often: the
// extremes, powers of two and their neighbours, small values, and uniform
// bits.
func randInt32(r *rand.Rand) int32 {
	switch r.IntN(6) {
	case 0:
		return []int32{math.MinInt32, math.MinInt32 + 1, math.MaxInt32, math.MaxInt32 - 1, 0, 1, -1}[r.IntN(7)]
	case 1:
		return int32(uint32(1)<<r.IntN(32)) + int32(r.IntN(3)-1)
	case 2:
		return -int32(uint32(1)<<r.IntN(32)) + int32(r.IntN(3)-1)
	case 3:
		return int32(r.IntN(1<<16) - 1<<15)
	default:
		return int32(r.Uint32())
	}
}

// checkArith compares the fast functions with the references on one case.
func checkArith(t *testing.T, a, b int32, e, shift int, useBig bool) {
	t.Helper()
	if got, want := saturatingRoundingDoublingHighMul(a, b), multiplyRef(int64(a), b, 0); got != want {
		t.Fatalf("SRDHM(%d, %d) = %d, int64 reference %d", a, b, got, want)
	}
	if got, want := roundingDivideByPOT(a, e), rdpotRef(a, e); got != want {
		t.Fatalf("RoundingDivideByPOT(%d, %d) = %d, int64 reference %d", a, e, got, want)
	}
	if got, want := multiplyByQuantizedMultiplier(a, b, shift), multiplyRef(int64(a), b, shift); got != want {
		t.Fatalf("MBQM(%d, %d, %d) = %d, int64 reference %d", a, b, shift, got, want)
	}
	if !useBig {
		return
	}
	if got, want := saturatingRoundingDoublingHighMul(a, b), bigSRDHM(a, b); got != want {
		t.Fatalf("SRDHM(%d, %d) = %d, big reference %d", a, b, got, want)
	}
	if got, want := roundingDivideByPOT(a, e), bigRDPOT(a, e); got != want {
		t.Fatalf("RoundingDivideByPOT(%d, %d) = %d, big reference %d", a, e, got, want)
	}
	if got, want := multiplyByQuantizedMultiplier(a, b, shift), bigMBQM(a, b, shift); got != want {
		t.Fatalf("MBQM(%d, %d, %d) = %d, big reference %d", a, b, shift, got, want)
	}
}

// rdpotRef is x/2^e rounded half away from zero, in int64.
func rdpotRef(x int32, e int) int32 {
	a := int64(x)
	if a < 0 {
		a = -a
	}
	q := (2*a + 1<<e) >> (e + 1) // floor(a/2^e + 1/2); e = 0 gives a
	if x < 0 {
		q = -q
	}
	return int32(q)
}

// TestArithmeticSweep runs 10^6 random cases against the int64 references
// and every tenth against math/big (10^8 with -long).
func TestArithmeticSweep(t *testing.T) {
	n := 1_000_000
	if *long {
		n = 100_000_000
	}
	if testing.Short() {
		n = 100_000
	}
	r := rand.New(rand.NewPCG(2024, 7))
	for i := range n {
		checkArith(t, randInt32(r), randInt32(r), r.IntN(32), r.IntN(63)-31, i%10 == 0)
	}
}

func FuzzArithmetic(f *testing.F) {
	f.Add(int32(math.MinInt32), int32(math.MinInt32), uint8(31), int8(-31))
	f.Add(int32(-3), int32(1<<30), uint8(1), int8(0))
	f.Add(int32(1), int32(1<<30), uint8(0), int8(31))
	f.Fuzz(func(t *testing.T, a, b int32, e uint8, shift int8) {
		checkArith(t, a, b, int(e%32), int(shift)%32, true)
	})
}

func TestQuantizeMultiplier(t *testing.T) {
	for _, tc := range []struct {
		name      string
		m         float64
		wantMult  int32
		wantShift int
	}{
		{"zero", 0, 0, 0},
		{"one", 1, 1 << 30, 1},
		{"half", 0.5, 1 << 30, 0},
		{"three quarters", 0.75, 3 << 29, 0},
		{"rounds up to 2^31", math.Nextafter(1, 0), 1 << 30, 1},
		{"just below 2^31 as mantissa", 1 - 1.0/(1<<33), 1 << 30, 1},
		{"tie rounds away", (1<<31 - 1.5) / (1 << 31), 1<<31 - 1, 0},
		{"large", 1000, 1000 << 21, 10},
		{"largest", 1<<31 - 1, 1<<31 - 1, 31},
		{"smallest kept", 0.5 / (1 << 31), 1 << 30, -31},
		{"flushed to zero", 0.25 / (1 << 31), 0, 0},
		{"negative", -0.75, -(3 << 29), 0},
		{"subnormal", 5e-324, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, s := quantizeMultiplier(tc.m)
			if m != tc.wantMult || s != tc.wantShift {
				t.Errorf("QuantizeMultiplier(%v) = (%d, %d), want (%d, %d)", tc.m, m, s, tc.wantMult, tc.wantShift)
			}
		})
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 1 << 31} {
		func() {
			defer func() {
				if msg, _ := recover().(string); len(msg) < 12 || msg[:12] != "fixedpoint: " {
					t.Errorf("QuantizeMultiplier(%v) panicked with %q, want a fixedpoint: panic", bad, msg)
				}
			}()
			quantizeMultiplier(bad)
		}()
	}
	// Every positive multiplier is within half a unit of the mantissa's
	// last place, with ties away from zero, checked in exact big.Float.
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		m := math.Ldexp(1+r.Float64(), r.IntN(50)-32) // [2^-32, 2^18): no flush to zero
		mult, shift := quantizeMultiplier(m)
		if mult < 1<<30 {
			t.Fatalf("QuantizeMultiplier(%v) = (%d, %d): mantissa below 2^30", m, mult, shift)
		}
		got := new(big.Float).SetMantExp(big.NewFloat(float64(mult)), shift-31)
		diff := new(big.Float).Sub(got, big.NewFloat(m))
		half := new(big.Float).SetMantExp(big.NewFloat(1), shift-32)
		if c := diff.Abs(diff).Cmp(half); c > 0 {
			t.Fatalf("QuantizeMultiplier(%v) = (%d, %d), off by more than half a unit", m, mult, shift)
		}
	}
}

func TestQFormats(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b int16
		want int16
	}{
		{"-1*-1 saturates", math.MinInt16, math.MinInt16, math.MaxInt16},
		{"half*half", 1 << 14, 1 << 14, 1 << 13},
		{"tie up", 1, 1 << 14, 1},
		{"negative tie up", -1, 1 << 14, 0},
		{"-1*max", math.MinInt16, math.MaxInt16, -math.MaxInt16},
	} {
		t.Run("MulQ15/"+tc.name, func(t *testing.T) {
			if got := mulQ15(tc.a, tc.b); got != tc.want {
				t.Errorf("MulQ15(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
			}
		})
	}
	// mulQ15 against the Q31 product of the same numbers: exhaustively on
	// a grid, since a Q15 product is the Q31 product with 16 fewer bits.
	for a := math.MinInt16; a <= math.MaxInt16; a += 97 {
		for b := math.MinInt16; b <= math.MaxInt16; b += 89 {
			p := int64(a) * int64(b)
			want := int16(min((p+1<<14)>>15, math.MaxInt16))
			if got := mulQ15(int16(a), int16(b)); got != want {
				t.Fatalf("MulQ15(%d, %d) = %d, want %d", a, b, got, want)
			}
		}
	}
	for _, tc := range []struct {
		name string
		f    float64
		frac int
		want int32
	}{
		{"one in Q31 saturates", 1, 31, math.MaxInt32},
		{"-1 in Q31", -1, 31, math.MinInt32},
		{"half", 0.5, 31, 1 << 30},
		{"tie away", 2.5, 0, 3},
		{"negative tie away", -2.5, 0, -3},
		{"Q16.16", 1.25, 16, 5 << 14},
		{"NaN", math.NaN(), 8, 0},
		{"-Inf", math.Inf(-1), 8, math.MinInt32},
		{"+Inf", math.Inf(1), 0, math.MaxInt32},
	} {
		t.Run("FloatToQ/"+tc.name, func(t *testing.T) {
			if got := floatToQ(tc.f, tc.frac); got != tc.want {
				t.Errorf("FloatToQ(%v, %d) = %d, want %d", tc.f, tc.frac, got, tc.want)
			}
		})
	}
	if floatToQ15(1) != math.MaxInt16 || floatToQ15(-1) != math.MinInt16 || floatToQ15(0.25) != 1<<13 || q15ToFloat(1<<13) != 0.25 {
		t.Error("Q15 conversions wrong at 1, -1 or 0.25")
	}
	if floatToQ31(0.25) != 1<<29 || q31ToFloat(math.MinInt32) != -1 || qToFloat(5<<14, 16) != 1.25 {
		t.Error("Q31 conversions wrong")
	}
	for _, tc := range []struct{ x, want8, want16 int32 }{
		{0, 0, 0}, {127, 127, 127}, {128, 127, 128}, {-129, -128, -129}, {1 << 20, 127, 32767}, {-1 << 20, -128, -32768},
		{math.MinInt32, -128, -32768}, {math.MaxInt32, 127, 32767},
	} {
		if g8, g16 := saturateInt8(tc.x), saturateInt16(tc.x); int32(g8) != tc.want8 || int32(g16) != tc.want16 {
			t.Errorf("Saturate(%d) = %d, %d, want %d, %d", tc.x, g8, g16, tc.want8, tc.want16)
		}
	}
}

func TestQuantizeValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		x, s float32
		zp   int32
		want int8
	}{
		{"zero is the zero point", 0, 0.1, -5, -5},
		{"tie away", 0.25, 0.5, 0, 1},
		{"negative tie away", -0.25, 0.5, 3, 2},
		{"saturates high", 100, 0.1, 0, 127},
		{"saturates low", -100, 0.1, 10, -128},
		{"NaN", float32(math.NaN()), 1, 7, 7},
		{"+Inf", float32(math.Inf(1)), 1, 0, 127},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := quantizeValue(tc.x, tc.s, tc.zp); got != tc.want {
				t.Errorf("QuantizeValue(%v, %v, %d) = %d, want %d", tc.x, tc.s, tc.zp, got, tc.want)
			}
		})
	}
	if quantizeValue(-2.5, 1, 0) != -3 || quantizeValue(2.5, 1, 0) != 3 {
		t.Error("QuantizeValue does not round ties away from zero")
	}
	x := []float32{-1, 0, 0.5, 1}
	q := make([]int8, 4)
	quantize(q, x, 1.0/127, 0)
	back := make([]float32, 4)
	dequantize(back, q, 1.0/127, 0)
	for i := range x {
		if math.Abs(float64(back[i]-x[i])) > 0.5/127+1e-7 {
			t.Errorf("round trip of %v gave %v", x[i], back[i])
		}
	}
}

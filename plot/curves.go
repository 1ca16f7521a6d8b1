package plot

import "sort"

// TrainingCurves returns a two-panel figure of a training run: training and
// validation loss per epoch on top, validation metrics (such as roc_auc,
// balanced_accuracy, f1) per epoch below, on a fixed 0..1 axis unless a value
// falls outside it. Metrics are listed in name order so the output does not
// depend on map order. Each series is cut to the length of epochs when longer;
// shorter series simply end early. Missing values may be given as NaN. A nil
// or empty slice adds no line. The inputs are copied, not retained.
func TrainingCurves(epochs []int, trainLoss, valLoss []float64, metrics map[string][]float64) *Figure {
	xs := make([]float64, len(epochs))
	for i, e := range epochs {
		xs[i] = float64(e)
	}
	series := func(name string, ys []float64, color int, dashed bool) Series {
		n := min(len(ys), len(xs))
		return Series{
			Name:   name,
			X:      xs[:n:n],
			Y:      append([]float64(nil), ys[:n]...),
			Color:  Palette[color%len(Palette)],
			Dashed: dashed,
		}
	}
	loss := Panel{Title: "Loss", XLabel: "epoch", YLabel: "loss"}
	if len(trainLoss) > 0 {
		loss.Series = append(loss.Series, series("train", trainLoss, 0, false))
	}
	if len(valLoss) > 0 {
		loss.Series = append(loss.Series, series("validation", valLoss, 1, false))
	}

	names := make([]string, 0, len(metrics))
	for name := range metrics {
		names = append(names, name)
	}
	sort.Strings(names)
	met := Panel{Title: "Validation metrics", XLabel: "epoch", YLabel: "score"}
	inUnit := true
	for i, name := range names {
		s := series(name, metrics[name], 2+i, false)
		for _, v := range s.Y {
			if finite(v) && (v < 0 || v > 1) {
				inUnit = false
			}
		}
		met.Series = append(met.Series, s)
	}
	if inUnit {
		zero, one := 0.0, 1.0
		met.YMin, met.YMax = &zero, &one
	}
	return &Figure{
		Title:  "catd training",
		Panels: []Panel{loss, met},
		Width:  900,
		Height: 700,
	}
}

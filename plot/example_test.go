package plot_test

import (
	"fmt"
	"image/color"

	"catd/plot"
)

func ExampleTrainingCurves() {
	epochs := []int{1, 2, 3, 4, 5}
	trainLoss := []float64{0.69, 0.52, 0.41, 0.35, 0.31}
	valLoss := []float64{0.68, 0.55, 0.47, 0.45, 0.46}
	metrics := map[string][]float64{
		"roc_auc": {0.61, 0.74, 0.82, 0.86, 0.87},
		"f1":      {0.40, 0.58, 0.69, 0.74, 0.75},
	}
	fig := plot.TrainingCurves(epochs, trainLoss, valLoss, metrics)
	img, err := fig.Render()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(img.Bounds().Dx(), "x", img.Bounds().Dy())
	for _, p := range fig.Panels {
		fmt.Print(p.Title, ":")
		for _, s := range p.Series {
			fmt.Print(" ", s.Name)
		}
		fmt.Println()
	}
	// A real caller writes the file with fig.WritePNG("curves.png").
	// Output:
	// 900 x 700
	// Loss: train validation
	// Validation metrics: f1 roc_auc
}

func ExampleFigure_Render() {
	lr := 0.1
	fig := &plot.Figure{
		Width: 400, Height: 250,
		Panels: []plot.Panel{{
			Title:  "Learning rate",
			XLabel: "step",
			YLabel: "lr",
			Series: []plot.Series{
				{Name: "cosine", X: []float64{0, 250, 500, 750, 1000}, Y: []float64{lr, 0.085, 0.05, 0.015, 0}},
				{Name: "warm-up", X: []float64{0, 100}, Y: []float64{0, lr}, Dashed: true, Color: color.Black},
			},
		}},
	}
	img, err := fig.Render()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(img.Bounds())
	_, err = (&plot.Figure{Width: 50}).Render()
	fmt.Println(err)
	// Output:
	// (0,0)-(400,250)
	// plot: figure size 50x300 outside [100, 10000]
}

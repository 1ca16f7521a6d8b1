package learnbench

import (
	"fmt"
	"path/filepath"
	"slices"

	"catd/dataset"
)

// Set is a data set for the benchmark: the labels a user gives and test
// images of the same domain.
type Set struct {
	Name         string
	Labels, Test *dataset.Set
}

// DogClasses are the ImageNet class ids of Tiny ImageNet's dog breeds
// (Chihuahua, Yorkshire terrier, golden retriever, Labrador retriever,
// German shepherd, standard poodle): the hardest non-cats of a home.
var DogClasses = []string{"n02085620", "n02094433", "n02099601", "n02099712", "n02106662", "n02113799"}

// NightVision turns an RGB image (HWC bytes) into the domain of a cheap
// night camera: grey, dark (gamma 2) and green, which a model trained on
// daylight colour photos handles poorly.
func NightVision(px []uint8) []uint8 {
	out := make([]uint8, len(px))
	for i := 0; i+2 < len(px); i += 3 {
		g := (0.299*float64(px[i]) + 0.587*float64(px[i+1]) + 0.114*float64(px[i+2])) / 255
		g = g * g
		out[i], out[i+1], out[i+2] = uint8(40*g), uint8(230*g), uint8(70*g)
	}
	return out
}

// Folder is a set from two folders (or tars) of cat/ and noncat/
// subfolders: the labels and the test images.
func Folder(name, labels, test string, w, h int) (Set, error) {
	l, _, err := dataset.Load(labels, dataset.Options{W: w, H: h})
	if err != nil {
		return Set{}, err
	}
	t, _, err := dataset.Load(test, dataset.Options{W: w, H: h})
	if err != nil {
		return Set{}, err
	}
	return Set{Name: name, Labels: l, Test: t}, nil
}

// TinyImageNet makes the benchmark's two sets from the Tiny ImageNet cat
// tar (its train/ and val/ splits), and the set that measures forgetting:
//
//   - night-vision: 500 cats and 500 non-cats of train/ (the sample
//     dataset.Load's Limit takes) through NightVision, tested on 150 cats
//     and 150 non-cats of val/ made the same way (catd's learning proof);
//   - cat-vs-dog: 300 cats of train/ and its 600 dogs (DogClasses), tested
//     on val/'s 150 cats and 300 dogs;
//   - forget: val/'s 150 cats and 1,000 of its non-cats (dataset.Load's
//     Limit sample), in daylight.
func TinyImageNet(tar string, w, h int) (night, catdog Set, forget *dataset.Set, err error) {
	load := func(split string, limit int) (*dataset.Set, error) {
		s, _, err := dataset.Load(filepath.Join(tar, split), dataset.Options{W: w, H: h, Limit: limit})
		return s, err
	}
	ntrain, err := load("train", 500)
	if err != nil {
		return night, catdog, nil, err
	}
	nval, err := load("val", 150)
	if err != nil {
		return night, catdog, nil, err
	}
	for _, s := range []*dataset.Set{ntrain, nval} {
		for i := range s.Len() {
			copy(s.Image(i), NightVision(s.Image(i)))
		}
	}
	night = Set{Name: "night-vision", Labels: ntrain, Test: nval}

	train, err := load("train", 0)
	if err != nil {
		return night, catdog, nil, err
	}
	val, err := load("val", 0)
	if err != nil {
		return night, catdog, nil, err
	}
	pick := func(s *dataset.Set, cats, dogs int) (*dataset.Set, error) {
		var ci, di []int
		for i, c := range s.Labels {
			switch {
			case c:
				ci = append(ci, i)
			case slices.Contains(DogClasses, s.Classes[i]):
				di = append(di, i)
			}
		}
		if len(ci) < cats || len(di) < dogs {
			return nil, fmt.Errorf("learnbench: %d cats and %d dogs, want %d and %d", len(ci), len(di), cats, dogs)
		}
		return s.Subset(append(spread(ci, cats), spread(di, dogs)...)), nil
	}
	cl, err := pick(train, 300, 600)
	if err != nil {
		return night, catdog, nil, err
	}
	ct, err := pick(val, 150, 300)
	if err != nil {
		return night, catdog, nil, err
	}
	catdog = Set{Name: "cat-vs-dog", Labels: cl, Test: ct}
	forget, err = load("val", 1000)
	return night, catdog, forget, err
}

// spread picks n of idx evenly spaced (idx is in file order, so this
// spreads over classes).
func spread(idx []int, n int) []int {
	if n >= len(idx) {
		return idx
	}
	out := make([]int, n)
	for k := range n {
		out[k] = idx[k*len(idx)/n]
	}
	return out
}

package web

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// imageName is what a review frame or snapshot name may look like in a
// request: a plain JPEG file name, no paths (as state.SnapshotName makes:
// "20261127T031500.123Z-f000001234-p0.93.jpg").
var imageName = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,59}\.jpg$`)

// checkName returns an error unless name is a plain image name.
func checkName(name string) error {
	if !imageName.MatchString(name) || strings.Contains(name, "..") {
		return fmt.Errorf("file name %s: want a plain name of A-Z a-z 0-9 . _ - ending in .jpg, no paths", quote(name))
	}
	return nil
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.Quote(s)
}

// imageFile is one entry of a gallery.
type imageFile struct {
	Name string  `json:"name"`
	Size int64   `json:"size"`
	Time string  `json:"time"`            // from the name, RFC 3339; "" if it has none
	PCat float64 `json:"p_cat,omitempty"` // from the name
}

// maxListed is the most images a gallery lists.
const maxListed = 500

// listImages lists the JPEG files of dir whose names checkName accepts,
// newest first (their names start with the time), at most maxListed. A
// folder that does not exist yet is empty.
func listImages(dir string) ([]imageFile, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return []imageFile{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	out := make([]imageFile, 0, min(len(entries), maxListed))
	for _, e := range slices.Backward(entries) {
		if len(out) == maxListed {
			break
		}
		if !e.Type().IsRegular() || checkName(e.Name()) != nil {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // gone meanwhile
		}
		f := imageFile{Name: e.Name(), Size: fi.Size()}
		f.Time, f.PCat = parseImageName(e.Name())
		out = append(out, f)
	}
	return out, nil
}

// parseImageName reads the time and p(cat) out of a name made by
// state.SnapshotName; "" and 0 for other names.
func parseImageName(name string) (string, float64) {
	parts := strings.Split(strings.TrimSuffix(name, ".jpg"), "-")
	if len(parts) != 3 || !strings.HasPrefix(parts[2], "p") {
		return "", 0
	}
	t, err := time.Parse("20060102T150405.000Z", parts[0])
	if err != nil {
		return "", 0
	}
	p, _ := strconv.ParseFloat(parts[2][1:], 64)
	return t.UTC().Format(time.RFC3339Nano), p
}

// readImage reads the image name from dir, opened within dir (os.Root:
// no link leads out of it); name must pass checkName.
func readImage(dir, name string, limit int64) ([]byte, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() > limit {
		return nil, fmt.Errorf("web: %s is not an image file of at most %d bytes", quote(name), limit)
	}
	data := make([]byte, fi.Size())
	if _, err := f.ReadAt(data, 0); err != nil {
		return nil, err
	}
	return data, nil
}

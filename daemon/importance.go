package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"catd/learn"
	"catd/model"
)

// ImportancePath is where catd looks for the importance file of the model
// file at path (see "catd importance"): MODEL.importance.safetensors next
// to it.
func ImportancePath(path string) string {
	return strings.TrimSuffix(path, filepath.Ext(path)) + ".importance.safetensors"
}

// ModelImportance returns the importance on-device learning weighs its
// anchor by (learn.Config.Importance) for the model at path ("": the
// built-in one, whose importance is built in too), folded as infer, and
// the file it came from; nil and "" when there is none. A file that is
// damaged or belongs to another model is an error: learning then goes on
// with the same pull on every parameter.
func ModelImportance(path string, infer *model.Net) ([]float32, string, error) {
	data, from, err := importanceFile(path, infer)
	if data == nil {
		return nil, from, err
	}
	imp, err := learn.DecodeImportance(data, infer.Arch, infer.Params)
	if err != nil {
		return nil, from, fmt.Errorf("%s: %w", from, err)
	}
	return imp, from, nil
}

// importanceFile is ModelImportance's file, checked, undecoded: the
// built-in one is in the binary's read-only data, and a loaded model keeps
// this until a learner needs the values.
func importanceFile(path string, infer *model.Net) ([]byte, string, error) {
	var data []byte
	from := "built-in"
	if path == "" {
		data = model.DefaultImportance()
	} else {
		from = ImportancePath(path)
		var err error
		if data, err = readModel(from, model.MaxFileBytes); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, "", nil
			}
			return nil, from, fmt.Errorf("importance: %w", err)
		}
	}
	if _, err := learn.DecodeImportance(data, infer.Arch, infer.Params); err != nil {
		return nil, from, fmt.Errorf("%s: %w", from, err)
	}
	return data, from, nil
}

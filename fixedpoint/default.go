package fixedpoint

import (
	"fmt"

	"catd/model"
)

// Default returns the int8 version of catd's built-in model
// (model/default-int8.safetensors, made by "make default-int8"), in a new
// Net built with opt.
func Default(opt Options) (*Net, model.Info, error) {
	n, info, err := decode(model.DefaultInt8Bytes(), opt)
	if err != nil {
		return nil, model.Info{}, fmt.Errorf("fixedpoint: the built-in int8 model: %w", err)
	}
	return n, info, nil
}

//go:build !linux

package camera

import (
	"errors"

	"github.com/rs/zerolog"
)

func openV4L2(uri string, c v4l2Config, log zerolog.Logger) (Source, error) {
	return nil, errors.New("v4l2: is only available on Linux")
}

package model

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
)

// This file holds what post-training quantisation (package fixedpoint)
// needs from a float model besides its weights: the activations of every
// layer, and the model file metadata that an int8 model file shares with a
// float one.

// LayerOutput returns layer i's output for the batch of the last Forward:
// n images × the layer's output size, NHWC. It is a view into the Net,
// valid until the next call. A ReLU or flatten layer works in place on the
// buffer of the layer before it, so after Forward that layer's output reads
// as the ReLU's (or flatten's) result.
func (n *Net) LayerOutput(i int) []float32 {
	if i < 0 || i >= len(n.layers) {
		panic(fmt.Sprintf("model: LayerOutput(%d) of a %d-layer net", i, len(n.layers)))
	}
	if n.input == nil {
		panic("model: LayerOutput before Forward")
	}
	b := len(n.input) / n.InputLen()
	return n.acts[i][:b*n.layers[i].out.len()]
}

// ParseInfo reads the Info of a model of architecture a from model file
// metadata md (the keys arch_name, mean, std and threshold; other keys but
// format, version and arch go to Extra), checking every value.
func ParseInfo(md map[string]string, a Arch) (Info, error) { return parseInfo(md, a) }

// InfoMetadata returns the metadata keys that describe info (arch_name,
// mean, std, threshold and the Extra keys), as Net.Metadata writes them;
// the caller adds format, version and arch.
func InfoMetadata(info Info) map[string]string {
	md := maps.Clone(info.Extra)
	if md == nil {
		md = map[string]string{}
	}
	join := func(v []float32) string {
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = strconv.FormatFloat(float64(x), 'g', -1, 32)
		}
		return strings.Join(s, ",")
	}
	if info.Name != "" {
		md["arch_name"] = info.Name
	}
	md["mean"] = join(info.Mean)
	md["std"] = join(info.Std)
	md["threshold"] = strconv.FormatFloat(float64(info.Threshold), 'g', -1, 32)
	return md
}

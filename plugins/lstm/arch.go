package lstm

import (
	"github.com/gozoo/gozoo/sdk/nn"
)

// Names of the graph inputs.
const (
	inputName   = "input"
	lengthsName = "lengths"
)

// config is one recurrent encoder: the torch module named arch ("lstm"
// or "gru") with an optional embedding in front and fc head behind.
type config struct {
	arch          string // "lstm" or "gru"; also the module's name
	rnn           nn.RNN
	numEmbeddings int64 // 0: float32 sequences, no embedding
	embeddingDim  int64
	numClasses    int64  // fc outputs; 0: no fc
	fcBias        bool   // fc has a bias
	fcInput       string // "last", "mean" or "h_n"
}

// fcIn is the number of features fc takes.
func (c *config) fcIn() int64 { return c.rnn.Directions() * c.rnn.OutSize() }

// inputShape is the input's shape for T steps with a free batch.
func (c *config) inputShape(T int64) []int64 {
	var s []int64
	if c.rnn.BatchFirst {
		s = []int64{-1, T}
	} else {
		s = []int64{T, -1}
	}
	if c.numEmbeddings == 0 {
		s = append(s, c.rnn.InputSize)
	}
	return s
}

// build records the forward pass over T steps:
//
//	x = embedding(ids)                     # optional
//	output, (h_n, c_n) = lstm(pack(x, lengths))
//	last, mean = pooled(output, lengths)   # extra taps
//	fc(last | mean | cat(h_n[-D:]))        # optional
func (c *config) build(T int64) *nn.Builder {
	b := nn.NewBuilder("Module")
	var x nn.Value
	batchAxis := 1
	if c.rnn.BatchFirst {
		batchAxis = 0
	}
	if c.numEmbeddings > 0 {
		ids := b.InputInt64(inputName, c.inputShape(T), batchAxis)
		x = b.Embedding("embedding", ids, c.numEmbeddings, c.embeddingDim)
	} else {
		x = b.Input(inputName, c.inputShape(T), batchAxis)
	}
	if c.rnn.BatchFirst {
		x = b.Transpose("", "", x, 1, 0, 2)
	}
	lengths := b.InputInt64(lengthsName, []int64{-1}, 0)
	m := b.SeqMask(lengths, T)
	var out nn.RNNOutput
	if c.arch == "gru" {
		out = b.GRU(c.arch, x, c.rnn, m)
	} else {
		out = b.LSTM(c.arch, x, c.rnn, m)
	}
	b.Alias("h_n", "HiddenState", out.HN)
	if c.arch == "lstm" {
		b.Alias("c_n", "CellState", out.CN)
	}
	last := b.MaskedLast("last", "LastValidStep", out.Seq, m)
	mean := b.MaskedMean("mean", "MeanValidSteps", out.Seq, m)
	if c.numClasses > 0 {
		in := last
		switch c.fcInput {
		case "mean":
			in = mean
		case "h_n":
			d := c.rnn.Directions()
			var parts []nn.Value
			for i := c.rnn.NumLayers*d - d; i < c.rnn.NumLayers*d; i++ {
				parts = append(parts, b.Take(out.HN, 0, i))
			}
			in = parts[0]
			if len(parts) > 1 {
				in = b.Concat("", 1, parts...)
			}
		}
		b.Linear("fc", in, c.fcIn(), c.numClasses, c.fcBias)
	}
	return b
}

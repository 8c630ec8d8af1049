package lstm_test

import (
	"context"
	"fmt"

	"github.com/gozoo/gozoo/plugins/lstm"
	"github.com/gozoo/gozoo/sdk"
)

// A two-layer bidirectional LSTM over torch's [T, N, F] layout, with
// ragged lengths; with WeightsPath set, the sizes come from the
// checkpoint.
func ExampleNew() {
	ctx := context.Background()
	m, err := lstm.New().Load(ctx, &sdk.LoadRequest{Arch: "lstm", Seed: 1, Options: map[string]string{
		"input_size": "3", "hidden_size": "4", "num_layers": "2", "bidirectional": "true", "batch_first": "false"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	ls, _ := m.Layers(ctx, &sdk.LayersRequest{InputShape: []int64{5, -1, 3}})
	for _, l := range ls {
		fmt.Println(l.Name, l.Kind, sdk.FormatShape(l.Shape))
	}
	// Output:
	// lstm LSTM [5, N, 8]
	// lstm.l0 LSTMLayer [5, N, 8]
	// lstm.l1 LSTMLayer [5, N, 8]
	// h_n HiddenState [4, N, 4]
	// c_n CellState [4, N, 4]
	// last LastValidStep [N, 8]
	// mean MeanValidSteps [N, 8]
}

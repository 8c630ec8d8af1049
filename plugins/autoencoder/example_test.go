package autoencoder_test

import (
	"context"
	"fmt"

	"github.com/gozoo/gozoo/plugins/autoencoder"
	"github.com/gozoo/gozoo/sdk"
)

// The MLP autoencoder's layers: every module of the PyTorch reference,
// then the latent code, the reconstruction and the per-sample error.
func ExampleNew() {
	ctx := context.Background()
	m, err := autoencoder.New().Load(ctx, &sdk.LoadRequest{Arch: "mlp_autoencoder", Seed: 1,
		Options: map[string]string{"input_size": "20", "hidden": "8", "latent_size": "2"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	ls, _ := m.Layers(ctx, nil)
	for _, l := range ls {
		fmt.Println(l.Name, l.Kind, sdk.FormatShape(l.Shape))
	}
	// Output:
	// encoder Sequential [N, 2]
	// encoder.0 Linear [N, 8]
	// encoder.1 ReLU [N, 8]
	// encoder.2 Linear [N, 2]
	// decoder Sequential [N, 20]
	// decoder.0 Linear [N, 8]
	// decoder.1 ReLU [N, 8]
	// decoder.2 Linear [N, 20]
	// decoder.3 Sigmoid [N, 20]
	// latent Latent [N, 2]
	// reconstruction Reconstruction [N, 20]
	// mse ReconstructionMSE [N]
}

// Package autoencoder is gozoo's autoencoder backbone (binary
// gozoo-backbone-autoencoder): a convolutional autoencoder
// (arch "conv_autoencoder", input [N, C, S, S]) and an MLP autoencoder
// ("mlp_autoencoder", input [N, F]), each defined here with sdk/nn and in
// PyTorch as ConvAutoencoder / MLPAutoencoder in testdata/autoencoder.py,
// so a model trained in PyTorch loads by its state_dict.
//
// Options set the sizes: in_channels, input_size, channels (colon-
// separated, e.g. 16:32; each strided conv halves the size) and
// latent_size for the conv family; input_size, hidden (e.g. 256:64) and
// latent_size for the MLP. A checkpoint's shapes set them all (the conv
// input_size from the latent layer's inputs, as the reference module
// takes a size divisible by 2^convs); an option given that contradicts
// them is an sdk.ErrWeights error naming both values. The package is an
// architecture on the shared runtime sdk/backbone.
//
// Layers are every encoder and decoder module (encoder.0, ...,
// decoder.6), plus three extra taps: latent (the encoder's output),
// reconstruction (the decoder's) and mse, the per-sample mean squared
// reconstruction error [N], an anomaly score equal to
// ((reconstruction - x) ** 2).flatten(1).mean(1). Parameters freeze by
// name ("encoder.*").
package autoencoder

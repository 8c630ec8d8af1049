// Package gan is gozoo's GAN discriminator backbone: discriminators as
// feature extractors, as transfer learning from GANs uses them (the
// features of the last block before the real/fake conv). It offers
//
//   - dcgan_discriminator, the discriminator of PyTorch's DCGAN tutorial
//     (a Discriminator module whose nn.Sequential "main" holds every
//     layer), generalised to image sizes 32, 64, 128 and 256;
//   - sn_dcgan_discriminator, the same with torch's spectral_norm on
//     every conv, loading either torch.nn.utils.spectral_norm's keys
//     (weight_orig, weight_u, weight_v) or
//     torch.nn.utils.parametrizations.spectral_norm's
//     (parametrizations.weight.original, parametrizations.weight.0._u,
//     ._v).
//
// # Layout
//
// For image_size 2^k the net has k-2 stride-2 blocks, which take the
// image to 4x4, and a final conv that takes 4x4 to 1x1. Block i has
// ndf*2^i channels: Conv2d(4, stride 2, padding 1), then (except block 0)
// BatchNorm2d, then LeakyReLU(0.2). The final conv is Conv2d(4, stride 1,
// padding 0) to one channel, then Sigmoid. Every module is a layer named
// main.N, numbered as nn.Sequential numbers its children:
//
//	block 0:           main.0 Conv2d, main.1 LeakyReLU
//	block i >= 1:      main.3i-1 Conv2d, main.3i BatchNorm2d, main.3i+1 LeakyReLU
//	final (i = k-2):   main.3i-1 Conv2d (the logit), main.3i Sigmoid
//
// which at 64x64 (k-2 = 4 blocks) is the tutorial's exactly. By size,
// with BatchNorm:
//
//	size  blocks  convs (the last is the final conv)  default layer, shape        Sigmoid
//	32    3       main.0, 2, 5, 8                     main.7,  [N, ndf*4, 4, 4]   main.9
//	64    4       main.0, 2, 5, 8, 11                 main.10, [N, ndf*8, 4, 4]   main.12
//	128   5       main.0, 2, 5, 8, 11, 14             main.13, [N, ndf*16, 4, 4]  main.15
//	256   6       main.0, 2, 5, 8, 11, 14, 17         main.16, [N, ndf*32, 4, 4]  main.18
//
// With batch_norm=false (spectral-norm discriminators are often written
// without BatchNorm) every block is two modules: block i's conv is
// main.2i and its LeakyReLU main.2i+1, the final conv main.2(k-2) and
// the Sigmoid next. The layer "main" is the Sequential's output, the
// probability [N, 1, 1, 1] (the tutorial's training loop flattens it
// with view(-1)); the final conv is the logit.
//
// The default layer, what Extract returns when no layer is named, is
// the last block's LeakyReLU, [N, ndf*2^(k-3), 4, 4]: the discriminator's
// features before its real/fake conv, which is what GAN transfer
// learning takes.
//
// # Options and checkpoints
//
// Options: image_size (default 64), ndf (64), nc (3), batch_norm (true),
// bias (false: the tutorial's convs have none) and, for
// sn_dcgan_discriminator, spectral_norm (hook or parametrizations). A
// checkpoint determines all of them: ndf and nc from main.0's weight,
// image_size from the number of convs, batch_norm from running
// statistics, bias from main.0.bias, spectral_norm from the weight
// names; an option given that contradicts the checkpoint is an error
// naming both values. Checkpoints load strictly (.pth or .safetensors);
// keys under a prefix (netD.main.0.weight) load with strip_prefix.
//
// A spectral-norm conv uses the weight torch's eval-mode forward
// computes, with no power iteration: sigma = u · (W_mat v) with W_mat
// the stored weight reshaped to [out, in*4*4], and W / sigma, in the
// graph, so the parameters keep their state_dict names (weight_orig,
// parametrizations.weight.original). With the parametrizations layout
// torch renames the conv's class ParametrizedConv2d, and so does its
// layer; the parametrization's own modules output weights, not
// features, and are not layers.
//
// Inputs are [N, nc, image_size, image_size] float32, images normalised
// as the GAN was trained (the tutorial's to [-1, 1]); another size is
// refused: resize the images, or load the discriminator for their size.
//
// Without weights a model gets a seeded random init: convs N(0, 0.02) as
// the tutorial's weights_init draws them, unit BatchNorm, and u, v of
// about unit length. Then, as with torch's spectral_norm right after it
// is applied, sigma is u · W v for random u and v rather than W's
// spectral norm: a seeded model shows the layout, its outputs carry no
// meaning.
//
// The binary gozoo-backbone-gan (cmd/gozoo-backbone-gan) serves New over
// the plugin protocol.
package gan

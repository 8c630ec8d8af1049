package nn

// LeakyReLU adds module name as a torch.nn.LeakyReLU(negative_slope):
// x for x >= 0, slope*x below. torch's default slope is 0.01; GAN
// discriminators use 0.2. Whether torch ran it in place does not change
// the output.
func (b *Builder) LeakyReLU(name string, x Value, slope float32) Value {
	return b.unary(name, "LeakyReLU", "LeakyRelu", x, Float("alpha", slope))
}

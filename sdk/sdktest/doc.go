// Package sdktest is the conformance suite for gozoo backbones. A plugin
// author runs it from go test, against the implementation directly or
// against the built plugin binary through sdk/host:
//
//	func TestConformance(t *testing.T) {
//		sdktest.Run(t, mybackbone.New(), sdktest.WithArch("resnet18"), sdktest.WithInputShape(-1, 3, 64, 64))
//	}
//
//	func TestPluginConformance(t *testing.T) {
//		bb := sdktest.Start(t, "/path/to/gozoo-backbone-mine")
//		sdktest.Run(t, bb)
//	}
//
// Run checks Describe, Load with a seeded random init, Layers, Extract of
// several layers for batches of 1 and 3 (shapes as Layers promised, the
// same rows batched and one by one, safe under concurrent calls), the
// sentinel errors for unknown names and bad input, Params and SetTrainable
// patterns, Train and Export against the declared Capabilities, and Close.
// Layers must accept -1 for the batch dimension of its InputShape.
//
// MakeFixture, Fixture.Check and Fixture.CheckCoverage compare a backbone
// with its PyTorch twin, layer by layer (see Fixture); a FixtureSet runs
// a script that writes many fixtures once per test process (for
// torchvision families, Spec arguments and gozoo_parity.run_specs). For
// archs too big to run in a test, Fixture.CheckGraph compares the net's
// graph, through GraphModel and without weights, with a shapes-only
// fixture built on torch's meta device. A test that needs
// an outside resource (PyTorch, the ONNX Runtime library) calls Missing
// when it is absent: the test is skipped, or fails under
// GOZOO_REQUIRE_ALL=1. examples/plugin-go is a plugin written outside
// this module with all three kinds of test.
//
// CheckChannel attacks a running plugin's channel as another local
// program would (TCP, plain and foreign-certificate connections to its
// socket); every plugin, Go or Python, must refuse all of them.
package sdktest

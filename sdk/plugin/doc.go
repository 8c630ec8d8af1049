// Package plugin serves a backbone from a plugin binary's main function.
//
// A Go backbone plugin is an executable named gozoo-backbone-<name> whose
// main calls Main (Serve, then exit with its error) with its sdk.Backbone:
//
//	func main() { plugin.Main(resnet.New()) }
//
// Serve speaks gozoo's backbone protocol over hashicorp/go-plugin gRPC: it
// hands out a handle per loaded sdk.Model, streams large tensors in chunks
// (or, for a host on the same machine that asks, reads and writes them as
// files in the host's shared-memory folder; see WithSharedMemory),
// turns sdk sentinel errors into gRPC statuses the host maps back, and
// answers Train and Export only for models that implement sdk.Trainer and
// sdk.Exporter. Run such a binary through sdk/host, not by hand: run by
// hand, Serve returns an error wrapping ErrNoHost that says so.
//
// The plugin listens only on a Unix socket in the private folder its host
// names and answers only the host's certificate (go-plugin's automatic
// mutual TLS). It exits when its host ends, even when the host is killed
// (the Linux parent-death signal and a watch on the parent process), and
// removes its socket on the way out.
//
// Register installs the same gRPC service on any gRPC server, for tests and
// for embedding in a custom server.
package plugin

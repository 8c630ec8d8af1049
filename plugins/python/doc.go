// Package python holds gozoo_plugin, the Python package a backbone plugin
// written in Python is built on, and the Go side of its tooling.
//
// gozoo_plugin (this folder's gozoo_plugin/) speaks the backbone protocol
// as sdk/plugin does for Go plugins: go-plugin's handshake on a private
// Unix socket with automatic mutual TLS, gRPC health and Shutdown,
// tensors as numpy arrays (chunked on the wire), and Python exceptions
// mapped to the sdk sentinels. An author subclasses gozoo_plugin.Backbone,
// implementing describe, load, layers and extract, and writes a manifest
// (see host.Manifest) that starts it. The PyTorch plugin (plugins/torch)
// is built on it; README.md shows how to write one.
//
// gen.sh regenerates the package's protocol stubs (`make proto` runs it).
// Install lays out a manifest plugin with gozoo_plugin beside it, as `make
// build` lays out bin/plugins, for tests and for installing a plugin.
package python

// Package host finds, verifies, starts and supervises gozoo backbone
// plugins and hands them out as sdk.Backbone values.
//
// A plugin named NAME is an executable gozoo-backbone-NAME, or a manifest
// gozoo-backbone-NAME.plugin (JSON: {"command": [...], "env": {...}}) for
// plugins that are not Go binaries, such as the Python plugin. The search
// path is GOZOO_PLUGIN_PATH (colon-separated), then plugins/ beside the
// running executable, then the executable's own folder; WithPluginPath
// replaces it. The first match wins.
//
//	c, err := host.New(host.WithChecksums(map[string]string{"resnet": "9f86d0..."}))
//	if err != nil { ... }
//	defer c.Close() // stops every plugin process
//	bb, err := c.Backbone(ctx, "resnet")
//	m, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "resnet18"})
//	defer m.Close()
//	out, err := host.ExtractBatches(ctx, m, &sdk.ExtractRequest{Layers: []string{"avgpool"}, Input: x}, 32, nil)
//
// Each plugin runs as one child process, started on first use and shared by
// every Backbone and Model obtained for it; the connection uses automatic
// mutual TLS, and a pinned sha256 is checked before the process starts.
//
// If a plugin process dies during a call, the host restarts it, loads each
// affected model again (replaying its LoadRequest and SetTrainable
// history) and repeats the call when it is idempotent (Describe, Load,
// Layers, Extract, Params, SetTrainable), at most WithMaxRestarts times per
// call (2 by default); after that, and for Train and Export, the error
// wraps sdk.ErrPluginCrashed.
//
// Tensors of 256 KiB and more skip gRPC when the plugin shares the host's
// machine: Extract writes the input into a file in a private folder under
// /dev/shm (mode 0700, one per Client) and the plugin writes large outputs
// there, so a tensor costs a memory copy on each side instead of
// serialization, encryption and socket copies. The host offers this only
// after the plugin has read back a probe file from that folder, so the
// Python plugin, older plugins and plugins that cannot see the folder keep
// streaming. Output files are removed as soon as they are read, input
// files once their call is over (up to two are kept for reuse), and the
// folder when the Client closes; WithSharedMemory(false) turns the path
// off.
//
// A plugin that lists the checkpoint formats it reads
// (Capabilities.WeightsFormats, as the Python plugin lists only
// safetensors) never opens a checkpoint of another format: Load reads such
// a file with the bridge (an allow-listed unpickler over a CRC-checked zip,
// so no code in it runs, and a damaged file is refused), writes its
// tensors as safetensors under the file's own name in a private folder
// (mode 0700, one per Client), and sends that path instead. The copy is
// removed when the model is closed, the folder when the Client is.
//
// Models implement sdk.Trainer or sdk.Exporter exactly when the plugin's
// Capabilities list train or export, so a type assertion tells a caller
// what a model can do.
//
// Client, and the Backbones and Models it returns, are safe for
// concurrent use.
package host

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
// every Backbone and Model obtained for it. No other local user can reach
// or drive it: it listens on a Unix socket in a folder of its own inside
// the Client's private folder (mode 0700, under $XDG_RUNTIME_DIR or the
// temporary folder; Close removes it, and the next host removes those of
// hosts that were killed), and the connection uses go-plugin's automatic
// mutual TLS, so the plugin answers only the holder of the host's
// certificate. Manifests cannot turn that off.
//
// A plugin's file is hashed (sha256) when it is found, and checked against
// that hash, and against a pinned one (WithChecksums), at every start and
// restart: a file replaced after discovery is refused with ErrChecksum.
// Describe answers are cached per plugin file (path, size, times, inode
// and sha256; for a manifest also its sources, see Manifest) under
// WithCacheDir's folder, so Describe, DescribeAll and Offering start only
// plugins whose file is new or changed. A failed start is cached too:
// DescribeAll and Offering skip that file, with a warning, until it
// changes, while Describe and Backbone, which name the plugin, try it
// again. A failed start's error ends with the last lines the plugin
// printed on stderr.
//
// Plugins die with their host whatever ends it: they get SIGTERM from the
// kernel when the host dies (Linux), and plugins built with sdk/plugin
// also watch their parent, and remove their socket on the way out.
//
// Every call honours its context, also while it waits for another call's
// start of the same plugin or load of the same model. A plugin start is
// bounded by WithStartTimeout (10 s; 30 s for manifest plugins); while a
// call runs, the host checks the plugin's gRPC health service every 2 s
// and kills a plugin that has not answered for 10 s (WithLiveness),
// failing the call with ErrUnresponsive. Close asks each plugin to exit
// and kills only one that has not exited 2 s later (or at once, when it
// no longer answers).
//
// Paths in requests (LoadRequest.WeightsPath, options whose OptionSpec has
// Path set, TrainRequest.CheckpointDir and ResumeFrom, ExportRequest.Path)
// are made absolute against the host's working directory before they
// cross: a plugin's working directory is its own.
//
// If a plugin process dies during a call, the host restarts it, loads each
// affected model again (replaying its LoadRequest and SetTrainable
// history) and repeats the call when it is idempotent (Describe, Load,
// Layers, Extract, Params, SetTrainable), at most WithMaxRestarts times per
// call (2 by default); after that, and for Train and Export, the error
// wraps sdk.ErrPluginCrashed. A plugin killed for not answering is not
// repeated: its call fails, and the next call starts the plugin again.
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
// what a model can do. Every model implements sdk.InputDescriber: Input
// returns the input the plugin reported when it loaded the model (a
// sequence model's batch axis, for one), or the zero InputSpec when it
// reported none (plugins of protocol minor < 2).
//
// Client, and the Backbones and Models it returns, are safe for
// concurrent use.
package host

package backbonev1

import goplugin "github.com/hashicorp/go-plugin"

// Handshake is the go-plugin handshake shared by hosts and plugins. Its
// ProtocolVersion is the protocol's major version.
var Handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "GOZOO_PLUGIN",
	MagicCookieValue: "backbone-7c1f9e2a",
}

// PluginName is the key under which a plugin binary serves the Backbone
// service in go-plugin's plugin map.
const PluginName = "backbone"

// MaxMessageBytes is the gRPC send and receive limit both sides set. Tensors
// are chunked well below it (ChunkBytes); it leaves room for large
// non-tensor messages such as the parameter list of a big model.
const MaxMessageBytes = 64 << 20

// ChunkBytes is the largest tensor payload one message carries.
const ChunkBytes = 2 << 20

// WindowBytes is the HTTP/2 flow-control window both sides set, so that a
// chunked tensor streams without waiting for window updates. gRPC's
// default starts at 64 KiB.
const WindowBytes = 16 << 20

// SocketDirPrefix starts the name of the private folder (mode 0700) a host
// makes for its plugins' Unix sockets; the host's process id follows. A
// plugin whose host died removes its socket, its own folder and, when it
// is left empty, the host's folder.
const SocketDirPrefix = "gozoo-plugins-"

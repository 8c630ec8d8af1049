// Command gozoo lists backbone plugins and their layers and extracts
// features from PyTorch backbones served by ONNX Runtime. See README.md.
package main

import (
	"os"

	"github.com/gozoo/gozoo/internal/cli"
)

func main() { os.Exit(cli.Main()) }

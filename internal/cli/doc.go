// Package cli implements the gozoo command line with cobra. Each command
// lives in its own file with an Options struct and a NewCmdX(f, runF)
// constructor, so tests can build a command, parse flags and check the
// Options without running it, or run it against a Factory of their own.
package cli

package cli

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/spf13/cobra"
)

// VersionOptions configures gozoo version.
type VersionOptions struct {
	f *Factory
}

// NewCmdVersion returns `gozoo version`, which `gozoo --version` runs too.
func NewCmdVersion(f *Factory, runF func(context.Context, *VersionOptions) error) *cobra.Command {
	opts := &VersionOptions{f: f}
	return &cobra.Command{
		Use:   "version",
		Short: "Print gozoo's version, git commit, Go version and ONNX Runtime library",
		Long: `Version prints the module version gozoo was built as, the git commit and
whether the tree had uncommitted changes (from the build's VCS stamp), the
Go toolchain, and the ONNX Runtime library gozoo loads with its version,
or why it cannot load it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runVersion(opts.f.Out)
		},
	}
}

// addVersionFlag gives root a --version flag that prints what gozoo
// version prints; without it, root prints its help.
func addVersionFlag(root *cobra.Command, f *Factory) {
	var show bool
	root.Flags().BoolVar(&show, "version", false, "print the version, git commit, Go version and ONNX Runtime library (as gozoo version)")
	root.RunE = func(cmd *cobra.Command, args []string) error {
		if show {
			return runVersion(f.Out)
		}
		return cmd.Help()
	}
}

// gitCommit and gitDirty ("true" or "false") are set by make build with
// -ldflags -X, for builds that carry no VCS stamp: go build stamps only
// from a checkout whose .git is a folder (not from a git worktree), and
// not under -buildvcs=false.
var gitCommit, gitDirty string

// buildVersion is what the binary knows about its own build.
type buildVersion struct {
	Version  string // module version, "(devel)" for a source build
	Commit   string // vcs.revision, "" when the build has no VCS stamp
	Time     string // vcs.time
	Modified bool   // vcs.modified: the tree had uncommitted changes
	Source   string // where Commit came from: "vcs stamp" or "make build"
	Go       string
}

// readBuildVersion reads the build's version from bi; ok false (no build
// information) leaves only the Go version.
func readBuildVersion(bi *debug.BuildInfo, ok bool) (v buildVersion) {
	v = buildVersion{Version: "unknown", Go: runtime.Version()}
	defer func() {
		if v.Commit == "" && gitCommit != "" {
			v.Commit, v.Modified, v.Source = gitCommit, gitDirty == "true", "make build"
		}
	}()
	if !ok || bi == nil {
		return v
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		v.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit, v.Source = s.Value, "vcs stamp"
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// write prints v, one fact a line.
func (v buildVersion) write(w io.Writer) {
	fmt.Fprintf(w, "gozoo        %s\n", v.Version)
	state := "clean"
	if v.Modified {
		state = "dirty: built with uncommitted changes"
	}
	when := ""
	if v.Time != "" {
		when = " " + v.Time
	}
	if v.Commit == "" {
		fmt.Fprintln(w, "commit       unknown: built without VCS information (build with make build in a git checkout)")
	} else {
		fmt.Fprintf(w, "commit       %s%s, %s (from %s)\n", v.Commit, when, state, v.Source)
	}
	fmt.Fprintf(w, "go           %s %s/%s\n", v.Go, runtime.GOOS, runtime.GOARCH)
}

func runVersion(w io.Writer) error {
	readBuildVersion(debug.ReadBuildInfo()).write(w)
	if ver, err := ort.Version(); err != nil {
		fmt.Fprintf(w, "onnxruntime  not loadable: %v\n", err)
	} else {
		fmt.Fprintf(w, "onnxruntime  %s (%s)\n", ver, ort.LibraryPath())
	}
	return nil
}

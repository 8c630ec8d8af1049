package host

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Prefix starts the file name of every plugin executable or manifest.
const Prefix = "gozoo-backbone-"

// ManifestExt ends the file name of a plugin manifest.
const ManifestExt = ".plugin"

// PluginInfo describes a plugin found on the search path.
type PluginInfo struct {
	Name     string // NAME in gozoo-backbone-NAME
	Path     string // the executable, or the manifest file
	SHA256   string // hex sha256 of the file at Path
	Manifest bool   // Path is a .plugin manifest

	sources string // digest of the manifest's sources when SHA256 was taken (see sourcesKey)
}

// DefaultPluginPath returns the folders searched when WithPluginPath is not
// given: GOZOO_PLUGIN_PATH's entries, then plugins/ beside the running
// executable, then the executable's folder.
func DefaultPluginPath() []string {
	var dirs []string
	for _, d := range filepath.SplitList(os.Getenv("GOZOO_PLUGIN_PATH")) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			dir := filepath.Dir(exe)
			dirs = append(dirs, filepath.Join(dir, "plugins"), dir)
		}
	}
	return dirs
}

// discover lists the plugins in dirs, first match per name winning.
func discover(dirs []string) ([]PluginInfo, error) {
	seen := map[string]bool{}
	var out []PluginInfo
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("host: read plugin folder %s: %w", dir, err)
		}
		for _, e := range entries {
			info, ok := candidate(dir, e)
			if !ok || seen[info.Name] {
				continue
			}
			seen[info.Name] = true
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// candidate reports whether e is a plugin executable or manifest.
func candidate(dir string, e os.DirEntry) (PluginInfo, bool) {
	name, ok := strings.CutPrefix(e.Name(), Prefix)
	if !ok || name == "" {
		return PluginInfo{}, false
	}
	p := filepath.Join(dir, e.Name())
	fi, err := os.Stat(p) // follows links
	if err != nil || !fi.Mode().IsRegular() {
		return PluginInfo{}, false
	}
	if base, ok := strings.CutSuffix(name, ManifestExt); ok {
		return PluginInfo{Name: base, Path: p, Manifest: true}, base != ""
	}
	if strings.Contains(name, ".") || fi.Mode().Perm()&0o111 == 0 {
		return PluginInfo{}, false
	}
	return PluginInfo{Name: name, Path: p}, true
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Manifest starts a plugin that is not a Go binary. It is the JSON content
// of a gozoo-backbone-NAME.plugin file:
//
//	{"command": ["python3", "-m", "gozoo_torch"], "env": {"OMP_NUM_THREADS": "2"}}
//
// A relative program path containing a slash is taken relative to the
// manifest's folder, as is the working directory. The started program
// must speak go-plugin's protocol as a Go plugin does: listen on a Unix
// socket it creates in $PLUGIN_UNIX_SOCKET_DIR (a folder only the host's
// user can enter), answer with go-plugin's automatic mutual TLS (serve
// with its own certificate, sent base64 in the handshake line, and
// require the host's certificate from $PLUGIN_CLIENT_CERT), and print the
// handshake line 1|1|unix|SOCKET|grpc|CERT on stdout first. AutoMTLS may
// only be true: a plugin without it could be driven by anyone who reaches
// its socket, so "auto_mtls": false is refused.
//
// Sources names the files and folders the program runs from, relative to
// the manifest's folder and inside it (no absolute paths, no "..", no
// symbolic link that leaves the folder), for example
//
//	{"command": ["python3", "-m", "gozoo_torch"], "sources": ["gozoo_torch"]}
//
// The host caches a plugin's Describe answer under the identity of its
// manifest file; the path, size and modification time of every file under
// Sources join that identity, so that editing the plugin's code makes the
// host ask it again. Folders are walked recursively, skipping __pycache__
// folders and .pyc files; at most 10000 files count.
type Manifest struct {
	Command  []string          `json:"command"`
	Env      map[string]string `json:"env,omitempty"`
	AutoMTLS *bool             `json:"auto_mtls,omitempty"`
	Sources  []string          `json:"sources,omitempty"`
}

// ParseManifest reads a manifest, rejecting unknown fields and an empty
// command.
func ParseManifest(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("host: plugin manifest: %w: want {\"command\": [...], \"env\": {...}}", err)
	}
	if dec.More() {
		return nil, errors.New("host: plugin manifest: data after the JSON object")
	}
	if m.AutoMTLS != nil && !*m.AutoMTLS {
		return nil, errors.New("host: plugin manifest: \"auto_mtls\": false is no longer allowed: the plugin must speak go-plugin's AutoMTLS (serve TLS with its own certificate and require the host's from PLUGIN_CLIENT_CERT); update the plugin and remove the field")
	}
	if len(m.Command) == 0 || m.Command[0] == "" {
		return nil, errors.New("host: plugin manifest: empty \"command\": name the program to run")
	}
	for k := range m.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, fmt.Errorf("host: plugin manifest: bad environment variable name %q", k)
		}
	}
	for _, src := range m.Sources {
		if !filepath.IsLocal(src) || strings.ContainsRune(src, 0) {
			return nil, fmt.Errorf("host: plugin manifest: source %q must be a path inside the manifest's folder, relative to it", src)
		}
	}
	return &m, nil
}

// maxSourceFiles bounds how many files a manifest's sources may count.
const maxSourceFiles = 10000

// sourcesKey returns a digest of the identity (path, size, modification
// time) of every file under the sources of the manifest at path, or ""
// when it names none. A source that is missing, unreadable or outside the
// manifest's folder changes the digest too; the start then refuses it.
func sourcesKey(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	m, err := ParseManifest(data)
	if err != nil || len(m.Sources) == 0 {
		return ""
	}
	h := sha256.New()
	dir := filepath.Dir(path)
	for _, src := range m.Sources {
		fmt.Fprintf(h, "source %q\n", src)
		real, err := resolveSource(dir, src)
		if err != nil {
			fmt.Fprintf(h, "error %v\n", err)
			continue
		}
		n := 0
		filepath.WalkDir(real, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				fmt.Fprintf(h, "error %q %v\n", p, err)
				return nil
			}
			if d.IsDir() {
				if d.Name() == "__pycache__" {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(d.Name(), ".pyc") {
				return nil
			}
			if n++; n > maxSourceFiles {
				fmt.Fprintf(h, "more than %d files\n", maxSourceFiles)
				return filepath.SkipAll
			}
			fi, err := os.Stat(p) // a link counts as what it points to
			if err != nil {
				fmt.Fprintf(h, "error %q %v\n", p, err)
				return nil
			}
			fmt.Fprintf(h, "%q %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
			return nil
		})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// resolveSource returns source src of the manifest in dir with symbolic
// links resolved, refusing one that leaves dir.
func resolveSource(dir, src string) (string, error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(filepath.Join(dir, src))
	if err != nil {
		return "", err
	}
	if rel, err := filepath.Rel(root, real); err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("source %q leaves the manifest's folder %s (it resolves to %s)", src, dir, real)
	}
	return real, nil
}

package host

import (
	"os"
	"testing"
)

// FuzzCacheEntry: whatever bytes a cache entry holds, lookup either
// misses or returns an entry for the asked path and identity with a
// well-formed sha256; it never panics.
func FuzzCacheEntry(f *testing.F) {
	f.Add([]byte(`{"version":1,"path":"/p","stat":{"size":3},"sha256":"` + "00" + `"}`))
	f.Add([]byte(`{"version":1,"path":"/p","stat":{"size":3},"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","description":{"Name":"x","Archs":[{"Name":"a"}]}}`))
	f.Add([]byte(`{"version": 1, "path": `))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := &describeCache{dir: t.TempDir()}
		if err := os.WriteFile(d.file("/p"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		e, ok := d.lookup("/p", fileStat{Size: 3}, "")
		if !ok {
			return
		}
		if e.Path != "/p" || e.Stat != (fileStat{Size: 3}) || e.Sources != "" || len(e.SHA256) != 64 {
			t.Errorf("lookup accepted %+v", e)
		}
	})
}

package dataset_test

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gozoo/gozoo/zoo/dataset"
)

// A list is read as gozoo extract reads one: a path a line, with a label
// after a tab; relative paths are resolved by the caller.
func ExampleParseList() {
	list := "cat.jpg\t3\n# a comment\nsub/dog.png\t5\n"
	ds, err := dataset.ParseList(strings.NewReader(list), "list.txt", func(p string) string { return filepath.Join("/data", p) })
	if err != nil {
		panic(err)
	}
	for _, s := range ds.Samples {
		fmt.Println(s.Index, s.Path, s.Label)
	}
	// Output:
	// 0 /data/cat.jpg 3
	// 1 /data/sub/dog.png 5
}

// Paths sort as gozoo extract (and torchvision) orders a folder: by folder,
// then by name.
func ExampleSortPaths() {
	paths := []string{"b/x.png", "a.b/y.png", "a/z.png", "a/Y.png"}
	dataset.SortPaths(paths)
	fmt.Println(paths, dataset.IsImage("a/Z.JPEG"), dataset.IsImage("notes.txt"))
	// Output:
	// [a/Y.png a/z.png a.b/y.png b/x.png] true false
}

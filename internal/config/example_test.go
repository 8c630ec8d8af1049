package config_test

import (
	"fmt"

	"github.com/gozoo/gozoo/internal/config"
)

func ExampleLoadBytes() {
	src := []byte(`version: 1
kind: probe
model:
  name: resnet18_w8.gozoo_fmnist
data:
  path: .
probe:
  epocs: 3
`)
	_, err := config.LoadBytes("exp.yaml", src, nil, func(string) string { return "" })
	fmt.Println(err)
	l, err := config.LoadBytes("exp.yaml", src[:len(src)-len("probe:\n  epocs: 3\n")], []string{"probe.k=5"}, func(string) string { return "" })
	fmt.Println(err, l.Probe.K, l.Probe.Method)
	// Output:
	// exp.yaml:8: unknown key 'epocs' in probe; valid keys: c_max, c_min, k, max_iter, method, refine, standardize, steps
	// <nil> 5 logreg
}

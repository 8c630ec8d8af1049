package zoo

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
)

//go:embed classes/imagenet1k.txt
var imagenet1kText string

// Class sets a catalog entry can name with class_set instead of listing
// its classes.
const (
	// ClassSetImageNet1k is ImageNet-1k's 1000 class names in label order,
	// as torchvision lists them (torchvision.models._meta).
	ClassSetImageNet1k = "imagenet1k"
	// ClassSetFashionMNIST is Fashion-MNIST's 10 class names in label
	// order, as torchvision.datasets.FashionMNIST lists them.
	ClassSetFashionMNIST = "fashion_mnist"
)

var (
	classSetsOnce sync.Once
	classSets     map[string][]string
)

// ClassSet returns a copy of the named class set's names in label order.
// An unknown name gives an error listing the known ones.
func ClassSet(name string) ([]string, error) {
	classSetsOnce.Do(func() {
		classSets = map[string][]string{
			ClassSetImageNet1k: strings.Split(strings.TrimSuffix(imagenet1kText, "\n"), "\n"),
			ClassSetFashionMNIST: {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
				"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"},
		}
	})
	c, ok := classSets[name]
	if !ok {
		return nil, fmt.Errorf("class set %q: use %s or %s, or list the classes", name, ClassSetImageNet1k, ClassSetFashionMNIST)
	}
	return append([]string(nil), c...), nil
}

// checkClasses reports duplicate or empty class names.
func checkClasses(classes []string) error {
	seen := make(map[string]bool, len(classes))
	for i, c := range classes {
		if c == "" {
			return fmt.Errorf("classes[%d] is empty", i)
		}
		if seen[c] {
			return fmt.Errorf("class %q is listed twice", c)
		}
		seen[c] = true
	}
	return nil
}

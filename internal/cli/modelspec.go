package cli

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/gozoo/gozoo/zoo"
	"github.com/spf13/cobra"
)

// catalogFlags name a catalog model: --model, --catalog and --offline.
type catalogFlags struct {
	Model    string
	Catalogs []string
	Offline  bool
}

func (c *catalogFlags) register(cmd *cobra.Command, modelUsage string) {
	fl := cmd.Flags()
	fl.StringVar(&c.Model, "model", "", modelUsage)
	fl.StringSliceVar(&c.Catalogs, "catalog", nil, "extra catalog YAML files, merged after the embedded one and ~/.config/gozoo/zoo.yaml")
	fl.BoolVar(&c.Offline, "offline", os.Getenv("GOZOO_OFFLINE") == "1", "use only cached weights; never download (default $GOZOO_OFFLINE=1)")
}

// transformFlags override parts of a model's eval transform. extract,
// eval and finetune share them.
type transformFlags struct {
	Preprocess string
	Resize     int
	Crop       []int
	Interp     string
	Mean, Std  []float32
	Grayscale  bool

	changed func(string) bool
}

func (t *transformFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&t.Preprocess, "preprocess", "", "YAML file with resize, crop, interpolation, mean, std (the catalog's preprocess block) replacing the model's")
	fl.IntVar(&t.Resize, "resize", 0, "shorter side after Resize (default: the model's; torchvision's 256 with --arch)")
	fl.IntSliceVar(&t.Crop, "crop", nil, "CenterCrop size: S or H,W (default: the model's; 224 with --arch)")
	fl.StringVar(&t.Interp, "interpolation", "", "bilinear, bicubic or nearest (default: the model's; bilinear with --arch)")
	fl.Float32SliceVar(&t.Mean, "mean", nil, "Normalize mean, three values (default: the model's; ImageNet's with --arch)")
	fl.Float32SliceVar(&t.Std, "std", nil, "Normalize std, three values (default: the model's; ImageNet's with --arch)")
	fl.BoolVar(&t.Grayscale, "grayscale", false, "convert images to grayscale replicated to 3 channels")
	t.changed = func(n string) bool { return cmd.Flags().Changed(n) }
}

// apply returns pre with the flags given applied, and the flags that
// changed it.
func (t *transformFlags) apply(pre zoo.Preprocess) (zoo.Preprocess, []string, error) {
	changed := t.changed
	if changed == nil {
		changed = func(string) bool { return false }
	}
	var given []string
	if t.Preprocess != "" {
		p, err := zoo.LoadPreprocess(t.Preprocess)
		if err != nil {
			return pre, nil, err
		}
		pre = p
		given = append(given, "--preprocess "+t.Preprocess)
	}
	for _, s := range []struct {
		name string
		set  func()
	}{
		{"resize", func() { pre.Resize = t.Resize }},
		{"crop", func() { pre.Crop = t.Crop }},
		{"interpolation", func() { pre.Interpolation = t.Interp }},
		{"mean", func() { pre.Mean = t.Mean }},
		{"std", func() { pre.Std = t.Std }},
		{"grayscale", func() { pre.Grayscale = t.Grayscale }},
	} {
		if changed(s.name) {
			s.set()
			given = append(given, "--"+s.name)
		}
	}
	if _, err := pre.Transform(); err != nil {
		return pre, nil, usageErrorf("preprocessing: %v", err)
	}
	return pre, given, nil
}

// modelSpec is what a command knows about the model it loads besides
// the weights: where the model came from, its eval transform and its
// classes, each with the source it was taken from.
type modelSpec struct {
	Entry *zoo.Entry     // the catalog entry (--model), or nil
	Card  *zoo.ModelCard // the model card (the entry's, or --weights' file), or nil
	// Source names the model for people: "catalog entry X", "model card
	// F", or "--arch A".
	Source        string
	Pre           zoo.Preprocess
	PreSource     string
	Classes       []string
	ClassesSource string
	Layer         string
	// ID identifies model and weights for resume fingerprints.
	ID string
}

// resolveSpec fills m from --model (a catalog entry) or from the model
// card beside --weights, and works out the eval transform (the flags in t
// over the card's or entry's, else torchvision's ImageNet eval transform)
// and the classes. Every default it picks is printed on f.Err.
func (f *Factory) resolveSpec(ctx context.Context, m *modelFlags, c *catalogFlags, t *transformFlags) (*modelSpec, error) {
	s := &modelSpec{}
	switch {
	case c.Model != "":
		if m.Arch != "" || m.Weights != "" {
			return nil, usageErrorf("--model %s sets the arch and weights: drop --arch/--weights, or drop --model", c.Model)
		}
		cat, err := loadCatalog(c.Catalogs)
		if err != nil {
			return nil, err
		}
		e, err := cat.Lookup(c.Model)
		if err != nil {
			return nil, err
		}
		cache, err := openCache(f.Err, c.Offline)
		if err != nil {
			return nil, err
		}
		path, err := cache.Fetch(ctx, e)
		if err != nil {
			return nil, err
		}
		m.Arch, m.Weights = e.Arch, path
		// A catalog entry's plugin serves extraction; training chooses a
		// plugin that can train.
		if m.Plugin == "" && e.Plugin != "" && !m.train {
			m.Plugin = e.Plugin
			m.pluginFrom = "named by " + e.Name + "; --plugin picks another"
		}
		if err := m.addOpts(e.Options); err != nil {
			return nil, err
		}
		card, err := e.Card()
		if err != nil {
			return nil, err
		}
		s.Entry, s.Card, s.Source = e, card, "catalog entry "+e.Name
		s.ID = e.Name + "@" + e.Weights.SHA256 + e.Weights.HashPrefix
	case m.Weights != "":
		card, err := zoo.ReadCard(m.Weights)
		if err != nil {
			return nil, err
		}
		if card != nil {
			if m.Arch == "" {
				m.Arch = card.Arch
			} else if m.Arch != card.Arch {
				return nil, usageErrorf("--arch %s, but %s says the weights are %s: drop --arch", m.Arch, zoo.CardPath(m.Weights), card.Arch)
			}
			if err := m.addOpts(card.Options); err != nil {
				return nil, err
			}
			s.Card, s.Source = card, "model card "+zoo.CardPath(m.Weights)
		} else {
			if m.Arch == "" {
				return nil, usageErrorf("--weights %s has no model card (%s): give --arch", m.Weights, zoo.CardPath(m.Weights))
			}
			s.Source = "--arch " + m.Arch + ", no model card beside " + m.Weights
		}
		s.ID = m.Arch // the weights' sha256 is part of a run's settings
	default:
		if m.Arch == "" {
			return nil, usageErrorf("give --model NAME (gozoo zoo list) or --arch ARCH")
		}
		s.Source = "--arch " + m.Arch + ", seeded random weights"
		s.ID = m.Arch
	}
	s.Pre, s.PreSource = zoo.ImageNetPreprocess(), "torchvision's ImageNet eval transform, the default for --arch"
	if s.Card != nil {
		s.Pre, s.PreSource = s.Card.Preprocess, s.Source
		s.Classes, s.ClassesSource = s.Card.Classes, s.Card.ClassesSource
		if s.ClassesSource == "" {
			s.ClassesSource = s.Source
		}
		s.Layer = s.Card.Layer
	}
	pre, given, err := t.apply(s.Pre)
	if err != nil {
		return nil, err
	}
	if len(given) > 0 {
		s.Pre, s.PreSource = pre, s.PreSource+", changed by "+strings.Join(given, " ")
	}
	fmt.Fprintf(f.Err, "model: %s (%s)\n", m.Arch, s.Source)
	fmt.Fprintf(f.Err, "transform: %s (%s)\n", s.Pre, s.PreSource)
	if len(s.Classes) > 0 {
		fmt.Fprintf(f.Err, "classes: %d (%s): %s\n", len(s.Classes), s.ClassesSource, fewNames(s.Classes, 5))
	} else {
		fmt.Fprintf(f.Err, "classes: none recorded for this model\n")
	}
	return s, nil
}

// addOpts appends options the user did not give.
func (m *modelFlags) addOpts(opts map[string]string) error {
	have, err := parseOpts(m.Opts)
	if err != nil {
		return err
	}
	if m.NumClasses > 0 {
		have["num_classes"] = fmt.Sprint(m.NumClasses)
	}
	for _, k := range sortedKeys(opts) {
		if _, ok := have[k]; !ok {
			m.Opts = append(m.Opts, k+"="+opts[k])
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// fewNames shows the first n names and how many more there are.
func fewNames(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

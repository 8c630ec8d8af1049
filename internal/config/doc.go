// Package config reads experiment configs: YAML files that say what
// `gozoo run` computes (extract, probe, finetune or compare), on which
// model and data, with which hyperparameters.
//
// Load is strict. Keys are lower-case identifiers ([a-z][a-z0-9_]*); a key
// the schema does not know, a value of the wrong type (`epochs: "20"`,
// `layers: "a,b"`) and an override of an unknown key are errors that name
// the file, the line and the key and suggest the nearest valid key.
// PyTorch names (`layer4.*`, `Mixed_6e.branch7x7dbl_3`) are values, never
// keys. Paths in a file are relative to its folder, except runs_dir, an
// output, which is relative to the working directory. Defaults fill what the file leaves out; Marshal writes the
// resolved config, which Load reads back to the same Experiment.
//
// Only the environment variables GOZOO_RUNS_DIR and GOZOO_DEVICE override a
// file, and --set KEY=VALUE overrides (KEY a dotted path of the schema,
// VALUE YAML) are checked against the schema as the file is. Each Load
// uses its own viper instance; nothing is global.
package config

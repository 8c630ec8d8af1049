package zoo

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ErrBadCard reports a model card that does not parse, is invalid, or
// does not belong to the weights beside it.
var ErrBadCard = errors.New("zoo: bad model card")

// CardFormat is the version of the model card format Write produces.
const CardFormat = 1

// CardSuffix ends a model card's file name: the card of X.pth is
// X.gozoo.json in the same folder.
const CardSuffix = ".gozoo.json"

// ModelCard is the metadata that travels with a checkpoint: how to build
// the model (plugin, arch, options), what its outputs mean (classes), how
// its inputs are made (the eval transform), which weights it describes
// (sha256) and, for a fine-tuned checkpoint, how it was trained. It is
// stored as JSON beside the weights (CardPath) and read back by extract,
// eval, finetune and bridge import.
type ModelCard struct {
	// Format is CardFormat.
	Format int    `json:"format"`
	Arch   string `json:"arch"`
	// Plugin is the plugin the model was made with (a hint: any plugin
	// offering Arch loads the weights).
	Plugin  string            `json:"plugin,omitempty"`
	Options map[string]string `json:"options,omitempty"`
	// Classes names the classifier's outputs in index order.
	Classes []string `json:"classes,omitempty"`
	// ClassesSource says where Classes came from (an ImageFolder tree,
	// a catalog entry, a class set).
	ClassesSource string `json:"classes_source,omitempty"`
	// Preprocess is the eval transform the weights expect.
	Preprocess Preprocess `json:"preprocess"`
	// Layer is the default feature layer.
	Layer   string      `json:"layer,omitempty"`
	Weights CardWeights `json:"weights"`
	// Training is set for checkpoints gozoo fine-tuned.
	Training *Training `json:"training,omitempty"`
	// Precision is fp32 (or empty) or int8; an int8 model (an .onnx file
	// gozoo quantize wrote, run by the onnx plugin) records its
	// Calibration.
	Precision   string       `json:"precision,omitempty"`
	Calibration *Calibration `json:"calibration,omitempty"`
}

// CardWeights identifies the weights a card describes.
type CardWeights struct {
	// File is the weights' base name.
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Training is a fine-tuned checkpoint's provenance.
type Training struct {
	// Base names the starting point: a catalog entry, a weights file, or
	// "random init (seed N)".
	Base       string `json:"base"`
	BaseSHA256 string `json:"base_sha256,omitempty"`
	// Data is the training folder as the user gave it.
	Data  string `json:"data"`
	Epoch int    `json:"epoch"`
	// Epochs is the length of the whole run.
	Epochs      int     `json:"epochs"`
	TrainImages int     `json:"train_images"`
	ValImages   int     `json:"val_images"`
	ValAccuracy float64 `json:"val_accuracy"`
	ValLoss     float64 `json:"val_loss"`
	// Augment is the training augmentation (imageproc.Augment's String).
	Augment string `json:"augment,omitempty"`
	Seed    int64  `json:"seed"`
	// Hyperparameters are the remaining settings (optimizer, lr, ...).
	Hyperparameters map[string]any `json:"hyperparameters,omitempty"`
	Created         string         `json:"created,omitempty"`
}

// CardPath returns the path of the model card of the weights at path:
// path without its extension (.pth, .pt, .safetensors, .onnx, .bin) plus
// CardSuffix.
func CardPath(weights string) string {
	ext := filepath.Ext(weights)
	switch strings.ToLower(ext) {
	case ".pth", ".pt", ".safetensors", ".onnx", ".bin", ".ckpt":
		weights = strings.TrimSuffix(weights, ext)
	}
	return weights + CardSuffix
}

// Validate checks the card's fields.
func (c *ModelCard) Validate() error {
	switch {
	case c.Format != CardFormat:
		return fmt.Errorf("format %d: this gozoo reads format %d", c.Format, CardFormat)
	case c.Arch == "":
		return errors.New("arch is required")
	case c.Weights.SHA256 != "" && (len(c.Weights.SHA256) != 64 || strings.Trim(strings.ToLower(c.Weights.SHA256), "0123456789abcdef") != ""):
		return fmt.Errorf("weights sha256 %q: want 64 hex digits", c.Weights.SHA256)
	}
	if err := checkClasses(c.Classes); err != nil {
		return err
	}
	if _, err := c.Preprocess.Transform(); err != nil {
		return fmt.Errorf("preprocess: %v", err)
	}
	return checkPrecision(c.Precision, c.Calibration)
}

// ParseCard reads a model card from JSON. Unknown fields are an error, so
// that a typo does not pass silently.
func ParseCard(b []byte) (*ModelCard, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c ModelCard
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCard, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrBadCard)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCard, err)
	}
	return &c, nil
}

// ReadCard reads the card of the weights at path. It returns (nil, nil)
// when there is none, and an error wrapping ErrBadCard when the card is
// invalid or its sha256 is not the weights' (the weights changed after the
// card was written).
func ReadCard(weights string) (*ModelCard, error) {
	p := CardPath(weights)
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("zoo: model card: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("zoo: model card %s: %w", p, err)
	}
	c, err := ParseCard(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (fix or delete it)", p, err)
	}
	if c.Weights.SHA256 != "" {
		sum, _, err := FileSHA256(weights)
		if err != nil {
			return nil, fmt.Errorf("zoo: %w", err)
		}
		if !strings.EqualFold(sum, c.Weights.SHA256) {
			return nil, fmt.Errorf("%w: %s describes weights with sha256 %s, but %s has %s: the weights changed after the card was written; delete the card or write a new one",
				ErrBadCard, p, c.Weights.SHA256, weights, sum)
		}
	}
	return c, nil
}

// WriteCard writes c as the card of the weights at path, filling
// c.Format and c.Weights from the file, atomically (a temporary file
// renamed).
func WriteCard(weights string, c *ModelCard) error {
	sum, size, err := FileSHA256(weights)
	if err != nil {
		return fmt.Errorf("zoo: model card: %w", err)
	}
	c.Format = CardFormat
	c.Weights = CardWeights{File: filepath.Base(weights), SHA256: sum, Size: size}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrBadCard, err)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	p := CardPath(weights)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("zoo: model card: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("zoo: model card: %w", err)
	}
	return nil
}

// FileSHA256 returns the hex sha256 and the size of the file at path.
func FileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// ClassNames returns the entry's classes: its classes list, or the class
// set it names; nil when it has neither.
func (e *Entry) ClassNames() ([]string, error) {
	if len(e.Classes) > 0 {
		return append([]string(nil), e.Classes...), nil
	}
	if e.ClassSet != "" {
		return ClassSet(e.ClassSet)
	}
	return nil, nil
}

// Card returns the model card the entry implies for the weights at sha256
// (empty when unknown).
func (e *Entry) Card() (*ModelCard, error) {
	classes, err := e.ClassNames()
	if err != nil {
		return nil, err
	}
	src := ""
	switch {
	case len(e.Classes) > 0:
		src = "catalog entry " + e.Name
	case e.ClassSet != "":
		src = "class set " + e.ClassSet + " (catalog entry " + e.Name + ")"
	}
	return &ModelCard{Format: CardFormat, Arch: e.Arch, Plugin: e.Plugin, Options: e.Options,
		Classes: classes, ClassesSource: src, Preprocess: e.Preprocess, Layer: e.Layer,
		Weights:   CardWeights{File: e.Weights.FileName(), SHA256: e.Weights.SHA256, Size: e.Weights.Size},
		Precision: e.Precision, Calibration: e.Calibration}, nil
}

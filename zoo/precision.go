package zoo

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Precisions a model card or catalog entry may record: the number type
// the weights and activations run in. An empty Precision means fp32.
const (
	PrecisionFP32 = "fp32"
	PrecisionInt8 = "int8"
)

// CalibrationMethods are the calibration methods of gozoo quantize
// (sdk/quant's Methods).
var CalibrationMethods = []string{"minmax", "percentile", "entropy"}

// Calibration is a quantized model's provenance: the float model it was
// made from and the images that set its activation ranges.
type Calibration struct {
	// Method is minmax, percentile or entropy.
	Method string `json:"method" yaml:"method"`
	// Percentile is the percentile method's coverage, in percent.
	Percentile float64 `json:"percentile,omitempty" yaml:"percentile,omitempty"`
	// Images is the number of calibration images (held-out ones not
	// counted).
	Images int `json:"images" yaml:"images"`
	// ListSHA256 is the sha256 of the calibration list: one line
	// "INDEX<TAB>PATH<TAB>LABEL" per image of the set it was drawn from
	// (or the bytes of a .npy file), so that the set can be checked.
	ListSHA256 string `json:"list_sha256" yaml:"list_sha256"`
	// Source is the calibration set as given (a folder, list, IDX or
	// .npy file).
	Source string `json:"source,omitempty" yaml:"source,omitempty"`
	// Base names the float model: a catalog entry, a weights file or an
	// .onnx file; BaseSHA256 is its weights' sha256 when known.
	Base       string `json:"base" yaml:"base"`
	BaseSHA256 string `json:"base_sha256,omitempty" yaml:"base_sha256,omitempty"`
	// Activations and Weights describe the integer types, e.g. "uint8"
	// and "int8 per channel, [-64, 64]".
	Activations string `json:"activations,omitempty" yaml:"activations,omitempty"`
	Weights     string `json:"weights,omitempty" yaml:"weights,omitempty"`
	// KeepFP32 lists the module patterns kept float.
	KeepFP32 []string `json:"keep_fp32,omitempty" yaml:"keep_fp32,omitempty,flow"`
}

// checkPrecision checks a precision and the calibration that goes with
// it: int8 needs one, and only int8 has one.
func checkPrecision(precision string, c *Calibration) error {
	switch precision {
	case "", PrecisionFP32:
		if c != nil {
			return fmt.Errorf("calibration is set but precision is %q: calibration describes int8 models (precision: int8)", orFP32(precision))
		}
		return nil
	case PrecisionInt8:
	default:
		return fmt.Errorf("precision %q: use fp32 or int8", precision)
	}
	if c == nil {
		return errors.New("precision int8 needs calibration (method, images, list_sha256, base): gozoo quantize writes it")
	}
	switch {
	case !slices.Contains(CalibrationMethods, c.Method):
		return fmt.Errorf("calibration method %q: use %s", c.Method, strings.Join(CalibrationMethods, ", "))
	case c.Images < 1:
		return fmt.Errorf("calibration images %d: want the number of images the ranges came from (1 or more)", c.Images)
	case !isSHA256(c.ListSHA256):
		return fmt.Errorf("calibration list_sha256 %q: want 64 hex digits", c.ListSHA256)
	case c.BaseSHA256 != "" && !isSHA256(c.BaseSHA256):
		return fmt.Errorf("calibration base_sha256 %q: want 64 hex digits", c.BaseSHA256)
	case c.Base == "":
		return errors.New("calibration base is required: the float model the int8 one was made from")
	case c.Method == "percentile" && !(c.Percentile > 50 && c.Percentile <= 100):
		return fmt.Errorf("calibration percentile %g: want a share in percent above 50 and at most 100", c.Percentile)
	case c.Method != "percentile" && c.Percentile != 0:
		return fmt.Errorf("calibration percentile %g with method %s: only the percentile method has one", c.Percentile, c.Method)
	}
	return nil
}

func orFP32(p string) string {
	if p == "" {
		return PrecisionFP32
	}
	return p
}

func isSHA256(s string) bool {
	return len(s) == 64 && strings.Trim(strings.ToLower(s), "0123456789abcdef") == ""
}

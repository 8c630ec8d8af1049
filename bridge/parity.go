package bridge

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/gozoo/gozoo/sdk"
)

// LayerParity compares one layer's output from a reference run (PyTorch)
// with gozoo's.
type LayerParity struct {
	Layer      string  `json:"layer"`
	Shape      []int64 `json:"shape"`
	MaxAbsDiff float64 `json:"max_abs_diff"`
	MaxAbsRef  float64 `json:"max_abs_ref"` // max |reference|, the scale
	Cosine     float64 `json:"cosine"`
	Tolerance  float64 `json:"tolerance"` // allowed max abs diff: rtol * max(1, MaxAbsRef)
	Pass       bool    `json:"pass"`
	Error      string  `json:"error,omitempty"`
}

// ParityReport is the result of comparing a model's layers between PyTorch
// and gozoo's ONNX Runtime run, written as JSON and Markdown.
type ParityReport struct {
	Model     string  `json:"model"`
	Reference string  `json:"reference"` // e.g. "torch 1.13 (plugin torch)"
	Candidate string  `json:"candidate"` // e.g. "onnxruntime (plugin onnx)"
	Input     []int64 `json:"input_shape"`
	// Inputs names every input as NAME DTYPE[SHAPE] ("tokens int64[2, 12]")
	// when the model takes more than one float32 input.
	Inputs  []string      `json:"inputs,omitempty"`
	RTol    float64       `json:"rtol"`
	Layers  []LayerParity `json:"layers"`
	Pass    bool          `json:"pass"`
	Created time.Time     `json:"created"`
}

// CompareLayer measures got against the reference want: the largest
// absolute difference, the cosine similarity, and whether the difference
// stays within rtol * max(1, max |want|).
func CompareLayer(layer string, want, got *sdk.Tensor, rtol float64) LayerParity {
	p := LayerParity{Layer: layer, Tolerance: rtol}
	if want == nil || got == nil {
		p.Error = "missing output"
		return p
	}
	p.Shape = want.Shape
	if !sdk.EqualShape(want.Shape, got.Shape) || want.DType() != got.DType() {
		p.Error = fmt.Sprintf("shape %s (%s) differs from the reference's %s (%s)", sdk.FormatShape(got.Shape), got.DType(), sdk.FormatShape(want.Shape), want.DType())
		return p
	}
	a, b := values(want), values(got)
	var dot, na, nb float64
	for i := range a {
		d := math.Abs(a[i] - b[i])
		if math.IsNaN(d) {
			p.MaxAbsDiff = math.Inf(1)
		} else if d > p.MaxAbsDiff {
			p.MaxAbsDiff = d
		}
		p.MaxAbsRef = math.Max(p.MaxAbsRef, math.Abs(a[i]))
		dot += a[i] * b[i]
		na += a[i] * a[i]
		nb += b[i] * b[i]
	}
	switch {
	case na == 0 && nb == 0:
		p.Cosine = 1
	case na == 0 || nb == 0:
		p.Cosine = 0
	default:
		p.Cosine = dot / math.Sqrt(na*nb)
	}
	p.Tolerance = rtol * math.Max(1, p.MaxAbsRef)
	p.Pass = p.MaxAbsDiff <= p.Tolerance
	return p
}

func values(t *sdk.Tensor) []float64 {
	if t.Int64 != nil {
		out := make([]float64, len(t.Int64))
		for i, v := range t.Int64 {
			out[i] = float64(v)
		}
		return out
	}
	out := make([]float64, len(t.Float32))
	for i, v := range t.Float32 {
		out[i] = float64(v)
	}
	return out
}

// Finish sets r.Pass: true when every layer passed.
func (r *ParityReport) Finish() {
	r.Pass = len(r.Layers) > 0
	for _, l := range r.Layers {
		r.Pass = r.Pass && l.Pass
	}
}

// inputText names the inputs for the Markdown page.
func (r *ParityReport) inputText() string {
	if len(r.Inputs) > 0 {
		return strings.Join(r.Inputs, ", ")
	}
	return sdk.FormatShape(r.Input)
}

// Markdown renders the report as a Markdown table.
func (r *ParityReport) Markdown() string {
	var b strings.Builder
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "# Parity report: %s\n\n", r.Model)
	fmt.Fprintf(&b, "- reference: %s\n- candidate: %s\n- input: %s\n- tolerance: max abs diff <= %g * max(1, max |reference|)\n- result: **%s**\n\n",
		r.Reference, r.Candidate, r.inputText(), r.RTol, verdict)
	b.WriteString("| layer | shape | max abs diff | max abs ref | cosine | pass |\n|---|---|---|---|---|---|\n")
	for _, l := range r.Layers {
		pass := "yes"
		if !l.Pass {
			pass = "**no**"
			if l.Error != "" {
				pass += " (" + l.Error + ")"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %.3g | %.3g | %.7f | %s |\n", l.Layer, sdk.FormatShape(l.Shape), l.MaxAbsDiff, l.MaxAbsRef, l.Cosine, pass)
	}
	return b.String()
}

// WriteFiles writes the report to base+".json" and base+".md".
func (r *ParityReport) WriteFiles(base string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".json", append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("bridge: write parity report: %w", err)
	}
	if err := os.WriteFile(base+".md", []byte(r.Markdown()), 0o644); err != nil {
		return fmt.Errorf("bridge: write parity report: %w", err)
	}
	return nil
}

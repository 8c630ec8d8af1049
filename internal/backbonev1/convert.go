package backbonev1

import (
	"github.com/gozoo/gozoo/sdk"
)

// DescriptionToProto converts d for the wire.
func DescriptionToProto(d *sdk.Description) *DescribeResponse {
	out := &DescribeResponse{
		Name:          d.Name,
		Version:       d.Version,
		ProtocolMinor: int32(d.ProtocolMinor),
		Capabilities: &Capabilities{
			Extract: d.Capabilities.Extract,
			Train:   d.Capabilities.Train,
			Export:  d.Capabilities.Export,
			Devices: d.Capabilities.Devices,
		},
	}
	for _, f := range d.Capabilities.WeightsFormats {
		if pf, err := FormatToProto(f); err == nil && pf != WeightsFormat_WEIGHTS_FORMAT_NONE {
			out.Capabilities.WeightsFormats = append(out.Capabilities.WeightsFormats, pf)
		}
	}
	for _, a := range d.Archs {
		pa := &Arch{Name: a.Name, Doc: a.Doc, Input: InputSpecToProto(a.Input)}
		for _, o := range a.Options {
			pa.Options = append(pa.Options, &OptionSpec{Name: o.Name, Default: o.Default, Usage: o.Usage, Path: o.Path})
		}
		out.Archs = append(out.Archs, pa)
	}
	return out
}

// DescriptionFromProto converts a wire description.
func DescriptionFromProto(p *DescribeResponse) *sdk.Description {
	d := &sdk.Description{
		Name:          p.GetName(),
		Version:       p.GetVersion(),
		ProtocolMinor: int(p.GetProtocolMinor()),
	}
	if c := p.GetCapabilities(); c != nil {
		d.Capabilities = sdk.Capabilities{Extract: c.Extract, Train: c.Train, Export: c.Export, Devices: c.Devices}
		for _, pf := range c.GetWeightsFormats() {
			f, err := FormatFromProto(pf)
			if err != nil {
				// A format this host does not know stays listed under
				// its wire number, so the list is not mistaken for
				// "every format".
				f = sdk.WeightsFormat(pf.String())
			}
			if f != sdk.FormatNone {
				d.Capabilities.WeightsFormats = append(d.Capabilities.WeightsFormats, f)
			}
		}
	}
	for _, pa := range p.GetArchs() {
		a := sdk.Arch{Name: pa.GetName(), Doc: pa.GetDoc()}
		a.Input = InputSpecFromProto(pa.GetInput())
		for _, o := range pa.GetOptions() {
			a.Options = append(a.Options, sdk.OptionSpec{Name: o.GetName(), Default: o.GetDefault(), Usage: o.GetUsage(), Path: o.GetPath()})
		}
		d.Archs = append(d.Archs, a)
	}
	return d
}

// InputSpecToProto converts an input spec.
func InputSpecToProto(in sdk.InputSpec) *InputSpec {
	return &InputSpec{Shape: in.Shape, Dtype: DTypeToProto(in.DType), BatchAxis: int32(in.BatchAxis)}
}

// InputSpecFromProto converts a wire input spec; nil gives the zero
// InputSpec.
func InputSpecFromProto(p *InputSpec) sdk.InputSpec {
	if p == nil {
		return sdk.InputSpec{}
	}
	return sdk.InputSpec{Shape: p.GetShape(), DType: DTypeFromProto(p.GetDtype()), BatchAxis: int(p.GetBatchAxis())}
}

// DTypeToProto converts a tensor element type.
func DTypeToProto(d sdk.DType) DType {
	switch d {
	case sdk.Float32:
		return DType_DTYPE_FLOAT32
	case sdk.Int64:
		return DType_DTYPE_INT64
	}
	return DType_DTYPE_UNSPECIFIED
}

// DTypeFromProto converts a wire element type; unknown values become 0.
func DTypeFromProto(d DType) sdk.DType {
	switch d {
	case DType_DTYPE_FLOAT32:
		return sdk.Float32
	case DType_DTYPE_INT64:
		return sdk.Int64
	}
	return 0
}

// FormatToProto converts a weights format. An unknown format is an error
// wrapping sdk.ErrBadOption.
func FormatToProto(f sdk.WeightsFormat) (WeightsFormat, error) {
	switch f {
	case sdk.FormatNone:
		return WeightsFormat_WEIGHTS_FORMAT_NONE, nil
	case sdk.FormatPTH:
		return WeightsFormat_WEIGHTS_FORMAT_PTH, nil
	case sdk.FormatSafetensors:
		return WeightsFormat_WEIGHTS_FORMAT_SAFETENSORS, nil
	case sdk.FormatONNX:
		return WeightsFormat_WEIGHTS_FORMAT_ONNX, nil
	}
	return 0, badFormat(string(f))
}

// FormatFromProto converts a wire weights format.
func FormatFromProto(f WeightsFormat) (sdk.WeightsFormat, error) {
	switch f {
	case WeightsFormat_WEIGHTS_FORMAT_NONE:
		return sdk.FormatNone, nil
	case WeightsFormat_WEIGHTS_FORMAT_PTH:
		return sdk.FormatPTH, nil
	case WeightsFormat_WEIGHTS_FORMAT_SAFETENSORS:
		return sdk.FormatSafetensors, nil
	case WeightsFormat_WEIGHTS_FORMAT_ONNX:
		return sdk.FormatONNX, nil
	}
	return "", badFormat(f.String())
}

// LoadRequestToProto converts r for the wire.
func LoadRequestToProto(r *sdk.LoadRequest) (*LoadRequest, error) {
	f, err := FormatToProto(r.WeightsFormat)
	if err != nil {
		return nil, err
	}
	return &LoadRequest{
		Arch:          r.Arch,
		Options:       r.Options,
		WeightsPath:   r.WeightsPath,
		WeightsFormat: f,
		Seed:          r.Seed,
		Device:        r.Device,
		Threads:       int32(r.Threads),
	}, nil
}

// LoadRequestFromProto converts a wire load request.
func LoadRequestFromProto(p *LoadRequest) (*sdk.LoadRequest, error) {
	f, err := FormatFromProto(p.GetWeightsFormat())
	if err != nil {
		return nil, err
	}
	return &sdk.LoadRequest{
		Arch:          p.GetArch(),
		Options:       p.GetOptions(),
		WeightsPath:   p.GetWeightsPath(),
		WeightsFormat: f,
		Seed:          p.GetSeed(),
		Device:        p.GetDevice(),
		Threads:       int(p.GetThreads()),
	}, nil
}

// LayersToProto converts a layer list.
func LayersToProto(ls []sdk.Layer) []*Layer {
	out := make([]*Layer, len(ls))
	for i, l := range ls {
		out[i] = &Layer{Name: l.Name, Kind: l.Kind, Shape: l.Shape, Params: l.Params}
	}
	return out
}

// LayersFromProto converts a wire layer list.
func LayersFromProto(ps []*Layer) []sdk.Layer {
	out := make([]sdk.Layer, len(ps))
	for i, p := range ps {
		out[i] = sdk.Layer{Name: p.GetName(), Kind: p.GetKind(), Shape: p.GetShape(), Params: p.GetParams()}
	}
	return out
}

// ParamsToProto converts a parameter list.
func ParamsToProto(ps []sdk.Param) []*Param {
	out := make([]*Param, len(ps))
	for i, p := range ps {
		out[i] = &Param{Name: p.Name, Shape: p.Shape, Trainable: p.Trainable}
	}
	return out
}

// ParamsFromProto converts a wire parameter list.
func ParamsFromProto(ps []*Param) []sdk.Param {
	out := make([]sdk.Param, len(ps))
	for i, p := range ps {
		out[i] = sdk.Param{Name: p.GetName(), Shape: p.GetShape(), Trainable: p.GetTrainable()}
	}
	return out
}

// TrainConfigToProto converts everything in r but its Batches channel.
func TrainConfigToProto(handle string, r *sdk.TrainRequest) *TrainConfig {
	return &TrainConfig{
		Handle:        handle,
		Optimizer:     r.Optimizer,
		Lr:            r.LR,
		BackboneLr:    r.BackboneLR,
		WeightDecay:   r.WeightDecay,
		Momentum:      r.Momentum,
		Epochs:        int32(r.Epochs),
		Schedule:      r.Schedule,
		Seed:          r.Seed,
		Device:        r.Device,
		CheckpointDir: r.CheckpointDir,
		ResumeFrom:    r.ResumeFrom,
	}
}

// TrainConfigFromProto converts a wire config; the caller sets Batches.
func TrainConfigFromProto(p *TrainConfig) *sdk.TrainRequest {
	return &sdk.TrainRequest{
		Optimizer:     p.GetOptimizer(),
		LR:            p.GetLr(),
		BackboneLR:    p.GetBackboneLr(),
		WeightDecay:   p.GetWeightDecay(),
		Momentum:      p.GetMomentum(),
		Epochs:        int(p.GetEpochs()),
		Schedule:      p.GetSchedule(),
		Seed:          p.GetSeed(),
		Device:        p.GetDevice(),
		CheckpointDir: p.GetCheckpointDir(),
		ResumeFrom:    p.GetResumeFrom(),
	}
}

// TrainEventToProto converts a progress event.
func TrainEventToProto(e *sdk.TrainEvent) *TrainEvent {
	return &TrainEvent{
		Epoch:          int32(e.Epoch),
		Step:           int32(e.Step),
		Loss:           e.Loss,
		Accuracy:       e.Accuracy,
		Lr:             e.LR,
		ImagesPerSec:   e.ImagesPerSec,
		Validation:     e.Validation,
		CheckpointPath: e.CheckpointPath,
		Message:        e.Message,
	}
}

// TrainEventFromProto converts a wire progress event.
func TrainEventFromProto(p *TrainEvent) *sdk.TrainEvent {
	return &sdk.TrainEvent{
		Epoch:          int(p.GetEpoch()),
		Step:           int(p.GetStep()),
		Loss:           p.GetLoss(),
		Accuracy:       p.GetAccuracy(),
		LR:             p.GetLr(),
		ImagesPerSec:   p.GetImagesPerSec(),
		Validation:     p.GetValidation(),
		CheckpointPath: p.GetCheckpointPath(),
		Message:        p.GetMessage(),
	}
}

// ExportRequestToProto converts r for the wire.
func ExportRequestToProto(handle string, r *sdk.ExportRequest) (*ExportRequest, error) {
	f, err := FormatToProto(r.Format)
	if err != nil {
		return nil, err
	}
	return &ExportRequest{Handle: handle, Path: r.Path, Format: f, Layers: r.Layers, Opset: int32(r.Opset)}, nil
}

// ExportRequestFromProto converts a wire export request.
func ExportRequestFromProto(p *ExportRequest) (*sdk.ExportRequest, error) {
	f, err := FormatFromProto(p.GetFormat())
	if err != nil {
		return nil, err
	}
	return &sdk.ExportRequest{Path: p.GetPath(), Format: f, Layers: p.GetLayers(), Opset: int(p.GetOpset())}, nil
}

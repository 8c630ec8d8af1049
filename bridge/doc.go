// Package bridge imports PyTorch checkpoints into Go without Python.
//
// Load reads a checkpoint into a StateDict (names in file order and one
// dense sdk.Tensor per name), recognising the format by its first bytes:
//
//   - torch.save's zip format (the default since torch 1.6) and its legacy
//     pickle format, holding a state_dict at the top level or under a
//     "state_dict" or "model" key (ReadPTH);
//   - .safetensors (ReadSafetensors), which WriteSafetensors also writes.
//
// A .pth file is a Python pickle, which torch.load would let run arbitrary
// code. This package never runs or imports anything: it interprets the
// pickle as data and accepts only the globals torch writes for tensors
// (collections.OrderedDict, torch._utils._rebuild_tensor_v2,
// torch._utils._rebuild_parameter, torch.FloatStorage and the other
// storage classes). Any other name, such as os.system or builtins.eval,
// fails with an *UnsafeGlobalError that matches ErrUnsafePickle.
//
// Floating tensors (float16, bfloat16, float32, float64) are converted to
// float32 and integer tensors to int64; views such as transposes and
// slices are gathered into contiguous tensors.
//
// StateDict.Match then checks a checkpoint against the tensors a model
// expects, as load_state_dict(strict=True) does, reporting every missing,
// unexpected and mis-shaped tensor in one *MismatchError:
//
//	sd, err := bridge.Load("resnet18.pth")
//	if err != nil {
//		return err
//	}
//	if err := sd.Match(specs, bridge.StripPrefix("module.")); err != nil {
//		return err // errors.Is(err, sdk.ErrWeights)
//	}
//
// Errors wrap ErrCorrupt (truncated, damaged or not a checkpoint),
// ErrUnsafePickle or ErrUnsupported, and Load's name the file.
// Functions here hold no global state and are safe for concurrent use.
package bridge

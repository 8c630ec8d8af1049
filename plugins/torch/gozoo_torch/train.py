"""The training loop behind the Train RPC.

The host sends one TrainConfig, then batches: each epoch's training
batches, then its validation batches, the last batch of the epoch marked
end_of_epoch. The loop answers a progress event per training step and a
validation event per epoch, after saving the epoch's checkpoint:

    DIR/epoch-NNN.pth         the model's state_dict (any gozoo plugin loads it)
    DIR/epoch-NNN.trainstate  a safetensors file: the weights, the optimizer,
                              schedule and random state (tensors, with the
                              structure as JSON in its metadata), and the
                              .pth's sha256

Both are written to a temporary name and renamed, the state first, so an
epoch's .pth exists only once everything to resume from it is on disk.
A run resumes from an epoch-NNN.pth at epoch NNN+1, reading only the
.trainstate (safetensors: no pickle runs) and checking that the .pth is
the one written with it.
"""

import hashlib
import io
import json
import math
import os
import queue
import re
import threading
import time

import torch

from gozoo_plugin import BadInput, BadOption, GozooError, TrainEvent, Weights, absolute

from . import safetensors
from .models import _first_tensor, parse_device

_EPOCH_RE = re.compile(r"epoch-(\d+)\.pth$")

# The trainstate's metadata "format"; a file without it is not one this
# plugin wrote (older ones were pickles, which are never read).
TRAINSTATE_FORMAT = "gozoo-trainstate/1"


def _save(obj, path):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def encode_state(obj):
    """Splits obj (nested dicts, lists, numbers, strings, tensors) into
    JSON for the structure and a dict of the tensors it names, so that it
    can be saved as safetensors with the JSON in the metadata."""
    tensors = {}

    def enc(o):
        if isinstance(o, torch.Tensor):
            k = str(len(tensors))
            tensors[k] = o.detach().cpu()
            return {"t": k}
        if isinstance(o, dict):
            return {"d": [[enc(k), enc(v)] for k, v in o.items()]}
        if isinstance(o, (list, tuple)):
            return {"l": [enc(v) for v in o], "tuple": isinstance(o, tuple)}
        if o is None or isinstance(o, (bool, int, float, str)):
            return {"v": o}
        raise TypeError("cannot save %s in the training state" % type(o).__name__)

    return {"json": json.dumps(enc(obj)), "tensors": tensors}


def decode_state(saved):
    """Inverts encode_state."""
    tensors = saved["tensors"]

    def dec(o):
        if "t" in o:
            return tensors[o["t"]]
        if "d" in o:
            return {dec(k): dec(v) for k, v in o["d"]}
        if "l" in o:
            vals = [dec(v) for v in o["l"]]
            return tuple(vals) if o.get("tuple") else vals
        return o["v"]

    return dec(json.loads(saved["json"]))


def state_path(pth):
    return pth[: -len(".pth")] + ".trainstate"


def save_checkpoint(ckpt, net, state):
    """Writes ckpt (a .pth of net's state_dict) and its .trainstate
    (safetensors: the same weights and state, encoded by encode_state),
    the state first."""
    weights = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    buf = io.BytesIO()
    torch.save(weights, buf)
    pth = buf.getvalue()
    enc = encode_state(state)
    tensors = {"model." + k: v for k, v in weights.items()}
    tensors.update(("state." + k, v) for k, v in enc["tensors"].items())
    meta = {"format": TRAINSTATE_FORMAT, "state": enc["json"], "pth_sha256": hashlib.sha256(pth).hexdigest()}
    safetensors.write_bytes(state_path(ckpt), safetensors.dumps(tensors, meta))
    safetensors.write_bytes(ckpt, pth)


def run(model, cfg, batches):
    """Runs a training run; yields gozoo_plugin.TrainEvent values. cfg is
    a gozoo_plugin.TrainConfig; batches yields gozoo_plugin.Batch values."""
    opt_name = (cfg.optimizer or "sgd").lower()
    if opt_name not in ("sgd", "adamw"):
        raise BadOption("optimizer %r: use sgd or adamw" % cfg.optimizer)
    if not (cfg.lr > 0) or math.isinf(cfg.lr):
        raise BadOption("learning rate %g: give a positive rate" % cfg.lr)
    if cfg.backbone_lr < 0 or cfg.weight_decay < 0 or cfg.momentum < 0:
        raise BadOption("backbone_lr, weight_decay and momentum must not be negative")
    if cfg.epochs < 1:
        raise BadOption("epochs %d: give 1 or more" % cfg.epochs)
    sched = (cfg.schedule or "constant").lower()
    if sched not in ("constant", "cosine", "step"):
        raise BadOption("schedule %r: use cosine, step or constant" % cfg.schedule)
    device = parse_device(cfg.device) if cfg.device else model.device
    net = model.net
    net.to(device)
    model.device = device

    head = model.head_prefix()
    head_params = [p for n, p in net.named_parameters() if p.requires_grad and n.split(".")[0] == head]
    body_params = [p for n, p in net.named_parameters() if p.requires_grad and n.split(".")[0] != head]
    if not head_params and not body_params:
        raise BadInput("every parameter is frozen: unfreeze some (for example --unfreeze 'fc.*')")
    groups = []
    if body_params:
        groups.append({"params": body_params, "lr": cfg.backbone_lr or cfg.lr})
    if head_params:
        groups.append({"params": head_params, "lr": cfg.lr})
    if opt_name == "sgd":
        opt = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if sched == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    elif sched == "step":
        scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, cfg.epochs // 3), gamma=0.1)
    else:
        scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0)

    torch.manual_seed(cfg.seed)
    epoch = 1
    if cfg.resume_from:
        absolute(cfg.resume_from, "resume checkpoint")
        epoch = _resume(model, cfg.resume_from, opt, scheduler, device) + 1
        yield TrainEvent(epoch=epoch - 1, message="resumed from %s; training from epoch %d" % (cfg.resume_from, epoch))
        if epoch > cfg.epochs:
            yield TrainEvent(epoch=epoch - 1, message="the checkpoint already holds all %d epochs" % cfg.epochs)
            return
    if cfg.checkpoint_dir:
        absolute(cfg.checkpoint_dir, "checkpoint folder")
        os.makedirs(cfg.checkpoint_dir, exist_ok=True)

    loss_fn = torch.nn.CrossEntropyLoss()
    step = 0
    ep = _Epoch()
    model.training = True
    try:
        model.train_mode()
        for b in _prefetch(batches):
            x = torch.from_numpy(b.x)
            labels = torch.from_numpy(b.labels)
            if x.dtype != torch.float32 or x.dim() < 1 or x.shape[0] != labels.shape[0]:
                raise BadInput("train batch of shape %s with %d labels: send float32 inputs and one label per row" % (list(x.shape), labels.shape[0]))
            if x.shape[0] == 0:
                pass
            elif b.validation:
                net.eval()
                with torch.no_grad():
                    out = _first_tensor(net(x.to(device)))
                    _check_logits(out, labels)
                    ep.val_loss += loss_fn(out, labels.to(device)).item() * len(labels)
                    ep.val_correct += (out.argmax(1).cpu() == labels).sum().item()
                    ep.val_n += len(labels)
                model.train_mode()
            else:
                if ep.start is None:
                    ep.start = time.perf_counter()
                opt.zero_grad(set_to_none=True)
                out = _first_tensor(net(x.to(device)))
                _check_logits(out, labels)
                loss = loss_fn(out, labels.to(device))
                loss.backward()
                opt.step()
                step += 1
                n = len(labels)
                ep.loss += loss.item() * n
                ep.correct += (out.detach().argmax(1).cpu() == labels).sum().item()
                ep.n += n
                yield TrainEvent(epoch=epoch, step=step, loss=loss.item(), accuracy=ep.correct / ep.n,
                                    lr=opt.param_groups[-1]["lr"], images_per_sec=ep.rate())
            if not b.end_of_epoch:
                continue
            # The epoch ends: schedule, checkpoint, report.
            lr = opt.param_groups[-1]["lr"]
            rate = ep.rate()
            scheduler.step()
            ckpt = ""
            if cfg.checkpoint_dir:
                ckpt = os.path.join(cfg.checkpoint_dir, "epoch-%03d.pth" % epoch)
                save_checkpoint(ckpt, net, {"epoch": epoch, "optimizer": opt.state_dict(), "scheduler": scheduler.state_dict(),
                                            "torch_rng": torch.get_rng_state()})
            if ep.n:
                yield TrainEvent(epoch=epoch, step=step, loss=ep.loss / ep.n, accuracy=ep.correct / ep.n,
                                    lr=lr, images_per_sec=rate, message="train")
            yield TrainEvent(epoch=epoch, step=step, validation=True,
                                loss=ep.val_loss / ep.val_n if ep.val_n else 0.0,
                                accuracy=ep.val_correct / ep.val_n if ep.val_n else 0.0,
                                lr=lr, images_per_sec=rate, checkpoint_path=ckpt,
                                message="" if ep.val_n else "no validation batches")
            if epoch >= cfg.epochs:
                return
            epoch += 1
            ep = _Epoch()
    finally:
        model.training = False
        net.eval()


def _prefetch(messages, depth=4):
    """Yields messages, reading up to depth of them ahead on a thread, so
    that receiving the next batch overlaps the current step's compute."""
    q = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def pump():
        try:
            for m in messages:
                while not stop.is_set():
                    try:
                        q.put(m, timeout=0.1)
                        break
                    except queue.Full:
                        pass
                if stop.is_set():
                    return
        except Exception as e:  # the stream failed: hand the error over
            m = e
        else:
            m = end
        while not stop.is_set():
            try:
                q.put(m, timeout=0.1)
                return
            except queue.Full:
                pass

    t = threading.Thread(target=pump, name="gozoo-train-prefetch", daemon=True)
    t.start()
    try:
        while True:
            m = q.get()
            if m is end:
                return
            if isinstance(m, Exception):
                raise m
            yield m
    finally:
        stop.set()


class _Epoch:
    def __init__(self):
        self.start = None
        self.loss = 0.0
        self.correct = 0
        self.n = 0
        self.val_loss = 0.0
        self.val_correct = 0
        self.val_n = 0

    def rate(self):
        if self.start is None or self.n == 0:
            return 0.0
        dt = time.perf_counter() - self.start
        return self.n / dt if dt > 0 else 0.0


def _check_logits(out, labels):
    if out is None or out.dim() != 2:
        raise BadInput("the model's output is %s; training needs [N, classes] logits" % (None if out is None else list(out.shape)))
    if len(labels) and (labels.min() < 0 or labels.max() >= out.shape[1]):
        raise BadInput("labels span %d..%d but the model has %d classes: set num_classes" % (labels.min(), labels.max(), out.shape[1]))


def _resume(model, path, opt, scheduler, device):
    m = _EPOCH_RE.search(path)
    if not m:
        raise BadOption("resume from %s: name an epoch-NNN.pth checkpoint a training run wrote" % path)
    sp = state_path(path)
    if not os.path.exists(sp):
        raise Weights("resume from %s: its training state %s is missing: resume from an epoch whose .trainstate exists" % (path, os.path.basename(sp)))
    try:
        tensors, meta = safetensors.read(sp)
    except GozooError as e:
        raise Weights("resume from %s: training state %s: %s (resume from a checkpoint this version of gozoo wrote)" % (path, sp, e.message))
    if meta.get("format") != TRAINSTATE_FORMAT or "state" not in meta:
        raise Weights("resume from %s: %s is not a training state this plugin wrote (format %r; want %s): start the run afresh" % (
            path, sp, meta.get("format"), TRAINSTATE_FORMAT))
    try:
        with open(path, "rb") as f:
            got = hashlib.sha256(f.read()).hexdigest()
    except OSError as e:
        raise Weights("resume from %s: %s" % (path, e))
    if got != meta.get("pth_sha256"):
        raise Weights("resume from %s: the checkpoint is not the one written with %s (sha256 %s, recorded %s): resume from an untouched epoch" % (
            path, os.path.basename(sp), got, meta.get("pth_sha256")))
    sd = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.net.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise Weights("resume from %s: %s" % (path, str(e).splitlines()[0]))
    try:
        st = decode_state({"json": meta["state"], "tensors": {k[len("state."):]: v for k, v in tensors.items() if k.startswith("state.")}})
        opt.load_state_dict(st["optimizer"])
        scheduler.load_state_dict(st["scheduler"])
        torch.set_rng_state(st["torch_rng"])
    except Exception as e:
        raise Weights("resume from %s: training state %s: %s: %s (resume with the same optimizer and frozen parameters)" % (path, sp, type(e).__name__, e))
    model.net.to(device)
    for state in opt.state.values():
        for k, v in state.items():
            if isinstance(v, torch.Tensor):
                state[k] = v.to(device)
    return int(st["epoch"])

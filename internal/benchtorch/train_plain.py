"""train_plain.py X.npy Y.npy THREADS BATCH EPOCHS: the plain PyTorch
training loop benchtorch compares gozoo's torch plugin with: resnet18,
everything frozen but layer4 and fc (frozen batch norms in eval mode), SGD
with momentum, the same data in the same order. Prints the last epoch's
images/s."""

import sys
import time

import numpy as np
import torch
import torchvision

x = torch.from_numpy(np.load(sys.argv[1]))
y = torch.from_numpy(np.load(sys.argv[2]))
threads, batch, epochs = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads)
torch.manual_seed(0)
net = torchvision.models.resnet18(num_classes=10)
for n, p in net.named_parameters():
    p.requires_grad = n.startswith("layer4.") or n.startswith("fc.")
opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.01, momentum=0.9)
loss_fn = torch.nn.CrossEntropyLoss()
rate = 0.0
for epoch in range(epochs):
    net.train()
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d) and not m.weight.requires_grad:
            m.eval()
    start = time.perf_counter()
    for i in range(0, len(y), batch):
        xb, yb = x[i:i + batch], y[i:i + batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(xb), yb)
        loss.backward()
        opt.step()
    rate = len(y) / (time.perf_counter() - start)
print(rate)

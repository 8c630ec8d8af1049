"""Writes imagenet1k.txt: ImageNet-1k's class names in label order, one a
line, from torchvision's own list (torchvision.models._meta), which the
*.tv_in1k catalog entries' classifiers follow.

Usage: /usr/bin/python3 zoo/classes/make_imagenet.py > zoo/classes/imagenet1k.txt
"""
from torchvision.models._meta import _IMAGENET_CATEGORIES

for name in _IMAGENET_CATEGORIES:
    print(name)

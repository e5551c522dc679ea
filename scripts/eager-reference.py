#!/usr/bin/env python3
"""Eager PyTorch reference for InferenceBenchmark (issue 11): the same four networks' layer structure, run by
PyTorch itself from Python, so the DJL figures can be read as a ratio to what PyTorch does on the same CPU.

Speed only: random weights, float32, inference mode, NCHW. ResNet50 and InceptionV3 are torchvision's
(torchvision's ResNet50 strides the 3x3 convolution, Keras the first 1x1: the same FLOPs within 1%);
MobileNet v1 and Xception are written out below after the Keras applications. Prints one JSON object per
configuration on stdout.

Run with Debian's python3-torch + python3-torchvision (/usr/bin/python3). Those packages use OpenBLAS for
GEMM; unset OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (InferenceBenchmark does) or its GEMM runs ~100x slow on
some machines (STACK.md).
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torchvision

NATIVE = {"mobilenet": 224, "resnet50": 224, "inceptionv3": 299, "xception": 299}


def conv_bn(cin, cout, k, s, groups=1, act=nn.ReLU6):
    return [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout), act(inplace=True)]


def mobilenet_v1(classes=2):
    cfg = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    layers = conv_bn(3, 32, 3, 2)
    cin = 32
    for cout, s in cfg:
        layers += conv_bn(cin, cin, 3, s, groups=cin) + conv_bn(cin, cout, 1, 1)
        cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(1e-3), nn.Linear(1024, classes))


class SeparableConv(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__(nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False), nn.Conv2d(cin, cout, 1, bias=False),
                         nn.BatchNorm2d(cout))


class XceptionBlock(nn.Module):
    """Keras Xception's residual blocks: (ReLU, separable conv) x n, optional 3x3/2 max-pool, 1x1/2 shortcut."""

    def __init__(self, cin, couts, downsample, relu_first=True):
        super().__init__()
        layers = []
        c = cin
        for i, cout in enumerate(couts):
            if i > 0 or relu_first:
                layers.append(nn.ReLU())
            layers.append(SeparableConv(c, cout))
            c = cout
        if downsample:
            layers.append(nn.MaxPool2d(3, 2, 1))
            self.shortcut = nn.Sequential(nn.Conv2d(cin, c, 1, 2, bias=False), nn.BatchNorm2d(c))
        else:
            self.shortcut = nn.Identity()
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x) + self.shortcut(x)


def xception(classes=2):
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, 2, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        XceptionBlock(64, [128, 128], True, relu_first=False),
        XceptionBlock(128, [256, 256], True),
        XceptionBlock(256, [728, 728], True),
        *[XceptionBlock(728, [728, 728, 728], False) for _ in range(8)],
        XceptionBlock(728, [728, 1024], True),
        SeparableConv(1024, 1536), nn.ReLU(), SeparableConv(1536, 2048), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, classes))


def network(arch):
    if arch == "mobilenet":
        return mobilenet_v1()
    if arch == "resnet50":
        return torchvision.models.resnet50(num_classes=2)
    if arch == "inceptionv3":
        return torchvision.models.inception_v3(num_classes=2, aux_logits=False, init_weights=False)
    if arch == "xception":
        return xception()
    raise SystemExit("unknown architecture " + arch)


def measure(model, batch, size, warmup, min_iterations, min_seconds):
    x = torch.rand(batch, 3, size, size) * 2 - 1
    with torch.inference_mode():
        for _ in range(warmup):
            model(x)
        times = []
        cpu = 0.0
        start = time.perf_counter()
        while len(times) < min_iterations or time.perf_counter() - start < min_seconds:
            c0 = time.process_time()
            t0 = time.perf_counter()
            model(x).numpy()
            times.append(time.perf_counter() - t0)
            cpu += time.process_time() - c0
    # cpuSeconds: process CPU time (all threads) of the timed passes, which a loaded machine does not inflate
    return {"imagesPerSecond": batch * len(times) / sum(times), "medianMillis": 1000 * statistics.median(times),
            "iterations": len(times), "cpuSeconds": cpu}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--arch", required=True, choices=sorted(NATIVE))
    p.add_argument("--batch", default="1,8")
    p.add_argument("--size", type=int, default=0, help="input size (default: the network's native size)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--min-iterations", type=int, default=5)
    p.add_argument("--min-seconds", type=float, default=8)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = network(a.arch).eval()
    size = a.size or NATIVE[a.arch]
    for batch in (int(b) for b in a.batch.split(",")):
        r = measure(model, batch, size, a.warmup, a.min_iterations, a.min_seconds)
        r.update({"arch": a.arch, "size": size, "batch": batch, "threads": torch.get_num_threads(),
                  "torch": torch.__version__})
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    sys.exit(main())

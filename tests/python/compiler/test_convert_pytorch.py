"""ModelConverter(framework="pytorch"): an nn.Module exported through torch.onnx, both exporters."""

import numpy as np
import pytest

import deepseek_r1 as r1

torch = pytest.importorskip("torch")


class SmallNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.fc = torch.nn.Linear(8, 5)

    def forward(self, x):
        y = torch.nn.functional.relu(self.conv(x))
        return torch.softmax(self.fc(y.mean(dim=(2, 3))), dim=-1)


@pytest.mark.parametrize("dynamo", [False, True])
def test_pytorch_module_converts_and_matches_torch(tmp_path, dynamo):
    torch.manual_seed(0)
    net = SmallNet().eval()
    x = torch.randn(2, 3, 16, 16)
    out = r1.ModelConverter(
        input_model=net,
        framework="pytorch",
        example_inputs=(x,),
        input_names=["x"],
        output_path=tmp_path / "net.r1",
        dynamo=dynamo,
    ).convert()
    engine = r1.InferenceEngine(out)
    with torch.no_grad():
        want = net(x).numpy()
    got = engine.run({"x": x.numpy()})
    np.testing.assert_allclose(next(iter(got.values())), want, rtol=1e-4, atol=1e-6)
    if not dynamo:  # the legacy exporter marks batch dynamic by default
        x5 = torch.randn(5, 3, 16, 16)
        with torch.no_grad():
            np.testing.assert_allclose(
                next(iter(engine.run({"x": x5.numpy()}).values())), net(x5).numpy(), rtol=1e-4, atol=1e-6
            )


def test_pytorch_needs_example_inputs():
    with pytest.raises(r1.ModelError, match="example_inputs"):
        r1.ModelConverter(input_model=SmallNet(), framework="pytorch").convert()


def test_pytorch_rejects_non_module():
    with pytest.raises(r1.ModelError, match="nn.Module"):
        r1.ModelConverter(input_model="not a module", framework="pytorch", example_inputs=(1,)).compile()


def test_unknown_framework():
    with pytest.raises(ValueError, match="framework"):
        r1.ModelConverter(input_model="m.onnx", framework="caffe")

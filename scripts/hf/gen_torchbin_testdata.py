"""Generate internal/torchbin/testdata: small torch.save files and the values
they hold, for the tests of mixft's safe reader of pytorch_model.bin.

Run with Debian 12's python3-torch (PyTorch 1.13.0a0, numpy 1.24.2):
    /usr/bin/python3 scripts/hf/gen_torchbin_testdata.py internal/torchbin/testdata
The outputs are committed so that `make test` needs no Python.
"""
import collections
import json
import os
import sys

import torch

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)

# A module's state_dict: an OrderedDict with a _metadata attribute (a BUILD
# in the pickle) and contiguous F32 tensors.
lin = torch.nn.Linear(3, 2)
with torch.no_grad():
    lin.weight.copy_(torch.arange(6, dtype=torch.float32).reshape(2, 3) / 8 - 0.25)
    lin.bias.copy_(torch.tensor([1.5, -2.0]))
sd = lin.state_dict()

base = torch.arange(10, dtype=torch.float32) * 0.5
sd["half"] = torch.tensor([1.0, -0.5, 65504.0, 2.0 ** -14], dtype=torch.float16)
sd["bf16"] = torch.tensor([[1.0, -3.0], [0.15625, 1e30]], dtype=torch.bfloat16)
sd["f64"] = torch.tensor([0.1, -1e-3], dtype=torch.float64)
sd["position_ids"] = torch.arange(5, dtype=torch.int64).reshape(1, 5)
sd["transposed"] = torch.arange(6, dtype=torch.float32).reshape(3, 2).t()  # stride (1, 2)
sd["view_a"] = base[2:6]  # shares one storage with view_b, offset 2
sd["view_b"] = base[5:].reshape(5, 1)  # offset 5
sd["param"] = torch.nn.Parameter(torch.tensor([[7.0, 8.0]]))  # _rebuild_parameter
sd["scalar"] = torch.tensor(3.25)
torch.save(sd, os.path.join(out, "state.bin"))

expected = {}
for k, v in sd.items():
    t = v.detach()
    expected[k] = {
        "dtype": str(t.dtype).replace("torch.", ""),
        "shape": list(t.shape),
        "values": t.double().flatten().tolist() if t.is_floating_point() else t.flatten().tolist(),
    }
with open(os.path.join(out, "state.json"), "w") as f:
    json.dump(expected, f, indent=1, sort_keys=True)
    f.write("\n")

# A whole module pickled (its class is a global): refused.
torch.save(torch.nn.Linear(2, 2), os.path.join(out, "module.bin"))


class Hostile:
    """Pickles as a call of os.system: what a malicious checkpoint holds.
    Never unpickled here; mixft's reader must refuse it without running it."""

    def __reduce__(self):
        return (os.system, ("echo pwned > torchbin-pwned",))


torch.save(collections.OrderedDict(w=Hostile()), os.path.join(out, "hostile.bin"))

# The format before PyTorch 1.6 (a bare pickle stream): refused with a line.
torch.save(collections.OrderedDict(w=torch.ones(2)), os.path.join(out, "legacy.bin"),
           _use_new_zipfile_serialization=False)

with open(os.path.join(out, "VERSIONS"), "w") as f:
    f.write(f"torch {torch.__version__}\n")

"""Generate internal/model/testdata/tinybin: a tiny BERT checkpoint saved as
pytorch_model.bin the way older transformers releases did (torch.save of an
OrderedDict state dict, "bert." prefix, legacy LayerNorm gamma/beta names, a
position_ids buffer, an F16 tensor), for the test of model.Load's
pytorch_model.bin path. Every element of the tensor whose canonical name is
N is ((i*31 + len(N)) % 17 - 8) / 16, exact in float16, so the Go test
recomputes it.

Run with Debian 12's python3-torch (PyTorch 1.13.0a0):
    /usr/bin/python3 scripts/hf/gen_model_bin_testdata.py internal/model/testdata/tinybin
"""
import collections
import json
import os
import sys

import torch

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
cfg = {
    "architectures": ["BertForSequenceClassification"], "model_type": "bert",
    "vocab_size": 12, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
    "intermediate_size": 16, "max_position_embeddings": 10, "type_vocab_size": 2,
    "hidden_act": "gelu", "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
    "id2label": {"0": "no", "1": "yes"}, "label2id": {"no": 0, "yes": 1},
}
H, I, V, P, T, L = 8, 16, 12, 10, 2, 2
shapes = collections.OrderedDict()
shapes["bert.embeddings.word_embeddings.weight"] = (V, H)
shapes["bert.embeddings.position_embeddings.weight"] = (P, H)
shapes["bert.embeddings.token_type_embeddings.weight"] = (T, H)
shapes["bert.embeddings.LayerNorm.weight"] = (H,)
shapes["bert.embeddings.LayerNorm.bias"] = (H,)
pre = "bert.encoder.layer.0."
for n in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"]:
    shapes[pre + n + ".weight"] = (H, H)
    shapes[pre + n + ".bias"] = (H,)
shapes[pre + "attention.output.LayerNorm.weight"] = (H,)
shapes[pre + "attention.output.LayerNorm.bias"] = (H,)
shapes[pre + "intermediate.dense.weight"] = (I, H)
shapes[pre + "intermediate.dense.bias"] = (I,)
shapes[pre + "output.dense.weight"] = (H, I)
shapes[pre + "output.dense.bias"] = (H,)
shapes[pre + "output.LayerNorm.weight"] = (H,)
shapes[pre + "output.LayerNorm.bias"] = (H,)
shapes["bert.pooler.dense.weight"] = (H, H)
shapes["bert.pooler.dense.bias"] = (H,)
shapes["classifier.weight"] = (L, H)
shapes["classifier.bias"] = (L,)

sd = collections.OrderedDict()
for name, shape in shapes.items():
    n = 1
    for s in shape:
        n *= s
    vals = torch.tensor([((i * 31 + len(name)) % 17 - 8) / 16 for i in range(n)], dtype=torch.float32).reshape(shape)
    key = name
    if ".LayerNorm." in name:  # the legacy names of TF-converted checkpoints
        key = name.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
    if name == "bert.embeddings.token_type_embeddings.weight":
        vals = vals.half()
    if name.endswith("query.weight"):
        vals = vals.t().contiguous().t()  # a non-contiguous view (stride (1, H))
    sd[key] = vals
sd["bert.embeddings.position_ids"] = torch.arange(P).reshape(1, P)
sd["cls.predictions.bias"] = torch.zeros(V)  # a pretraining head: ignored
torch.save(sd, os.path.join(out, "pytorch_model.bin"))
with open(os.path.join(out, "config.json"), "w") as f:
    json.dump(cfg, f, indent=1)
    f.write("\n")

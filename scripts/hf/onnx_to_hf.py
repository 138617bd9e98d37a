"""onnx_to_hf.py MODEL.onnx OUTDIR: a BERT encoder exported to ONNX (by
torch.onnx.export, as sentence-transformers models are) turned back into
the checkpoint Hugging Face's BertModel saves: OUTDIR/model.safetensors
with transformers' tensor names and OUTDIR/config.json.

Standard library only: the ONNX file is read as the protobuf it is
(ModelProto -> GraphProto -> NodeProto / TensorProto, onnx.proto3), and
model.safetensors is written in its documented layout (8-byte header
length, JSON header, little-endian data).

How the tensors are found:
  - initializers that keep their PyTorch name (PREFIX + embeddings.*,
    encoder.layer.N.*.bias, LayerNorm weights) are taken as they are, with
    the module prefix of the export (e.g. "model.0.auto_model.") removed;
  - Linear weights were exported as MatMul right-hand sides with generated
    names (onnx::MatMul_NNN) and stored transposed ([in, out]): each is
    named after the bias of the Add that consumes the MatMul's output
    (encoder.layer.0.attention.self.query.bias -> ...query.weight) and
    transposed to PyTorch's [out, in];
  - the configuration comes from the graph: sizes from the tensors,
    num_attention_heads and the head size from the constant entries of the
    shape that the query, key and value projections are reshaped to
    ([batch, seq, heads, head size]), layer_norm_eps from the
    LayerNormalization nodes, hidden_act "gelu" from the Erf in every
    intermediate block.
Every tensor of BertModel must be accounted for, every initializer must be
used, and shapes must agree; otherwise it exits 1 with one line saying what
is missing. A checkpoint without pooler weights is written without them
(transformers and mixft then initialise the pooler, as for any BertModel
saved without one); dropout is not part of an exported graph, so the
config carries BERT's defaults (0.1).
"""
import array
import json
import math
import os
import struct
import sys

FLOAT, INT64 = 1, 7  # TensorProto.DataType


def die(msg):
    print(f"onnx_to_hf: {msg}", file=sys.stderr)
    sys.exit(1)


def varint(buf, i):
    v = shift = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return v, i


def fields(buf):
    """Yields (field number, wire type, value) of one protobuf message."""
    i, n = 0, len(buf)
    while i < n:
        key, i = varint(buf, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(buf, i)
        elif wt == 2:
            ln, i = varint(buf, i)
            if i + ln > n:
                raise ValueError(f"field {f} of {ln} bytes runs past the end at byte {n}")
            v = buf[i:i + ln]
            i += ln
        elif wt == 5:
            v = buf[i:i + 4]
            i += 4
        elif wt == 1:
            v = buf[i:i + 8]
            i += 8
        else:
            raise ValueError(f"wire type {wt} at byte {i}")
        yield f, wt, v


def signed(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def packed_varints(wt, v):
    if wt == 0:
        return [signed(v)]
    out, i = [], 0
    while i < len(v):
        x, i = varint(v, i)
        out.append(signed(x))
    return out


class Tensor:
    """A TensorProto: name, dims, data type and its bytes (little-endian)."""

    def __init__(self, buf):
        self.name, self.dims, self.dtype, self.raw = "", [], 0, None
        floats, ints = [], []
        for f, wt, v in fields(buf):
            if f == 1:
                self.dims += packed_varints(wt, v)
            elif f == 2:
                self.dtype = v
            elif f == 4:
                floats.append(bytes(v))  # packed (wire type 2) or one fixed32
            elif f == 7:
                ints += packed_varints(wt, v)
            elif f == 8:
                self.name = bytes(v).decode()
            elif f == 9:
                self.raw = v
            elif f in (13, 14) and (f == 13 or v == 1):
                die(f"tensor {self.name or '?'} keeps its data in an external file; only self-contained .onnx files are read")
        if self.raw is None:
            if self.dtype == FLOAT:
                self.raw = b"".join(floats)
            elif self.dtype == INT64:
                self.raw = struct.pack(f"<{len(ints)}q", *ints)
            else:
                self.raw = b""

    def numel(self):
        return math.prod(self.dims)

    def ints(self):
        if self.dtype != INT64:
            die(f"tensor {self.name}: expected int64, got data type {self.dtype}")
        return list(struct.unpack(f"<{len(self.raw) // 8}q", self.raw))


class Node:
    def __init__(self, buf):
        self.inputs, self.outputs, self.op, self.name, self.attrs = [], [], "", "", {}
        for f, _, v in fields(buf):
            if f == 1:
                self.inputs.append(bytes(v).decode())
            elif f == 2:
                self.outputs.append(bytes(v).decode())
            elif f == 3:
                self.name = bytes(v).decode()
            elif f == 4:
                self.op = bytes(v).decode()
            elif f == 5:
                name, val = "", None
                for g, wt, x in fields(v):
                    if g == 1:
                        name = bytes(x).decode()
                    elif g == 2:
                        val = struct.unpack("<f", x)[0]
                    elif g == 3:
                        val = signed(x)
                    elif g == 5:
                        val = Tensor(x)
                    elif g == 8:
                        val = (val or []) + packed_varints(wt, x)
                self.attrs[name] = val


def read_graph(path):
    with open(path, "rb") as f:
        data = memoryview(f.read())
    graph = None
    try:
        for f, wt, v in fields(data):
            if f == 7 and wt == 2:
                graph = v
        if graph is None:
            die(f"{path}: no graph (field 7 of ModelProto); not an ONNX model")
        nodes, inits = [], {}
        for f, wt, v in fields(graph):
            if f == 1:
                nodes.append(Node(v))
            elif f == 5:
                t = Tensor(v)
                inits[t.name] = t
    except (ValueError, IndexError, UnicodeDecodeError) as e:
        die(f"{path}: not a valid ONNX protobuf ({e})")
    return nodes, inits


def bert_names(layers, pooler):
    names = ["embeddings." + n for n in (
        "word_embeddings.weight", "position_embeddings.weight", "token_type_embeddings.weight",
        "LayerNorm.weight", "LayerNorm.bias")]
    for i in range(layers):
        for m in ("attention.self.query", "attention.self.key", "attention.self.value",
                  "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense",
                  "output.dense", "output.LayerNorm"):
            names += [f"encoder.layer.{i}.{m}.weight", f"encoder.layer.{i}.{m}.bias"]
    if pooler:
        names += ["pooler.dense.weight", "pooler.dense.bias"]
    return names


def transpose(t):
    """[in, out] float32 bytes -> [out, in] float32 bytes."""
    rows, cols = t.dims
    a = array.array("f")
    a.frombytes(bytes(t.raw))
    if sys.byteorder != "little":
        a.byteswap()
    out = array.array("f")
    for j in range(cols):
        out.extend(a[j::cols])
    if sys.byteorder != "little":
        out.byteswap()
    return out.tobytes()


def main():
    if len(sys.argv) != 3:
        die("usage: onnx_to_hf.py MODEL.onnx OUTDIR")
    path, outdir = sys.argv[1], sys.argv[2]
    nodes, inits = read_graph(path)
    producer = {o: n for n in nodes for o in n.outputs}
    consumers = {}
    for n in nodes:
        for i in n.inputs:
            consumers.setdefault(i, []).append(n)

    roots = [n for n in inits if n.endswith("embeddings.word_embeddings.weight")]
    if len(roots) != 1:
        die(f"{path}: expected one initializer named *embeddings.word_embeddings.weight, found {len(roots)}")
    prefix = roots[0][:-len("embeddings.word_embeddings.weight")]

    tensors = {}  # transformers name -> (dims, bytes)
    used = set()
    for name, t in inits.items():
        if name.startswith(prefix) and not name.startswith("onnx::"):
            if t.dtype != FLOAT:
                die(f"{path}: {name} has data type {t.dtype}, expected float32")
            tensors[name[len(prefix):]] = (t.dims, bytes(t.raw))
            used.add(name)
    # Linear weights: MatMul(x, W) -> Add(bias, .) with a named bias.
    for n in nodes:
        if n.op != "MatMul" or len(n.inputs) != 2 or n.inputs[1] not in inits:
            continue
        w = inits[n.inputs[1]]
        adds = [c for c in consumers.get(n.outputs[0], []) if c.op == "Add"]
        biases = [i for c in adds for i in c.inputs if i in inits and i.startswith(prefix) and i.endswith(".bias")]
        if len(adds) != 1 or len(biases) != 1:
            die(f"{path}: MatMul {n.name} with initializer {w.name}: expected one Add with a named bias after it, found {biases}")
        bias = biases[0]
        name = bias[len(prefix):-len("bias")] + "weight"
        if len(w.dims) != 2 or w.dtype != FLOAT or inits[bias].dims != [w.dims[1]]:
            die(f"{path}: {w.name} {w.dims} does not fit bias {bias} {inits[bias].dims} as [in, out]")
        if name in tensors:
            die(f"{path}: two MatMul weights map to {name}")
        tensors[name] = ([w.dims[1], w.dims[0]], transpose(w))
        used.add(w.name)
    # Every float tensor of the graph (scalars aside: exporters fold
    # constants such as the attention scale into initializers) must have
    # found its place.
    left = [n for n, t in inits.items() if n not in used and t.dtype == FLOAT and t.numel() > 1]
    if left:
        die(f"{path}: initializers not mapped to BertModel tensors: {', '.join(sorted(left))}")

    layers = 0
    while f"encoder.layer.{layers}.attention.self.query.bias" in tensors:
        layers += 1
    if layers == 0:
        die(f"{path}: no encoder.layer.0.attention.self.query.bias: not a BERT encoder")
    pooler = "pooler.dense.weight" in tensors
    want = bert_names(layers, pooler)
    missing = [n for n in want if n not in tensors]
    extra = sorted(set(tensors) - set(want))
    if missing or extra:
        die(f"{path}: not a BertModel with {layers} layers: missing {missing}, unexpected {extra}")

    vocab, hidden = tensors["embeddings.word_embeddings.weight"][0]
    inter = tensors["encoder.layer.0.intermediate.dense.bias"][0][0]
    for n in want:
        d = tensors[n][0]
        if n in ("embeddings.position_embeddings.weight", "embeddings.token_type_embeddings.weight"):
            ok = len(d) == 2 and d[1] == hidden
        elif n.endswith("intermediate.dense.weight"):
            ok = d == [inter, hidden]
        elif n.endswith("intermediate.dense.bias"):
            ok = d == [inter]
        elif n.endswith("output.dense.weight") and "attention" not in n:
            ok = d == [hidden, inter]
        elif n.endswith(".weight") and "LayerNorm" not in n and "embeddings" not in n:
            ok = d == [hidden, hidden]
        elif n != "embeddings.word_embeddings.weight":
            ok = d == [hidden]
        else:
            ok = True
        if not ok:
            die(f"{path}: {n} has shape {d}, which does not fit hidden {hidden}, intermediate {inter}")

    # Heads: Reshape(query/key/value output, [batch, seq, heads, head size]).
    def const_ints(name):
        if name in inits:
            return inits[name].ints()
        p = producer.get(name)
        if p is not None and p.op == "Constant" and isinstance(p.attrs.get("value"), Tensor):
            return p.attrs["value"].ints()
        return None

    heads = set()
    for i in range(layers):
        for m in ("query", "key", "value"):
            bias = f"{prefix}encoder.layer.{i}.attention.self.{m}.bias"
            add = [c for c in consumers.get(bias, []) if c.op == "Add"]
            reshapes = [c for a in add for c in consumers.get(a.outputs[0], []) if c.op == "Reshape"]
            if len(reshapes) != 1:
                die(f"{path}: layer {i} {m}: expected one Reshape into heads after the projection, found {len(reshapes)}")
            shape = reshapes[0].inputs[1]
            dims = const_ints(shape)
            if dims is None and producer.get(shape) is not None and producer[shape].op == "Concat":
                dims = [(const_ints(x) or [None])[0] for x in producer[shape].inputs]
            if not dims or len(dims) != 4 or dims[2] is None or dims[3] is None:
                die(f"{path}: layer {i} {m}: the head reshape's shape {dims} has no constant [heads, head size]")
            heads.add((dims[2], dims[3]))
    if len(heads) != 1:
        die(f"{path}: layers disagree on [heads, head size]: {sorted(heads)}")
    nh, hd = heads.pop()
    if nh * hd != hidden:
        die(f"{path}: {nh} heads of {hd} do not make hidden {hidden}")

    eps = {n.attrs.get("epsilon", 1e-5) for n in nodes if n.op == "LayerNormalization"}
    if len(eps) != 1:
        die(f"{path}: expected one LayerNormalization epsilon, found {sorted(eps)}")
    erfs = sum(1 for n in nodes if n.op == "Erf" and "intermediate" in n.name)
    if erfs != layers:
        die(f"{path}: expected the erf GELU in each of {layers} intermediate blocks, found {erfs} Erf nodes")

    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": vocab,
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": nh,
        "intermediate_size": inter,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": tensors["embeddings.position_embeddings.weight"][0][0],
        "type_vocab_size": tensors["embeddings.token_type_embeddings.weight"][0][0],
        "initializer_range": 0.02,
        "layer_norm_eps": float(f"{eps.pop():.6g}"),
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }
    header, off = {}, 0
    for n in sorted(tensors):
        d, raw = tensors[n]
        header[n] = {"dtype": "F32", "shape": d, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    header["__metadata__"] = {"format": "pt"}
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for n in sorted(tensors):
            f.write(tensors[n][1])
    with open(os.path.join(outdir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    print(f"onnx_to_hf: {os.path.basename(path)} -> {outdir}: BertModel, {layers} layers, hidden {hidden}, "
          f"{nh} heads of {hd}, intermediate {inter}, vocab {vocab}, {len(tensors)} tensors"
          + ("" if pooler else " (no pooler in the export)"))


if __name__ == "__main__":
    main()

"""GLUE task files and metrics for the peer run, as mixft reads and scores them.

The columns, headers and labels are those of mixft's task registry
(internal/data/glue.go): rows split on tab only (no quote handling), a
trailing carriage return dropped, the header's first field checked; label
ids in the registry's order. The metrics are GLUE's, computed with
scikit-learn and SciPy as Hugging Face's glue metric does.
"""

import os
from dataclasses import dataclass

LAST = -1


@dataclass(frozen=True)
class Layout:
    header_first: str  # "" when the file has no header line
    text_a: int
    text_b: int  # -1: single sentence
    label: int  # LAST: the last column
    min_cols: int


@dataclass(frozen=True)
class Task:
    name: str
    dir: str
    labels: tuple  # empty for regression
    primary: str
    layout: Layout

    @property
    def regression(self):
        return not self.labels


_PAIR = Layout("index", 1, 2, LAST, 4)
TASKS = {
    "cola": Task("cola", "CoLA", ("0", "1"), "mcc", Layout("", 3, -1, 1, 4)),
    "mrpc": Task("mrpc", "MRPC", ("0", "1"), "acc_and_f1", Layout("quality", 3, 4, 0, 5)),
    "sts-b": Task("sts-b", "STS-B", (), "corr", Layout("index", 7, 8, LAST, 10)),
    "rte": Task("rte", "RTE", ("entailment", "not_entailment"), "acc", _PAIR),
}


@dataclass(frozen=True)
class Example:
    text_a: str
    text_b: object  # str or None
    label: object  # class id (int) or score (float)


def read_split(task, split, data_dir):
    """Reads data_dir/<split>.tsv of task; raises ValueError naming file:line."""
    path = os.path.join(data_dir, split + ".tsv")
    lay = task.layout
    out = []
    with open(path, "rb") as f:
        data = f.read().decode("utf-8-sig")  # a leading BOM is dropped, as mixft does
    lines = data.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for no, line in enumerate(lines, 1):
        if line.endswith("\r"):
            line = line[:-1]
        cols = line.split("\t")
        if lay.header_first and no == 1:
            if cols[0].strip().lower() != lay.header_first:
                raise ValueError(f"{path}:1: expected a header line starting with {lay.header_first!r}")
            continue
        if len(cols) < lay.min_cols:
            raise ValueError(f"{path}:{no}: expected at least {lay.min_cols} tab-separated columns, got {len(cols)}")
        raw = cols[lay.label]
        if task.regression:
            label = float(raw)
        else:
            if raw not in task.labels:
                raise ValueError(f"{path}:{no}: label {raw!r} is not one of {task.labels}")
            label = task.labels.index(raw)
        out.append(Example(cols[lay.text_a], cols[lay.text_b] if lay.text_b >= 0 else None, label))
    return out


def score(task, preds, labels):
    """GLUE's dev metrics of predictions (class ids, or scores for STS-B)."""
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

    if task.name == "sts-b":
        p, s = float(pearsonr(preds, labels)[0]), float(spearmanr(preds, labels)[0])
        return {"pearson": p, "spearmanr": s, "corr": (p + s) / 2}
    if task.name == "cola":
        return {"mcc": float(matthews_corrcoef(labels, preds))}
    acc = float(accuracy_score(labels, preds))
    if task.name == "mrpc":
        f1 = float(f1_score(labels, preds))
        return {"acc": acc, "f1": f1, "acc_and_f1": (acc + f1) / 2}
    return {"acc": acc}

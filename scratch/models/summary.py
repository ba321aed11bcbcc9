"""`model.summary()`: Keras 3's table of layers, output shapes and parameter counts."""

from __future__ import annotations

from ..layers.core import InputLayer


def _bytes(n_params: int, itemsize: int) -> str:
    size = float(n_params * itemsize)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024
    return ""


def _shape(layer, model) -> str:
    shapes = []
    for node in model._nodes:
        if node.layer is layer:
            shapes += [t.shape for t in node.outputs]
    if not shapes:
        return "?"
    text = [str(s).replace(",)", ")") if len(s) != 1 else f"({s[0]},)" for s in shapes]
    return text[0] if len(text) == 1 else "[" + ", ".join(text) + "]"


def summary_text(model) -> str:
    names = [f"{l.name} ({type(l).__name__})" for l in (model.layers if model.built else [])]
    shapes = [_shape(l, model) for l in (model.layers if model.built else [])]
    cols = (max([33] + [len(n) + 3 for n in names]), max([24] + [len(s) + 3 for s in shapes]),
            15)

    def hline(left: str, mid: str, right: str, c: str = "━") -> str:
        return left + mid.join(c * w for w in cols) + right

    def row(a: str, b: str, c: str) -> str:
        return f"│ {a:<{cols[0] - 2}} │ {b:<{cols[1] - 2}} │ {c:>{cols[2] - 2}} │"
    lines = [f'Model: "{model.name}"', hline("┏", "┳", "┓"),
             f"┃ {'Layer (type)':<{cols[0] - 2}} ┃ {'Output Shape':<{cols[1] - 2}} ┃ "
             f"{'Param #':>{cols[2] - 2}} ┃", hline("┡", "╇", "┩")]
    sequential = type(model).__name__ == "Sequential"
    for layer, shape in zip(model.layers if model.built else [], shapes):
        if sequential and isinstance(layer, InputLayer):
            continue
        if isinstance(layer, InputLayer):
            shape = str(layer.batch_shape).replace(",)", ")")
        lines.append(row(f"{layer.name} ({type(layer).__name__})", shape,
                         f"{layer.count_params():,}"))
    lines.append(hline("└", "┴", "┘", "─"))
    total = model.count_params() if model.built else 0
    trainable = sum(w.size for w in model.trainable_weights) if model.built else 0
    itemsize = 8 if model.dtype == "float64" else 4
    lines += [f" Total params: {total:,} ({_bytes(total, itemsize)})",
              f" Trainable params: {trainable:,} ({_bytes(trainable, itemsize)})",
              f" Non-trainable params: {total - trainable:,} "
              f"({_bytes(total - trainable, itemsize)})"]
    return "\n".join(lines)

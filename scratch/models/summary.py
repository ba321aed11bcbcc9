"""`model.summary()`: Keras 3's table of layers, output shapes and parameter counts."""

from __future__ import annotations

from ..layers.core import InputLayer
from ..layers.subclassed import eager_output_shape


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
    if not shapes:  # no graph (a subclassed model): what the layer's eager build says
        return eager_output_shape(layer)
    text = [str(s).replace(",)", ")") if len(s) != 1 else f"({s[0]},)" for s in shapes]
    return text[0] if len(text) == 1 else "[" + ", ".join(text) + "]"


def _rows(model, depth: int, expand_nested: bool) -> list[tuple[str, str, str]]:
    """(label, output shape, parameter count) per layer; nested models' layers follow their
    model's row, indented, when `expand_nested`."""
    rows = []
    sequential = type(model).__name__ == "Sequential"
    for layer in model.layers if model.built else []:
        if sequential and isinstance(layer, InputLayer):
            continue
        shape = str(layer.batch_shape).replace(",)", ")") if isinstance(layer, InputLayer) \
            else _shape(layer, model)
        indent = "  " * (depth - 1) + "└ " if depth else ""
        rows.append((f"{indent}{layer.name} ({type(layer).__name__})", shape,
                     f"{layer.count_params():,}"))
        if expand_nested and hasattr(layer, "_nodes"):  # a model used as a layer
            rows += _rows(layer, depth + 1, expand_nested)
    return rows


def summary_text(model, expand_nested: bool = False) -> str:
    """Keras 3's summary table; `expand_nested` also lists the layers of nested models."""
    rows = _rows(model, 0, expand_nested)
    cols = (max([33] + [len(r[0]) + 3 for r in rows]),
            max([24] + [len(r[1]) + 3 for r in rows]), 15)

    def hline(left: str, mid: str, right: str, c: str = "━") -> str:
        return left + mid.join(c * w for w in cols) + right

    def row(a: str, b: str, c: str) -> str:
        return f"│ {a:<{cols[0] - 2}} │ {b:<{cols[1] - 2}} │ {c:>{cols[2] - 2}} │"

    lines = [f'Model: "{model.name}"', hline("┏", "┳", "┓"),
             f"┃ {'Layer (type)':<{cols[0] - 2}} ┃ {'Output Shape':<{cols[1] - 2}} ┃ "
             f"{'Param #':>{cols[2] - 2}} ┃", hline("┡", "╇", "┩")]
    lines += [row(*r) for r in rows]
    lines.append(hline("└", "┴", "┘", "─"))
    total = model.count_params() if model.built else 0
    trainable = sum(w.size for w in model.trainable_weights) if model.built else 0
    itemsize = 8 if model.dtype == "float64" else 4
    lines += [f" Total params: {total:,} ({_bytes(total, itemsize)})",
              f" Trainable params: {trainable:,} ({_bytes(trainable, itemsize)})",
              f" Non-trainable params: {total - trainable:,} "
              f"({_bytes(total - trainable, itemsize)})"]
    return "\n".join(lines)

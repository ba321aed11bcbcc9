"""Where Keras puts a subclassed model's (or layer's) weights in a weights file.

A functional or Sequential model saves its layers under "layers/<class name>"; a subclassed
one has no graph, so Keras 3 (`saving_lib._save_state`) walks its attributes instead:

* the object's own weights go to "<path>/vars" (a subclassed model has none; a subclassed
  layer has those of its `add_weight`s, trainable then not);
* then its attributes, public ones in alphabetical order, then private ones: a layer under
  "<path>/<attribute>", a list, tuple or dict as a container whose layers are named by their
  snake_case class name ("dense", "dense_1", ...; nested containers "container", ...);
  a subclassed model's `layers` is one of those attributes;
* an object already saved (reached by an earlier attribute) is skipped, though it still
  takes its name in a container.

scratch walks the attributes a user's class set after `super().__init__()` (the engine's own
are not Keras'), which gives tf.keras' paths for the same class (tests/test_subclassed.py).
"""

from __future__ import annotations

from ..layers.base import Layer
from ..utils.naming import to_snake_case


def is_subclassed(obj) -> bool:
    """Whether `obj` is a Keras-style subclassed layer or model (it defines `call`)."""
    from ..layers.subclassed import SubclassedLayer
    from ..models.subclassed import SubclassedModel

    return isinstance(obj, (SubclassedLayer, SubclassedModel))


def _join(*parts: str) -> str:
    return "/".join(p for p in parts if p)


def _name_key(name: str) -> str:
    return f"~{name}" if name.startswith("_") else name


def _attributes(obj) -> list[tuple[str, object]]:
    """The attributes Keras' walk visits, in its order: those the user's class set, and a
    model's `layers`."""
    internal = obj.__dict__.get("_internal_attrs", frozenset())
    attrs = {k: v for k, v in vars(obj).items() if k not in internal and not k.startswith("__")}
    from ..models.functional import Model

    if isinstance(obj, Model):
        attrs["layers"] = obj.layers
    return [(k, attrs[k]) for k in sorted(attrs, key=_name_key)]


def subclassed_entries(obj, path: str, visited: set | None = None) -> list:
    """The weight-file entries (weights_h5.Entry) of a subclassed layer or model at `path`
    and of everything under it, in Keras' order."""
    from .weights_h5 import Entry

    visited = set() if visited is None else visited
    visited.add(id(obj))
    own_params = obj.__dict__.get("_own_params", {})
    own_state = obj.__dict__.get("_own_state", {})
    names = list(own_params) + list(own_state)
    arrays = list(own_params.values()) + list(own_state.values())
    entries = [Entry(path, obj.name, names, arrays, obj)]
    for attr, value in _attributes(obj):
        entries += _child(value, _join(path, attr), visited)
    return entries


def _child(value, path: str, visited: set) -> list:
    if isinstance(value, Layer):
        return [] if id(value) in visited else _saveable(value, path, visited)
    if isinstance(value, (list, tuple, dict)):
        return _container(value, path, visited)
    return []


def _saveable(layer, path: str, visited: set) -> list:
    from ..models.functional import Model
    from .weights_h5 import _layer_entries, model_entries

    visited.add(id(layer))
    if is_subclassed(layer):
        return subclassed_entries(layer, path, visited)
    if isinstance(layer, Model):
        return model_entries(layer, path)
    return _layer_entries(layer, path)


def _container(container, path: str, visited: set) -> list:
    used: dict[str, int] = {}

    def unique(name: str) -> str:
        if name in used:
            used[name] += 1
            return f"{name}_{used[name]}"
        used[name] = 0
        return name

    items = list(container.values()) if isinstance(container, dict) else list(container)
    out = []
    for item in items:
        if isinstance(item, Layer):
            out += _child(item, _join(path, unique(to_snake_case(type(item).__name__))), visited)
        elif isinstance(item, (list, tuple, dict)):
            out += _container(item, _join(path, unique("container")), visited)
    return out

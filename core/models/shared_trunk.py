"""Two ONNX graphs that read the same input through the same trunk, run as one graph: the trunk once.

Why: the ICH and basal-ganglia CT models are exported from one trunk with two heads (120 of the BG graph's 129
weights are the ICH graph's), so scoring a series ran that trunk twice, about a third of a series' scoring time.
Merging the verified files at load time keeps each model's file, card and sha256 as they are, and computes
exactly what the two graphs compute: a node of the second graph is dropped only when the first already holds a
node of the same operator, attributes and (identical) inputs, and its outputs are read from that node instead.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

_NONDETERMINISTIC = ("RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli", "Dropout")


@dataclass(frozen=True)
class MergedGraph:
    model: object  # onnx.ModelProto
    shared_nodes: int  # nodes of the second graph computed once, by the first
    added_nodes: int  # nodes only the second graph has (its head)
    outputs: dict[str, str]  # the second graph's output name -> its name in the merged graph


def _initializer_key(t) -> tuple:
    from onnx import numpy_helper

    data = t.raw_data if t.raw_data else numpy_helper.to_array(t).tobytes()
    return t.data_type, tuple(t.dims), hashlib.sha1(data).hexdigest()


def _node_key(node, inputs: list[str]) -> tuple:
    return node.domain, node.op_type, tuple(inputs), tuple(a.SerializeToString() for a in node.attribute)


def _signature(graph) -> list[tuple]:
    inits = {t.name for t in graph.initializer}
    return [(i.name, i.type.SerializeToString()) for i in graph.input if i.name not in inits]


def merge_shared_trunk(first: str | Path, second: str | Path, prefix: str) -> MergedGraph | None:
    """`first` with `second`'s outputs added as `prefix + name`; None when the two share no computation.

    Refuses (ValueError) graphs that cannot be one graph: different inputs or operator sets."""
    import onnx
    from onnx import helper

    a, b = onnx.load(str(first)), onnx.load(str(second))
    if _signature(a.graph) != _signature(b.graph):
        raise ValueError(f"{Path(first).name} and {Path(second).name} read different inputs")
    if sorted((o.domain, o.version) for o in a.opset_import) != sorted((o.domain, o.version) for o in b.opset_import):
        raise ValueError(f"{Path(first).name} and {Path(second).name} use different operator sets")
    ga, gb = a.graph, b.graph
    taken = {t.name for t in ga.initializer} | {i.name for i in ga.input} | {o for n in ga.node for o in n.output}

    def fresh(name: str, inner: bool = True) -> str:
        new = f"{prefix}{'inner/' if inner else ''}{name}"  # the graph outputs alone get the plain prefix
        if new in taken:
            raise ValueError(f"name {new!r} exists in {Path(first).name}: choose another prefix")
        taken.add(new)
        return new

    rename = {i.name: i.name for i in gb.input}
    by_content = {_initializer_key(t): t.name for t in ga.initializer}
    for t in gb.initializer:
        key = _initializer_key(t)
        if key in by_content:
            rename[t.name] = by_content[key]
            continue
        copy = onnx.TensorProto()
        copy.CopyFrom(t)
        copy.name = fresh(t.name)
        rename[t.name] = copy.name
        ga.initializer.append(copy)
    known = {_node_key(n, list(n.input)): list(n.output) for n in ga.node if n.op_type not in _NONDETERMINISTIC}
    shared = added = 0
    for node in gb.node:  # ONNX keeps nodes in topological order: every input is renamed before it is read
        inputs = [rename.get(i, i) if i else "" for i in node.input]
        key = _node_key(node, inputs)
        if node.op_type not in _NONDETERMINISTIC and key in known:
            for out, same in zip(node.output, known[key]):
                rename[out] = same
            shared += 1
            continue
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        del copy.input[:]
        copy.input.extend(inputs)
        outputs = [fresh(o) if o else "" for o in node.output]
        del copy.output[:]
        copy.output.extend(outputs)
        copy.name = prefix + node.name if node.name else ""
        rename.update({o: n for o, n in zip(node.output, outputs) if o})
        if node.op_type not in _NONDETERMINISTIC:
            known[key] = outputs
        ga.node.append(copy)
        added += 1
    if shared == 0:
        return None
    out_names = {}
    for out in gb.output:
        name = fresh(out.name, inner=False)
        ga.node.append(helper.make_node("Identity", [rename[out.name]], [name], name=f"{prefix}output_{out.name}"))
        info = onnx.ValueInfoProto()
        info.CopyFrom(out)
        info.name = name
        ga.output.append(info)
        out_names[out.name] = name
    onnx.checker.check_model(a)
    return MergedGraph(a, shared, added, out_names)

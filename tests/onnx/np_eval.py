# SPDX-License-Identifier: MIT
"""A small NumPy evaluator for the ONNX ops libtinygrad exports (opset 13),
written from the ONNX operator specs. check_onnx.py uses it as a second,
independent consumer for models whose ops OpenCV 4.6 mishandles."""
import math

import numpy as np
from onnx import numpy_helper

_erf = np.vectorize(math.erf)


def _attrs(node):
    out = {}
    for a in node.attribute:
        if a.type == a.INT:
            out[a.name] = a.i
        elif a.type == a.FLOAT:
            out[a.name] = a.f
        elif a.type == a.INTS:
            out[a.name] = list(a.ints)
    return out


def _windows(x, kh, kw, sh, sw, pads, value):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])),
                constant_values=value)
    oh = (h + pads[0] + pads[2] - kh) // sh + 1
    ow = (w + pads[1] + pads[3] - kw) // sw + 1
    return xp, oh, ow


def _conv(x, w, b, a):
    kh, kw = w.shape[2], w.shape[3]
    sh, sw = a.get("strides", [1, 1])
    dh, dw = a.get("dilations", [1, 1])
    pads = a.get("pads", [0, 0, 0, 0])
    g = a.get("group", 1)
    ekh, ekw = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    xp, oh, ow = _windows(x, ekh, ekw, sh, sw, pads, 0.0)
    n, cin = x.shape[0], x.shape[1]
    cout = w.shape[0]
    y = np.zeros((n, cout, oh, ow), np.float64)
    cg, og = cin // g, cout // g
    for gi in range(g):
        xs = xp[:, gi * cg:(gi + 1) * cg]
        ws = w[gi * og:(gi + 1) * og]
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i * dh:i * dh + sh * oh:sh, j * dw:j * dw + sw * ow:sw]
                y[:, gi * og:(gi + 1) * og] += np.einsum("nchw,oc->nohw", patch, ws[:, :, i, j])
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def _pool(x, a, kind):
    kh, kw = a["kernel_shape"]
    sh, sw = a.get("strides", [1, 1])
    pads = a.get("pads", [0, 0, 0, 0])
    xp, oh, ow = _windows(x, kh, kw, sh, sw, pads, -np.inf if kind == "max" else 0.0)
    parts = [xp[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] for i in range(kh) for j in range(kw)]
    st = np.stack(parts)
    return st.max(0) if kind == "max" else st.mean(0)  # count_include_pad=1


def run(model, x):
    env = {t.name: numpy_helper.to_array(t).astype(np.float64)
           if t.data_type == 1 else numpy_helper.to_array(t) for t in model.graph.initializer}
    env[model.graph.input[0].name] = x.astype(np.float64)
    for node in model.graph.node:
        i = [env[n] if n else None for n in node.input]
        a = _attrs(node)
        op = node.op_type
        if op == "Conv":
            y = _conv(i[0], i[1], i[2] if len(i) > 2 else None, a)
        elif op == "MaxPool":
            y = _pool(i[0], a, "max")
        elif op == "AveragePool":
            assert a.get("count_include_pad") == 1 or not any(a.get("pads", [0]))
            y = _pool(i[0], a, "avg")
        elif op == "Gemm":
            b = i[1].T if a.get("transB") else i[1]
            y = i[0] @ b + (i[2] if len(i) > 2 else 0)
        elif op == "MatMul":
            y = np.matmul(i[0], i[1])
        elif op in ("Add", "Sub", "Mul", "Div", "Pow"):
            f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide,
                 "Pow": np.power}[op]
            y = f(i[0], i[1])
        elif op == "Relu":
            y = np.maximum(i[0], 0)
        elif op == "LeakyRelu":
            y = np.where(i[0] > 0, i[0], i[0] * a.get("alpha", 0.01))
        elif op == "Sigmoid":
            y = 1 / (1 + np.exp(-i[0]))
        elif op in ("Tanh", "Exp", "Log", "Sqrt", "Neg", "Identity"):
            y = {"Tanh": np.tanh, "Exp": np.exp, "Log": np.log, "Sqrt": np.sqrt,
                 "Neg": np.negative, "Identity": lambda v: v}[op](i[0])
        elif op in ("Softmax", "LogSoftmax"):
            ax = a.get("axis", -1)
            z = i[0] - i[0].max(axis=ax, keepdims=True)
            lse = np.log(np.exp(z).sum(axis=ax, keepdims=True))
            y = z - lse if op == "LogSoftmax" else np.exp(z - lse)
        elif op in ("ReduceMean", "ReduceMax"):
            axes = tuple(a["axes"]) if "axes" in a else None
            f = np.mean if op == "ReduceMean" else np.max
            y = f(i[0], axis=axes, keepdims=bool(a.get("keepdims", 1)))
        elif op == "Flatten":
            ax = a.get("axis", 1)
            y = i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)
        elif op == "Reshape":
            shape = [i[0].shape[k] if s == 0 else s for k, s in enumerate(i[1])]
            y = i[0].reshape(shape)
        elif op == "Transpose":
            y = np.transpose(i[0], a.get("perm"))
        elif op == "BatchNormalization":
            sh = (1, -1) + (1,) * (i[0].ndim - 2)
            eps = a.get("epsilon", 1e-5)
            y = ((i[0] - i[3].reshape(sh)) / np.sqrt(i[4].reshape(sh) + eps) *
                 i[1].reshape(sh) + i[2].reshape(sh))
        elif op in ("Max", "Min"):
            y = (np.maximum if op == "Max" else np.minimum)(i[0], i[1])
        elif op == "Abs":
            y = np.abs(i[0])
        elif op == "Erf":
            y = _erf(i[0])
        elif op == "Clip":
            y = np.minimum(np.maximum(i[0], i[1]), i[2])
        elif op == "GlobalAveragePool":
            y = i[0].mean(axis=(2, 3), keepdims=True)
        elif op == "Concat":
            y = np.concatenate(i, axis=a["axis"])
        elif op == "Slice":
            sl = [slice(None)] * i[0].ndim
            for st, en, ax, sp in zip(i[1], i[2], i[3], i[4]):
                sl[int(ax)] = slice(int(st), int(en), int(sp))
            y = i[0][tuple(sl)]
        elif op == "Pad":
            nd = i[0].ndim
            y = np.pad(i[0], [(int(i[1][d]), int(i[1][nd + d])) for d in range(nd)],
                       constant_values=float(i[2]))
        else:
            raise NotImplementedError(op)
        env[node.output[0]] = y
    return env[model.graph.output[0].name]

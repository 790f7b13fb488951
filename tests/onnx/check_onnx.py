#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Verify libtinygrad's ONNX export against real consumers.

For every model listed in DIR/manifest.txt (written by onnx_models):
onnx.checker.check_model(full_check=True) must pass, the preprocessing
metadata must be in metadata_props, and OpenCV's cv2.dnn.readNetFromONNX
must give libtinygrad's outputs to 1e-4 for the whole batch and for a
smaller batch (the batch dimension is symbolic), unless the manifest
marks the model as one OpenCV 4.6 cannot run. np_eval.py, a NumPy
evaluator written from the operator specs, must agree for every model.
usage: check_onnx.py DIR
"""
import sys

import os

import numpy as np
import onnx
import cv2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import np_eval  # noqa: E402

TOL = 1e-4


def main(d):
    failures = 0
    with open(f"{d}/manifest.txt") as f:
        lines = [l.split() for l in f if l.strip()]
    for name, n, c, h, w, k, source, opencv in lines:
        n, c, h, w, k = int(n), int(c), int(h), int(w), int(k)
        path = f"{d}/{name}.onnx"
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        props = {p.key: p.value for p in model.metadata_props}
        assert props.get("tg.input_scale") == "0.00392156862745098", props
        assert props.get("tg.input_mean") == "0.1307", props
        assert props.get("tg.input_std") == "0.3081", props
        assert [i.name for i in model.graph.input] == ["input"], model.graph.input
        assert [o.name for o in model.graph.output] == ["output"], model.graph.output
        dim0 = model.graph.input[0].type.tensor_type.shape.dim[0]
        assert dim0.dim_param == "N", dim0

        x = np.fromfile(f"{d}/{name}.input.bin", dtype=np.float32).reshape(n, c, h, w)
        want = np.fromfile(f"{d}/{name}.expected.bin", dtype=np.float32).reshape(n, k)
        net = cv2.dnn.readNetFromONNX(path) if opencv == "yes" else None
        if net is None:
            print(f"{name}: not run by OpenCV {cv2.__version__} (ops it does not support)")
        for batch in (n, 3) if net is not None else ():
            net.setInput(np.ascontiguousarray(x[:batch]))
            got = net.forward().reshape(batch, k)
            err = float(np.max(np.abs(got - want[:batch])))
            ok = err <= TOL
            print(f"{name}: batch {batch} ({source} images), OpenCV {cv2.__version__} vs "
                  f"libtinygrad max |diff| = {err:.3g} {'ok' if ok else 'FAIL'}")
            failures += not ok
        ref = np_eval.run(model, x)
        err = float(np.max(np.abs(ref - want)))
        print(f"{name}: NumPy reference evaluator max |diff| = {err:.3g} "
              f"{'ok' if err <= TOL else 'FAIL'}")
        failures += err > TOL
        ops = sorted({node.op_type for node in model.graph.node})
        print(f"{name}: checker ok (onnx {onnx.__version__}, opset "
              f"{model.opset_import[0].version}, ir {model.ir_version}); ops {' '.join(ops)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

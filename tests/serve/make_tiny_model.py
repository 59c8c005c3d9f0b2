#!/usr/bin/env python3
"""Write the tiny ONNX model the protocol test serves (no weights to fetch):

  OUTPUT0 = INPUT0 * 2 + 1   FP32  [-1, 4]
  OUTPUT1 = INPUT1 + INPUT1  INT64 [-1, 4]

Dim 0 is symbolic ("batch"), so avflow serve batches it.

usage: make_tiny_model.py OUT.onnx
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build():
    x = helper.make_tensor_value_info("INPUT0", TensorProto.FLOAT, ["batch", 4])
    i = helper.make_tensor_value_info("INPUT1", TensorProto.INT64, ["batch", 4])
    y = helper.make_tensor_value_info("OUTPUT0", TensorProto.FLOAT, ["batch", 4])
    z = helper.make_tensor_value_info("OUTPUT1", TensorProto.INT64, ["batch", 4])
    two = numpy_helper.from_array(np.array(2.0, np.float32), "two")
    one = numpy_helper.from_array(np.array(1.0, np.float32), "one")
    nodes = [
        helper.make_node("Mul", ["INPUT0", "two"], ["x2"], name="mul"),
        helper.make_node("Add", ["x2", "one"], ["OUTPUT0"], name="add"),
        helper.make_node("Add", ["INPUT1", "INPUT1"], ["OUTPUT1"], name="add_i"),
    ]
    g = helper.make_graph(nodes, "tiny", [x, i], [y, z], initializer=[two, one])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="avflow-test")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    onnx.save(build(), sys.argv[1])

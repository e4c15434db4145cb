"""Rebuild the seed's TF1 mobilenet_v2_style_hed graph and measure what freezing it weighs.

Why: the seed says the MobileNetV2 HED model is "1.6M"; its parameters (Keras count,
BN moving statistics included) are 293,973 floats = 1.18 MB. The seed's shipped model is
the frozen GraphDef ``hed_graph.pb`` written by its freeze_model.py, with an
``is_training`` placeholder, i.e. every BatchNorm is a tf.cond over two FusedBatchNorm
ops. This script rebuilds that graph with tf.compat.v1 raw ops (tf.layers is gone in
TF 2.16+), mirroring the seed's scopes and tf.layers' op structure, freezes it the same
way and prints the sizes.

    TF_CPP_MIN_LOG_LEVEL=3 python3 benchmarks/hed_seed_size.py
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf

v1 = tf.compat.v1
v1.disable_eager_execution()
v1.disable_resource_variables()      # TF 1.7: RefVariables + "/read" identities
v1.disable_control_flow_v2()          # TF 1.7: Switch/Merge tf.cond

init = v1.glorot_uniform_initializer()


def var(name, shape, initializer=init):
    return v1.get_variable(name, shape, initializer=initializer)


def batch_norm(x, training, name="batch_normalization"):
    """tf.layers.batch_normalization(fused) with a tensor `training`: a cond of two fused BNs."""
    c = int(x.shape[-1])
    with v1.variable_scope(None, default_name=name):
        gamma = var("gamma", [c], v1.ones_initializer())
        beta = var("beta", [c], v1.zeros_initializer())
        mean = var("moving_mean", [c], v1.zeros_initializer())
        variance = var("moving_variance", [c], v1.ones_initializer())

        def train():
            return v1.nn.fused_batch_norm(x, gamma, beta, epsilon=1e-3)

        def infer():
            return v1.nn.fused_batch_norm(x, gamma, beta, mean=mean, variance=variance, epsilon=1e-3,
                                          is_training=False)

        if isinstance(training, bool):
            y, _, _ = (train if training else infer)()
        else:
            y, _, _ = v1.cond(training, train, infer, name="cond")
        return y


def conv(x, filters, k, stride=1, bias=False, name="conv2d"):
    with v1.variable_scope(None, default_name=name):
        w = var("kernel", [k, k, int(x.shape[-1]), filters])
        y = tf.nn.conv2d(x, w, [1, stride, stride, 1], "SAME", name="Conv2D")
        if bias:
            y = tf.nn.bias_add(y, var("bias", [filters], v1.zeros_initializer()), name="BiasAdd")
        return y


def depthwise(x, stride):
    with v1.variable_scope("SeparableConv2d"):
        w = var("depthwise_weights", [3, 3, int(x.shape[-1]), 1])
        return tf.nn.depthwise_conv2d(x, w, [1, stride, stride, 1], "SAME", name="depthwise")


def deconv(x, factor):
    with v1.variable_scope(None, default_name="conv2d_transpose"):
        k = 2 * factor
        w = var("kernel", [k, k, 1, int(x.shape[-1])])
        b = var("bias", [1], v1.zeros_initializer())
        shape = tf.shape(x)   # tf.layers computes the output shape at run time
        out_shape = tf.stack([shape[0], shape[1] * factor, shape[2] * factor, 1])
        y = tf.nn.conv2d_transpose(x, w, out_shape, [1, factor, factor, 1], "SAME")
        return tf.nn.bias_add(y, b, name="BiasAdd")


def block_conv(x, filters, stride, training, scope):
    with v1.variable_scope(scope), v1.variable_scope("conv2d"):
        return tf.nn.relu(batch_norm(conv(x, filters, 3, stride), training))


def inverted_residual(x, filters, stride, training, scope, expansion=6):
    cin = int(x.shape[-1])
    with v1.variable_scope(scope):
        with v1.variable_scope("expansion_1x1_conv2d"):
            y = tf.nn.relu6(batch_norm(conv(x, cin * expansion, 1), training))
        with v1.variable_scope("depthwise_conv2d"):
            y = tf.nn.relu6(batch_norm(depthwise(y, stride), training))
        with v1.variable_scope("projection_1x1_conv2d"):
            y = batch_norm(conv(y, filters, 1), training)
        if stride == 1:
            if cin != filters:
                with v1.variable_scope("1x1_conv2d"):
                    x = batch_norm(conv(x, filters, 1), training)
            return y + x
        return y


def hed(image, training):
    with v1.variable_scope("hed"):
        with v1.variable_scope("mobilenet_v2"):
            net = block_conv(image, 3, 1, training, "block0_0")
            net = block_conv(net, 6, 1, training, "block0_1")
            dsn1 = net
            net = block_conv(net, 12, 2, training, "block0_2")
            net = inverted_residual(net, 6, 1, training, "block1_0", expansion=1)
            dsn2 = net
            net = inverted_residual(net, 12, 2, training, "block2_0")
            net = inverted_residual(net, 12, 1, training, "block2_1")
            dsn3 = net
            net = inverted_residual(net, 24, 2, training, "block3_0")
            for i in (1, 2):
                net = inverted_residual(net, 24, 1, training, f"block3_{i}")
            dsn4 = net
            net = inverted_residual(net, 48, 2, training, "block4_0")
            for i in (1, 2, 3):
                net = inverted_residual(net, 48, 1, training, f"block4_{i}")
            for i in (0, 1, 2):
                net = inverted_residual(net, 64, 1, training, f"block5_{i}")
            dsn5 = net
        sides = []
        for i, (t, f) in enumerate(zip((dsn1, dsn2, dsn3, dsn4, dsn5), (1, 2, 4, 8, 16))):
            with v1.variable_scope(f"dsn{i + 1}"):
                s = batch_norm(conv(t, 1, 1), training)
                sides.append(deconv(s, f) if f > 1 else s)
        with v1.variable_scope("dsn_fuse"):
            return conv(tf.concat(sides, 3), 1, 1, bias=True)


def frozen_size(training_is_placeholder: bool):
    graph = tf.Graph()
    with graph.as_default():
        image = v1.placeholder(tf.float32, (1, 256, 256, 3), name="hed_input")
        training = v1.placeholder(tf.bool, name="is_training") if training_is_placeholder else False
        out = hed(image, training)
        variables = v1.global_variables()
        n_params = sum(int(np.prod(v.shape)) for v in variables)
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            frozen = v1.graph_util.convert_variables_to_constants(sess, graph.as_graph_def(), [out.op.name])
    const_bytes = sum(len(n.attr["value"].tensor.tensor_content) for n in frozen.node if n.op == "Const")
    return n_params, len(frozen.SerializeToString()), len(frozen.node), const_bytes, out.op.name


if __name__ == "__main__":
    for placeholder in (True, False):
        n, size, nodes, const_bytes, out = frozen_size(placeholder)
        label = "is_training placeholder (seed's freeze_model.py)" if placeholder else "inference-only graph"
        print(f"{label}: {n:,} params ({n * 4 / 1e6:.3f} MB float32); frozen GraphDef {size:,} bytes "
              f"({size / 1e6:.2f} MB, {size / 2**20:.2f} MiB), {nodes} nodes, weight bytes {const_bytes:,}; "
              f"output {out}")

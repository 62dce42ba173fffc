"""Golden values for surety-infer's training steps (crates/infer/tests/it/training.rs).

An independent float64 numpy implementation of two SGD steps (momentum, weight decay, as
torch.optim.SGD defines them) of softmax cross-entropy training, for a small MLP and a small
CNN (two 3x3 convolutions with padding 1, ReLU and 2x2 max pooling, then a dense layer) on
8 synthetic 8x8 images. Initial parameters and pixels come from numpy's own seeded generator,
not from the engine, so the Rust test loads them from this file. Hyperparameters and the pixel
normalisation constants are the float32 values the engine uses, widened exactly.

    pip install numpy==2.* && python3 make_training_golden.py > training_golden.json
"""
import json
import numpy as np

f32 = lambda v: float(np.float32(v))
LR, MOMENTUM, DECAY = f32(0.1), f32(0.9), f32(1e-3)
MEAN, DEVIATION = f32(0.1307), f32(0.3081)
BATCH, SIDE, CLASSES = 8, 8, 10

rng = np.random.default_rng(20261201)
pixels = rng.integers(0, 256, size=(BATCH, SIDE * SIDE), dtype=np.uint8)
labels = rng.integers(0, CLASSES, size=BATCH)
x_flat = (pixels.astype(np.float64) / 255.0 - MEAN) / DEVIATION


def uniform(shape, fan_in):
    bound = 1.0 / np.sqrt(fan_in)
    return np.float32(rng.uniform(-bound, bound, size=shape)).astype(np.float64)


def softmax_cross_entropy(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    loss = np.mean(np.log(s[:, 0]) - shifted[np.arange(BATCH), labels])
    grad = e / s
    grad[np.arange(BATCH), labels] -= 1.0
    return loss, grad / BATCH


def conv_forward(x, w, b):
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.stack([padded[:, :, dy:dy + h, dx:dx + wd] for dy in range(k) for dx in range(k)], axis=2)
    # cols: [n, c, k*k, h, w]
    return np.einsum("nckhw,ock->nohw", cols, w.reshape(o, c, k * k)) + b[None, :, None, None], cols


def conv_backward(dy, cols, w, x_shape):
    n, c, h, wd = x_shape
    o, _, k, _ = w.shape
    dw = np.einsum("nohw,nckhw->ock", dy, cols).reshape(w.shape)
    db = dy.sum(axis=(0, 2, 3))
    dcols = np.einsum("nohw,ock->nckhw", dy, w.reshape(o, c, k * k))
    dpadded = np.zeros((n, c, h + 2, wd + 2))
    for index, (dy_, dx_) in enumerate((a, b) for a in range(k) for b in range(k)):
        dpadded[:, :, dy_:dy_ + h, dx_:dx_ + wd] += dcols[:, :, index]
    return dw, db, dpadded[:, :, 1:-1, 1:-1]


def pool_forward(x):
    n, c, h, w = x.shape
    windows = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
    return windows.max(axis=-1), windows.argmax(axis=-1)  # argmax: first maximum, row by row


def pool_backward(dy, index, shape):
    n, c, h, w = shape
    windows = np.zeros((n, c, h // 2, w // 2, 4))
    np.put_along_axis(windows, index[..., None], dy[..., None], axis=-1)
    return windows.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(shape)


def mlp_gradients(p):
    h_pre = x_flat @ p["layers.0.weight"].T + p["layers.0.bias"]
    h = np.maximum(h_pre, 0.0)
    logits = h @ p["layers.1.weight"].T + p["layers.1.bias"]
    loss, dlogits = softmax_cross_entropy(logits)
    dh = (dlogits @ p["layers.1.weight"]) * (h > 0)
    return loss, {
        "layers.0.weight": dh.T @ x_flat, "layers.0.bias": dh.sum(axis=0),
        "layers.1.weight": dlogits.T @ h, "layers.1.bias": dlogits.sum(axis=0),
    }


def cnn_gradients(p):
    x0 = x_flat.reshape(BATCH, 1, SIDE, SIDE)
    z0, cols0 = conv_forward(x0, p["conv.0.weight"], p["conv.0.bias"])
    a0 = np.maximum(z0, 0.0)
    q0, i0 = pool_forward(a0)
    z1, cols1 = conv_forward(q0, p["conv.1.weight"], p["conv.1.bias"])
    a1 = np.maximum(z1, 0.0)
    q1, i1 = pool_forward(a1)
    flat = q1.reshape(BATCH, -1)
    logits = flat @ p["dense.0.weight"].T + p["dense.0.bias"]
    loss, dlogits = softmax_cross_entropy(logits)
    grads = {"dense.0.weight": dlogits.T @ flat, "dense.0.bias": dlogits.sum(axis=0)}
    dq1 = (dlogits @ p["dense.0.weight"]).reshape(q1.shape)
    dz1 = pool_backward(dq1, i1, a1.shape) * (a1 > 0)
    grads["conv.1.weight"], grads["conv.1.bias"], dq0 = conv_backward(dz1, cols1, p["conv.1.weight"], q0.shape)
    dz0 = pool_backward(dq0, i0, a0.shape) * (a0 > 0)
    grads["conv.0.weight"], grads["conv.0.bias"], _ = conv_backward(dz0, cols0, p["conv.0.weight"], x0.shape)
    return loss, grads


def train(parameters, gradients, steps=2):
    velocity = {name: np.zeros_like(value) for name, value in parameters.items()}
    record = []
    for _ in range(steps):
        loss, grads = gradients(parameters)
        for name in parameters:
            velocity[name] = MOMENTUM * velocity[name] + (grads[name] + DECAY * parameters[name])
            parameters[name] = parameters[name] - LR * velocity[name]
        record.append({
            "loss": loss,
            "gradients": {n: g.ravel().tolist() for n, g in grads.items()},
            "parameters": {n: v.ravel().tolist() for n, v in parameters.items()},
            "velocities": {n: v.ravel().tolist() for n, v in velocity.items()},
        })
    return record


def case(widths_or_none, shapes, gradients):
    initial = {name: uniform(shape, fan_in) for name, shape, fan_in in shapes}
    return {
        "initial": {n: v.ravel().tolist() for n, v in initial.items()},
        "shapes": {name: list(shape) for name, shape, _ in shapes},
        "order": [name for name, _, _ in shapes],
        "steps": train(dict(initial), gradients),
    }


mlp = case(None, [
    ("layers.0.weight", (16, 64), 64), ("layers.0.bias", (16,), 64),
    ("layers.1.weight", (10, 16), 16), ("layers.1.bias", (10,), 16),
], mlp_gradients)
cnn = case(None, [
    ("conv.0.weight", (4, 1, 3, 3), 9), ("conv.0.bias", (4,), 9),
    ("conv.1.weight", (6, 4, 3, 3), 36), ("conv.1.bias", (6,), 36),
    ("dense.0.weight", (10, 24), 24), ("dense.0.bias", (10,), 24),
], cnn_gradients)
print(json.dumps({
    "made_by": "crates/infer/tests/golden/make_training_golden.py (float64 numpy " + np.__version__ + ")",
    "learning_rate": LR, "momentum": MOMENTUM, "weight_decay": DECAY,
    "pixels": pixels.ravel().tolist(), "labels": labels.tolist(), "side": SIDE,
    "mlp": mlp, "cnn": cnn,
}))

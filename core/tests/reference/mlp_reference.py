"""Reference loss and gradients for core/tests/reference_mlp.rs, computed with JAX.

Run:  python3 core/tests/reference/mlp_reference.py > core/tests/reference/mlp_reference.txt
Made with: Python 3 (venv), jax 0.10.2 (CPU), numpy 2.4.6; float32 throughout.

Inputs come from a closed formula (no PRNG) that the Rust test reproduces exactly:
    val(i, salt) = float32(((i * 37 + salt * 11) % 23) / 11.5 - 1.0)   (computed in f64)
Two cases:
  ce:  MLP 6 -> 8 -> 3, ReLU, batch 4, softmax cross-entropy (mean), labels [2, 0, 1, 2]
  mse: MLP 5 -> 4 -> 2, tanh, batch 3, mean squared error against a target
Weights are [in, out] (y = x @ W + b). Output: one line per tensor,
"name n v0 v1 ...", with %.9e values.
"""
import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_platforms", "cpu")


def val(n, salt):
    i = np.arange(n, dtype=np.int64)
    return (((i * 37 + salt * 11) % 23) / 11.5 - 1.0).astype(np.float32)


def mlp(params, x, act):
    (w1, b1), (w2, b2) = params
    return act(x @ w1 + b1) @ w2 + b2


def ce(params, x, labels):
    logits = mlp(params, x, jax.nn.relu)
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(logp[jnp.arange(x.shape[0]), labels])


def mse(params, x, target):
    pred = mlp(params, x, jnp.tanh)
    return jnp.mean((pred - target) ** 2)


def emit(name, a):
    a = np.asarray(a, dtype=np.float32).ravel()
    print(name, a.size, " ".join("%.9e" % v for v in a))


def case(tag, sizes, batch, loss_fn, extra):
    d0, d1, d2 = sizes
    x = jnp.asarray(val(batch * d0, 1).reshape(batch, d0))
    params = (
        (jnp.asarray(val(d0 * d1, 2).reshape(d0, d1)) * 0.5, jnp.asarray(val(d1, 3)) * 0.1),
        (jnp.asarray(val(d1 * d2, 4).reshape(d1, d2)) * 0.5, jnp.asarray(val(d2, 5)) * 0.1),
    )
    loss, grads = jax.value_and_grad(loss_fn)(params, x, extra)
    emit(tag + ".loss", [loss])
    (gw1, gb1), (gw2, gb2) = grads
    emit(tag + ".w1", gw1)
    emit(tag + ".b1", gb1)
    emit(tag + ".w2", gw2)
    emit(tag + ".b2", gb2)


case("ce", (6, 8, 3), 4, ce, jnp.asarray([2, 0, 1, 2]))
case("mse", (5, 4, 2), 3, mse, jnp.asarray(val(3 * 2, 6).reshape(3, 2)))

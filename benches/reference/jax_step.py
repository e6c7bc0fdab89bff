"""JAX jit reference for poolgrad's `autograd` bench: one training step (forward +
value_and_grad + SGD update) of MLP-S (784->256->10, ReLU, batch 64) and MLP-M
(784->1024->1024->10, ReLU, batch 256), softmax cross-entropy (mean over the batch),
SGD lr 0.01 -- the same model, batch, labels rule and update as
benches/benches/autograd.rs.

One thread:
    XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \
        taskset -c 0 python3 benches/reference/jax_step.py

Prints, per model, the median (and p10/p90) wall time of one step over many steps after
warm-up; each step blocks on its result.

Measured 2026-11-25 on this repo's AMD Zen 4 host (2 cores shared with other work, FP32
FMA peak 117.6 GFLOP/s per core), jax 0.10.2 / jaxlib 0.10.2 (PyPI CPU wheels), Python
3.11.7, pinned to core 0 with the XLA_FLAGS above, interleaved with poolgrad's
`POOLGRAD_PAR=0 RAYON_NUM_THREADS=1 taskset -c 0 cargo bench --bench autograd -- train_step`:

    run   JAX mlp_s   JAX mlp_m   poolgrad mlp_s   poolgrad mlp_m
    1     0.603 ms    26.51 ms    0.547 ms         25.5 ms
    2     0.620 ms    26.14 ms    0.549 ms         27.0 ms
    3     0.614 ms    27.03 ms    0.562 ms         27.3 ms
    4     0.625 ms    26.89 ms    0.557 ms         27.4 ms
    5     0.616 ms    27.69 ms    0.555 ms         27.1 ms

JAX columns: median of 2000 / 200 steps; poolgrad columns: criterion's point estimate
(10 samples, --warm-up-time 1 --measurement-time 4-5; its median in run 5: 0.553 / 27.17
ms). So on one Zen 4 core poolgrad's step is ~10% faster than JAX jit on MLP-S and on par
with it on MLP-M (both within ~1.3x of the FLOP floor: MLP-M's step is 2.45 GFLOP of
matmul, 20.8 ms at the 117.6 GFLOP/s peak). The issue's absolute targets (0.25 / 11 ms)
were set against JAX on a Zen 5 core with ~2.25x this peak.
"""

import os
import statistics
import sys
import time

import jax
import jax.numpy as jnp


def init(sizes, seed):
    key = jax.random.PRNGKey(seed)
    params = []
    for i, o in zip(sizes[:-1], sizes[1:]):
        key, kw, kb = jax.random.split(key, 3)
        wb = (6.0 / i) ** 0.5
        bb = 1.0 / i**0.5
        params.append(
            (
                jax.random.uniform(kw, (i, o), jnp.float32, -wb, wb),
                jax.random.uniform(kb, (o,), jnp.float32, -bb, bb),
            )
        )
    return params


def loss_fn(params, x, labels):
    h = x
    for j, (w, b) in enumerate(params):
        h = h @ w + b
        if j + 1 < len(params):
            h = jax.nn.relu(h)
    logp = jax.nn.log_softmax(h)
    return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=1))


@jax.jit
def step(params, x, labels):
    loss, grads = jax.value_and_grad(loss_fn)(params, x, labels)
    params = jax.tree_util.tree_map(lambda p, g: p - 0.01 * g, params, grads)
    return params, loss


def bench(name, sizes, batch, steps):
    params = init(sizes, 42)
    x = jax.random.normal(jax.random.PRNGKey(7), (batch, sizes[0]), jnp.float32)
    labels = jnp.array([(i * 7 + 3) % sizes[-1] for i in range(batch)], jnp.int32)
    for _ in range(max(10, steps // 10)):
        params, loss = step(params, x, labels)
    jax.block_until_ready(params)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        params, loss = step(params, x, labels)
        jax.block_until_ready((params, loss))
        times.append(time.perf_counter() - t0)
    times.sort()
    med = statistics.median(times) * 1e3
    p10 = times[len(times) // 10] * 1e3
    p90 = times[len(times) * 9 // 10] * 1e3
    print(f"{name}: median {med:.3f} ms  (p10 {p10:.3f}, p90 {p90:.3f}; {steps} steps)")
    sys.stdout.flush()


if __name__ == "__main__":
    import jaxlib

    print(f"jax {jax.__version__}, jaxlib {jaxlib.__version__}, "
          f"python {sys.version.split()[0]}, XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}")
    print(f"devices {jax.devices()}, affinity {sorted(os.sched_getaffinity(0))}")
    reps = int(os.environ.get("REPS", "1"))
    for _ in range(reps):
        bench("mlp_s", [784, 256, 10], 64, 2000)
        bench("mlp_m", [784, 1024, 1024, 10], 256, 200)

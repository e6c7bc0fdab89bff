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

Compare with poolgrad's `benches/examples/step_time.rs`, which times the same step the
same way. On a shared machine, run the two at once, each pinned to its own core, and swap
the cores between rounds, so both see the same noise:

    XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" REPS=2 \
        taskset -c 1 python3 benches/reference/jax_step.py &
    POOLGRAD_PAR=0 taskset -c 0 ./target/release/examples/step_time --reps 3

Measured figures (jax 0.10.2 / jaxlib 0.10.2, PyPI CPU wheels, Python 3.11.7) are in
PERFORMANCE.md, section 4: on the 2-vCPU AMD EPYC Zen 5 host (2026-12-02), one thread,
poolgrad's median step is 0.33 ms against JAX's 0.38-0.42 on MLP-S and 15.2-15.7 ms
against 17.9-20.0 ms on MLP-M; on two threads poolgrad is faster in every round (MLP-M
medians 8.4-10.5 ms against 8.8-18.6). Section 6 keeps the earlier hosts' figures.
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

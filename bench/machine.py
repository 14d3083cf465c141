"""Facts about the host, and its float32 matmul peak measured in the same process as the bench."""

from __future__ import annotations

import os
import platform
import time
from importlib import metadata


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("jax", "jaxlib", "flax", "optax", "numpy", "torch", "gymnasium", "gymnax"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def matmul_peak_gflops(n: int = 2048, repeats: int = 7) -> float:
    """Best-of-`repeats` GFLOP/s of one jitted (n, n) @ (n, n) float32 matmul (2 n^3 flops), all cores."""
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
    matmul = jax.jit(lambda x, y: jnp.dot(x, y, precision=jax.lax.Precision.HIGHEST))
    matmul(a, b).block_until_ready()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a, b).block_until_ready()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def describe(torch_threads: int | None, peak_gflops: float) -> dict:
    import jax

    return {
        "cpu_model": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()),
        "jax_backend": jax.default_backend(),
        "jax_devices": [str(d) for d in jax.devices()],
        "torch_threads": torch_threads,
        "versions": versions(),
        "matmul_peak_gflops": round(peak_gflops, 2),
    }

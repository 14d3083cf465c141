"""Parity tests run JAX and torch in one process; `parity_tests.checks` sets float32 precision
(JAX matmuls at "highest", torch default dtype float32, one torch thread) on import."""

import jax

jax.config.update("jax_default_matmul_precision", "highest")
jax.config.update("jax_enable_x64", False)

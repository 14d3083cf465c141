"""`python -m bench`: the same ensemble-training workload through PyTorch and JAX implementations, side by side.

Modules: machine (host facts and the measured matmul peak), workload (data, FLOP count, timing
rules), impls_torch and impls_jax (one function per row kind), collection (gymnasium vs JAX data
collection rows), report (JSON, Markdown, PNG).
"""

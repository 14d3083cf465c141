"""JAX's persistent compilation cache, set up so that this project's small programs are cached.

A training program compiles in a few seconds; with the cache on, a second process that builds the
same program (same shapes, config, JAX version and XLA flags) loads the executable from disk
instead. JAX by default only caches programs that took over a second to compile, so the
thresholds are lowered to cache everything.
"""

from __future__ import annotations

import os

CACHE_DIR_ENV = "WM_JAX_CACHE_DIR"


def default_cache_dir() -> str:
    """$WM_JAX_CACHE_DIR, else ~/.cache/wm_jax (under $XDG_CACHE_HOME when set)."""
    if os.environ.get(CACHE_DIR_ENV):
        return os.environ[CACHE_DIR_ENV]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "wm_jax")


def enable_persistent_cache(directory: str | os.PathLike | None = None) -> str:
    """Turn on JAX's on-disk compilation cache in `directory` (default: `default_cache_dir()`).

    Safe to call more than once and before or after other JAX use. Returns the directory used.
    """
    import jax

    path = os.fspath(directory) if directory is not None else default_cache_dir()
    os.makedirs(path, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path


# XLA options for programs that only initialise a run (parameters from PRNG keys, zeroed optimizer
# state). Their threefry hashing unrolls into long integer code that LLVM's default -O3 pipeline takes
# 1-2 s to compile on a 2-core CPU; level 1 compiles it in about half that and runs it as fast for a
# once-per-run program. The bits are the same: integer hashing is exact at any level, and level 1
# keeps the float multiply-add contraction of the uniform draw (level 0 does not, so it would change
# the initial weights; tests/training/test_program.py checks the initial weights against a default compile).
INITIALIZATION_COMPILER_OPTIONS = {"xla_backend_optimization_level": 1}


def compile_initialization(function, *args):
    """`function` compiled for `args`' shapes as a once-per-run program: with `INITIALIZATION_COMPILER_OPTIONS`.

    `function` may already be jitted (it has `.lower`), with its static arguments among `args`; a plain
    function is jitted here.
    """
    import jax

    jitted = function if hasattr(function, "lower") else jax.jit(function)
    return jitted.lower(*args).compile(INITIALIZATION_COMPILER_OPTIONS)


# XLA flags that compile the same programs in about two thirds of the time on a CPU: XLA's classic
# loop-fusion emitter instead of its newer MLIR one, and LLVM's level 1 instead of 3 (which keeps the
# float multiply-add contraction; level 0 does not). Compiling is most of the test suite's time, so it
# runs under them (conftest.py). Training and planning give the same bits under them as under the
# defaults; SAC's updates differ in about the seventh digit, as on another CPU (tests/test_compilation.py
# compares whole commands under both). Every test passes under both.
QUICK_COMPILE_XLA_FLAGS = ("--xla_cpu_use_fusion_emitters=false", "--xla_backend_optimization_level=1")


def with_quick_compile(xla_flags: str) -> str:
    """`xla_flags` (an XLA_FLAGS value) with `QUICK_COMPILE_XLA_FLAGS` added where it does not set them."""
    flags = xla_flags.split()
    given = {flag.split("=")[0] for flag in flags}
    return " ".join(flags + [flag for flag in QUICK_COMPILE_XLA_FLAGS if flag.split("=")[0] not in given])

"""Parity proof: the JAX world models (`wm_jax`) and the PyTorch reference (`wm_torch_ref`) are the
same model to float precision.

`checks` holds the comparisons (used by the pytest tests and the report), `tolerances` every
tolerance with its justification, `report` the `python -m parity_tests` table.
"""

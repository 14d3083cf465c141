"""What `pip install` installs: the library and the reference, not the repository's folders."""


def test_pip_installs_the_library_and_the_reference_but_not_bench_or_parity_tests():
    """bench/ and parity_tests/ are repository folders: as top-level site-packages they would clash."""
    import pathlib
    import tomllib

    import setuptools

    root = pathlib.Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = setuptools.find_packages(where=str(root), include=include)
    assert {"wm_jax", "wm_jax.envs", "wm_jax.data", "wm_jax.evaluation", "wm_torch_ref"} <= set(packages)
    assert not {p.split(".")[0] for p in packages} & {"bench", "parity_tests", "tests", "scripts"}

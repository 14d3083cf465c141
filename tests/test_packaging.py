"""What `pip install` installs: the library and the reference, not the repository's folders; the wheel runs."""

import pathlib

import pytest


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


@pytest.mark.slow  # builds the package and runs the demo from the wheel
def test_the_wheel_installs_into_a_fresh_environment_and_runs_from_there(tmp_path):
    """`python -m build` makes an sdist and a wheel; the wheel, installed into a new virtual environment,
    gives `wm-jax --version` and `wm-jax demo --quick` from its own files, not from the checkout.

    The new environment borrows the test environment's dependencies through a .pth path (installing jax,
    torch and the rest again would take minutes and a network); that path does not run the checkout's
    editable-install hook, so `wm_jax` resolves to the wheel's copy alone."""
    import glob
    import os
    import subprocess
    import sys
    import sysconfig

    root = pathlib.Path(__file__).resolve().parents[1]
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(root)],
        check=True,
        capture_output=True,
    )
    wheels, sdists = glob.glob(str(dist / "*.whl")), glob.glob(str(dist / "*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, os.listdir(dist)
    env_dir = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (pathlib.Path(site) / "borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", wheels[0]],
        check=True,
        capture_output=True,
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run(
        [str(python), "-c", "import wm_jax; print(wm_jax.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    ).stdout.strip()
    assert where.startswith(site), f"wm_jax imported from {where}, not from the wheel in {site}"
    script = env_dir / "bin" / "wm-jax"
    version = subprocess.run([str(script), "--version"], check=True, capture_output=True, text=True, env=env)
    from wm_jax import __version__

    assert version.stdout.strip() == f"wm-jax {__version__}"
    demo = subprocess.run(
        [str(script), "demo", "--quick", "--out", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=600,
    )
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert (tmp_path / "demo" / "metrics.json").exists()

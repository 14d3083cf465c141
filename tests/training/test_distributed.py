"""Two processes on localhost train one sharded ensemble together (jax.distributed, CPU, gloo).

Each process shows 2 CPU devices; the mesh spans all 4, members split across the processes and
each minibatch's rows across a process's two devices (--data-shards 2). The result must equal a
single process on 4 devices bit for bit (the same partitioning and reduction order) and a single
device to float32 round-off. Only process 0 writes files.
"""

import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

# Real processes (two of them joined by jax.distributed): each starts JAX and compiles its own programs.
pytestmark = pytest.mark.slow

WM_JAX = [sys.executable, "-m", "wm_jax"]
TRAIN = ["train", "--model", "ensemble", "--members", "5", "--epochs", "3", "--seed", "1"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def clean_env(**extra) -> dict:
    """No launcher variables JAX would auto-detect, no proxies for the localhost coordinator."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.lower().endswith("_proxy") or k.startswith(("SLURM_", "OMPI_", "JAX_", "XLA_FLAGS")))
    }
    return {**env, **extra}


def run_processes(commands: list[list[str]], env: dict, timeout: float = 300) -> list[subprocess.CompletedProcess]:
    """Start every command, wait for all; any failure or the deadline kills the rest (no hangs)."""
    procs = [
        subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        for c in commands
    ]
    deadline = time.time() + timeout
    while any(p.poll() is None for p in procs):
        if any(p.poll() not in (None, 0) for p in procs) or time.time() > deadline:
            for p in procs:
                if p.poll() is None:
                    os.killpg(p.pid, 9)
            break
        time.sleep(0.1)
    results = []
    for c, p in zip(commands, procs):
        out, err = p.communicate()
        results.append(subprocess.CompletedProcess(c, p.returncode, out, err))
    return results


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("dist") / "cartpole.npz"
    subprocess.run(
        [*WM_JAX, "collect", "--out", str(path), "--transitions", "600"],
        check=True,
        env=clean_env(),
        capture_output=True,
    )
    return path


def params(directory) -> dict:
    with np.load(directory / "params.npz") as archive:
        return {name: archive[name] for name in archive.files}


def test_two_processes_train_one_ensemble_like_one_process(data_file, tmp_path):
    outs = [tmp_path / f"process{i}" for i in range(2)]
    for _attempt in range(3):  # the free port can be taken between probing and binding: try another
        port = free_port()
        commands = [
            [
                *WM_JAX,
                *TRAIN,
                "--data",
                str(data_file),
                "--out",
                str(out),
                "--data-shards",
                "2",
                "--coordinator",
                f"127.0.0.1:{port}",
                "--num-processes",
                "2",
                "--process-id",
                str(i),
            ]
            for i, out in enumerate(outs)
        ]
        results = run_processes(commands, clean_env(JAX_NUM_CPU_DEVICES="2"))
        if all(r.returncode == 0 for r in results) or "Failed to add port" not in results[0].stderr:
            break
    for r in results:
        assert r.returncode == 0, r.stderr[-3000:]
    assert (outs[0] / "params.npz").is_file() and (outs[0] / "metrics.json").is_file()
    assert not outs[1].exists(), "process 1 wrote files"

    four = tmp_path / "four_devices"
    single = [
        subprocess.run(
            [*WM_JAX, *TRAIN, "--data", str(data_file), "--out", str(out), *flags],
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        for out, flags in ((four, ["--devices", "4", "--data-shards", "2"]), (tmp_path / "one", ["--devices", "1"]))
    ]
    for r in single:
        assert r.returncode == 0, r.stderr[-3000:]
    together, alone, one = params(outs[0]), params(four), params(tmp_path / "one")
    assert together.keys() == alone.keys() == one.keys()
    for name in together:
        np.testing.assert_array_equal(together[name], alone[name], err_msg=name)
        np.testing.assert_allclose(together[name], one[name], rtol=1e-4, atol=1e-6, err_msg=name)


def test_distributed_flags_are_checked(data_file, tmp_path):
    for flags, message in (
        (["--num-processes", "2"], "need --coordinator"),
        (["--coordinator", "localhost", "--num-processes", "2"], "HOST:PORT"),
        (["--coordinator", "127.0.0.1:1", "--num-processes", "2", "--process-id", "2"], "0..1"),
        (["--cluster"], "--cluster found no cluster launcher's settings"),
    ):
        r = subprocess.run(
            [*WM_JAX, *TRAIN, "--data", str(data_file), "--out", str(tmp_path / "x"), *flags],
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr

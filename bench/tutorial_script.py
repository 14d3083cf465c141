"""The tutorial's workflow as one PyTorch script, the baseline of the latency section: load the
transitions, train the ensemble of 5 with the tutorial's loop (one shared permutation per epoch,
members one after another, Adam, MSE, batch 32), score the held-out file, save the weights.

    python bench/tutorial_script.py TRAIN.npz HELD_OUT.npz OUT_DIR [EPOCHS]

It uses the reference's faithful copy of the tutorial's classes (`wm_torch_ref.tutorial`) and
nothing of wm_jax, so its wall time is what a user of the tutorial's code waits for.
"""

import os
import sys

import numpy as np
import torch

from wm_torch_ref.tutorial import EnsembleWorldModel, mse, train_ensemble


def load(path):
    with np.load(path) as archive:
        # The tutorial feeds the action index as one float column.
        return (
            torch.as_tensor(archive["states"]),
            torch.as_tensor(archive["actions"], dtype=torch.float32)[:, None],
            torch.as_tensor(archive["next_states"]),
        )


def main(train_path, held_out_path, out, epochs=100):
    torch.manual_seed(0)
    train, held_out = load(train_path), load(held_out_path)
    ensemble = EnsembleWorldModel(4, 1, num_models=5)
    train_ensemble(ensemble, *train, epochs=int(epochs))
    scores = [mse(model, *held_out) for model in ensemble.models]
    os.makedirs(out, exist_ok=True)
    torch.save(ensemble.state_dict(), os.path.join(out, "ensemble.pt"))
    print(f"held-out MSE per member: {', '.join(f'{s:.3e}' for s in scores)}")


if __name__ == "__main__":
    main(*sys.argv[1:])

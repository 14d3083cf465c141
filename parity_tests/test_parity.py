"""JAX vs the PyTorch reference, check by check (issue #3). Each test asserts that every
`Comparison` row of one check passes; its docstring says what breaking it looks like.

Statistical tests use fixed seeds, so they are deterministic; their docstrings give the
false-failure rate a fresh seed would have under the null hypothesis.
"""

import dataclasses

import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wm_jax.config import ModelConfig, tutorial_train_config
from wm_jax.models import ModelSpec

from . import checks
from .checks import CARTPOLE, CARTPOLE_ENSEMBLE, CARTPOLE_REGULARIZED
from .report import format_table

CARTPOLE_SPECS = {"simple": CARTPOLE, "regularized": CARTPOLE_REGULARIZED, "ensemble": CARTPOLE_ENSEMBLE}
FEW = settings(max_examples=10, deadline=None)


@st.composite
def specs(draw):
    """Any shape the reference supports: state/action dims, hidden (h, 32), any of the three kinds."""
    kind = draw(st.sampled_from(["simple", "regularized", "ensemble"]))
    config = ModelConfig(
        kind=kind,
        hidden_sizes=(draw(st.integers(1, 64)), 32),
        dropout_rate=0.2 if kind == "regularized" else 0.0,
        members=draw(st.integers(2, 4)) if kind == "ensemble" else 1,
    )
    return ModelSpec(draw(st.integers(1, 8)), draw(st.integers(1, 4)), config)


def assert_all_pass(rows):
    assert rows, "a check that compares nothing passes vacuously"
    failed = [row for row in rows if not row.passed]
    assert not failed, "parity failures:\n" + format_table(failed)


# 1. Architecture


@pytest.mark.parametrize("kind", CARTPOLE_SPECS)
def test_cartpole_architectures_match(kind):
    """Layers fc1..fc3 <-> hidden[0], hidden[1], head with transposed shapes; 2596 parameters per
    CartPole model (12980 for the ensemble of 5); dropout 0.2 only in the regularized model.
    Broken: a different hidden size, a missing bias, dropout 0.3 on one side -> a row fails."""
    spec = CARTPOLE_SPECS[kind]
    rows = checks.architecture(f"cartpole/{kind}", spec, expected_params=checks.TUTORIAL_CARTPOLE_PARAMS if kind != "ensemble" else None)
    assert_all_pass(rows)
    assert rows[0].jax == checks.TUTORIAL_CARTPOLE_PARAMS * spec.config.members


@FEW
@given(specs(), st.integers(0, 2**16))
def test_architectures_match_for_any_shape(spec, seed):
    """As above for drawn state/action/hidden sizes (action_dim up to 4) and member counts."""
    assert_all_pass(checks.architecture("drawn", spec, seed))


# 2. Weight transfer


@pytest.mark.parametrize("kind", CARTPOLE_SPECS)
def test_weight_transfer_is_bit_exact_for_cartpole(kind):
    """torch -> Flax -> torch and Flax -> torch -> Flax reproduce every bit, for single models and
    the ensemble's own state_dict. Broken: a float64 detour or a rounding cast changes bits;
    a bridge that forgets the transpose gives (out, in) kernels and the structure row fails."""
    assert_all_pass(checks.weight_transfer(f"cartpole/{kind}", CARTPOLE_SPECS[kind]))


@FEW
@given(specs(), st.integers(0, 2**16))
def test_weight_transfer_is_bit_exact_for_any_shape(spec, seed):
    """As above for drawn shapes, including square layers (h = 32) where a missing transpose
    keeps the shapes: that case is caught by the forward test below."""
    assert_all_pass(checks.weight_transfer("drawn", spec, seed))


# 3. Initialisation


@pytest.mark.parametrize("name", ["cartpole", "other"])
def test_init_distribution_matches_torch_default(name):
    """KS tests per layer/parameter over 200 fresh models per side (JAX vs torch, and each vs
    U(+-1/sqrt(fan_in))). Broken: lecun_normal kernels, zero biases, or a bound of 1/fan_in ->
    p ~ 0. False-failure rate under the null: <= 18 x 1e-3 = 1.8% per fresh seed (seeds fixed)."""
    spec = CARTPOLE if name == "cartpole" else checks.OTHER_SPECS["pendulum-like 3+1, h=16"]
    assert_all_pass(checks.init_distribution(name, spec))


# 4. Forward, loss, gradients


@pytest.mark.parametrize("kind", CARTPOLE_SPECS)
def test_forward_loss_and_gradients_match_on_cartpole(kind):
    """Same weights, same CartPole batch: eval outputs (every member and the ensemble mean),
    MSE and every gradient agree to float32 rounding. Broken: a perturbed weight, a missing
    transpose in the bridge, members in a different order -> differences of O(1e-2) or more."""
    assert_all_pass(checks.forward_loss_gradients(f"cartpole/{kind}", CARTPOLE_SPECS[kind], checks.train_data()))


@FEW
@given(specs(), st.integers(0, 2**16), st.integers(1, 40))
def test_forward_loss_and_gradients_match_for_any_shape(spec, seed, batch):
    """As above for drawn shapes on standard-normal data (batch sizes 1..40)."""
    data = checks.random_transitions(spec, batch, seed)
    assert_all_pass(checks.forward_loss_gradients("drawn", spec, data, seed))


# 5. Optimizer


@pytest.mark.parametrize("weight_decay", [0.0, 1e-4])
def test_adam_steps_match_torch_adam(weight_decay):
    """20 Adam steps on identical CartPole batches, with and without torch's coupled weight decay.
    Broken: see the adamw test below; a different lr, b1, b2 or eps also fails."""
    assert_all_pass(checks.adam_steps("cartpole", CARTPOLE, checks.train_data(), weight_decay))


def test_adam_check_rejects_decoupled_weight_decay():
    """Sensitivity: optax.adamw is not torch's Adam(weight_decay=); the check must see it."""
    rows = checks.adam_steps("cartpole", CARTPOLE, checks.train_data(), 1e-4, jax_optimizer=optax.adamw(1e-3, weight_decay=1e-4))
    assert not all(row.passed for row in rows), "adam_steps cannot tell adamw from coupled L2"


@FEW
@given(specs(), st.integers(0, 2**16), st.sampled_from([0.0, 1e-4]))
def test_adam_steps_match_for_any_shape(spec, seed, weight_decay):
    """5 Adam steps for drawn shapes (single-model version of the spec)."""
    data = checks.random_transitions(spec, 64, seed)
    assert_all_pass(checks.adam_steps("drawn", spec, data, weight_decay, steps=5, seed=seed))


# 6. Training run


def test_tutorial_training_run_matches():
    """Same initial weights and minibatch order, 100 epochs on 1000 CartPole transitions: loss
    curves and final train/eval MSE agree to float32 drift (measured 5e-4 rel). Broken: another
    lr, a dropped partial batch, adamw, or the epoch loss averaged differently -> percent-level."""
    rows = checks.training_run("cartpole/simple", CARTPOLE, tutorial_train_config("simple"), checks.train_data(), checks.eval_data())
    assert_all_pass(rows)


# 7. Independent runs


@pytest.mark.parametrize("kind", ["simple", "regularized"])
def test_independent_runs_are_indistinguishable(kind):
    """Each side with its own init, shuffling and (regularized) dropout masks, 6 seeds each:
    eval MSEs pass a two-sided Mann-Whitney U test at alpha 0.01 (false-failure rate 1% per
    fresh seed set; seeds fixed). The regularized case is the dropout training run in
    distribution. Broken: lecun init or lr 1e-2 on one side -> all 6 runs shift, p = 0.002."""
    spec = CARTPOLE if kind == "simple" else CARTPOLE_REGULARIZED
    data = checks.cartpole_transitions(checks.INDEPENDENT_TRANSITIONS, 0)
    rows = checks.independent_runs(f"cartpole/{kind}", spec, checks.independent_config(kind), data, checks.eval_data(), checks.INDEPENDENT_SEEDS)
    assert_all_pass(rows)


# 8. Dropout (eval mode is covered by the forward test of the regularized model)


def test_dropout_layers_drop_at_the_tutorial_rate_and_rescale():
    """200k activations through each side's dropout layer in train mode: the zero fraction
    passes a binomial test against 0.2 (alpha 1e-3 each side) and kept values are exactly
    1/(1-0.2). Broken: rate 0.25 -> p ~ 0; no rescaling -> kept values 1.0."""
    assert_all_pass(checks.dropout_layer("cartpole/regularized", CARTPOLE_REGULARIZED))


def test_dropout_train_mode_outputs_match_in_distribution():
    """Same weights and input, 20k train-mode forward passes per side: two-sample KS per output
    dimension at alpha 1e-3 (false-failure rate <= 0.4%). Broken: one mask shared by both
    layers, dropout on one layer only, or rate 0.3 -> the output spread changes, p ~ 0."""
    assert_all_pass(checks.dropout_outputs("cartpole/regularized", CARTPOLE_REGULARIZED, checks.train_data()))


def test_dropout_outputs_check_sees_a_different_rate():
    """Sensitivity: a JAX model with dropout 0.3 vs torch's 0.2 must fail the KS test."""
    spec_03 = dataclasses.replace(CARTPOLE_REGULARIZED.config, dropout_rate=0.3)
    original = checks.torch_model

    def torch_02(spec, seed):
        return original(spec._replace(config=CARTPOLE_REGULARIZED.config), seed)

    checks.torch_model = torch_02
    try:
        rows = checks.dropout_outputs("rate 0.3 vs 0.2", CARTPOLE_REGULARIZED._replace(config=spec_03), checks.train_data())
    finally:
        checks.torch_model = original
    assert not all(row.passed for row in rows)


# 9. Ensemble


def test_ensemble_members_equal_single_models():
    """JAX only: member i of the vmapped 5-member ensemble = a single model trained from the same
    initial params with the same order (loss curves and predictions), and the ensemble's
    prediction = the mean of its members'. Broken: members sharing Adam state, averaged
    (not summed) member losses, or a mixed-up member axis -> differences >> 1e-6."""
    data = checks.cartpole_transitions(checks.ENSEMBLE_TRANSITIONS, 0)
    assert_all_pass(checks.ensemble_members_are_single_models("cartpole/ensemble", CARTPOLE_ENSEMBLE, tutorial_train_config("ensemble"), data))


def test_ensemble_training_run_matches_torch_train_ensemble():
    """The vmapped JAX ensemble vs torch `train_ensemble` (one Adam per member, shared order per
    epoch), same initial weights per member: per-member loss curves, member and ensemble MSEs."""
    data = checks.cartpole_transitions(checks.ENSEMBLE_TRANSITIONS, 0)
    rows = checks.training_run("cartpole/ensemble", CARTPOLE_ENSEMBLE, tutorial_train_config("ensemble"), data, checks.eval_data())
    assert_all_pass(rows)

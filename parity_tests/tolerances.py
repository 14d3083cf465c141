"""Every tolerance of the parity suite, in one place, each with the reason for its size.

Kinds of tolerance (how `checks.compare` applies them):
- `Exact`: bit-for-bit equality (shapes, counts, weight transfer).
- `ScaledClose(rtol)`: max|jax - torch| <= rtol * max|torch| over a tensor; relative to the
  tensor's scale, so entries near zero (a gradient that happens to vanish) do not blow up.
- `Close(rtol)`: |jax - torch| <= rtol * |torch| for every entry; for quantities that span many
  orders of magnitude and must track each one (a loss curve falling from 1e-1 to 1e-5).
- `PValue(alpha)`: a statistical test passes when p >= alpha; alpha is the false-failure rate
  of that test under the null hypothesis "both sides draw from the same distribution". Every
  statistical check uses fixed seeds, so the suite is deterministic: a seed that happened to
  fail would fail every time, never flake.

float32 has a unit roundoff of 2**-24 ~ 6e-8. The two frameworks run the same arithmetic but
not in the same order (BLAS blocking, XLA fusion, reduction trees), so each result may differ
by a few roundoffs times the depth of the computation that produced it. Sizes below are about
5-10x the worst difference measured on 2-core CPU (numbers in comments), so they flag a real
mismatch (a wrong transpose, a missing term, a different optimizer) while not flagging the
rounding noise.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Exact:
    def describe(self) -> str:
        return "exact"


@dataclasses.dataclass(frozen=True)
class ScaledClose:
    rtol: float

    def describe(self) -> str:
        return f"{self.rtol:g} x max|torch|"


@dataclasses.dataclass(frozen=True)
class Close:
    rtol: float

    def describe(self) -> str:
        return f"{self.rtol:g} rel"


@dataclasses.dataclass(frozen=True)
class PValue:
    alpha: float

    def describe(self) -> str:
        return f"p >= {self.alpha:g}"


Tolerance = Exact | ScaledClose | Close | PValue

# 1. Architecture: layer shapes, parameter counts and dropout rates are integers / exact constants.
ARCHITECTURE = Exact()

# 2. Weight transfer: a transpose and float32 copies never round, so the round trip is bit-exact.
WEIGHT_TRANSFER = Exact()

# 3. Initialisation: two-sample KS (JAX draws vs torch draws) and one-sample KS (each side vs
# U(-1/sqrt(fan_in), 1/sqrt(fan_in))) per layer and parameter. 18 tests per spec at alpha 1e-3:
# under the null a fresh seed fails with probability <= 1.8%; the seeds are fixed.
INIT_KS = PValue(1e-3)

# 4. Forward pass: a depth-3 MLP of width <= 64 in float32; measured worst 2.2e-7 x max|output|.
FORWARD = ScaledClose(2e-6)
# The MSE of those outputs: a mean of B x S squares; measured worst 1.2e-7 relative.
LOSS = Close(1e-6)
# Gradients: backprop adds one more matmul chain and a reduction over the batch; measured
# worst 1.0e-6 x max|grad| per tensor (7e-7 on CartPole).
GRADIENT = ScaledClose(1e-5)

# 5. Adam, N steps on identical batches. torch computes the bias corrections in float64, optax in
# float32, and each step rounds p + update to float32. On the weights p_N: measured worst
# 5e-7 x max|p_N|.
ADAM_WEIGHTS = ScaledClose(1e-5)
# On the displacement p_N - p_0, which does not let the weights' size hide an update-level
# difference. Adam divides by sqrt(v): for an entry whose gradient is near zero, rounding-level
# gradient differences become update-level ones, so this is looser: measured worst
# 1.4e-5 x max|displacement|. (optax.adamw instead of coupled decay: 1.3, i.e. 130%.)
ADAM_DISPLACEMENT = ScaledClose(1e-4)

# 6. Training run (100 epochs; 3200 Adam steps single, 5 x 800 ensemble), same initial weights
# and minibatch order on both sides. Rounding differences feed back through the optimisation
# and grow chaotically with the steps, so the comparison has two parts.
# - The first 10 epochs, where drift is still small: over 8 seeds (each its own init and order)
#   the worst per-epoch relative difference was 5.5e-4 (most seeds 1e-5 to 2e-5), while a JAX
#   learning rate only 1% off (1.01e-3) already differs by >= 2.2e-2 and 1.1e-3 by >= 0.18.
EARLY_EPOCHS = 10
EARLY_LOSS_CURVE = Close(5e-3)
# - All 100 epochs and the final MSEs: a guard against late divergence, not a precision claim.
#   Over the same 8 seeds the worst per-epoch difference was 6.8e-2 and the worst final eval
#   MSE difference 5.7e-2 (late losses sit at a noisy floor near 1e-5, where a different
#   rounding history moves them by percents); seed 0 alone gave 1.1e-2, above the 1e-2 this
#   bound used to be, once the engine began drawing each epoch's order inside its scan.
#   Break-its: JAX lr 1.1e-3 -> 0.27; optax.adamw in the engine -> 0.27.
LOSS_CURVE = Close(1.5e-1)
FINAL_MSE = Close(1.5e-1)

# 7. Independent runs (own init, own shuffling) and dropout training runs: two-sided
# Mann-Whitney U on eval MSE over 6 seeds per side (20-epoch runs). alpha 0.01 = the
# false-failure rate under the null; the smallest attainable p with 6 vs 6 is 0.0022, so a
# shifted distribution fails (JAX lr 1e-2: fails). Measured p: 0.59 simple, 0.82 regularized.
INDEPENDENT_RUNS = PValue(0.01)

# 8. Dropout, train mode. Rate: two-sided binomial test of the zeroed fraction against p.
# Scale: kept activations equal x / (1 - p) up to one float32 rounding of the division
# (measured: bit-equal).
# Model-level: two-sample KS on train-mode outputs (20k draws) per output dimension.
DROPOUT_RATE = PValue(1e-3)
DROPOUT_SCALE = ScaledClose(2.4e-7)
DROPOUT_OUTPUTS = PValue(1e-3)

# 9. Ensemble. A vmapped member vs the same member trained alone in JAX: the same program modulo
# batching, but XLA picks different kernels for batched matmuls, so rounding differs and drifts
# over the 800 Adam steps: measured worst 9.6e-7 relative per epoch loss, 1.7e-7 x max|prediction|.
# A real coupling (shared Adam state, averaged member losses) moves these by >= 1e-3.
ENSEMBLE_MEMBER_CURVE = Close(1e-5)
ENSEMBLE_MEMBER_PREDICTIONS = ScaledClose(2e-6)
# The ensemble's prediction vs the mean of its members' predictions (one float32 mean):
# measured 4e-8.
ENSEMBLE_MEAN = ScaledClose(1e-6)

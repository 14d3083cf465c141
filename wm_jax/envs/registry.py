"""The registered environments: one `EnvSpec` per module, listed here. Every other module asks here.

Registering an environment is one module that defines `SPEC` (see `spec.py`) and one line in
`_SPECS`. The spaces are written out in each module, not read from gymnasium at run time, so
loading a data file or a model needs no gymnasium import; the tests check them against
gymnasium's own spaces.
"""

from __future__ import annotations

from . import acrobot, cartpole, mountain_car, mountain_car_continuous, pendulum
from .spaces import EnvError
from .spec import MBRL_RECIPE, EnvSpec, UnknownEnv, mbrl_settings

_SPECS = (cartpole.SPEC, acrobot.SPEC, mountain_car.SPEC, mountain_car_continuous.SPEC, pendulum.SPEC)
ENVS: dict[str, EnvSpec] = {spec.env_id: spec for spec in _SPECS}
# Flat Box observations with Discrete or Box actions: what an MLP on raw states can learn.
SUPPORTED_ENVS = tuple(ENVS)


# Environments the project does not register, described in this process: from gymnasium's own
# spaces (`EnvSpec.from_gymnasium`) or from the spaces a data file or a model recorded.
_DESCRIBED: dict[str, EnvSpec] = {}


def env_spec(env_id: str) -> EnvSpec:
    """The spec of `env_id`: the registered one, or one described from gymnasium's own spaces for any
    id `gym.make` accepts ("module:EnvId-v0" and ids an imported package registered included), with no
    known reward or termination. An id gymnasium cannot make is an EnvError that lists the registered
    ones; one whose spaces wm-jax cannot model, or that needs a package not installed (MuJoCo), says so."""
    if env_id in ENVS:
        return ENVS[env_id]
    if env_id not in _DESCRIBED:
        try:
            _DESCRIBED[env_id] = EnvSpec.from_gymnasium(env_id)
        except UnknownEnv as error:
            raise _unsupported(env_id, error) from None
        _PLAYABLE.add(env_id)
    return _DESCRIBED[env_id]


def _unsupported(env_id: str, error: Exception) -> EnvError:
    return EnvError(
        f"unsupported environment {env_id!r}; supported: {', '.join(SUPPORTED_ENVS)}, and any gymnasium "
        f"environment with a flat Box observation and Discrete or flat Box actions ({error})"
    )


# Ids gymnasium made in this process (a spec described from a data file's or a model's recorded spaces is not).
_PLAYABLE: set[str] = set()


def check_playable(env_id: str) -> None:
    """Refuse, in one line, an environment a run must play real episodes in (mbrl, dream, sac, mbpo) where
    gymnasium cannot make it here: an id known only from a data file's recorded spaces passes `check_env_id`."""
    check_env_id(env_id)
    if env_id in ENVS or env_id in _PLAYABLE:
        return
    try:
        EnvSpec.from_gymnasium(env_id)
    except UnknownEnv as error:
        raise _unsupported(env_id, error) from None
    _PLAYABLE.add(env_id)


def describe_env(env_id: str, observation_space, action_space, max_episode_steps: int | None) -> EnvSpec:
    """The spec of `env_id` where a data file or a model recorded its spaces: the registered one (which
    is used as is), else one described from them alone (no gymnasium needed), remembered for
    this process. EnvError where the recorded spaces contradict what is already known of `env_id`."""
    if env_id in ENVS:
        return ENVS[env_id]  # its spaces are checked against the data or the model where they are used
    known = _DESCRIBED.get(env_id)
    if known is None:
        cap = max_episode_steps or 1000
        known = _DESCRIBED[env_id] = EnvSpec.from_recorded(env_id, observation_space, action_space, cap)
    if (known.observation_space, known.action_space) != (observation_space, action_space):
        raise EnvError(
            f"the recorded spaces of {env_id} ({observation_space}, {action_space}) differ from its known "
            f"ones ({known.observation_space}, {known.action_space})"
        )
    return known


def check_env_id(env_id: str) -> None:
    env_spec(env_id)


def state_labels(env_id: str | None, state_dim: int) -> tuple[str, ...]:
    """Names of the state dimensions, or s0, s1, ... for data of unknown origin."""
    labels = ENVS[env_id].state_labels if env_id in ENVS else ()
    return labels if len(labels) == state_dim else tuple(f"s{i}" for i in range(state_dim))


def recommended_mbrl_config(env: str | EnvSpec):
    """The `MBRLConfig` that gave `env`'s documented model-based-RL result (its spec's
    `recommended_mbrl`); where none is documented, the shared recipe (`MBRL_RECIPE`), planning on
    the learned reward where the environment has no known one."""
    from ..config import MBRLConfig, PlannerConfig

    spec = env_spec(env) if isinstance(env, str) else env
    settings = spec.recommended_mbrl
    if settings is None:
        settings = MBRL_RECIPE if spec.has_known_reward else mbrl_settings(planner={"reward": "learned"})
    fields = {name: value for name, value in settings.items() if name != "planner"}
    return MBRLConfig(**fields, planner=PlannerConfig(**settings["planner"]))

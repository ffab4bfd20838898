"""Multi-objective search with optuna (optional extra ``dse``): NSGA-II or TPE over the sweep's axes.

Each axis (a zipped group counts as one) is an integer index into its values, so ordered axes stay ordered
for TPE and every trial is a point of the same grid a ``grid`` search would run. Trials are asked in rounds
of ``optuna.batch``, evaluated in parallel, and told **in trial order**, so the study depends on the seed
only, not on the number of workers or on which point finished first. Results come from the store when a
point was computed before, so rerunning an interrupted study replays it exactly without recomputing.
Invalid axis combinations and failed runs are told as failed trials; constraints go to the sampler's
``constraints_func`` (a violation ≤ 0 is feasible).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from cimsim.dse.results import flatten
from cimsim.errors import ConfigError

if TYPE_CHECKING:
    from cimsim.dse.runner import Session


def _constraints(trial: Any) -> list[float]:
    return list(trial.user_attrs.get("constraints", [math.inf]))


def _per_trial_constraints() -> bool:
    import optuna

    return hasattr(optuna.trial.Trial, "set_constraint")


def require_optuna() -> None:
    """Raise a one-line ConfigError naming the extra when optuna is not installed."""
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise ConfigError("search: optuna needs the optuna package", field="search",
                          allowed="pip install 'cimsim[dse]', or search: grid / random") from None


def make_study(spec: Any) -> Any:
    """An in-memory optuna study for ``spec`` (seeded sampler, one direction per objective)."""
    require_optuna()
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # optuna >= 5 takes constraints per trial (Trial.set_constraint); older versions via constraints_func
    cf = _constraints if spec.constraints and not _per_trial_constraints() else None
    if spec.optuna.sampler == "nsga2":
        sampler = optuna.samplers.NSGAIISampler(seed=spec.seed, population_size=spec.optuna.population_size,
                                                constraints_func=cf)
    else:
        sampler = optuna.samplers.TPESampler(seed=spec.seed, constraints_func=cf, multivariate=True,
                                             n_startup_trials=min(10, spec.samples or 10))
    directions = ["minimize" if o.sense == "min" else "maximize" for o in spec.objective_list()]
    return optuna.create_study(directions=directions, sampler=sampler)


def run_optuna(session: Session) -> Any:
    """Run ``samples`` trials of the session's sweep; returns the optuna study."""
    require_optuna()
    import optuna

    sweep = session.sweep
    spec = sweep.spec
    store = session.store
    assert store is not None and spec.samples is not None
    objectives, constraints = spec.objective_list(), spec.constraint_list()
    study = make_study(spec)
    store.set_meta(planned=spec.samples)
    names = sweep.dim_names()
    asked = 0
    while asked < spec.samples:
        trials = [study.ask() for _ in range(min(spec.optuna.batch, spec.samples - asked))]
        points = [sweep.point_from_choices(t.number, tuple(t.suggest_int(name, 0, len(dim) - 1)
                                                           for name, dim in zip(names, sweep.dims, strict=True)))
                  for t in trials]
        resolved = [sweep.resolve(p) for p in points]
        store.plan([(r.point.index, r.key, r.point.axes) for r in resolved])
        session.evaluate(resolved, finished=asked, total=spec.samples)
        for trial, r in zip(trials, resolved, strict=True):
            got = store.result(r.key)
            if got is None or got[0] != "done" or got[1] is None:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                continue
            flat = flatten(got[1])
            missing = [o.key for o in objectives if o.key not in flat]
            if missing:
                raise ConfigError(f"objective key {missing[0]!r} is not in result.json (scalar keys include: "
                                  f"{', '.join(sorted(flat)[:12])}, …)", file=str(sweep.file), field="objectives")
            values = [float(flat[o.key]) for o in objectives]
            if not all(math.isfinite(v) for v in values):
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                continue
            if constraints:
                violations = [c.violation(flat.get(c.key)) for c in constraints]
                if _per_trial_constraints():
                    for c, v in zip(constraints, violations, strict=True):
                        trial.set_constraint(str(c), v)
                else:
                    trial.set_user_attr("constraints", violations)
            study.tell(trial, values)
        asked += len(trials)
    return study

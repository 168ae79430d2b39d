"""The ``train``, ``evaluate``, ``recommend`` and ``info`` commands."""

import json
import time

import numpy as np
import pandas as pd

from ._data import data_spec, load_config, read_log, split_xy
from ._models import build_pipeline, fit_pipeline, model_names, parse_params
from ._output import CLIError, print_frame

PROTOCOLS = {
    "p1": "UserHoldout(test_size) per user, every unseen item ranked",
    "p2": "LeaveLatestOut, the held-out item ranked among sampled unseen items",
}
DEFAULT_METRICS = {"p1": ["map", "ndcg", "precision", "recall"], "p2": ["hit_rate", "ndcg"]}
USER_CHUNKS = 10


def _config(args):
    return load_config(args.config) if args.config else {}


def _load_data(args, config, reporter):
    spec = data_spec(args, config)
    started = time.perf_counter()
    log = read_log(args.data, sep=spec["sep"])
    X, y, implicit = split_xy(log, spec, reporter)
    reporter.say(
        f"data: {len(X):,} rows, {X[spec['user_col']].nunique():,} users, "
        f"{X[spec['item_col']].nunique():,} items from {args.data} "
        f"({'implicit: positives only' if implicit else f'positive rate {y.mean():.3f}'}; "
        f"read in {time.perf_counter() - started:.1f} s)"
    )
    return spec, X, y, implicit


def _model_choice(args, config):
    section = config.get("model", {})
    name = args.model or section.get("name")
    if not name:
        raise CLIError("name a model with --model (e.g. --model ncf) or in the config's [model].")
    params = dict(section.get("params", {}))
    params.update(parse_params(args.param))
    return model_names(name), params


def _split(protocol, spec, X, y, args):
    from ..model_selection import LeaveLatestOut, UserHoldout

    if protocol == "p1":
        cv = UserHoldout(test_size=args.test_size, random_state=args.random_state,
                         user_col=spec["user_col"])
    else:
        if spec["time_col"] not in X.columns:
            raise CLIError(
                f"protocol p2 holds out each user's latest interaction, but the data has "
                f"no time column {spec['time_col']!r}; name it with --time-col or use "
                "--protocol p1."
            )
        cv = LeaveLatestOut(user_col=spec["user_col"], timestamp_col=spec["time_col"],
                            tie_break=spec["item_col"])
    train, test = next(cv.split(X, y))
    return train, test


def _evaluate_fitted(pipe, X_test, y_test, protocol, k, candidates, metrics, seed, reporter):
    """Mean metrics over test users, scored in chunks of users (progress per chunk)."""
    from .._recommend import _find_builder
    from ..metrics import make_ranking_scorer

    builder = _find_builder(pipe)
    scorer = make_ranking_scorer(
        metrics, k=k, candidates="all" if protocol == "p1" else candidates, random_state=seed
    )
    positives = np.asarray(y_test) == 1
    users = X_test.loc[positives, builder.user_col]
    users = pd.unique(users[builder.user_vocabulary_.get_indexer(users) >= 0])
    if users.size == 0:
        raise CLIError("no test user with a positive interaction is known to the model.")
    chunks = np.array_split(users, min(USER_CHUNKS, users.size))
    totals, done = {}, 0
    started = last = time.perf_counter()
    for chunk in chunks:
        rows = X_test[builder.user_col].isin(chunk).to_numpy()
        scores = scorer(pipe, X_test[rows], y_test[rows])
        for name, value in scores.items():
            totals[name] = totals.get(name, 0.0) + value * chunk.size
        done += chunk.size
        now = time.perf_counter()
        if now - last >= 1.0 or done == users.size:  # a line a second at most
            reporter.say(f"  ranked {done:,}/{users.size:,} users ({now - started:.1f} s)")
            last = now
    return {name: value / users.size for name, value in totals.items()}, users.size


def _check_shared_params(names, params):
    """Each ``--param`` must belong to at least one of several models."""
    from .. import models
    from ._models import MODELS

    known = {"history_length"}
    for name in names:
        known |= set(getattr(models, MODELS[name])().get_params())
    orphan = sorted(set(params) - known)
    if orphan:
        raise CLIError(
            f"none of the models {', '.join(names)} has the parameter(s) {orphan}; "
            "with several models, each --param goes to the models that have it."
        )


def run_evaluate(args, reporter):
    config = _config(args)
    names, params = _model_choice(args, config)
    spec, X, y, implicit = _load_data(args, config, reporter)
    protocol = args.protocol
    metrics = args.metrics.split(",") if args.metrics else DEFAULT_METRICS[protocol]
    train, test = _split(protocol, spec, X, y, args)
    reporter.say(
        f"protocol {protocol}: {PROTOCOLS[protocol]}; train {train.size:,} rows, test {test.size:,} rows"
    )
    if len(names) > 1:
        _check_shared_params(names, params)
    rows = []
    for name in names:
        pipe = build_pipeline(name, params, spec, implicit, args.random_state,
                              strict=len(names) == 1)
        reporter.say(f"{name}: fitting {type(pipe[-1]).__name__}")
        started = time.perf_counter()
        fit_pipeline(pipe, X.iloc[train], y.iloc[train], reporter)
        fit_s = time.perf_counter() - started
        reporter.say(f"{name}: evaluating")
        started = time.perf_counter()
        scores, n_users = _evaluate_fitted(
            pipe, X.iloc[test], y.iloc[test], protocol, args.k, args.candidates, metrics,
            args.random_state, reporter,
        )
        rows.append({"model": name, **scores, "users": n_users, "fit_s": round(fit_s, 1),
                     "eval_s": round(time.perf_counter() - started, 1)})
    print_frame(pd.DataFrame(rows), args.format)
    return 0


def run_train(args, reporter):
    from pathlib import Path

    from .. import save

    suffix = Path(args.output).suffix
    if suffix not in (".skrec", ".joblib"):
        # Checked before training, so a typo does not cost the whole fit.
        raise CLIError(
            f"cannot tell the format of the output {args.output!r} from its suffix "
            f"{suffix!r}; name it '.skrec' (safe to share and load) or '.joblib'."
        )
    config = _config(args)
    [name], params = _one_model(args, config)
    spec, X, y, implicit = _load_data(args, config, reporter)
    evaluation = {}
    if args.validate != "none":
        train, test = _split(args.validate, spec, X, y, args)
        reporter.say(f"validating on protocol {args.validate} ({test.size:,} held-out rows)")
        pipe = build_pipeline(name, params, spec, implicit, args.random_state)
        fit_pipeline(pipe, X.iloc[train], y.iloc[train], reporter)
        scores, _ = _evaluate_fitted(
            pipe, X.iloc[test], y.iloc[test], args.validate, args.k, args.candidates,
            DEFAULT_METRICS[args.validate], args.random_state, reporter,
        )
        evaluation = {"protocol": args.validate, **scores}
        reporter.say("validation: " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))
    pipe = build_pipeline(name, params, spec, implicit, args.random_state)
    reporter.say(f"training {type(pipe[-1]).__name__} on all {len(X):,} rows")
    started = time.perf_counter()
    fit_pipeline(pipe, X, y, reporter)
    reporter.say(f"trained in {time.perf_counter() - started:.1f} s")
    metadata = save(pipe, args.output, evaluation=evaluation)
    reporter.say(
        f"saved {args.output} (fingerprint {metadata['training_data']['fingerprint'][:19]}...)"
    )
    return 0


def _one_model(args, config):
    names, params = _model_choice(args, config)
    if len(names) != 1:
        raise CLIError(f"train fits one model; got {len(names)} ({', '.join(names)}).")
    return names, params


def _load_model(path, reporter):
    from pathlib import Path

    from .. import load

    if not Path(path).is_file():
        raise CLIError(f"model file {str(path)!r} does not exist.")
    started = time.perf_counter()
    # The user names the file to load; a .joblib file runs its code (documented).
    model = load(path, trusted=True)
    reporter.detail(f"loaded {path} in {time.perf_counter() - started:.2f} s")
    return model


def _user_ids(raw, vocabulary):
    """Command-line strings -> ids of the vocabulary's type (``"7"`` finds user 7)."""
    ids = []
    for text in raw:
        value = text
        if pd.api.types.is_integer_dtype(vocabulary.dtype):
            try:
                value = int(text)
            except ValueError:
                pass
        elif pd.api.types.is_float_dtype(vocabulary.dtype):
            try:
                value = float(text)
            except ValueError:
                pass
        ids.append(value)
    return ids


def run_recommend(args, reporter):
    from .. import recommend
    from .._recommend import _find_builder

    if args.k < 1:
        raise CLIError(f"-k must be a positive integer, got {args.k}.")
    model = _load_model(args.model, reporter)
    builder = _find_builder(model)
    raw = list(args.user or [])
    if args.users_file:
        with open(args.users_file) as handle:
            raw += [line.strip() for line in handle if line.strip()]
    if not raw:
        raise CLIError("name at least one user with --user ID (repeatable) or --users-file.")
    users = _user_ids(raw, builder.user_vocabulary_)
    unknown = [u for u, known in zip(users, builder.user_vocabulary_.get_indexer(users) >= 0)
               if not known]
    if unknown:
        reporter.say(
            f"{len(unknown)} unknown user(s) get the most popular items (fallback): "
            + ", ".join(map(str, unknown[:5]))
        )
    top = recommend(model, users, k=args.k, exclude_seen=not args.include_seen)
    print_frame(top, args.format)
    return 0


def run_info(args, reporter):
    from .. import read_metadata

    metadata = read_metadata(args.model, trusted=True)
    if args.format == "json":
        print(json.dumps(metadata, indent=2))
        return 0
    versions = metadata.get("versions", {})
    training = metadata.get("training_data", {})
    lines = [
        ("model", " -> ".join(metadata.get("estimator", {}).get("steps", []))),
        ("saved", metadata.get("created")),
        ("versions", ", ".join(f"{k} {v}" for k, v in versions.items())),
        ("input columns", ", ".join(metadata.get("input_columns") or [])),
        ("training data", ", ".join(f"{k} {v}" for k, v in training.items())),
        ("evaluation", ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                 for k, v in metadata.get("evaluation", {}).items()) or "-"),
    ]
    for key, value in lines:
        print(f"{key:<14} {value}")
    return 0

"""Models by name for the command line, and the pipeline around them."""

import ast

from .._registry import MODELS as REGISTRY
from ._output import CLIError

# Command-line name -> class name, aliases, the models that read a history:
# all from the one registry (skrec/_registry.py).
MODELS = {entry.name: entry.class_name for entry in REGISTRY}
ALIASES = {alias: entry.name for entry in REGISTRY for alias in entry.aliases}
SEQUENCE_MODELS = {entry.name for entry in REGISTRY if entry.kind == "sequence"}
DEFAULT_HISTORY = 20


def model_names(text):
    """Split ``"ncf,ease"`` into canonical model names."""
    names = []
    for raw in str(text).split(","):
        name = ALIASES.get(raw.strip().lower(), raw.strip().lower())
        if name not in MODELS:
            raise CLIError(
                f"unknown model {raw.strip()!r}; choose one of {', '.join(MODELS)}."
            )
        names.append(name)
    return names


def parse_params(pairs):
    """``["epochs=5", "hidden_units=(64, 32)"]`` -> dict (values as Python literals)."""
    params = {}
    for pair in pairs or []:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise CLIError(f"--param {pair!r}: write NAME=VALUE, e.g. --param epochs=5.")
        try:
            value = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            value = text.strip()
        params[name.strip()] = value
    return params


def build_pipeline(name, params, spec, implicit, random_state, strict=True):
    """``[InteractionNormalizer ->] FeatureBuilder -> model``, checked parameters.

    With ``strict=False`` (several models share one ``--param`` list), a
    parameter the model does not have is skipped instead of refused.
    """
    from sklearn.pipeline import Pipeline

    from .. import models
    from ..preprocessing import FeatureBuilder, InteractionNormalizer

    params = dict(params)
    history = params.pop("history_length", DEFAULT_HISTORY if name in SEQUENCE_MODELS else 0)
    estimator = getattr(models, MODELS[name])()
    known = estimator.get_params()
    unknown = sorted(set(params) - set(known))
    if not strict:
        params = {k: v for k, v in params.items() if k in known}
    elif unknown:
        raise CLIError(
            f"model {name!r} has no parameter(s) {unknown}; its parameters are "
            f"{', '.join(sorted(k for k in known if '__' not in k))} (and history_length)."
        )
    if "random_state" in known and "random_state" not in params:
        params["random_state"] = random_state
    # Positives only: the network needs sampled negatives to learn anything.
    if implicit and "negative_ratio" in known and "negative_ratio" not in params and name != "autoencoder":
        params["negative_ratio"] = 4
    estimator.set_params(**params)
    ids_only = spec["features"] == "none"
    builder = FeatureBuilder(
        user_col=spec["user_col"],
        item_col=spec["item_col"],
        timestamp_col=spec["time_col"],
        history_length=int(history),
        **({"user_features": [], "item_features": [], "context_features": []} if ids_only else {}),
    )
    steps = []
    if spec["strength_col"]:
        steps.append(("interactionnormalizer", InteractionNormalizer(
            columns=spec["strength_col"], user_col=spec["user_col"], item_col=spec["item_col"],
        )))
    steps += [("featurebuilder", builder), (MODELS[name].lower(), estimator)]
    return Pipeline(steps)


def fit_pipeline(pipe, X, y, reporter):
    """Fit with one progress line per epoch for the deep models."""
    final_name, final = pipe.steps[-1]
    kwargs = {}
    epochs = final.get_params().get("epochs")
    if epochs:
        callbacks = reporter.epoch_callbacks(epochs)
        if callbacks:
            kwargs[f"{final_name}__callbacks"] = callbacks
    pipe.fit(X, y, **kwargs)
    return pipe

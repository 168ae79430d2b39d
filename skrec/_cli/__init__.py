"""The ``skrec`` command line (``python -m skrec`` too).

Commands: ``train`` (fit a model on a CSV or Parquet log and save it),
``evaluate`` (the benchmark protocols, a metrics table), ``recommend`` (top-k
items from a saved model), ``info`` (a saved model's metadata) and ``demo``.
Progress goes to stderr and results to stdout, so results can be piped;
a user mistake prints one line and exits with status 2.
"""

import argparse
import os
import sys

from ._output import CLIError, Reporter

EPILOG_TRAIN = """examples:
  skrec train ratings.csv --rating-col rating --positive-threshold 4 --model ncf \\
      --param epochs=5 --output model.joblib
  skrec train log.parquet --config skrec.toml --output model.skrec --validate p1
"""
EPILOG_EVALUATE = """examples:
  skrec evaluate ratings.csv --model pop,ease,ncf --protocol p1
  skrec evaluate log.csv --model gru --param epochs=3 --protocol p2 --format json
"""
EPILOG_RECOMMEND = """examples:
  skrec recommend --model model.joblib --user 7 --user 12 -k 10
  skrec recommend --model model.skrec --users-file users.txt --format csv > top10.csv
"""


def _add_verbosity(parser):
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true",
                       help="print only the results (no progress)")
    group.add_argument("-v", "--verbose", action="store_true",
                       help="more detail, and a traceback on unexpected errors")


def _add_data_options(parser):
    parser.add_argument("data", help="interaction log: .csv, .tsv or .parquet")
    parser.add_argument("--config", help="TOML or JSON file with [data] and [model] tables")
    group = parser.add_argument_group("columns (default: the skrec data contract)")
    group.add_argument("--user-col", help="user id column (default user_id)")
    group.add_argument("--item-col", help="item id column (default item_id)")
    group.add_argument("--time-col", help="time column (default timestamp)")
    group.add_argument("--label-col", help="binary 0/1 label column (default label; "
                       "absent: every row is a positive)")
    group.add_argument("--rating-col", help="derive the label from this rating column ...")
    group.add_argument("--positive-threshold", type=float,
                       help="... as rating >= THRESHOLD (the rating column is then dropped)")
    group.add_argument("--strength-col", help="interaction-strength column to normalise "
                       "with InteractionNormalizer (e.g. user_behavior)")
    group.add_argument("--features", choices=["auto", "none"],
                       help="auto: other columns are side features; none: ids only")
    group.add_argument("--sep", help="CSV separator (default ',' or tab for .tsv)")


def _add_model_options(parser, several=False):
    parser.add_argument(
        "--model",
        help="model name" + (" or comma-separated names" if several else "")
        + ": ncf, widedeep, deepfm, twotower, cnn, gru, autoencoder, popularity, ease",
    )
    parser.add_argument("--param", action="append", metavar="NAME=VALUE",
                        help="model parameter (repeatable), e.g. --param epochs=5; "
                        "history_length=N for the FeatureBuilder")
    parser.add_argument("--random-state", type=int, default=0)


def _add_protocol_options(parser):
    parser.add_argument("-k", type=int, default=10, help="cut-off of the ranking metrics")
    parser.add_argument("--test-size", type=float, default=0.25,
                        help="p1: share of each user's rows held out")
    parser.add_argument("--candidates", type=int, default=99,
                        help="p2: sampled unseen items ranked with the held-out one")


def build_parser():
    """The argument parser of the ``skrec`` command."""
    from . import _commands, _demo

    parser = argparse.ArgumentParser(
        prog="skrec",
        description="Deep-learning recommender systems as scikit-learn pipelines.",
    )
    from .._version import __version__

    parser.add_argument("--version", action="version", version=f"skrec {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    formatter = argparse.RawDescriptionHelpFormatter

    train = sub.add_parser(
        "train", help="fit a model on an interaction log and save it",
        description="Fit FeatureBuilder -> MODEL on the whole log and save the pipeline "
        "(.joblib or the safe .skrec format) with its metadata.",
        epilog=EPILOG_TRAIN, formatter_class=formatter,
    )
    _add_data_options(train)
    _add_model_options(train)
    train.add_argument("-o", "--output", required=True,
                       help="model file to write: .joblib or .skrec")
    train.add_argument("--validate", choices=["none", "p1", "p2"], default="none",
                       help="first fit on a protocol's train split and keep its figures "
                       "in the model's metadata")
    _add_protocol_options(train)
    _add_verbosity(train)
    train.set_defaults(handler=_commands.run_train)

    evaluate = sub.add_parser(
        "evaluate", help="fit and score models on an evaluation protocol",
        description="Split the log by a protocol, fit each model on the train part and "
        "print ranking metrics on the held-out part. p1: per-user random holdout, "
        "every unseen item ranked. p2: each user's latest interaction ranked among "
        "sampled unseen items.",
        epilog=EPILOG_EVALUATE, formatter_class=formatter,
    )
    _add_data_options(evaluate)
    _add_model_options(evaluate, several=True)
    evaluate.add_argument("--protocol", choices=["p1", "p2"], default="p1")
    evaluate.add_argument("--metrics", help="comma-separated: ndcg, hit_rate, precision, "
                          "recall, map, mrr (default: the protocol's)")
    evaluate.add_argument("--format", choices=["table", "json", "csv"], default="table")
    _add_protocol_options(evaluate)
    _add_verbosity(evaluate)
    evaluate.set_defaults(handler=_commands.run_evaluate)

    rec = sub.add_parser(
        "recommend", help="top-k items for users from a saved model",
        description="Load a saved pipeline and print each user's top-k unseen items. "
        "Unknown users get the most popular items (fallback column).",
        epilog=EPILOG_RECOMMEND, formatter_class=formatter,
    )
    rec.add_argument("--model", required=True, help="model file (.joblib or .skrec)")
    rec.add_argument("--user", action="append", help="user id (repeatable)")
    rec.add_argument("--users-file", help="file with one user id per line")
    rec.add_argument("-k", type=int, default=10)
    rec.add_argument("--include-seen", action="store_true",
                     help="also recommend items the user interacted with in training")
    rec.add_argument("--format", choices=["table", "json", "csv"], default="table")
    _add_verbosity(rec)
    rec.set_defaults(handler=_commands.run_recommend)

    info = sub.add_parser("info", help="show a saved model's metadata",
                          description="Versions, input schema, training data and "
                          "evaluation figures saved with a model.")
    info.add_argument("model", help="model file (.joblib or .skrec)")
    info.add_argument("--format", choices=["table", "json"], default="table")
    _add_verbosity(info)
    info.set_defaults(handler=_commands.run_info)

    demo = sub.add_parser(
        "demo",
        help="train, evaluate and recommend on the built-in synthetic data",
        description="Train the default InteractionNormalizer -> FeatureBuilder -> "
        "NCFClassifier pipeline on a synthetic log, print held-out metrics next to "
        "a popularity baseline, and recommend items to two users.",
    )
    demo.add_argument("--n-users", type=int, default=1000)
    demo.add_argument("--n-items", type=int, default=500)
    demo.add_argument("--n-interactions", type=int, default=50_000)
    demo.add_argument("--epochs", type=int, default=10)
    demo.add_argument("-k", type=int, default=5, help="recommendations per user")
    demo.add_argument("--random-state", type=int, default=0)
    _add_verbosity(demo)
    demo.set_defaults(handler=_demo.run_demo)
    return parser


def main(argv=None):
    """Entry point of the ``skrec`` console script; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = build_parser().parse_args(argv)
    reporter = Reporter(0 if args.quiet else 2 if args.verbose else 1)
    try:
        return args.handler(args, reporter)
    except CLIError as error:
        print(f"skrec {args.command}: error: {error}", file=sys.stderr)
        return 2
    except (ValueError, KeyError, FileNotFoundError, PermissionError) as error:
        # skrec's own checks raise ValueError with the column, value and fix.
        if args.verbose:
            raise
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"skrec {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"skrec {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if args.verbose:
            raise
        print(
            f"skrec {args.command}: internal error: {type(error).__name__}: {error} "
            "(rerun with --verbose for the traceback)",
            file=sys.stderr,
        )
        return 1


__all__ = ["build_parser", "main"]

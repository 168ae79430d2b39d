"""``skrec demo``: the default pipeline end to end on synthetic data."""

import time


def run_demo(args, reporter):
    import numpy as np
    import pandas as pd
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline

    from .. import (
        FeatureBuilder,
        InteractionNormalizer,
        clean_interactions,
        make_interactions,
        recommend,
    )
    from ..models import NCFClassifier

    say = reporter.say
    say("skrec demo: the default pipeline on the built-in synthetic e-commerce log\n")

    log = make_interactions(
        n_users=args.n_users,
        n_items=args.n_items,
        n_interactions=args.n_interactions,
        random_state=args.random_state,
    )
    log, report = clean_interactions(log, label_col="label")
    say(f"1. data      {len(log):,} interactions, {log['user_id'].nunique():,} users, "
        f"{log['item_id'].nunique():,} items, positive rate {log['label'].mean():.3f}")
    say(f"             cleaning: {report.n_input:,} rows in, {report.n_output:,} out, "
        f"dropped {sum(report.dropped.values())}")
    X, y = log.drop(columns="label"), log["label"]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=args.random_state, stratify=y
    )

    pipe = make_pipeline(
        InteractionNormalizer(),
        FeatureBuilder(),
        NCFClassifier(epochs=args.epochs, random_state=args.random_state),
    )
    callbacks = reporter.epoch_callbacks(args.epochs)
    say("2. pipeline  " + " -> ".join(type(step).__name__ for _, step in pipe.steps))
    start = time.perf_counter()
    pipe.fit(X_train, y_train, ncfclassifier__callbacks=callbacks)
    seconds = time.perf_counter() - start
    n_rows = len(X_train) * args.epochs
    say(f"3. training  {args.epochs} epochs on {len(X_train):,} rows in {seconds:.1f} s "
        f"({n_rows / seconds:,.0f} rows/s)")

    proba = pipe.predict_proba(X_test)[:, 1]
    item_rate = y_train.groupby(X_train["item_id"]).mean()
    popularity = X_test["item_id"].map(item_rate).fillna(y_train.mean()).to_numpy()
    rows = {
        "NCFClassifier": (proba, pipe.predict(X_test)),
        "item popularity": (popularity, (popularity >= 0.5).astype(int)),
    }
    table = pd.DataFrame(
        {
            name: {
                "ROC AUC": roc_auc_score(y_test, score),
                "log loss": log_loss(y_test, np.clip(score, 1e-7, 1 - 1e-7)),
                "accuracy": accuracy_score(y_test, label),
            }
            for name, (score, label) in rows.items()
        }
    ).T
    say(f"4. held-out evaluation on {len(X_test):,} rows")
    print(table.round(4).to_string())

    users = list(X_test["user_id"].drop_duplicates().iloc[:2]) + ["a-new-user"]
    say(f"\n5. top-{args.k} recommendations (unseen items; a new user gets popular items)")
    top = recommend(pipe, users, k=args.k)
    top["item_category"] = top["item_id"].map(
        pipe.named_steps["featurebuilder"].item_catalogue_["item_category"]
    )
    print(top.round(4).to_string(index=False))
    return 0

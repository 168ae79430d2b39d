"""Quickstart: one scikit-learn Pipeline from interaction log to evaluated, tuned, deployed model.

Run with ``python examples/quickstart.py`` (about a minute on 2 CPU cores). With
``SKREC_SMOKE=1`` in the environment it runs at tiny sizes (a check that the code
runs, as CI does; the figures it prints then mean nothing).
"""

import os
import tempfile
from pathlib import Path

import joblib
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline

from skrec import (
    FeatureBuilder, InteractionNormalizer, NCFClassifier, make_interactions, recommend,
)

SMOKE = os.environ.get("SKREC_SMOKE") == "1"
n_users, n_items, n_interactions, epochs = (60, 40, 1_500, 1) if SMOKE else (300, 200, 10_000, 5)

# 1. An interaction log with the seed's columns and a binary "purchased" label.
X, y = make_interactions(n_users=n_users, n_items=n_items, n_interactions=n_interactions,
                         random_state=0, return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=0, stratify=y
)

# 2. Preprocess -> features -> deep recommender, as ONE estimator.
pipe = make_pipeline(
    InteractionNormalizer(strategy="log1p"),
    FeatureBuilder(boolean_features={"is_electronics": ("item_category", "==", "electronics")}),
    NCFClassifier(epochs=epochs, random_state=0),
)

# 3. Tune preprocessing AND network parameters together.
grid = {
    "interactionnormalizer__strategy": ["log1p"] if SMOKE else ["log1p", "smoothed_max"],
    "ncfclassifier__embedding_dim": [8, 16],
}
search = GridSearchCV(pipe, grid, cv=2, scoring="roc_auc").fit(X_train, y_train)
print("best parameters:", search.best_params_, f"(CV ROC AUC {search.best_score_:.3f})")
model = search.best_estimator_

# 4. Evaluate on held-out rows with scikit-learn's metrics.
proba = model.predict_proba(X_test)[:, 1]
print(f"held-out ROC AUC {roc_auc_score(y_test, proba):.3f}, "
      f"log loss {log_loss(y_test, proba):.3f}, "
      f"accuracy {accuracy_score(y_test, model.predict(X_test)):.3f}")
print("3-fold CV ROC AUC:", cross_val_score(model, X_train, y_train, cv=3,
                                            scoring="roc_auc").round(3))

# 5. Recommend: the top 5 unseen items for two users, scored in one batch.
users = X_test["user_id"].unique()[:2]
print(recommend(model, users, k=5))

# 6. Deploy: one joblib file holds the whole chain.
path = Path(tempfile.mkdtemp()) / "recommender.joblib"
joblib.dump(model, path)
served = joblib.load(path)
assert (served.predict_proba(X_test) == model.predict_proba(X_test)).all()
print(f"saved and reloaded {path.name}: identical predictions")

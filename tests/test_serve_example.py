"""examples/serve.py answers real HTTP requests as ``skrec.recommend`` would.

The example is imported by path; one small pipeline is trained per module,
saved with joblib, loaded back through the example's ``load_model`` and
served on a free localhost port by a thread of this process.
"""

import http.client
import importlib.util
import json
import logging
import threading
import urllib.error
import urllib.request
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline

from skrec import FeatureBuilder, NCFClassifier, make_interactions, recommend

ROOT = Path(__file__).resolve().parents[1]
UNKNOWN = 999_999  # not a user of the training log


def _import_example():
    spec = importlib.util.spec_from_file_location("skrec_serve_example",
                                                  ROOT / "examples" / "serve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


serve = _import_example()
# No proxy: an http_proxy setting must not route localhost requests away.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A fitted NCF pipeline with integer user and item ids, reloaded from joblib."""
    X, y = make_interactions(
        n_users=60, n_items=40, n_interactions=2000, random_state=0, return_X_y=True
    )
    # Integer ids, so that "user=7" in a query string must find the user 7.
    X["user_id"] = X["user_id"].str[1:].astype(np.int64)
    X["item_id"] = X["item_id"].str[1:].astype(np.int64)
    pipe = make_pipeline(FeatureBuilder(), NCFClassifier(epochs=1, random_state=0)).fit(X, y)
    path = tmp_path_factory.mktemp("serve") / "recommender.joblib"
    joblib.dump(pipe, path)
    return serve.load_model(path)


def _start(model, **kwargs):
    server = serve.make_server(model, port=0, **kwargs)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def _stop(server, thread):
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(model):
    server, thread = _start(model)
    yield server
    _stop(server, thread)


def get(server, path, method="GET"):
    """(status, headers, JSON body or None) of one real HTTP request."""
    request = urllib.request.Request(server.url + path, method=method)
    try:
        with OPENER.open(request, timeout=30) as response:
            return response.status, response.headers, json.load(response)
    except urllib.error.HTTPError as exc:
        with exc:
            raw = exc.read()
            return exc.code, exc.headers, json.loads(raw) if raw else None


def known_users(model, n):
    return list(model[0].user_vocabulary_[:n])


def assert_same(body, expected):
    """A /recommend answer holds recommend()'s rows: ids, ranks, scores to 1e-6."""
    items = body["items"]
    assert [i["item_id"] for i in items] == expected["item_id"].tolist()
    assert [i["rank"] for i in items] == expected["rank"].tolist()
    np.testing.assert_allclose([i["score"] for i in items], expected["score"], atol=1e-6)
    assert body["fallback"] == bool(expected["fallback"].all())


def test_health(server, model):
    status, headers, body = get(server, "/health")
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert body == {
        "status": "ok",
        "model": "NCFClassifier",
        "n_users": len(model[0].user_vocabulary_),
        "n_items": len(model[0].item_vocabulary_),
    }


@pytest.mark.parametrize("k", [1, 5, 40])
def test_recommend_matches_recommend(server, model, k):
    for user in known_users(model, 4):
        # The query string carries text; the server maps it to the integer id.
        status, _, body = get(server, f"/recommend?user={user}&k={k}")
        assert status == 200, body
        assert body["user"] == int(user) and body["k"] == k
        expected = recommend(model, [user], k=k)
        assert len(expected) > 0 and not expected["fallback"].any()
        assert_same(body, expected)


def test_recommend_default_k_and_exclude_seen(server, model):
    user = known_users(model, 1)[0]
    _, _, body = get(server, f"/recommend?user={user}")
    assert body["k"] == 10
    assert_same(body, recommend(model, [user], k=10))
    _, _, body = get(server, f"/recommend?user={user}&k=40&exclude_seen=false")
    assert len(body["items"]) == 40  # the whole catalogue, seen items included
    assert_same(body, recommend(model, [user], k=40, exclude_seen=False))


def test_unknown_user_is_404_naming_the_fix(server):
    status, _, body = get(server, f"/recommend?user={UNKNOWN}&k=5")
    assert status == 404
    assert str(UNKNOWN) in body["error"] and "fallback=popular" in body["error"]


def test_unknown_user_with_popular_fallback(server, model):
    status, _, body = get(server, f"/recommend?user={UNKNOWN}&k=5&fallback=popular")
    assert status == 200
    assert body["user"] == UNKNOWN and body["fallback"] is True
    expected = recommend(model, [UNKNOWN], k=5)
    assert expected["fallback"].all()
    assert_same(body, expected)
    # A known user is scored by the model whatever the fallback says.
    user = known_users(model, 1)[0]
    _, _, body = get(server, f"/recommend?user={user}&k=5&fallback=popular")
    assert_same(body, recommend(model, [user], k=5))


@pytest.mark.parametrize(
    "query, parameter, shown",
    [
        ("user=7&k=0", "k", "'0'"),
        ("user=7&k=-1", "k", "'-1'"),
        ("user=7&k=abc", "k", "'abc'"),
        ("user=7&k=2.5", "k", "'2.5'"),
        ("user=7&k=1001", "k", "1000"),
        ("k=5", "user", "user=7"),
        ("user=&k=5", "user", "user=7"),
        ("user=7&user=8", "user", "'8'"),
        ("user=7&limit=5", "limit", "'5'"),
        ("user=7&fallback=random", "fallback", "fallback=popular"),
        ("user=7&exclude_seen=maybe", "exclude_seen", "'maybe'"),
    ],
)
def test_bad_parameters_are_400(server, query, parameter, shown):
    status, _, body = get(server, f"/recommend?{query}")
    assert status == 400
    assert body["parameter"] == parameter
    assert parameter in body["error"] and shown in body["error"]


def test_unknown_path_is_404(server):
    status, _, body = get(server, "/recommendations?user=7")
    assert status == 404
    assert "/recommendations" in body["error"] and "/recommend" in body["error"]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "HEAD"])
def test_other_methods_are_405(server, method):
    status, headers, body = get(server, "/recommend?user=7", method=method)
    assert status == 405
    assert headers["Allow"] == "GET"
    if method != "HEAD":
        assert method in body["error"]


def test_internal_error_is_500_without_traceback(server, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(server, "recommend", broken)
    user = int(server.builder.user_vocabulary_[0])
    with caplog.at_level(logging.ERROR, logger="skrec.serve"):
        status, _, body = get(server, f"/recommend?user={user}")
    assert status == 500
    assert set(body) == {"error"} and "secret" not in body["error"]
    assert "Traceback" not in body["error"]
    # The traceback went to the server's log instead.
    assert any(r.exc_info and "secret internals" in str(r.exc_info[1])
               for r in caplog.records)


def test_keep_alive_connection_answers_several_requests(server, model):
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        for path, status in [("/health", 200), ("/recommend?user=x&k=0", 400),
                             (f"/recommend?user={known_users(model, 1)[0]}&k=3", 200)]:
            connection.request("GET", path)
            response = connection.getresponse()
            json.loads(response.read())
            assert response.status == status
    finally:
        connection.close()


@pytest.mark.parametrize("serialize", [True, False])
def test_concurrent_requests_are_all_correct(model, serialize):
    users = known_users(model, 16)
    expected = {user: recommend(model, [user], k=5) for user in users}
    server, thread = _start(model, serialize=serialize)
    failures = []

    def client(offset):
        try:
            for user in users[offset::4] * 2:
                status, _, body = get(server, f"/recommend?user={user}&k=5")
                assert status == 200, body
                assert_same(body, expected[user])
        except Exception as exc:  # reported by the main thread
            failures.append(repr(exc))

    try:
        clients = [threading.Thread(target=client, args=(i % 4,)) for i in range(8)]
        for c in clients:
            c.start()
        for c in clients:
            c.join(timeout=60)
    finally:
        _stop(server, thread)
    assert not failures, failures[:3]


def test_to_user_id_follows_the_vocabulary_type():
    ints = pd.Index(np.array([7, 12], dtype=np.int64))
    assert serve.to_user_id("7", ints) == 7 and isinstance(serve.to_user_id("7", ints), int)
    assert serve.to_user_id("99", ints) == 99  # unknown, echoed as an integer
    assert serve.to_user_id("ann", ints) == "ann"
    assert serve.to_user_id("1_2", ints) == "1_2"  # digits only, not int()'s grammar
    strings = pd.Index(["7", "ann"], dtype=object)
    assert serve.to_user_id("7", strings) == "7"
    mixed = pd.Index([7, "ann"], dtype=object)
    assert serve.to_user_id("7", mixed) == 7
    floats = pd.Index([7.5, 1.0])
    assert serve.to_user_id("7.5", floats) == 7.5


def test_main_needs_a_model(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("SKREC_SMOKE", raising=False)
    with pytest.raises(SystemExit) as exc:
        serve.main([])
    assert exc.value.code == 2
    assert "--model" in capsys.readouterr().err
    assert serve.main(["--model", str(tmp_path / "missing.joblib")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_load_model_refuses_a_model_without_feature_builder(tmp_path):
    path = tmp_path / "plain.joblib"
    joblib.dump(make_pipeline(NCFClassifier()), path)
    with pytest.raises(ValueError, match="FeatureBuilder"):
        serve.load_model(path)

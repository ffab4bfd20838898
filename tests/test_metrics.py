"""Uncertainty and accuracy metrics against sklearn and hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from cimsim.functional import metrics as M


def _probs(seed=0, t=7, n=50, k=4):
    rng = np.random.default_rng(seed)
    return M.softmax(rng.normal(0, 2, (t, n, k))), rng.integers(0, k, n)


def test_softmax_stable_and_normalised():
    z = np.array([[1000.0, 1000.0, -1000.0], [0.0, np.log(3.0), -np.inf]])
    p = M.softmax(z)
    np.testing.assert_allclose(p[0], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(p[1], [0.25, 0.75, 0.0])
    q = M.softmax(np.random.default_rng(0).normal(0, 50, (3, 5)), axis=0)
    np.testing.assert_allclose(q.sum(axis=0), 1.0)


def test_nll_accuracy_against_sklearn():
    probs, y = _probs()
    pm = probs.mean(0)
    assert M.nll(probs, y) == pytest.approx(log_loss(y, pm, labels=range(4)), rel=1e-9)
    assert M.accuracy(probs, y) == pytest.approx(np.mean(pm.argmax(1) == y))
    np.testing.assert_array_equal(M.predict(probs), pm.argmax(1))
    # (N, K) input is treated as T = 1
    assert M.nll(pm, y) == pytest.approx(M.nll(probs, y))


def test_entropy_and_mutual_information_hand_cases():
    k = 5
    uniform = np.full((3, 4, k), 1.0 / k)
    np.testing.assert_allclose(M.predictive_entropy(uniform), np.log(k))
    np.testing.assert_allclose(M.mutual_information(uniform), 0.0, atol=1e-12)
    same = np.repeat(M.softmax(np.random.default_rng(1).normal(size=(1, 6, k))), 10, axis=0)
    np.testing.assert_allclose(M.mutual_information(same), 0.0, atol=1e-12)
    # two confident passes that disagree: entropy of mean = ln 2, mean entropy = 0 -> MI = ln 2
    dis = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    np.testing.assert_allclose(M.mutual_information(dis), np.log(2))
    np.testing.assert_allclose(M.predictive_entropy(dis), np.log(2))
    np.testing.assert_allclose(M.max_softmax(dis), 0.5)


def test_ece_hand_cases():
    # perfectly calibrated: confidence 0.8 everywhere, 80 % correct
    probs = np.tile([0.8, 0.2], (10, 1))[None]
    labels = np.array([0] * 8 + [1] * 2)
    assert M.ece(probs, labels) == pytest.approx(0.0, abs=1e-12)
    # fully confident, half wrong -> 0.5
    probs = np.tile([1.0, 0.0], (4, 1))[None]
    assert M.ece(probs, np.array([0, 0, 1, 1])) == pytest.approx(0.5)
    # two bins: conf 0.9 (all right) and 0.6 (all wrong): 0.5*0.1 + 0.5*0.6
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])[None]
    assert M.ece(probs, np.array([0, 0, 1, 1])) == pytest.approx(0.5 * 0.1 + 0.5 * 0.6)


def test_ood_scores_against_sklearn():
    pin, _ = _probs(2, n=200)
    rng = np.random.default_rng(3)
    pout = M.softmax(rng.normal(0, 0.5, (7, 150, 4)))  # flatter -> more uncertain
    for score in M.UNCERTAINTY_SCORES:
        res = M.ood_scores(pin, pout, score, quantile=0.9)
        s_in, s_out = M.uncertainty(pin, score), M.uncertainty(pout, score)
        ref = roc_auc_score(np.r_[np.zeros(200), np.ones(150)], np.r_[s_in, s_out])
        assert res["auroc"] == pytest.approx(ref)
        assert res["auroc"] == pytest.approx(M.auroc(s_in, s_out))
        assert res["id_rejected"] == pytest.approx(0.1, abs=0.01)
        assert res["detection_rate"] == pytest.approx(np.mean(s_out > np.quantile(s_in, 0.9)))
    assert M.ood_scores(pin, pout)["auroc"] > 0.8
    with pytest.raises(ValueError):
        M.uncertainty(pin, "nope")


def test_summarize():
    probs, y = _probs(4)
    s = M.summarize(probs, y)
    assert set(s) >= {"accuracy", "nll", "ece", "entropy", "mutual_information", "max_softmax", "passes"}
    assert s["passes"] == 7 and 0 <= s["ece"] <= 1 and s["mutual_information"] >= 0

"""Accuracy and uncertainty metrics on MC-dropout outputs. Pure numpy functions.

``probs`` has shape (T, N, K): softmax of each of T passes for N inputs over K classes (T = 1 for a
deterministic run). Natural logarithms throughout (entropies in nats).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cimsim.errors import DataError, NumericalError

_EPS = 1e-12


def require_finite(values: np.ndarray, what: str = "logits") -> None:
    """Raise NumericalError when ``values`` hold NaN or inf (e.g. logits overflowed by an absurd scale):
    every metric downstream would be NaN or fail inside scikit-learn."""
    arr = np.asarray(values)
    if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
        bad = ~np.isfinite(arr)
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise NumericalError(f"{int(bad.sum())} of {arr.size} {what} are NaN or inf (first at index {first}); "
                             "check the last layer's scale and bias in the weights", field=what)


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax (subtracts the max along ``axis``).

    Raises:
        NumericalError: a logit is NaN or +inf, or every logit of an input is −inf.
    """
    z = np.asarray(logits, dtype=np.float64)
    # −inf is a class of probability 0 (allowed); NaN, +inf or a row without a finite logit is not.
    bad = np.isnan(z) | (z == np.inf)
    zmax = np.max(z, axis=axis, keepdims=True)
    if bad.any() or not np.isfinite(zmax).all():
        require_finite(np.where(bad, np.nan, 0.0) if bad.any() else zmax, "logits")
    with np.errstate(over="ignore"):
        z = z - zmax  # finite minus finite may overflow to −inf: exp gives 0, which is right
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def _as_tnk(probs: np.ndarray) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim == 2:
        p = p[None]
    if p.ndim != 3:
        raise ValueError(f"probs must be (T, N, K) or (N, K), got {p.shape}")
    require_finite(p, "probabilities")
    return p


def _labels(labels: np.ndarray, n: int, k: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.shape != (n,):
        raise DataError(f"{y.shape} labels for {n} inputs", field="labels")
    if n == 0:
        raise DataError("no inputs to evaluate (empty test set)", field="labels", allowed="at least one input")
    if y.dtype.kind not in "iu" or int(y.min()) < 0 or int(y.max()) >= k:
        raise DataError(f"labels must be integers in 0..{k - 1} for {k} outputs (got {y.min()}..{y.max()})",
                        field="labels")
    return y.astype(np.int64)


def mean_probs(probs: np.ndarray) -> np.ndarray:
    """Predictive distribution: mean softmax over passes, (N, K)."""
    return _as_tnk(probs).mean(axis=0)


def predict(probs: np.ndarray) -> np.ndarray:
    """Class of the mean softmax, (N,)."""
    return mean_probs(probs).argmax(axis=1)


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of inputs whose mean-softmax argmax equals the label."""
    pm = mean_probs(probs)
    return float(np.mean(pm.argmax(axis=1) == _labels(labels, *pm.shape)))


def nll(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of the labels under the mean softmax (probabilities clipped at 1e-12)."""
    pm = mean_probs(probs)
    y = _labels(labels, *pm.shape)
    p = pm[np.arange(pm.shape[0]), y]
    return float(-np.mean(np.log(np.clip(p, _EPS, 1.0))))


def ece(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """Expected calibration error of the mean softmax.

    Confidence = max mean-softmax probability; ``n_bins`` equal-width bins over [0, 1], bin b holding
    confidences in (b/n, (b+1)/n] (the first bin also holds 0). ECE = sum_b |B_b|/N * |acc(B_b) - conf(B_b)|.
    """
    pm = mean_probs(probs)
    y = _labels(labels, *pm.shape)
    conf = pm.max(axis=1)
    correct = (pm.argmax(axis=1) == y).astype(np.float64)
    bins = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        sel = bins == b
        if sel.any():
            total += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(total)


def entropy(p: np.ndarray, axis: int = -1) -> np.ndarray:
    """Shannon entropy (nats) of distributions along ``axis`` (0 log 0 = 0)."""
    p = np.asarray(p, dtype=np.float64)
    return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=axis)


def predictive_entropy(probs: np.ndarray) -> np.ndarray:
    """Entropy of the mean softmax, (N,)."""
    return entropy(mean_probs(probs))


def mutual_information(probs: np.ndarray) -> np.ndarray:
    """BALD mutual information: entropy of the mean minus mean of per-pass entropies, (N,), >= 0."""
    p = _as_tnk(probs)
    return np.maximum(entropy(p.mean(axis=0)) - entropy(p).mean(axis=0), 0.0)


def max_softmax(probs: np.ndarray) -> np.ndarray:
    """Largest mean-softmax probability, (N,) (a confidence: lower = more uncertain)."""
    return mean_probs(probs).max(axis=1)


UNCERTAINTY_SCORES = ("entropy", "mutual_information", "max_softmax")


def uncertainty(probs: np.ndarray, score: str = "entropy") -> np.ndarray:
    """Uncertainty score per input, higher = more uncertain: entropy, mutual_information or
    max_softmax (returned as 1 - max softmax)."""
    if score == "entropy":
        return predictive_entropy(probs)
    if score == "mutual_information":
        return mutual_information(probs)
    if score == "max_softmax":
        return 1.0 - max_softmax(probs)
    raise ValueError(f"unknown uncertainty score {score!r} (allowed: {', '.join(UNCERTAINTY_SCORES)})")


def ood_scores(probs_in: np.ndarray, probs_out: np.ndarray, score: str = "entropy",
               quantile: float = 0.95) -> dict[str, float]:
    """OOD detection of ``probs_out`` against in-distribution ``probs_in`` with an uncertainty score.

    Returns ``auroc`` (OOD = positive class, higher score = more OOD; sklearn's roc_auc_score),
    ``threshold`` (the ``quantile`` of the in-distribution scores: that fraction of ID inputs is kept),
    ``detection_rate`` (fraction of OOD inputs with score > threshold), ``id_rejected`` (fraction of ID inputs
    with score > threshold, about 1 - quantile), and the mean scores of both sets.
    """
    return _detection(uncertainty(probs_in, score), uncertainty(probs_out, score), quantile)


def _detection(s_in: np.ndarray, s_out: np.ndarray, quantile: float) -> dict[str, float]:
    """The detection figures of :func:`ood_scores` from per-input scores (higher = more OOD)."""
    from sklearn.metrics import roc_auc_score

    y = np.r_[np.zeros(len(s_in)), np.ones(len(s_out))]
    thr = float(np.quantile(s_in, quantile))
    return {
        "auroc": float(roc_auc_score(y, np.r_[s_in, s_out])),
        "threshold": thr,
        "detection_rate": float(np.mean(s_out > thr)),
        "id_rejected": float(np.mean(s_in > thr)),
        "mean_score_in": float(s_in.mean()),
        "mean_score_out": float(s_out.mean()),
    }


def auroc(scores_in: np.ndarray, scores_out: np.ndarray) -> float:
    """AUROC of separating OOD (positive) from ID by a score, higher = more OOD."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.r_[np.zeros(len(scores_in)), np.ones(len(scores_out))],
                               np.r_[scores_in, scores_out]))


def summarize(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy, NLL, ECE and mean uncertainty scores of one evaluation."""
    return {
        "accuracy": accuracy(probs, labels),
        "nll": nll(probs, labels),
        "ece": ece(probs, labels),
        "entropy": float(predictive_entropy(probs).mean()),
        "mutual_information": float(mutual_information(probs).mean()),
        "max_softmax": float(max_softmax(probs).mean()),
        "passes": int(_as_tnk(probs).shape[0]),
    }


# ---------------------------------------------------------------------------------------------------------
# Streaming: per-input summaries, so a run keeps O(N·K) numbers instead of the (T, N, K) probabilities.
# Every per-input number is computed exactly as the functions above compute it on the whole (T, N, K) array
# (they work input by input), so results do not depend on how inputs were chunked.

@dataclass(frozen=True)
class Summary:
    """Per-input MC summary of N inputs.

    Attributes:
        mean: mean softmax over the passes, (N, K).
        mutual_information: BALD mutual information, (N,).
        passes: T.
    """

    mean: np.ndarray
    mutual_information: np.ndarray
    passes: int

    @classmethod
    def of(cls, probs: np.ndarray) -> Summary:
        """Summary of probabilities (T, N, K) (or (N, K))."""
        p = _as_tnk(probs)
        # means over T added pass by pass, as numpy reduces a leading axis of a (T, N>1, …) array: the same
        # bits as mean_probs / mutual_information on the whole set, also for a chunk of one input (where
        # numpy would switch to pairwise summation)
        t = p.shape[0]
        mean = _mean_over_passes(p)
        mi = np.maximum(entropy(mean) - _mean_over_passes(entropy(p)), 0.0)
        return cls(mean, mi, int(t))

    @classmethod
    def concat(cls, parts: list[Summary]) -> Summary:
        """Summaries of consecutive chunks of inputs, joined in order."""
        if not parts:
            raise ValueError("no summaries to join")
        return cls(np.concatenate([s.mean for s in parts]),
                   np.concatenate([s.mutual_information for s in parts]), parts[0].passes)

    @property
    def probs(self) -> np.ndarray:
        """The mean as (1, N, K): what the mean-softmax metrics above read (identical results)."""
        return self.mean[None]

    def predictive_entropy(self) -> np.ndarray:
        return predictive_entropy(self.probs)

    def max_softmax(self) -> np.ndarray:
        return max_softmax(self.probs)

    def predict(self) -> np.ndarray:
        return predict(self.probs)

    def accuracy(self, labels: np.ndarray) -> float:
        return accuracy(self.probs, labels)

    def uncertainty(self, score: str = "entropy") -> np.ndarray:
        """As :func:`uncertainty` on the full probabilities."""
        if score == "mutual_information":
            return self.mutual_information
        return uncertainty(self.probs, score)

    def summarize(self, labels: np.ndarray) -> dict[str, float]:
        """As :func:`summarize` on the full probabilities."""
        return {
            "accuracy": accuracy(self.probs, labels),
            "nll": nll(self.probs, labels),
            "ece": ece(self.probs, labels),
            "entropy": float(self.predictive_entropy().mean()),
            "mutual_information": float(self.mutual_information.mean()),
            "max_softmax": float(self.max_softmax().mean()),
            "passes": self.passes,
        }


def _mean_over_passes(a: np.ndarray) -> np.ndarray:
    acc = a[0].copy()
    for k in range(1, a.shape[0]):
        acc += a[k]
    return acc / a.shape[0]


def ood_scores_summary(s_in: Summary, s_out: Summary, score: str = "entropy",
                       quantile: float = 0.95) -> dict[str, float]:
    """As :func:`ood_scores`, from summaries."""
    return _detection(s_in.uncertainty(score), s_out.uncertainty(score), quantile)

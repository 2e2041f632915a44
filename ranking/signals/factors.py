"""The blend's optional `extra` component served: an ALS or EASE model over the items users
engaged with, scoring a user from their recent engaged notes at request time.

ALS (implicit's, on BM25-weighted engagement as `ranking.evaluate` fits it) is kept as its
item factors Y, YᵀY + λI and the BM25 statistics: a user's vector is implicit's own
regularised least-squares solve (`recalculate_user`) over the user's weighted items, so a
user unknown at fit time is scored the same way as one who was. EASE is kept as its
item-item weight matrix over the `max_items` most engaged items (Steck 2019). Both are
stored as float32 arrays in one npz (`to_bytes`). Pure numpy: no Flask, no ORM.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from ranking.blend import cf_norm
from ranking.config import EVALUATION, LEARN

KINDS = ("als", "ease")


@dataclass(eq=False)
class FactorModel:
    """An ALS or EASE model over `item_ids` (dense indices offline, note ids when served)."""

    kind: str
    item_ids: np.ndarray  # int64 [n]
    config: Mapping[str, float] = field(default_factory=dict)  # the hyper-parameters
    # ALS
    item_factors: np.ndarray | None = None  # float32 [n, f]
    gram: np.ndarray | None = None  # float32 [f, f]: YᵀY + λI
    idf: np.ndarray | None = None  # float32 [n]: BM25 idf of each item
    avg_length: float = 1.0  # BM25: the mean user row sum at fit time
    bm25_k1: float = EVALUATION.bm25_k1
    bm25_b: float = EVALUATION.bm25_b
    # EASE
    weights: np.ndarray | None = None  # float32 [n, n]: B, zero diagonal
    _position: dict[int, int] | None = field(default=None, repr=False)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def position(self) -> dict[int, int]:
        """Item id → row (built once per loaded model)."""
        if self._position is None:
            self._position = {int(n): i for i, n in enumerate(self.item_ids.tolist())}
        return self._position

    @property
    def nbytes(self) -> int:
        arrays = (self.item_ids, self.item_factors, self.gram, self.idf, self.weights)
        return sum(a.nbytes for a in arrays if a is not None)

    def with_ids(self, ids: Sequence[int]) -> FactorModel:
        """The same model over other ids: `ids[i]` names dense index i (note ids to serve)."""
        mapped = np.asarray(ids, dtype=np.int64)[self.item_ids]
        return FactorModel(
            self.kind,
            mapped,
            dict(self.config),
            self.item_factors,
            self.gram,
            self.idf,
            self.avg_length,
            self.bm25_k1,
            self.bm25_b,
            self.weights,
        )

    # ----------------------------------------------------------------------------------------
    # Scoring

    def score_rows(self, rows: sp.csr_matrix) -> np.ndarray:
        """Scores over the model's items for users given as rows of summed engagement weights
        over its items (users × n_items), float64 [users, n_items]."""
        rows = sp.csr_matrix(rows, dtype=np.float64)
        if self.kind == "ease":
            assert self.weights is not None
            binary = (rows > 0).astype(np.float32)
            return np.asarray(binary @ self.weights, dtype=np.float64)
        assert self.item_factors is not None and self.gram is not None and self.idf is not None
        y = self.item_factors.astype(np.float64)
        gram = self.gram.astype(np.float64)
        conf = self._bm25(rows)
        out = np.zeros((rows.shape[0], self.n_items))
        for r in range(rows.shape[0]):
            lo, hi = conf.indptr[r], conf.indptr[r + 1]
            if lo == hi:
                continue
            out[r] = y @ _user_vector(y, gram, conf.indices[lo:hi], conf.data[lo:hi])
        return out

    def user_scores(self, engaged: Iterable[tuple[int, float]]) -> np.ndarray | None:
        """One user's scores over the model's items from their (item id, weight) engagements
        (weights of an item add up); None when none of them is covered by the model."""
        position = self.position
        acc: dict[int, float] = {}
        for item, weight in engaged:
            row = position.get(int(item))
            if row is not None and weight > 0:
                acc[row] = acc.get(row, 0.0) + float(weight)
        if not acc:
            return None
        cols = np.fromiter(acc.keys(), dtype=np.int64, count=len(acc))
        vals = np.fromiter(acc.values(), dtype=np.float64, count=len(acc))
        row = sp.csr_matrix((vals, (np.zeros(len(cols), dtype=np.int64), cols)), (1, self.n_items))
        return self.score_rows(row)[0]

    def normalised(
        self, engaged: Iterable[tuple[int, float]], exclude: Iterable[int] = ()
    ) -> UserScores | None:
        """The user's scores relative to their best score outside `exclude` (the engaged
        notes), in [0, 1] like `cf_norm`; excluded items score 0."""
        raw = self.user_scores(engaged)
        if raw is None:
            return None
        raw = raw.copy()
        position = self.position
        out_rows = [r for n in exclude if (r := position.get(int(n))) is not None]
        raw[out_rows] = -np.inf
        finite = np.where(np.isfinite(raw), raw, 0.0)
        top = float(finite.max(initial=0.0))
        return UserScores(self, cf_norm(finite, top))

    # ----------------------------------------------------------------------------------------
    # Storage

    def to_bytes(self) -> bytes:
        arrays: dict[str, np.ndarray] = {
            "kind": np.array(self.kind),
            "config": np.array(json.dumps(dict(self.config), sort_keys=True)),
            "item_ids": self.item_ids.astype(np.int64),
        }
        if self.kind == "als":
            assert self.item_factors is not None and self.gram is not None
            assert self.idf is not None
            arrays |= {
                "item_factors": self.item_factors.astype(np.float32),
                "gram": self.gram.astype(np.float32),
                "idf": self.idf.astype(np.float32),
                "bm25": np.array([self.avg_length, self.bm25_k1, self.bm25_b], dtype=np.float64),
            }
        else:
            assert self.weights is not None
            arrays["weights"] = self.weights.astype(np.float32)
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> FactorModel:
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            kind = str(z["kind"])
            if kind not in KINDS:
                raise ValueError(f"unknown extra model {kind!r}")
            config = json.loads(str(z["config"]))
            ids = z["item_ids"].astype(np.int64)
            if kind == "ease":
                return cls(kind, ids, config, weights=z["weights"])
            avg, k1, b = (float(v) for v in z["bm25"])
            return cls(
                kind,
                ids,
                config,
                item_factors=z["item_factors"],
                gram=z["gram"],
                idf=z["idf"],
                avg_length=avg,
                bm25_k1=k1,
                bm25_b=b,
            )

    def _bm25(self, rows: sp.csr_matrix) -> sp.csr_matrix:
        """implicit's `bm25_weight` of these rows with the fit's idf and mean row length."""
        assert self.idf is not None
        out = rows.tocsr(copy=True)
        lengths = np.asarray(out.sum(axis=1)).ravel()
        norm = (1.0 - self.bm25_b) + self.bm25_b * lengths / max(self.avg_length, 1e-12)
        row_of = np.repeat(np.arange(out.shape[0]), np.diff(out.indptr))
        k1 = self.bm25_k1
        out.data = (
            out.data * (k1 + 1.0) / (k1 * norm[row_of] + out.data) * self.idf[out.indices]
        ).astype(np.float64)
        return out


@dataclass(eq=False)
class UserScores:
    """One request's normalised extra scores (`FactorModel.normalised`)."""

    model: FactorModel
    values: np.ndarray  # float64 [n_items] in [0, 1]

    def get(self, note_id: int) -> float:
        row = self.model.position.get(note_id)
        return float(self.values[row]) if row is not None else 0.0

    def top(self, n: int, exclude: Iterable[int] = ()) -> list[tuple[int, float]]:
        """The n best positive (item id, normalised score), best first, outside `exclude`."""
        values = self.values.copy()
        position = self.model.position
        out_rows = [r for i in exclude if (r := position.get(int(i))) is not None]
        values[out_rows] = 0.0
        positive = np.flatnonzero(values > 0)
        if len(positive) > n:
            positive = positive[np.argpartition(-values[positive], n - 1)[:n]]
        order = positive[np.lexsort((self.model.item_ids[positive], -values[positive]))]
        ids = self.model.item_ids[order].tolist()
        return list(zip(ids, values[order].tolist(), strict=True))


def _user_vector(y: np.ndarray, gram: np.ndarray, cols: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """implicit's user solve: (YᵀY + λI + Σ (c-1)·y yᵀ) x = Σ c·y over the user's items
    (a negative confidence is a negative preference: |c| in A, nothing in b)."""
    yu = y[cols]
    a = gram + (yu.T * (np.abs(conf) - 1.0)) @ yu
    b = (np.where(conf > 0, conf, 0.0)[:, None] * yu).sum(axis=0)
    return np.linalg.solve(a, b)


# --------------------------------------------------------------------------------------------
# Fitting (on users × items summed engagement weights, e.g. `ranking.replay._seen_csr`)


def fit_als(
    seen: sp.csr_matrix,
    *,
    factors: int = EVALUATION.als_factors,
    regularization: float = EVALUATION.als_regularization,
    iterations: int = EVALUATION.als_iterations,
    seed: int = 0,
) -> FactorModel:
    """implicit's ALS on BM25-weighted engagement (as `ranking.evaluate`), kept over the
    items anyone engaged with (the others' factors are zero)."""
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.nearest_neighbours import bm25_weight
    from threadpoolctl import threadpool_limits

    seen = sp.csr_matrix(seen, dtype=np.float32)
    counts = np.diff(seen.tocsc().indptr)
    keep = np.flatnonzero(counts > 0)
    x = seen[:, keep].tocsr()
    k1, b = EVALUATION.bm25_k1, EVALUATION.bm25_b
    weighted = bm25_weight(x, K1=k1, B=b).tocsr()
    with threadpool_limits(1, "blas"):  # implicit parallelises itself; nested BLAS threads hurt
        model = AlternatingLeastSquares(
            factors=factors,
            regularization=regularization,
            iterations=iterations,
            random_state=seed,
        )
        model.fit(weighted, show_progress=False)
    y = np.asarray(model.item_factors, dtype=np.float32)
    n_users = max(seen.shape[0], 1)
    idf = np.log(float(n_users)) - np.log1p(counts[keep].astype(np.float64))
    gram = y.astype(np.float64).T @ y.astype(np.float64) + regularization * np.eye(y.shape[1])
    return FactorModel(
        "als",
        keep.astype(np.int64),
        {"factors": factors, "regularization": regularization, "iterations": iterations},
        item_factors=y,
        gram=gram.astype(np.float32),
        idf=idf.astype(np.float32),
        avg_length=float(np.asarray(x.sum(axis=1)).mean()) if x.shape[0] else 1.0,
        bm25_k1=k1,
        bm25_b=b,
    )


def fit_ease(
    seen: sp.csr_matrix, *, lambda_multiple: float = 1.0, max_items: int = LEARN.ease_max_items
) -> FactorModel:
    """EASE on binary engagement over the `max_items` most engaged items (as
    `ranking.evaluate`); λ is a multiple of the mean diagonal of XᵀX."""
    x = (sp.csr_matrix(seen) > 0).astype(np.float64).tocsr()
    counts = np.asarray(x.sum(axis=0)).ravel()
    keep = np.argsort(-counts, kind="stable")[:max_items]
    keep = np.sort(keep[counts[keep] > 0])
    xk = x[:, keep].tocsr()
    gram = (xk.T @ xk).toarray()
    diag = np.arange(len(keep))
    if len(keep):
        gram[diag, diag] += lambda_multiple * float(gram[diag, diag].mean())
        p = np.linalg.inv(gram)
        weights = p / (-np.diag(p))[None, :]
        weights[diag, diag] = 0.0
    else:
        weights = gram
    return FactorModel(
        "ease",
        keep.astype(np.int64),
        {"lambda_multiple": lambda_multiple, "max_items": max_items},
        weights=weights.astype(np.float32),
    )


def fit_model(
    kind: str, seen: sp.csr_matrix, config: Mapping[str, Any], seed: int = 0
) -> FactorModel:
    """`fit_als` or `fit_ease` with a recorded configuration (`BlendParams.extra_config`)."""
    if kind == "als":
        return fit_als(
            seen,
            factors=int(config.get("factors", EVALUATION.als_factors)),
            regularization=float(config.get("regularization", EVALUATION.als_regularization)),
            iterations=int(config.get("iterations", EVALUATION.als_iterations)),
            seed=seed,
        )
    if kind == "ease":
        return fit_ease(
            seen,
            lambda_multiple=float(config.get("lambda_multiple", 1.0)),
            max_items=int(config.get("max_items", LEARN.ease_max_items)),
        )
    raise ValueError(f"unknown extra model {kind!r}")


def full_scores(model: FactorModel, rows: sp.csr_matrix, n_items: int) -> np.ndarray:
    """Scores over a whole dense catalogue of `n_items` (users × n_items rows in, -inf at
    items the model does not cover): the offline scorer's shape."""
    sub = sp.csr_matrix(rows)[:, model.item_ids]
    out = np.full((rows.shape[0], n_items), -np.inf)
    out[:, model.item_ids] = model.score_rows(sub)
    return out


def choose_model(
    kind: str,
    configs: Sequence[Mapping[str, Any]],
    seen: sp.csr_matrix,
    users: np.ndarray,
    relevant: Sequence[np.ndarray],
    k: int = LEARN.k,
    seed: int = 0,
) -> tuple[FactorModel, list[dict[str, Any]]]:
    """Fit each configuration on `seen` (the holdout's fit part) and keep the one with the
    best mean NDCG@k of the held-out `users` against their `relevant` items (the first listed
    wins a tie): `ranking.evaluate`'s choice, on the models served. Returns the chosen model
    and every configuration with its NDCG."""
    seen = sp.csr_matrix(seen)
    rows = seen[users]
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discounts)
    best: tuple[float, FactorModel] | None = None
    tried: list[dict[str, Any]] = []
    for config in configs:
        model = fit_model(kind, seen, config, seed)
        scores = full_scores(model, rows, seen.shape[1])
        scores[rows.nonzero()] = -np.inf
        ndcg = np.zeros(len(users))
        for r, rel in enumerate(relevant):
            row = scores[r]
            kk = min(k, len(row))
            top = np.argpartition(-row, kk - 1)[:kk] if kk else np.zeros(0, dtype=np.int64)
            top = top[np.isfinite(row[top])]
            top = top[np.lexsort((top, -row[top]))]
            hits = np.isin(top, rel).astype(np.float64)
            n_rel = min(max(len(rel), 1), k)
            ndcg[r] = float((hits * discounts[: len(hits)]).sum() / ideal[n_rel - 1])
        mean = float(ndcg.mean()) if len(ndcg) else 0.0
        tried.append({**config, "validation_ndcg": round(mean, 6)})
        if best is None or mean > best[0]:
            best = (mean, model)
    if best is None:
        raise ValueError("no configuration to choose from")
    return best[1], tried

"""Item-to-item collaborative filtering from co-engagement, rebuilt by a periodic job.

Fitting:
1. events → a CSR user×item matrix of time-decayed, kind-weighted engagement (repeats summed,
   then `log1p`-damped so a user opening a note ten times does not count ten times); the decay
   is per user — age is measured from that user's own latest event, in float64, with a floor
   (`user_decay`) — so a returning user's history is not erased by their time away;
2. IUF: each user's row is scaled by `1/log(1 + n_items_of_user)` so very active users (and
   crawlers) do not make everything similar to everything;
3. cosine: columns L2-normalised, similarity = Rᵀ·R computed one chunk of items at a time,
   chunks sized by an estimate of the partial products so memory stays bounded; only the top
   `max_neighbours` per row survive (argpartition);
   swing: per item, the `swing_max_users` most engaged co-users (a bounded sample, which is
   what keeps Swing tractable) and for every pair of them `w_u·w_v / (alpha + |I_u ∩ I_v|)`
   added to each item both engaged with;
   proximity (the default; time-context ItemCF): classic ItemCF-IUF co-engagement
   `Σ_u iuf_u·r_ui·r_uj / sqrt(|U_i|·|U_j|)` (user counts, not L2 norms, so the decay is not
   normalised away), with half of the pair mass moved to pairs engaged close together in the
   user's own sequence (`1/(1 + Δposition/proximity_window)`, up to `proximity_lags` apart),
   computed one chunk of items at a time like cosine; each item's neighbour list is then
   divided by its best similarity (ItemCF-Norm), so a user's seeds weigh alike whatever the
   density of their neighbourhoods. Whether the proximity pairs are kept is decided on the
   data being fitted: up to 2,000 users' last events are held out and the pairs stay only if
   they rank those notes better than co-engagement alone (`_validate_share`); data without
   session structure falls back to plain ItemCF-IUF.
The model is four numpy arrays (sorted item ids, CSR-style neighbour lists) so it serialises
with `np.savez` and no pickle.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from ranking.config import ITEMCF, ItemCFConfig
from ranking.types import Event

Method = Literal["cosine", "swing", "proximity"]


class ItemCF:
    def __init__(self, config: ItemCFConfig = ITEMCF) -> None:
        self.config = config
        self.item_ids = np.zeros(0, dtype=np.int64)  # sorted note ids
        self.indptr = np.zeros(1, dtype=np.int64)
        self.indices = np.zeros(0, dtype=np.int32)  # neighbour positions into item_ids
        self.data = np.zeros(0, dtype=np.float32)  # similarities, descending per row
        self.meta: dict[str, Any] = {"method": None, "n_users": 0, "n_events": 0}

    # -- fitting ----------------------------------------------------------------------------
    def fit(
        self,
        events: Iterable[Event],
        *,
        now: float | None = None,
        max_neighbours: int | None = None,
        method: Method | None = None,
    ) -> ItemCF:
        """Fit from events (impressions carry no weight; events after `now` are ignored)."""
        weights = self.config.event_weights
        users: list[int] = []
        items: list[int] = []
        ws: list[float] = []
        ts: list[float] = []
        for ev in events:
            w = weights.get(ev.kind, 0.0) * ev.weight
            if w > 0:
                users.append(ev.user_id)
                items.append(ev.note_id)
                ws.append(w)
                ts.append(ev.ts)
        return self.fit_arrays(
            np.asarray(users, dtype=np.int64),
            np.asarray(items, dtype=np.int64),
            np.asarray(ws, dtype=np.float64),
            np.asarray(ts, dtype=np.float64),
            now=now,
            max_neighbours=max_neighbours,
            method=method,
        )

    def fit_arrays(
        self,
        user_ids: np.ndarray,
        note_ids: np.ndarray,
        weights: np.ndarray,
        ts: np.ndarray,
        *,
        now: float | None = None,
        max_neighbours: int | None = None,
        method: Method | None = None,
    ) -> ItemCF:
        """Fit from parallel arrays (weights already kind-weighted) — the fast path for jobs."""
        started = time.perf_counter()
        cfg = self.config
        k = int(max_neighbours or cfg.max_neighbours)
        method = method or cfg.method  # type: ignore[assignment]
        if method not in ("cosine", "swing", "proximity"):
            raise ValueError(f"unknown item-CF method: {method!r}")
        ts = np.asarray(ts, dtype=np.float64)
        if now is None:
            now = float(ts.max()) if len(ts) else 0.0
        mask = (ts <= now) & (np.asarray(weights) > 0)
        user_ids = np.asarray(user_ids)[mask]
        note_ids = np.asarray(note_ids)[mask]
        ts = ts[mask]
        uniq_users, u_idx = np.unique(user_ids, return_inverse=True)
        w_raw = np.asarray(weights, dtype=np.float64)[mask]
        w = w_raw * user_decay(u_idx, ts, len(uniq_users), cfg.half_life_seconds, cfg.decay_floor)
        self.item_ids, i_idx = np.unique(note_ids, return_inverse=True)
        n_users, n_items = len(uniq_users), len(self.item_ids)
        r, user_deg, iuf = _user_matrix(u_idx, i_idx, w, n_users, n_items)
        extra: dict[str, Any] = {}
        if n_items == 0 or n_users == 0:
            rows: list[tuple[np.ndarray, np.ndarray]] = []
        elif method == "cosine":
            rows = self._cosine(r, iuf, user_deg, k)
        elif method == "proximity":
            order = np.lexsort((np.arange(len(ts)), ts, u_idx))  # user, time, input order
            share, validation = self._validate_share(u_idx, i_idx, w, w_raw, order, k)
            extra = {"proximity_share": share, "validation": validation}
            rows = self._proximity(r, iuf, user_deg, u_idx[order], i_idx[order], k, (share,))[0]
        else:
            rows = self._swing(r, iuf, k)
        self._store_rows(rows, n_items)
        self.meta = {
            "method": method,
            "n_users": int(n_users),
            "n_events": int(mask.sum()),
            "max_neighbours": k,
            "fitted_at": float(now),
            **extra,
            "fit_seconds": round(time.perf_counter() - started, 3),
        }
        return self

    def _validate_share(
        self,
        u_idx: np.ndarray,
        i_idx: np.ndarray,
        w: np.ndarray,
        w_raw: np.ndarray,
        order: np.ndarray,
        k: int,
    ) -> tuple[float, dict[str, Any] | None]:
        """Keep the proximity pairs only if they predict held-out next engagements better.

        Each sampled user's last event (in time order) is held out; co-engagement alone and
        co-engagement + proximity are fitted on everything else (in one pass) and each ranks
        the held-out note from the user's latest `validation_seeds` earlier events, newest
        first, excluding what the user already engaged with — what the feed does. The pairs
        stay only if their NDCG@`validation_k` is strictly higher (a tie keeps the simpler
        model). Scale-free and decided on the data being fitted, never on a fixed data set.
        """
        cfg = self.config
        share = min(max(float(cfg.proximity_share), 0.0), 1.0)
        if share <= 0 or not cfg.proximity_validate or len(order) == 0:
            return share, None
        su, si, wr = u_idx[order], i_idx[order], w_raw[order]
        ends = np.flatnonzero(np.r_[su[1:] != su[:-1], True])  # each user's last event
        starts = np.r_[0, ends[:-1] + 1]
        usable = [
            (int(b), int(a))
            for a, b in zip(starts, ends, strict=True)
            if b - a >= 2 and si[b] not in set(si[a:b].tolist())
        ]
        if len(usable) > cfg.validation_users:
            pick = np.random.default_rng(0).choice(len(usable), cfg.validation_users, replace=False)
            usable = [usable[j] for j in np.sort(pick)]
        info: dict[str, Any] = {"users": len(usable)}
        if len(usable) < max(cfg.validation_min_users, 1):
            return share, {**info, "decided": False}
        keep_seq = np.ones(len(su), dtype=bool)
        keep_seq[[b for b, _ in usable]] = False
        keep = np.empty_like(keep_seq)
        keep[order] = keep_seq
        n_users, n_items = int(u_idx.max()) + 1, len(self.item_ids)
        r_v, deg_v, iuf_v = _user_matrix(u_idx[keep], i_idx[keep], w[keep], n_users, n_items)
        co_rows, mix_rows = self._proximity(
            r_v, iuf_v, deg_v, su[keep_seq], si[keep_seq], k, (0.0, share)
        )
        scores = [self._heldout_ndcg(rows, usable, si, wr) for rows in (co_rows, mix_rows)]
        chosen = share if scores[1] > scores[0] else 0.0
        return chosen, {**info, "decided": True, "ndcg_co": scores[0], "ndcg_mix": scores[1]}

    def _heldout_ndcg(
        self,
        rows: list[tuple[np.ndarray, np.ndarray]],
        held: list[tuple[int, int]],
        seq_items: np.ndarray,
        seq_weights: np.ndarray,
    ) -> float:
        """Mean NDCG@validation_k of each held-out note (one relevant note per user)."""
        cfg = self.config
        model = ItemCF(cfg)
        model.item_ids = self.item_ids
        model._store_rows(rows, len(self.item_ids))
        ids = self.item_ids
        total = 0.0
        for end, start in held:
            seeds = range(end - 1, max(start, end - cfg.validation_seeds) - 1, -1)
            recent = [(int(ids[seq_items[q]]), float(seq_weights[q])) for q in seeds]
            exclude = set(ids[seq_items[start:end]].tolist())
            recs = model.recommend(recent, cfg.validation_k, exclude)
            target = int(ids[seq_items[end]])
            for rank, (note, _) in enumerate(recs):
                if note == target:
                    total += 1.0 / float(np.log2(rank + 2))
                    break
        return round(total / len(held), 6) if held else 0.0

    def _cosine(
        self, r: sp.csr_matrix, iuf: np.ndarray, user_deg: np.ndarray, k: int
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        rw = sp.diags(np.sqrt(iuf)) @ r  # IUF enters the dot product once per side
        rw = sp.csc_matrix(rw)
        norms = np.sqrt(np.asarray(rw.multiply(rw).sum(axis=0)).ravel())
        norms[norms == 0] = 1.0
        rn = sp.csr_matrix(rw @ sp.diags((1.0 / norms).astype(np.float32)))
        rt = sp.csr_matrix(rn.T)  # items × users
        # partial products for item i = Σ_{u ∈ users(i)} |items(u)|: size chunks by that.
        binary = rt.copy()
        binary.data = np.ones_like(binary.data)
        cost = np.asarray(binary @ user_deg.astype(np.float64)).ravel()
        out: list[tuple[np.ndarray, np.ndarray]] = []
        n_items = rt.shape[0]
        start = 0
        budget = float(self.config.chunk_flops)
        cum = np.cumsum(cost)
        while start < n_items:
            base = cum[start - 1] if start else 0.0
            stop = int(np.searchsorted(cum, base + budget, side="right"))
            stop = max(stop, start + 1)
            block = sp.csr_matrix(rt[start:stop] @ rn)
            out.extend(self._topk_rows(block, start, k))
            start = stop
        return out

    def _proximity(
        self,
        r: sp.csr_matrix,
        iuf: np.ndarray,
        user_deg: np.ndarray,
        seq_users: np.ndarray,
        seq_items: np.ndarray,
        k: int,
        shares: Sequence[float],
    ) -> list[list[tuple[np.ndarray, np.ndarray]]]:
        """Co-engagement plus sequence proximity, count-normalised, rows scaled to their best.

        One list of neighbour rows per proximity share in `shares` (the blocks are computed
        once and mixed per share).

        `seq_users`/`seq_items` are the events in (user, time) order. For a chunk of items the
        co-engagement block is `Rᵀ[chunk]·diag(iuf)·R`; the proximity block is built from the
        chunk's events and their neighbours within `proximity_lags` positions of the same
        user's sequence, so at most `pair_chunk` pairs are held at once.
        """
        cfg = self.config
        n_items = r.shape[1]
        lags = max(int(cfg.proximity_lags), 0)
        iuf64 = iuf.astype(np.float64)
        kernel = 1.0 / (1.0 + np.arange(1, lags + 1) / max(float(cfg.proximity_window), 1e-9))
        n_seq = len(seq_items)
        # total off-diagonal mass of each part, so `share` is a share of the pair mass
        row_sum = np.asarray(r.sum(axis=1), dtype=np.float64).ravel()
        row_sq = np.asarray(r.multiply(r).sum(axis=1), dtype=np.float64).ravel()
        co_mass = float(iuf64 @ (row_sum**2 - row_sq))
        prox_mass = 0.0
        for d in range(1, min(lags, n_seq - 1) + 1):
            same = (seq_users[:-d] == seq_users[d:]) & (seq_items[:-d] != seq_items[d:])
            prox_mass += 2.0 * kernel[d - 1] * float(iuf64[seq_users[:-d][same]].sum())
        # C keeps its own scale (so `min_similarity` means what it does for cosine); P is
        # rescaled to carry `share` of the combined off-diagonal mass.
        mix = [_mix(min(max(float(s), 0.0), 1.0), co_mass, prox_mass) for s in shares]
        need_prox = any(b > 0 for _, b in mix)

        rw = sp.csr_matrix(sp.diags(np.sqrt(iuf)) @ r)
        rt = sp.csr_matrix(rw.T)  # items × users
        n_users_of = np.bincount(r.indices, minlength=n_items).astype(np.float64)
        inv_sqrt_n = 1.0 / np.sqrt(np.maximum(n_users_of, 1.0))
        binary = rt.copy()
        binary.data = np.ones_like(binary.data)
        co_cost = np.asarray(binary @ user_deg.astype(np.float64)).ravel()
        events_of = np.bincount(seq_items, minlength=n_items)
        cost = co_cost / float(max(cfg.chunk_flops, 1))
        if need_prox:
            cost = cost + events_of * (2.0 * lags) / float(max(cfg.pair_chunk, 1))
        cum = np.cumsum(cost)
        by_item = np.argsort(seq_items, kind="stable")
        item_start = np.searchsorted(seq_items[by_item], np.arange(n_items + 1))
        outs: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in mix]
        start = 0
        while start < n_items:
            base = cum[start - 1] if start else 0.0
            stop = max(int(np.searchsorted(cum, base + 1.0, side="right")), start + 1)
            co = sp.csr_matrix(rt[start:stop] @ rw, dtype=np.float64)
            prox = None
            if need_prox:
                pos = by_item[item_start[start] : item_start[stop]]
                prox = self._proximity_block(
                    pos, seq_users, seq_items, iuf64, kernel, start, stop - start, n_items
                )
            left, right = sp.diags(inv_sqrt_n[start:stop]), sp.diags(inv_sqrt_n)
            for out, (a, b) in zip(outs, mix, strict=True):
                block = co * a if prox is None or b == 0 else co * a + prox * b
                block = sp.csr_matrix(left @ block @ right)
                for idx, val in self._topk_rows(block, start, k):
                    if len(val):
                        val = (val / val[0]).astype(np.float32)  # ItemCF-Norm: best = 1
                    out.append((idx, val))
            start = stop
        return outs

    @staticmethod
    def _proximity_block(
        pos: np.ndarray,
        seq_users: np.ndarray,
        seq_items: np.ndarray,
        iuf: np.ndarray,
        kernel: np.ndarray,
        offset: int,
        n_rows: int,
        n_items: int,
    ) -> sp.csr_matrix:
        """Σ kernel(Δ)·iuf_u over the chunk's events `pos` and their same-user neighbours."""
        n_seq = len(seq_items)
        rows, cols, vals = [], [], []
        for d, f in enumerate(kernel, start=1):
            for other in (pos + d, pos - d):
                ok = (other >= 0) & (other < n_seq)
                src, dst = pos[ok], other[ok]
                ok = (seq_users[src] == seq_users[dst]) & (seq_items[src] != seq_items[dst])
                if not ok.any():
                    continue
                src, dst = src[ok], dst[ok]
                rows.append(seq_items[src] - offset)
                cols.append(seq_items[dst])
                vals.append(f * iuf[seq_users[src]])
        if not rows:
            return sp.csr_matrix((n_rows, n_items), dtype=np.float64)
        m = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n_rows, n_items),
        )
        m.sum_duplicates()
        return m

    def _topk_rows(
        self, block: sp.csr_matrix, offset: int, k: int
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        rows = []
        indptr, indices, data = block.indptr, block.indices, block.data
        floor = self.config.min_similarity
        for row in range(block.shape[0]):
            a, b = indptr[row], indptr[row + 1]
            idx = indices[a:b]
            val = data[a:b]
            keep = (idx != offset + row) & (val > floor)
            idx, val = idx[keep], val[keep]
            rows.append(_topk(idx, val, k))
        return rows

    def _swing(
        self, r: sp.csr_matrix, iuf: np.ndarray, k: int
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        cfg = self.config
        rt = sp.csr_matrix(r.T)  # items × users, values = engagement strength
        rb = _truncate_rows(r, cfg.swing_max_user_items)
        rb_indptr, rb_indices = rb.indptr, rb.indices
        uw = np.sqrt(iuf).astype(np.float64)  # per-user weight, as in Alibaba's Swing
        m = cfg.swing_max_users
        out: list[tuple[np.ndarray, np.ndarray]] = []
        empty = (np.zeros(0, np.int32), np.zeros(0, np.float32))
        for i in range(rt.shape[0]):
            a, b = rt.indptr[i], rt.indptr[i + 1]
            if b - a < 2:
                out.append(empty)
                continue
            us = rt.indices[a:b]
            if len(us) > m:  # bounded sample: the users who engaged most strongly
                top = np.argpartition(-rt.data[a:b], m - 1)[:m]
                us = np.sort(us[top])
            lens = rb_indptr[us + 1] - rb_indptr[us]
            cols = np.concatenate([rb_indices[rb_indptr[u] : rb_indptr[u + 1]] for u in us])
            local, inv, counts = np.unique(cols, return_inverse=True, return_counts=True)
            # only items shared by two sampled users matter, both for the pair overlaps
            # (the diagonal is discarded) and for the similarities themselves
            shared = counts >= 2
            if shared.sum() <= 1:
                out.append(empty)
                continue
            remap = np.cumsum(shared) - 1
            row_of = np.repeat(np.arange(len(us)), lens)
            hit = shared[inv]
            local = local[shared]
            dense = np.zeros((len(us), len(local)), dtype=np.float64)
            dense[row_of[hit], remap[inv[hit]]] = 1.0
            overlap = dense @ dense.T
            pair = np.outer(uw[us], uw[us]) / (cfg.swing_alpha + overlap)
            np.fill_diagonal(pair, 0.0)
            sims = 0.5 * np.einsum("uj,uj->j", pair @ dense, dense)
            keep = (local != i) & (sims > cfg.min_similarity)
            out.append(_topk(local[keep].astype(np.int32), sims[keep].astype(np.float32), k))
        return out

    def _store_rows(self, rows: list[tuple[np.ndarray, np.ndarray]], n_items: int) -> None:
        lengths = np.array([len(ix) for ix, _ in rows], dtype=np.int64)
        self.indptr = np.zeros(n_items + 1, dtype=np.int64)
        if len(lengths):
            np.cumsum(lengths, out=self.indptr[1:])
        if rows:
            self.indices = np.concatenate([ix for ix, _ in rows]).astype(np.int32)
            self.data = np.concatenate([v for _, v in rows]).astype(np.float32)
        else:
            self.indices = np.zeros(0, dtype=np.int32)
            self.data = np.zeros(0, dtype=np.float32)

    # -- serving ----------------------------------------------------------------------------
    def _pos(self, note_id: int) -> int:
        p = int(np.searchsorted(self.item_ids, note_id))
        if p < len(self.item_ids) and self.item_ids[p] == note_id:
            return p
        return -1

    def neighbours(self, note_id: int, k: int = 20) -> list[tuple[int, float]]:
        """Most similar notes to `note_id` (powers related notes), best first."""
        p = self._pos(note_id)
        if p < 0 or k <= 0:
            return []
        a, b = self.indptr[p], min(self.indptr[p + 1], self.indptr[p] + k)
        ids = self.item_ids[self.indices[a:b]]
        return list(zip(ids.tolist(), self.data[a:b].astype(float).tolist(), strict=True))

    def recommend(
        self,
        recent: Sequence[tuple[int, float]],
        k: int,
        exclude: set[int] | frozenset[int] = frozenset(),
    ) -> list[tuple[int, float]]:
        """Σ weight × position weight × similarity over the neighbours of the recent notes.

        `recent` is newest first (as the feed loads it); the note at rank r (0 = latest)
        counts `1/(1 + r/seed_position_scale)` of its weight. The recent notes themselves and
        `exclude` (already engaged) never come back.
        """
        if k <= 0 or not recent or len(self.item_ids) == 0:
            return []
        scale = float(self.config.seed_position_scale)
        # One gather over every seed's row (a numpy call per seed took 0.25 ms for 50 seeds,
        # this 0.14), in the seeds' order, so the sums are what the loop added up.
        notes = np.fromiter((n for n, _ in recent), dtype=np.int64, count=len(recent))
        given = np.fromiter((w for _, w in recent), dtype=np.float64, count=len(recent))
        weights = given / (1.0 + np.arange(len(recent)) / scale) if scale > 0 else given
        pos = np.searchsorted(self.item_ids, notes)
        found = pos < len(self.item_ids)
        found[found] = self.item_ids[pos[found]] == notes[found]
        keep = found & (given != 0)
        if not keep.any():
            return []
        starts, ends = self.indptr[pos[keep]], self.indptr[pos[keep] + 1]
        lengths = ends - starts
        row_start = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
        flat = row_start + np.arange(int(lengths.sum()))
        idx = self.indices[flat]
        val = self.data[flat].astype(np.float64) * np.repeat(weights[keep], lengths)
        uniq, inv = np.unique(idx, return_inverse=True)
        sums = np.bincount(inv, weights=val, minlength=len(uniq))
        ids = self.item_ids[uniq]
        banned = set(exclude) | {n for n, _ in recent}
        if banned:
            ok = ~np.isin(ids, np.fromiter(banned, dtype=np.int64, count=len(banned)))
            ids, sums = ids[ok], sums[ok]
        ok = sums > 0
        ids, sums = ids[ok], sums[ok]
        if len(ids) > k:
            top = np.argpartition(-sums, k - 1)[:k]
            ids, sums = ids[top], sums[top]
        order = np.lexsort((-ids, -sums))
        return list(zip(ids[order].tolist(), sums[order].tolist(), strict=True))

    def __contains__(self, note_id: int) -> bool:
        return self._pos(note_id) >= 0

    def __len__(self) -> int:
        return len(self.item_ids)

    # -- storage ----------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Plain numpy arrays in an `.npz` (loadable with allow_pickle=False)."""
        buf = io.BytesIO()
        meta = np.frombuffer(json.dumps(self.meta).encode(), dtype=np.uint8)
        np.savez_compressed(
            buf,
            item_ids=self.item_ids,
            indptr=self.indptr,
            indices=self.indices,
            data=self.data,
            meta=meta,
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes, config: ItemCFConfig = ITEMCF) -> ItemCF:
        model = cls(config)
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            model.item_ids = z["item_ids"].astype(np.int64)
            model.indptr = z["indptr"].astype(np.int64)
            model.indices = z["indices"].astype(np.int32)
            model.data = z["data"].astype(np.float32)
            model.meta = json.loads(z["meta"].tobytes().decode())
        return model

    def stats(self) -> dict[str, Any]:
        n_items = len(self.item_ids)
        nnz = len(self.indices)
        with_nb = int(np.count_nonzero(np.diff(self.indptr))) if n_items else 0
        return {
            **self.meta,
            "n_items": n_items,
            "n_pairs": nnz,
            "items_with_neighbours": with_nb,
            "mean_neighbours": (nnz / n_items) if n_items else 0.0,
            "bytes": int(
                self.item_ids.nbytes + self.indptr.nbytes + self.indices.nbytes + self.data.nbytes
            ),
        }


def user_decay(
    users: np.ndarray, ts: np.ndarray, n_users: int, half_life: float, floor: float
) -> np.ndarray:
    """Per-event decay `max(2^(−age/half_life), floor)` in float64, where age is measured from
    the *same user's* latest event, not from the fit time.

    Taste drift is a property of a user's own sequence: what they engaged with just before
    their latest action says most about their current taste, however long ago that latest
    action was. Measuring age from one global `now` instead would erase the whole history of
    anyone who has been away a few months (and, on multi-year logs, underflow to zero), which
    is exactly the co-engagement CF needs. The floor keeps old engagement as real (weaker)
    evidence instead of letting it vanish.
    """
    if len(ts) == 0:
        return np.zeros(0, dtype=np.float64)
    latest = np.full(n_users, -np.inf)
    np.maximum.at(latest, users, ts)
    age = np.maximum(latest[users] - ts, 0.0)
    if not np.isfinite(half_life) or half_life <= 0:
        return np.ones(len(ts), dtype=np.float64)
    return np.maximum(np.exp2(-age / half_life), min(max(floor, 0.0), 1.0))


def _user_matrix(
    u_idx: np.ndarray, i_idx: np.ndarray, w: np.ndarray, n_users: int, n_items: int
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """User × item engagement (repeats summed, then log1p), user degrees and IUF weights."""
    r = sp.csr_matrix(
        (w.astype(np.float32), (u_idx.astype(np.int32), i_idx.astype(np.int32))),
        shape=(n_users, n_items),
    )
    r.sum_duplicates()
    np.log1p(r.data, out=r.data)
    user_deg = np.diff(r.indptr)
    iuf = (1.0 / np.log1p(np.maximum(user_deg, 1))).astype(np.float32)
    return r, user_deg, iuf


def _mix(share: float, co_mass: float, prox_mass: float) -> tuple[float, float]:
    """Coefficients (a, b) of co-engagement and proximity so proximity has `share` of the
    off-diagonal pair mass, co-engagement keeping its own scale."""
    a, b = 1.0 - share, 0.0
    if prox_mass > 0 and share > 0:
        b = share * (co_mass / prox_mass if co_mass > 0 else 1.0)
    if co_mass <= 0 < b:
        a = 0.0
    if a == 0.0 and b == 0.0:
        a = 1.0
    return a, b


def _truncate_rows(r: sp.csr_matrix, cap: int) -> sp.csr_matrix:
    """Keep each user's `cap` strongest items (bounds Swing's per-item work)."""
    deg = np.diff(r.indptr)
    if cap <= 0 or deg.max(initial=0) <= cap:
        return r
    keep = np.ones(len(r.data), dtype=bool)
    for u in np.flatnonzero(deg > cap):
        a, b = r.indptr[u], r.indptr[u + 1]
        drop = np.argpartition(-r.data[a:b], cap - 1)[cap:]
        keep[a + drop] = False
    rows = np.repeat(np.arange(r.shape[0]), deg)[keep]
    return sp.csr_matrix((r.data[keep], (rows, r.indices[keep])), shape=r.shape)


def _topk(idx: np.ndarray, val: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k by value, sorted descending (ties by position for determinism)."""
    if len(val) > k:
        part = np.argpartition(-val, k - 1)[:k]
        idx, val = idx[part], val[part]
    order = np.lexsort((idx, -val))
    return idx[order].astype(np.int32), val[order].astype(np.float32)

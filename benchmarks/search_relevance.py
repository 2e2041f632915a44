"""Relevance of the embedded search on real Chinese text: NDCG@10 and MRR over a judged set.

Corpus: product reviews from `../shared/data/chinese-reviews/` (evaluation only, never in the
product), up to `--per-category` per category, each indexed as a note: the review is the
body, its first clause the title, its category a tag (`--no-tags`: text only).

Judgments (written by us, before looking at any ranking): each query names a product category
and an aspect; a review is relevant when it belongs to that category and mentions the aspect
in any of the words listed for it, which include synonyms the query does not contain
(早餐 also counts 早饭 and 自助餐). Binary gain; the ideal ranking puts every relevant review
first. So the figures measure whether the engine's top ten are on-topic reviews of the right
product, with Chinese segmentation, not whether it understands synonyms.

    .venv/bin/python benchmarks/search_relevance.py [--per-category 1500] [--no-tags]
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data" / "chinese-reviews" / "online_shopping_10_cats.csv"

# (query, category, words any of which makes an in-category review relevant)
JUDGED: list[tuple[str, str, tuple[str, ...]]] = [
    ("酒店 早餐", "酒店", ("早餐", "早饭", "自助餐")),
    ("酒店隔音", "酒店", ("隔音", "噪音", "很吵", "太吵")),
    ("酒店 服务态度", "酒店", ("服务", "态度", "前台")),
    ("酒店 交通位置", "酒店", ("交通", "位置", "地铁", "机场", "地段")),
    ("酒店 卫生", "酒店", ("卫生", "干净", "脏")),
    ("酒店 床", "酒店", ("床",)),
    ("平板 屏幕", "平板", ("屏幕", "屏")),
    ("平板 续航", "平板", ("续航", "电池", "充电", "待机")),
    ("平板 发热", "平板", ("发热", "发烫", "烫", "热")),
    ("平板 系统", "平板", ("系统", "安卓", "软件", "死机")),
    ("手机 信号", "手机", ("信号",)),
    ("手机 拍照", "手机", ("拍照", "相机", "摄像", "像素")),
    ("手机 电池", "手机", ("电池", "续航", "待机", "充电")),
    ("笔记本 散热", "计算机", ("散热", "风扇", "温度", "发热")),
    ("电脑 键盘", "计算机", ("键盘",)),
    ("笔记本 驱动", "计算机", ("驱动", "系统", "xp", "vista", "win")),
    ("水果 新鲜", "水果", ("新鲜",)),
    ("苹果 口感", "水果", ("口感", "甜", "脆", "好吃")),
    ("水果 包装", "水果", ("包装", "箱", "盒")),
    ("洗发水 头屑", "洗发水", ("头屑", "去屑")),
    ("洗发水 香味", "洗发水", ("香", "味道", "气味")),
    ("洗发水 正品", "洗发水", ("正品", "假货", "假的")),
    ("衣服 尺码", "衣服", ("尺码", "码", "偏大", "偏小")),
    ("衣服 面料", "衣服", ("面料", "料子", "布料", "质量")),
    ("衣服 色差", "衣服", ("色差", "颜色")),
    ("书 纸张", "书籍", ("纸张", "纸质", "印刷")),
    ("小说 情节", "书籍", ("情节", "故事")),
    ("牛奶 口感", "蒙牛", ("口感", "味道", "好喝")),
    ("牛奶 保质期", "蒙牛", ("保质期", "日期", "过期")),
    ("热水器 安装", "热水器", ("安装", "师傅")),
    ("热水器 加热", "热水器", ("加热", "热水")),
]

_CLAUSE = re.compile(r"[，。！？!?,.；;、\s]")


def load(per_category: int, seed: int) -> list[tuple[int, str, str]]:
    by_category: dict[str, list[str]] = {}
    with DATA.open(encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            text = row["review"].strip().lstrip("\ufeff")
            if text:
                by_category.setdefault(row["cat"], []).append(text)
    rng = random.Random(seed)
    docs = []
    for category, reviews in sorted(by_category.items()):
        rng.shuffle(reviews)
        docs += [
            (len(docs) + i + 1, category, text) for i, text in enumerate(reviews[:per_category])
        ]
    return docs


def title_of(text: str) -> str:
    first = _CLAUSE.split(text, maxsplit=1)[0]
    return (first or text)[:20]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-category", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--no-tags", action="store_true", help="index the text only, without the category tag"
    )
    args = parser.parse_args()

    from app.search.backend import NoteDoc, NoteQuery
    from app.search.embedded import EmbeddedSearch

    docs = load(args.per_category, args.seed)
    rng = random.Random(args.seed)
    now = time.time()
    backend = EmbeddedSearch(Path(tempfile.mkdtemp(prefix="sprout-relevance-")) / "s.sqlite3")
    started = time.perf_counter()
    batch = []
    for doc_id, category, text in docs:
        batch.append(
            NoteDoc(
                doc_id,
                title_of(text),
                text,
                () if args.no_tags else (category,),
                (),
                1,
                None,
                now - rng.uniform(0, 60 * 86400),
                0.0,
                0,
            )
        )
        if len(batch) == 500:
            backend.index_notes(batch)
            batch = []
            print(f"\rindexed {doc_id}/{len(docs)}", end="", file=sys.stderr)
    backend.index_notes(batch)
    seconds = time.perf_counter() - started
    print(f"\rindexed {len(docs)} reviews in {seconds:.1f} s", file=sys.stderr)

    ndcgs, rrs = [], []
    print("| query | relevant in corpus | NDCG@10 | first relevant at |")
    print("|---|---|---|---|")
    for query, category, words in JUDGED:
        relevant = {
            d for d, cat, text in docs if cat == category and any(w in text.lower() for w in words)
        }
        hits = [hit.id for hit in backend.search_notes(NoteQuery(query, limit=10)).items]
        gains = [1.0 if h in relevant else 0.0 for h in hits]
        dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
        ideal = sum(1 / math.log2(i + 2) for i in range(min(10, len(relevant))))
        ndcg = dcg / ideal if ideal else 0.0
        first = next((i + 1 for i, g in enumerate(gains) if g), None)
        ndcgs.append(ndcg)
        rrs.append(1 / first if first else 0.0)
        print(f"| {query} | {len(relevant)} | {ndcg:.3f} | {first or '—'} |")
    print(
        f"\n{len(JUDGED)} queries over {len(docs)} reviews: mean NDCG@10 "
        f"{statistics.mean(ndcgs):.3f}, MRR {statistics.mean(rrs):.3f}"
    )


if __name__ == "__main__":
    main()

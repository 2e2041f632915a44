"""The held-back evaluation set: `benchmarks.synthetic` with another seed, size and date than
the development sets, exported like `export_synthetic_interactions.py` (likes weight 1,
collects 1.5, comments 4 — a kind the other export leaves out — channel as category).

Generated once, at the end, to check the learned blend on data nobody looked at while
building it:

python benchmarks/export_heldback_interactions.py OUT_DIR [USERS NOTES INTERACTIONS SEED]
(defaults 3000 8000 90000 2027)
"""

import csv
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app.metadata import Base
from benchmarks.synthetic import generate


def main(argv: list[str]) -> None:
    out = Path(argv[1])
    users, notes, interactions, seed = (
        int(a) for a in (argv[2:6] if len(argv) >= 6 else ("3000", "8000", "90000", "2027"))
    )
    out.mkdir(parents=True, exist_ok=True)
    db = out / "heldback.sqlite"
    db.unlink(missing_ok=True)
    engine = create_engine(f"sqlite:///{db}")
    Base.metadata.create_all(engine)
    rep = generate(
        engine,
        users=users,
        notes=notes,
        interactions=interactions,
        seed=seed,
        now=datetime(2025, 11, 17, 9, 30, tzinfo=UTC),
    )
    print(rep, file=sys.stderr)
    with engine.connect() as c, (out / "interactions.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["user_id", "item_id", "timestamp", "weight"])
        for sql, weight in (
            ("SELECT user_id, note_id, created_at FROM note_likes", 1.0),
            ("SELECT user_id, note_id, created_at FROM collects", 1.5),
            ("SELECT author_id, note_id, created_at FROM comments", 4.0),
        ):
            for u, n, t in c.execute(text(sql)):
                ts = datetime.fromisoformat(str(t)).replace(tzinfo=UTC).timestamp()
                w.writerow([u, n, int(ts), weight])
    with engine.connect() as c, (out / "items.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["item_id", "categories"])
        for n, slug in c.execute(text("SELECT id, channel_code FROM notes")):
            w.writerow([n, slug or ""])


if __name__ == "__main__":
    main(sys.argv)

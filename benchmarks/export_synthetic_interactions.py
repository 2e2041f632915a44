"""Build a second evaluation set: benchmarks.synthetic into SQLite, likes+collects → CSV.

python benchmarks/export_synthetic_interactions.py OUT_DIR USERS NOTES INTERACTIONS
"""

import csv
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app.metadata import Base
from benchmarks.synthetic import generate

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
db = out / "synth.sqlite"
db.unlink(missing_ok=True)
engine = create_engine(f"sqlite:///{db}")
Base.metadata.create_all(engine)
rep = generate(
    engine,
    users=int(sys.argv[2]),
    notes=int(sys.argv[3]),
    interactions=int(sys.argv[4]),
    seed=7,
    now=datetime(2024, 6, 1, tzinfo=UTC),
)
print(rep.as_dict() if hasattr(rep, "as_dict") else rep, file=sys.stderr)
with engine.connect() as c, (out / "interactions.csv").open("w", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(["user_id", "item_id", "timestamp", "weight"])
    for table, weight in (("note_likes", 1.0), ("collects", 1.5)):
        for u, n, t in c.execute(text(f"SELECT user_id, note_id, created_at FROM {table}")):
            ts = datetime.fromisoformat(str(t)).replace(tzinfo=UTC).timestamp()
            w.writerow([u, n, int(ts), weight])
with engine.connect() as c, (out / "items.csv").open("w", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(["item_id", "categories"])
    q = text("SELECT id, channel_code FROM notes")
    for n, slug in c.execute(q):
        w.writerow([n, slug or ""])

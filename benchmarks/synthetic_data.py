"""Load a synthetic community into a database and print the load timings as Markdown.

`make synth` runs it on the configured database (`DATABASE_URL`, or SQLite in
`SPROUT_DATA_DIR`) after `flask init`, with the defaults below; from the repository root:

    python benchmarks/synthetic_data.py --database-url postgresql+psycopg://postgres@127.0.0.1/db \
        --users 20000 --notes 100000 --interactions 1000000

The schema normally comes from the migrations. Only when the database has none of the
tables does this script create them with `Base.metadata.create_all`, so it can also run
against a throw-away database; a partial schema is an error (run the migrations).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a plain script

from sqlalchemy import Engine, create_engine, inspect

from app.cli import ProgressBars
from app.core.config import load_settings
from app.metadata import Base
from benchmarks.synthetic import SyntheticDataExists, generate


def ensure_schema(engine: Engine) -> bool:
    """Create the tables on an empty database; returns whether it did."""
    existing = set(inspect(engine).get_table_names())
    wanted = set(Base.metadata.tables)
    if not existing & wanted:
        Base.metadata.create_all(engine)
        return True
    missing = sorted(wanted - existing)
    if missing:
        raise SystemExit(f"partial schema (missing {', '.join(missing)}): run the migrations")
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy URL (default: the app's, from DATABASE_URL or SPROUT_DATA_DIR)",
    )
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--notes", type=int, default=100_000)
    parser.add_argument(
        "--interactions",
        type=int,
        default=1_000_000,
        help="likes + collects + comments + follows",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--append", action="store_true", help="add to a database that already holds synthetic data"
    )
    args = parser.parse_args(argv)

    engine = create_engine(args.database_url or load_settings().database_url)
    try:
        if ensure_schema(engine):
            print("created the schema with Base.metadata.create_all", file=sys.stderr)
        bar = ProgressBars()
        try:
            report = generate(
                engine,
                users=args.users,
                notes=args.notes,
                interactions=args.interactions,
                seed=args.seed,
                progress=bar,
                append=args.append,
            )
        finally:
            bar.close()
    except SyntheticDataExists as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()

    print(
        f"Synthetic data on {report.dialect} (seed {report.seed}, "
        f"{'COPY' if report.used_copy else 'executemany'}): {report.users:,} users, "
        f"{report.notes:,} notes, {report.interactions:,} interactions "
        f"({report.likes:,} likes, {report.collects:,} collects, {report.comments:,} comments "
        f"of which {report.replies:,} replies, {report.follows:,} follows), "
        f"{report.albums:,} albums.\n"
    )
    print(report.as_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

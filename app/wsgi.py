"""The WSGI entry point for gunicorn: `gunicorn app.wsgi:app`."""

import gc

from app import create_app
from app.feeds.state import start_model_keeper
from app.schedule import start_embedded_scheduler

app = create_app()
if not app.config["SPROUT"].services_mode:
    # No worker in embedded mode: the periodic jobs (hot lists, fake-engagement detection,
    # retention purges, ...) run in a thread of each web process, once per interval overall.
    start_embedded_scheduler(app)
# The ranking models load in a thread now, not on the first page that ranks.
start_model_keeper(app)
# Everything imported and built so far lives as long as the process: keep it out of the
# garbage collector's full scans (which otherwise walk every library function and class on
# each pass, a pause every request in the process waits for).
gc.freeze()

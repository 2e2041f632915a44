"""The WSGI entry point for gunicorn: `gunicorn app.wsgi:app`."""

import gc

from app import create_app

app = create_app()
# Everything imported and built so far lives as long as the process: keep it out of the
# garbage collector's full scans (which otherwise walk every library function and class on
# each pass, a pause every request in the process waits for).
gc.freeze()

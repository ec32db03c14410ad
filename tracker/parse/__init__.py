"""Stage 2, parse: raw bytes -> a ParsedMessage, its kind, and the evidence it gives.

No database, no network, no logging of content. ``message.parse_message`` is the entry
point; ``headers``, ``mime``, ``attachments`` and ``dsn`` read the parts of a message;
``classify`` says what a message is (letter, reply, auto-reply, bounce...); ``evidence``
says which correspondent it concerns and which matching keys it leaves.
"""

import logging

# flanker's address lexer and pypdf warn through logging about the messages they
# read ("syntax error in default lexer, token=..."): that is message content, and
# users' stderr is no place for it. Our own defects list carries what matters.
for _name in ("flanker", "pypdf"):
    _logger = logging.getLogger(_name)
    _logger.setLevel(logging.CRITICAL + 1)
    _logger.propagate = False
    _logger.addHandler(logging.NullHandler())

from .limits import ParseFailure  # noqa: E402
from .message import parse_message  # noqa: E402

__all__ = ["ParseFailure", "parse_message"]

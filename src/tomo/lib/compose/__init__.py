"""Docker Compose file knowledge shared by the catalog import (``lib/catalog``) and the install (``services/apps``).

* :mod:`.interpolation` - ``$NAME`` / ``${NAME:-default}`` / ``$$``: one scanner, and what reads it
  (references, inline defaults, renaming, filling values in);
* :mod:`.ports` - ``ports`` entries in the short and long syntax: port numbers, reading, rewriting the
  published port;
* :mod:`.environment` - ``environment`` in its mapping and list forms, and how Compose reads a scalar.

Pure functions on JSON-like compose data; parsing is linear in the text (no backtracking regex), since
catalog files come from third-party repositories.
"""

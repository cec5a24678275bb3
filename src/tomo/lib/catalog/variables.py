"""Tomo's platform variables: the only variables, besides an app's inputs, a catalog compose file may reference.

A compose file imported from any catalog may reference two kinds of variables, and nothing else:

* Tomo's platform variables (:data:`TOMO_VARIABLES`), filled by the deployer for every app;
* the app's own inputs (``AppInput.env``), filled from the user's answers or generated.

Variables of the source platforms (CasaOS ``$AppID``, Runtipi ``${ROOT_FOLDER_HOST}``...) are renamed
to Tomo's by the format readers; that is what "mapped" means. The variable syntax itself (finding,
renaming, filling references in) is :mod:`tomo.lib.compose.interpolation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

TOMO_VARIABLES: Final[Mapping[str, str]] = {
    "APP_ID": "Installation name of the app; also its Compose project name.",
    "APP_DATA_DIR": "Host folder for the app's data: <apps_root>/<app_id>/data.",
    "APP_PORT": "Host port published for the app's web UI.",
    "APP_DOMAIN": "Host name (and :port when not 80/443) the app is reached at.",
    "APP_PROTOCOL": "Scheme the app is reached with: http or https.",
    "SERVER_HOST": "Address (IP or host name) of the server the app runs on.",
    "SHARED_DIR": "Server-wide folder shared between apps (media, downloads): <apps_root>/../shared.",
    "LOCAL_DOMAIN": "DNS suffix of the local network, e.g. home.arpa.",
    "DNS_SERVER": "DNS resolver apps should use.",
    "PUID": "User id that owns the app's files.",
    "PGID": "Group id that owns the app's files.",
    "TZ": "Time zone of the server, an IANA name such as Europe/Paris.",
}

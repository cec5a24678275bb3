"""Tomo's one category list, and the mapping from CasaOS and Runtipi category names.

Catalogs name categories their own way ("Developer", "network", "Home Automation"); every app is
filed under exactly one of :data:`CATEGORIES`. Unknown names fall into ``other``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final, Literal, get_args

Category = Literal[
    "ai",
    "automation",
    "books",
    "communication",
    "data",
    "development",
    "downloads",
    "finance",
    "gaming",
    "home-automation",
    "media",
    "monitoring",
    "music",
    "networking",
    "photos",
    "productivity",
    "security",
    "social",
    "storage",
    "utilities",
    "other",
]

CATEGORIES: Final[tuple[str, ...]] = get_args(Category)

CATEGORY_ALIASES: Final[Mapping[str, str]] = {
    # AI
    "ai": "ai",
    "artificial-intelligence": "ai",
    "llm": "ai",
    "machine-learning": "ai",
    # automation (workflows; Runtipi "automation")
    "automation": "automation",
    "workflow": "automation",
    # books
    "books": "books",
    "book": "books",
    "ebooks": "books",
    "reading": "books",
    "comics": "books",
    # communication
    "communication": "communication",
    "chat": "communication",
    "messaging": "communication",
    "email": "communication",
    "mail": "communication",
    # data
    "data": "data",
    "database": "data",
    "databases": "data",
    "analytics": "data",
    # development
    "development": "development",
    "developer": "development",
    "developers": "development",
    "dev": "development",
    "devtools": "development",
    "developer-tools": "development",
    # downloads
    "downloads": "downloads",
    "download": "downloads",
    "downloader": "downloads",
    "downloaders": "downloads",
    "torrent": "downloads",
    # finance
    "finance": "finance",
    "money": "finance",
    "crypto": "finance",
    "cryptocurrency": "finance",
    # gaming
    "gaming": "gaming",
    "games": "gaming",
    "game": "gaming",
    "game-server": "gaming",
    # home automation
    "home-automation": "home-automation",
    "home": "home-automation",
    "smart-home": "home-automation",
    "iot": "home-automation",
    # media
    "media": "media",
    "entertainment": "media",
    "video": "media",
    "streaming": "media",
    # monitoring
    "monitoring": "monitoring",
    "metrics": "monitoring",
    "observability": "monitoring",
    "dashboard": "monitoring",
    # music
    "music": "music",
    "audio": "music",
    "podcasts": "music",
    # networking
    "networking": "networking",
    "network": "networking",
    "dns": "networking",
    "vpn": "networking",
    "proxy": "networking",
    # photos
    "photos": "photos",
    "photo": "photos",
    "photography": "photos",
    "gallery": "photos",
    # productivity
    "productivity": "productivity",
    "office": "productivity",
    "documents": "productivity",
    "notes": "productivity",
    "blog": "productivity",
    "cms": "productivity",
    # security
    "security": "security",
    "auth": "security",
    "authentication": "security",
    "passwords": "security",
    "password-manager": "security",
    # social
    "social": "social",
    "social-network": "social",
    "social-media": "social",
    "fediverse": "social",
    # storage
    "storage": "storage",
    "backup": "storage",
    "cloud": "storage",
    "file": "storage",
    "files": "storage",
    "file-sync": "storage",
    "sync": "storage",
    "nas": "storage",
    # utilities
    "utilities": "utilities",
    "utility": "utilities",
    "tools": "utilities",
    "other": "other",
}

_SEPARATORS = re.compile(r"[\s_/&]+")


def _slug(name: str) -> str:
    """Lower-case a category name and join its words with hyphens ("Home Automation" -> home-automation)."""
    return _SEPARATORS.sub("-", name.strip().lower()).strip("-")


def normalize_category(name: str | None) -> str:
    """Map one catalog category name (any case) to a Tomo category; unknown or empty -> 'other'."""
    if not name:
        return "other"
    return CATEGORY_ALIASES.get(_slug(name), "other")


def normalize_categories(names: Iterable[str]) -> list[str]:
    """Map several names, dropping duplicates and 'other' unless nothing else is left."""
    result: list[str] = []
    for name in names:
        category = normalize_category(name)
        if category not in result:
            result.append(category)
    known = [category for category in result if category != "other"]
    return known or ["other"]

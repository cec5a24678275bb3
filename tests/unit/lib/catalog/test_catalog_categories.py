"""Category normalisation: one Tomo list, CasaOS and Runtipi names mapped case-insensitively."""

from __future__ import annotations

import pytest

from tomo.lib.catalog import CATEGORIES, normalize_categories, normalize_category
from tomo.lib.catalog.categories import CATEGORY_ALIASES


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Media", "media"),
        ("Developer", "development"),
        ("Home", "home-automation"),
        ("Home Automation", "home-automation"),
        ("Networking", "networking"),
        ("AI", "ai"),
        ("Finance", "finance"),
        ("network", "networking"),
        ("photography", "photos"),
        ("automation", "automation"),
        ("utilities", "utilities"),
        ("data", "data"),
        ("  MUSIC ", "music"),
        ("file_sync", "storage"),
    ],
)
def test_known_names_map_to_tomo_categories(name: str, expected: str) -> None:
    assert normalize_category(name) == expected


@pytest.mark.parametrize("name", ["Quantum Widgets", "", None])
def test_unknown_or_empty_names_are_other(name: str | None) -> None:
    assert normalize_category(name) == "other"


def test_every_mapping_target_is_a_tomo_category() -> None:
    assert set(CATEGORY_ALIASES.values()) <= set(CATEGORIES)


def test_several_names_keep_known_ones_in_order() -> None:
    assert normalize_categories(["weird", "network", "Media", "network"]) == ["networking", "media"]
    assert normalize_categories(["weird"]) == ["other"]
    assert normalize_categories([]) == ["other"]

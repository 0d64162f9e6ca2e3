"""The page tests' headless Chromium: one browser per test module, a fresh tab per test."""

from __future__ import annotations

import pytest

from support.chromium import Browser


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with Browser(tmp_path_factory.mktemp("chromium-profile")) as b:
        yield b


@pytest.fixture
def page(browser):
    tab = browser.new_page()
    try:
        yield tab
    finally:
        tab.close()

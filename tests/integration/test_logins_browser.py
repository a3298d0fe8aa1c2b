"""The settings page's logins in real Chromium: two tablets logged in are listed, and "Log out
everywhere" on one sends both back to the PIN page."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from web_server import PIN, serve_app

pytestmark = [pytest.mark.browser, pytest.mark.integration]
CHROMIUM = Path("/usr/bin/chromium")


def test_log_out_everywhere_from_the_settings_page(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with serve_app(tmp_path) as served, sync_playwright() as pw:
        base = f"http://127.0.0.1:{served.port}"
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        tablets = [browser.new_context().new_page() for _ in range(2)]
        for page in tablets:
            page.goto(f"{base}/login?next=/settings")
            page.fill("#pin", PIN)
            page.keyboard.press("Enter")
            # The login page's own URL ends in "/settings" too (?next=/settings): wait for the path.
            page.wait_for_url(lambda url: urlsplit(url).path == "/settings")
        first, second = tablets
        first.reload()
        first.locator("#logins-list li").nth(1).wait_for()  # (no wait_for_function: the page's CSP forbids eval)
        assert first.locator("#logins-list li").count() == 2
        assert "Chrome on Linux at 127.0.0.1" in first.inner_text("#logins-list")
        first.once("dialog", lambda dialog: dialog.accept())
        first.click("#logout-everywhere")
        first.wait_for_url("**/login?next=%2Fsettings")
        second.reload()
        assert second.locator("#settings-unlock").is_visible()  # the other tablet is locked too
        assert second.locator("#settings-fields").get_attribute("disabled") is not None
        browser.close()

"""The Join page in real Chromium: its QR code, read back from a screenshot with OpenCV's QR
detector, is the page's own address (the device's LAN address when the page was opened on the
device itself, so a tablet can use it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from web_server import serve_app

pytestmark = [pytest.mark.browser, pytest.mark.integration]
CHROMIUM = Path("/usr/bin/chromium")


def test_join_qr_code_holds_the_page_address(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (apt-get install -y chromium)")
    import cv2
    from playwright.sync_api import sync_playwright

    from hipcam.service.advertise import lan_addresses

    with serve_app(tmp_path, server={"host": "0.0.0.0"}) as served, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 800, "height": 900})
        page.goto(f"http://127.0.0.1:{served.port}/")
        page.click("#join-link")
        page.wait_for_url("**/join")
        shot = tmp_path / "join.png"
        page.locator("#join-qr").screenshot(path=str(shot))
        shown = page.inner_text("#join-url")
        browser.close()
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(cv2.imread(str(shot)))
    lan = lan_addresses("0.0.0.0")
    expected = f"http://{lan[0]}:{served.port}/" if lan else f"http://127.0.0.1:{served.port}/"
    assert text == shown == expected

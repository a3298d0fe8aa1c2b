"""The hub's page in headless Chromium: three treadmills (publishers on a real Mosquitto broker, each
a process of its own with its Last Will) shown online with their status, class and session; one
loses power (SIGKILL) and its card turns offline without a reload; the archive lists the sessions
pulled from a fake device, searches by runner and opens a session. Screenshots in test-output/."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import pytest
from fake_device import FakeDevice
from paths import REPO
from test_hub import _hub_env, _link, broker, hub_process, publisher

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CHROMIUM = Path("/usr/bin/chromium")
OUT = REPO / "test-output"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip
TREADMILLS = (("treadmill-1", "Treadmill 1 (window)"), ("treadmill-2", "Treadmill 2"), ("treadmill-3", "Treadmill 3"))


def test_three_treadmills_one_goes_offline_and_the_archive(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (apt-get install -y chromium)")
    from playwright.sync_api import expect, sync_playwright

    OUT.mkdir(exist_ok=True)
    mqtt_broker = broker(tmp_path)
    device = FakeDevice().serve()
    for runner, notes in (("Ana Silva", "easy 10k pace"), ("Bo Chen", ""), ("anabel", "new shoes")):
        device.add_session(runner, notes=notes, strides=8)
    devices = [{"id": "treadmill-1", "url": device.url, "token_file": str(_link(tmp_path, device.url).token_file)}]
    try:
        with mqtt_broker, publisher(mqtt_broker.port, *TREADMILLS[0]) as first, \
                publisher(mqtt_broker.port, *TREADMILLS[1]), publisher(mqtt_broker.port, *TREADMILLS[2]):  # fmt: skip
            env = _hub_env(tmp_path, HIPCAM_MQTT__HOST="127.0.0.1", HIPCAM_MQTT__PORT=str(mqtt_broker.port),
                           HIPCAM_HUB__DEVICES=json.dumps(devices), HIPCAM_HUB__PULL_INTERVAL_S="2")  # fmt: skip
            with hub_process(tmp_path, env) as (base, proc), sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                page = browser.new_context(viewport={"width": 1280, "height": 760}).new_page()
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.goto(base + "/")

                cards = page.locator("article.device")
                expect(page.locator("article.device.online")).to_have_count(3, timeout=20_000)
                expect(cards).to_have_count(3)
                for device_id, name in TREADMILLS:
                    card = page.locator(f'article.device[data-device="{device_id}"]')
                    expect(card.locator(".device-name")).to_have_text(name)
                    expect(card.locator(".availability")).to_have_text("online")
                    expect(card.locator(".status-text")).to_have_text("running")
                    expect(card.locator(".chip.big")).to_have_text(re.compile(r"^[ABCD]$"))
                links = [
                    page.locator(f'article.device[data-device="{d}"] a.open').get_attribute("href")
                    for d, _ in TREADMILLS
                ]
                # The configured device links to its configured address; the others to the page URL they publish.
                assert links == [device.url, "http://treadmill-2.local:8080/", "http://treadmill-3.local:8080/"]
                expect(page.locator("#updated")).to_contain_text("3 of 3 online")
                page.wait_for_timeout(600)
                page.screenshot(path=str(OUT / "hub-three-online.png"))

                first.send_signal(signal.SIGKILL)  # treadmill 1 loses power: the broker sends its Last Will
                offline = page.locator('article.device[data-device="treadmill-1"]')
                # (it may also carry "session": the fake treadmill can be recording when it dies)
                expect(offline).to_have_class(re.compile(r"\bdevice offline\b"), timeout=10_000)
                expect(offline.locator(".availability")).to_have_text("offline")
                expect(offline.locator(".status-text")).to_contain_text("last status: running")
                expect(page.locator("article.device.online")).to_have_count(2)
                expect(page.locator("#updated")).to_contain_text("2 of 3 online")
                page.screenshot(path=str(OUT / "hub-one-offline.png"))

                page.goto(base + "/archive")
                expect(page.locator("#archive-table tbody tr")).to_have_count(3, timeout=15_000)
                page.screenshot(path=str(OUT / "hub-archive.png"))
                page.fill("#runner", "ana")
                page.click("form.search button[type=submit]")
                expect(page.locator("#archive-table td.runner")).to_have_text(["anabel", "Ana Silva"])
                page.click("text=Ana Silva >> xpath=ancestor::tr//a")
                expect(page.locator("#session-title")).to_contain_text("Ana Silva")
                expect(page.locator("#session-notes")).to_have_text("easy 10k pace")
                expect(page.locator("#strides-table tbody tr")).to_have_count(8)
                page.screenshot(path=str(OUT / "hub-session.png"), full_page=True)
                browser.close()
                assert errors == [], errors
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(15) == 0
    finally:
        device.stop()

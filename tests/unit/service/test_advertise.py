"""The page's DNS-SD adverts, found by a real zeroconf browser (on the loopback interface only)."""

from __future__ import annotations

import time

import pytest
from zeroconf import IPVersion, ServiceBrowser, ServiceListener, Zeroconf

from hipcam.service.advertise import Advertiser, advert_infos, lan_addresses


class Found(ServiceListener):
    def __init__(self) -> None:
        self.names: list[str] = []

    def add_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self.names.append(name)

    def update_service(self, zc: Zeroconf, type_: str, name: str) -> None: ...

    def remove_service(self, zc: Zeroconf, type_: str, name: str) -> None: ...


def test_adverts_are_found_with_the_device_id_and_port() -> None:
    advert = Advertiser(advert_infos("Treadmill 2", "treadmill-2", 8123, ["127.0.0.1"], https=False), ["127.0.0.1"])
    advert.start()
    browser_zc = Zeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    try:
        found = Found()
        ServiceBrowser(browser_zc, ["_hipcam._tcp.local.", "_http._tcp.local."], found)
        deadline = time.monotonic() + 10
        while len(found.names) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        if not found.names:
            pytest.skip("no multicast on the loopback interface here")
        assert sorted(found.names) == ["Treadmill 2._hipcam._tcp.local.", "Treadmill 2._http._tcp.local."]
        info = browser_zc.get_service_info("_hipcam._tcp.local.", "Treadmill 2._hipcam._tcp.local.", timeout=3000)
        assert info is not None and info.port == 8123
        assert info.properties[b"id"] == b"treadmill-2" and info.properties[b"scheme"] == b"http"
    finally:
        browser_zc.close()
        advert.stop()


def test_loopback_and_names_are_not_announced() -> None:
    assert lan_addresses("127.0.0.1") == [] and lan_addresses("cam.local") == []
    assert lan_addresses("10.1.2.3") == ["10.1.2.3"]
    assert all(not a.startswith("127.") for a in lan_addresses("0.0.0.0"))

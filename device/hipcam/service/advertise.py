"""DNS-SD adverts of the page (python-zeroconf, the maintained pure-Python mDNS stack, so no
avahi daemon or D-Bus is needed): ``<name>._hipcam._tcp`` for the hub and other hipcam tools,
``<name>._http._tcp`` for any browser or phone app that lists web services.

Registration talks to the network, so it runs on its own thread and a failure (no multicast, a
name clash it cannot resolve) is one log line: the page works without its advert.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Sequence

import ifaddr
from zeroconf import InterfaceChoice, IPVersion, ServiceInfo, Zeroconf

from hipcam import __version__

log = logging.getLogger(__name__)

SERVICE_TYPES = ("_hipcam._tcp.local.", "_http._tcp.local.")


def advert_infos(name: str, device_id: str, port: int, addresses: Sequence[str], https: bool) -> list[ServiceInfo]:
    """The two service records for the page at ``addresses``:``port``."""
    packed = [ipaddress.ip_address(a).packed for a in addresses]
    host = f"{device_id}.local."
    props = {"id": device_id, "path": "/", "version": __version__, "scheme": "https" if https else "http"}
    label = name[:63]
    return [
        ServiceInfo(kind, f"{label}.{kind}", addresses=packed, port=port, properties=props, server=host)
        for kind in SERVICE_TYPES
    ]


def lan_addresses(bound: str) -> list[str]:
    """The IPv4 addresses to announce: the bound one, or with 0.0.0.0 every interface's (from
    ifaddr, zeroconf's own interface lister: the host name is no guide, Debian maps it to
    127.0.1.1); never a loopback one (a page only this machine can reach is not announced)."""
    if bound in ("0.0.0.0", "::", ""):
        candidates = {str(ip.ip) for adapter in ifaddr.get_adapters() for ip in adapter.ips if ip.is_IPv4}
    else:
        candidates = {bound}
    found = []
    for text in candidates:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:  # a host name: announce nothing rather than guess
            continue
        if address.version == 4 and not address.is_loopback and not address.is_link_local:
            found.append(text)
    return sorted(found)


class Advertiser:
    """Announces the page while the service runs (``start`` returns at once; ``stop`` unregisters)."""

    def __init__(self, infos: list[ServiceInfo], interfaces: Sequence[str] | None = None) -> None:
        self.infos = infos
        self.interfaces = list(interfaces) if interfaces else None
        self._zc: Zeroconf | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._register, name="hipcam-advert", daemon=True)
        self._thread.start()

    def _register(self) -> None:
        try:
            zc = Zeroconf(interfaces=self.interfaces or InterfaceChoice.All, ip_version=IPVersion.V4Only)
            for info in self.infos:
                zc.register_service(info, allow_name_change=True)
            self._zc = zc
            log.info("announced on the network as %s", ", ".join(i.name for i in self.infos))
        except Exception as exc:  # no multicast route, a socket error: the page works without its advert
            log.warning("could not announce the page with mDNS/DNS-SD (%s); open it by its address", exc)

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._zc is not None:
            try:
                self._zc.unregister_all_services()
            finally:
                self._zc.close()
            self._zc = None

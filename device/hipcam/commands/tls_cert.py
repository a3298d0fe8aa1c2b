"""`hipcam tls-cert`: a self-signed certificate and key for the page's HTTPS (server.tls_cert/tls_key).

Made with the system's ``openssl`` command (Debian's package; no Python dependency for a one-off
job): ECDSA P-256, valid for ``DAYS`` days, for the machine's host name, its ``.local`` name,
``localhost``, its addresses and any ``--name``. The files go into the folder atomically (the key
0600) and an existing pair is kept unless ``--force``. A tablet trusts the certificate when its
SHA-256 fingerprint, printed here, is the one the browser shows.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import json
import shutil
import socket
import ssl
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import ValidationError

from hipcam.atomic import atomic_writer
from hipcam.config import HipcamConfig, ServerConfig
from hipcam.errors import HipcamError

CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"
DAYS = 3650
OPENSSL_TIMEOUT_S = 60

AddCommand = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]


@dataclass(frozen=True)
class CertPair:
    cert: Path
    key: Path
    fingerprint: str  # SHA-256 of the DER certificate, AA:BB:… form
    names: tuple[str, ...]  # the subject alternative names, DNS names first
    not_after: datetime


def add_command(add: AddCommand, config: Callable[[argparse.Namespace], HipcamConfig]) -> None:
    """Register `hipcam tls-cert` with the CLI (``config``: the CLI's config loader, for the default folder)."""

    def run(args: argparse.Namespace) -> int:
        out = Path(args.out) if args.out else config(args).data_dir() / "tls"
        print(report(make_cert(out, args.name, days=args.days, force=args.force)))
        return 0

    p = add("tls-cert", run, "make a self-signed certificate for HTTPS; print its fingerprint and the config lines")
    p.add_argument("--out", metavar="DIR", help="folder for cert.pem and key.pem (default: storage.data_dir/tls)")
    p.add_argument("--name", action="append", default=[], help="one more host name or address (repeatable)")
    p.add_argument("--days", type=int, default=DAYS, help=f"validity in days (default: {DAYS})")
    p.add_argument("--force", action="store_true", help="replace an existing pair")


def make_cert(out: Path, extra_names: Sequence[str] = (), days: int = DAYS, force: bool = False) -> CertPair:
    """Write ``out``/cert.pem and ``out``/key.pem; a HipcamError for anything the user can fix."""
    if not 1 <= days <= 36500:
        raise HipcamError(f"--days {days}: give a number of days from 1 to 36500")
    dns, ips = subject_names(extra_names)
    cert, key = out / CERT_FILE, out / KEY_FILE
    existing = [p.name for p in (cert, key) if p.exists()]
    if existing and not force:
        raise HipcamError(f"{out} already has {' and '.join(existing)}; --force replaces them (tablets must then "
                          "accept the new certificate)")  # fmt: skip
    cert_pem, key_pem = _openssl_self_signed(dns, ips, days)
    try:
        with atomic_writer(key, mode=0o600) as fh:
            fh.write(key_pem)
        with atomic_writer(cert, mode=0o644) as fh:
            fh.write(cert_pem)
    except OSError as exc:
        raise HipcamError(f"cannot write the certificate into {out}: {exc.strerror or exc}") from None
    not_after = datetime.now(UTC) + timedelta(days=days)
    return CertPair(cert, key, fingerprint(cert_pem.decode()), (*dns, *ips), not_after)


def subject_names(extra: Iterable[str] = (), hostname: str | None = None) -> tuple[list[str], list[str]]:
    """The DNS names and IP addresses the certificate is for: host name, name.local, localhost,
    the machine's addresses (not link-local) and ``extra`` (each a host name or an address)."""
    host = (hostname if hostname is not None else socket.gethostname()).lower().rstrip(".")
    dns, ips = ["localhost"], {"127.0.0.1", "::1", *_machine_addresses()}
    if _valid(host) and not _address(host):  # a host name that is no name is left out, not an error
        dns += [host] if host.endswith(".local") else [host, f"{host}.local"]
    for given in extra:
        if not _valid(given):
            raise HipcamError(f"--name {given!r}: neither a host name nor an IP address")
        cleaned = ServerConfig(allowed_hosts=[given]).allowed_hosts[0]
        (ips.add if _address(cleaned) else dns.append)(cleaned)
    by_family = sorted((ipaddress.ip_address(a) for a in ips), key=lambda a: (a.version, a))
    return list(dict.fromkeys(dns)), [str(a) for a in by_family]


def fingerprint(cert_pem: str) -> str:
    """SHA-256 of the certificate (DER), as browsers show it: AA:BB:…"""
    digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert_pem)).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def report(pair: CertPair) -> str:
    """What `hipcam tls-cert` prints: where, for what, the fingerprint and the config lines."""
    return "\n".join((
        f"wrote {pair.cert} and {pair.key} (valid until {pair.not_after:%Y-%m-%d})",
        f"for: {', '.join(pair.names)}",
        f"SHA-256 fingerprint: {pair.fingerprint}",
        "  (the first time a tablet opens the page, its browser's certificate details must show this)",
        "",
        "Put these under [server] in the config file, then restart hipcam:",
        f"tls_cert = {json.dumps(str(pair.cert))}",
        f"tls_key = {json.dumps(str(pair.key))}",
    ))  # fmt: skip


def _valid(name: str) -> bool:
    try:
        ServerConfig(allowed_hosts=[name])
    except ValidationError:
        return False
    return True


def _address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _machine_addresses() -> set[str]:
    from web_ui.security import interface_addresses  # the web's own list of this machine's addresses

    found = {str(ipaddress.ip_address(a)) for a in interface_addresses() if _address(a)}
    return {a for a in found if not ipaddress.ip_address(a).is_link_local}


def _openssl_config(dns: Sequence[str], ips: Sequence[str]) -> str:
    sans = [f"DNS.{i} = {n}" for i, n in enumerate(dns, 1)] + [f"IP.{i} = {a}" for i, a in enumerate(ips, 1)]
    common = next((n for n in dns if n != "localhost"), "localhost")[:64]
    return "\n".join((
        "[req]", "prompt = no", "distinguished_name = dn", "x509_extensions = ext",
        "[dn]", f"CN = {common}", "O = hipcam",
        "[ext]", "basicConstraints = critical, CA:FALSE", "keyUsage = critical, digitalSignature",
        "extendedKeyUsage = serverAuth", "subjectKeyIdentifier = hash", "subjectAltName = @san",
        "[san]", *sans, "",
    ))  # fmt: skip


def _openssl_self_signed(dns: Sequence[str], ips: Sequence[str], days: int) -> tuple[bytes, bytes]:
    """The certificate and key PEM, made by ``openssl req`` in a private temporary folder."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise HipcamError("the openssl command is needed to make a certificate (sudo apt-get install openssl)")
    with tempfile.TemporaryDirectory(prefix="hipcam-tls-") as tmp:  # 0700: the key is never readable by others
        work = Path(tmp)
        (work / "req.cnf").write_text(_openssl_config(dns, ips))
        cmd = [openssl, "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
               "-sha256", "-days", str(days), "-config", str(work / "req.cnf"),
               "-keyout", str(work / KEY_FILE), "-out", str(work / CERT_FILE)]  # fmt: skip
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=OPENSSL_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise HipcamError(f"openssl did not run: {exc}") from None
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
            raise HipcamError(f"openssl could not make the certificate: {last}")
        return (work / CERT_FILE).read_bytes(), (work / KEY_FILE).read_bytes()

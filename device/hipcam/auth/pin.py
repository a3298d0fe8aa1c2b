"""Device PIN: scrypt hashes (hashlib only).

Hash format: ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`` so the cost can be raised later
without breaking stored hashes. ``hipcam pin-hash`` prints ``hash_pin(pin)`` for the config file.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import os
import sys

from hipcam.errors import HipcamError

# n=2**14, r=8 needs 16 MiB and ~50 ms on a Pi 4: slow for guessing, fine for a login.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 14, 8, 1
MIN_PIN_LEN, MAX_PIN_LEN = 4, 64


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32)


def hash_pin(pin: str) -> str:
    """Hash a PIN for ``server.pin_hash``; raises HipcamError for a PIN that is too short/long."""
    if not (MIN_PIN_LEN <= len(pin) <= MAX_PIN_LEN):
        raise HipcamError(f"the PIN must be {MIN_PIN_LEN} to {MAX_PIN_LEN} characters long")
    salt = os.urandom(16)
    digest = _scrypt(pin, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_pin(pin: str, stored: str | None) -> bool:
    """Constant-time check of ``pin`` against a stored hash; False for a missing/malformed hash."""
    if not stored or not isinstance(pin, str) or len(pin) > MAX_PIN_LEN:
        return False
    try:
        scheme, n, r, p, salt_b64, hash_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(hash_b64)
        # Bound the cost parameters: a tampered config must not make a login eat all memory.
        n_i, r_i, p_i = int(n), int(r), int(p)
        if not (2 <= n_i <= 1 << 20 and 1 <= r_i <= 32 and 1 <= p_i <= 16):
            return False
        actual = _scrypt(pin, salt, n_i, r_i, p_i)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def pin_hash_main(argv: list[str] | None = None) -> int:
    """`hipcam pin-hash`: read a PIN twice without echo and print its hash line."""
    del argv
    try:
        pin = getpass.getpass("New device PIN: ")
        if pin != getpass.getpass("Repeat the PIN: "):
            print("hipcam: the two PINs differ", file=sys.stderr)
            return 2
        print(f'pin_hash = "{hash_pin(pin)}"  # put under [server] in the config file')
    except HipcamError as exc:
        print(f"hipcam: {exc}", file=sys.stderr)
        return exc.exit_code
    except (EOFError, KeyboardInterrupt):
        return 130
    return 0

"""The device PIN (``pin``), the wrong-PIN limiter (``limiter``) and the server-side login
registry (``logins``)."""

from hipcam.auth.limiter import AttemptLimiter, Refused
from hipcam.auth.logins import LoginRegistry, pin_tag
from hipcam.auth.pin import MAX_PIN_LEN, MIN_PIN_LEN, hash_pin, pin_hash_main, verify_pin

__all__ = [
    "MAX_PIN_LEN",
    "MIN_PIN_LEN",
    "AttemptLimiter",
    "LoginRegistry",
    "Refused",
    "hash_pin",
    "pin_hash_main",
    "pin_tag",
    "verify_pin",
]

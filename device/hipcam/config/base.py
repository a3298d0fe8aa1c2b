"""What every config section shares: the strict base model and the host-name check."""

from __future__ import annotations

import ipaddress
import re

from pydantic import BaseModel, ConfigDict

# A DNS host name (RFC 1123 labels); addresses are checked by ipaddress.
_HOST_NAME = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _host_or_address(value: str) -> str:
    text = value.strip().lower()
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        pass
    if not _HOST_NAME.fullmatch(text) or text.replace(".", "").isdigit():  # 999.1.1.1: no address, no name
        raise ValueError(f"{value!r} is neither an IP address nor a host name")
    return text.rstrip(".")

"""`hipcam token add|list|revoke`: the read-only device tokens the gym's hub pulls sessions with."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hipcam.atomic import atomic_writer
from hipcam.auth.tokens import TOKENS_FILE, TokenError, TokenRegistry
from hipcam.config import HipcamConfig


def add_command(
    add: Callable[..., argparse.ArgumentParser], config: Callable[[argparse.Namespace], HipcamConfig]
) -> None:
    """Register `hipcam token` with the CLI (``config``: the CLI's config loader, for the data dir)."""

    def run(args: argparse.Namespace) -> int:
        data_dir = config(args).data_dir()
        data_dir.mkdir(parents=True, exist_ok=True)
        registry = TokenRegistry(data_dir / TOKENS_FILE)
        return {"add": _add, "list": _list, "revoke": _revoke}[args.action](registry, args)

    p = add("token", run, "read-only device tokens for the hub's archive (add NAME, list, revoke NAME)")
    p.add_argument("action", choices=("add", "list", "revoke"))
    p.add_argument("name", nargs="?", help="the token's name (add, revoke), e.g. hub")
    p.add_argument("--out", metavar="FILE", help="add: also write the token to FILE (0600), for the hub's token_file")


def _add(registry: TokenRegistry, args: Any) -> int:
    token = registry.add(_name(args))
    if args.out:
        with atomic_writer(Path(args.out), mode=0o600) as fh:
            fh.write(f"{token}\n".encode())
        print(f"token {args.name!r} written to {args.out} (it is not shown again)")
    else:
        print(token)
        print(f"# token {args.name!r}: read-only (session list and exports); it is not shown again", flush=True)
    return 0


def _list(registry: TokenRegistry, args: Any) -> int:
    for info in registry.list():
        used = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.last_used)) if info.last_used else "never"
        print(f"{info.name}\tmade {time.strftime('%Y-%m-%d %H:%M', time.localtime(info.created))}\tlast used {used}")
    return 0


def _revoke(registry: TokenRegistry, args: Any) -> int:
    name = _name(args)
    if not registry.revoke(name):
        raise TokenError(f"no token called {name!r} (hipcam token list shows them)")
    print(f"token {name!r} revoked: it stops working at once")
    return 0


def _name(args: Any) -> str:
    if not args.name:
        raise TokenError(f"hipcam token {args.action} needs the token's name, e.g. hipcam token {args.action} hub")
    return str(args.name)

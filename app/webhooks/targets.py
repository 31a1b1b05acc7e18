"""Where a webhook may go. A URL is refused unless it is http(s) (https only in production) and every
address its host resolves to is public: no loopback, private, shared, link-local (cloud metadata lives
there), multicast, reserved or unspecified address, unless WEBHOOKS_ALLOW_PRIVATE_TARGETS is set.

The check runs when an endpoint is saved and again at every delivery, which then connects to the very
address it checked (`Target.address`), so a DNS answer that changes between the check and the connection
(DNS rebinding) cannot send the request somewhere else."""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.core.config import Settings


class UnsafeTarget(ValueError):
    """The URL may not receive webhooks; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str  # the checked address to connect to


def parse(url: str, settings: Settings) -> tuple[str, str, int, str]:
    parts = urlsplit(url)
    allowed = ("https",) if settings.is_production else ("https", "http")
    if parts.scheme not in allowed:
        raise UnsafeTarget(f"the URL must use {' or '.join(allowed)}")
    if not parts.hostname:
        raise UnsafeTarget("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeTarget("the URL may not carry credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeTarget("the URL's port is not valid") from exc
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, path


def resolve(url: str, settings: Settings) -> Target:
    """The URL's target, with an address checked as above; raises UnsafeTarget."""
    scheme, host, port, path = parse(url, settings)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTarget(f"the host {host} could not be resolved") from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise UnsafeTarget(f"the host {host} could not be resolved")
    if not settings.webhooks_allow_private_targets:
        refused = [address for address in addresses if not is_public(address)]
        if refused:
            raise UnsafeTarget(f"the host {host} resolves to a non-public address ({refused[0]})")
    return Target(scheme, host, port, path, addresses[0])


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast

"""Which host names ``tracker serve`` answers, and on which interfaces it may listen."""

from __future__ import annotations


import ipaddress
import socket

from ..config import Config
from .settings import PublishError


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) only listens on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def allowed_hosts(config: Config) -> list[str] | None:
    """The Host headers answered without logins: loopback names and the public name of
    ``digest.base_url`` (a reverse proxy that authenticates). Any other Host is refused, so a
    web page on another site cannot read the database through DNS rebinding. ``None`` (any
    host) when logins are configured: then every page needs a login anyway."""
    if config.auth.password_hashes:
        return None
    from urllib.parse import urlsplit

    hosts = ["127.0.0.1", "localhost", "::1"]
    public = urlsplit(config.digest.base_url).hostname
    if public and public not in hosts:
        hosts.append(public.lower())
    return hosts


def check_host(config: Config, host: str) -> None:
    """Refuse to listen beyond this machine unless logins are configured."""
    if is_loopback(host) or config.auth.password_hashes:
        return
    raise PublishError(
        f"refusing to serve on {host}: anyone on the network could read the correspondence. "
        f"Add accounts under [auth] password_hashes in {config.path} (make a hash with "
        f"`datasette hash-password`), or serve on 127.0.0.1 behind a reverse proxy that "
        f"authenticates"
    )


def plain_http_warning(config: Config, host: str) -> str | None:
    """The one line ``tracker serve`` prints when it listens beyond this machine while the
    public address (``digest.base_url``) is not https; ``None`` when all is well."""
    if is_loopback(host) or config.digest.base_url.lower().startswith("https://"):
        return None
    return (
        f"tracker serve: warning: serving {host} over plain HTTP: passwords, login cookies and "
        f"letters cross the network unencrypted; put a TLS reverse proxy in front (see "
        f"config/caddy/Caddyfile.example or config/nginx/tracker.conf.example), serve on 127.0.0.1 "
        f"behind it and set digest.base_url in {config.path} to its https:// address"
    )

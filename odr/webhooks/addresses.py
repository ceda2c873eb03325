"""Where webhooks may go: public internet addresses only.

A webhook is a request the platform makes to an address a merchant typed. Without a check, that
merchant could make our workers call our own private network (a database's admin page, a cloud
metadata service) and read the answers in the delivery log. So:

- at registration, an address whose host is written as a private, loopback, link-local or reserved
  IP, or is `localhost`, is refused with a clear message (names are not resolved then: a name may be
  registered before its DNS exists);
- at delivery, the connection is made by `connect_vetted`: it resolves the name once, refuses the
  delivery if *any* of the addresses is not public, and connects to the address it checked. A name
  that resolved to a public address at registration and to a private one now (DNS rebinding) is
  refused, and there is no second resolution between the check and the connection.

Exceptions: `http://localhost`, `127.0.0.1` and `::1` with DEBUG or `ODR_WEBHOOKS_ALLOW_HTTP_LOCALHOST`
(development and tests), and every private address with `ODR_WEBHOOKS_ALLOW_PRIVATE_NETWORKS` (an
installation whose merchants' systems are on its own network).
"""

import ipaddress
import socket

from django.conf import settings

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class AddressNotAllowed(OSError):
    """A webhook host that resolves to an address the platform does not call."""


def http_localhost_allowed() -> bool:
    return bool(settings.DEBUG or getattr(settings, "ODR_WEBHOOKS_ALLOW_HTTP_LOCALHOST", False))


def private_networks_allowed() -> bool:
    return bool(getattr(settings, "ODR_WEBHOOKS_ALLOW_PRIVATE_NETWORKS", False))


def ip_allowed(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, *, host: str) -> bool:
    """Public unicast addresses; loopback only for the local host names when development allows it."""
    if private_networks_allowed() or (ip.is_global and not ip.is_multicast):
        return True
    return ip.is_loopback and host in LOCAL_HOSTS and http_localhost_allowed()


def host_allowed_as_written(host: str) -> bool:
    """The registration check: an IP literal must be allowed, `localhost` only in development; any
    other name passes here and is checked at each delivery (`connect_vetted`)."""
    host = host.lower().rstrip(".")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if host == "localhost" or host.endswith(".localhost"):  # names that always mean this machine
            return private_networks_allowed() or (host == "localhost" and http_localhost_allowed())
        return True
    return ip_allowed(ip, host=host)


def resolve(host: str, port: int) -> list[tuple]:
    """The DNS: the one place a webhook host is resolved (tests stand a fake in for it)."""
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def connect_vetted(host: str, port: int, timeout, source_address=None) -> socket.socket:
    """Like `socket.create_connection`, but only to addresses `ip_allowed` accepts (see above)."""
    infos = resolve(host, port)
    for *_rest, sockaddr in infos:
        ip = ipaddress.ip_address(sockaddr[0].split("%")[0])  # drop an IPv6 zone index
        if not ip_allowed(ip, host=host):
            raise AddressNotAllowed(
                f"{host} resolves to a private, loopback or reserved address: "
                "webhooks are only sent to public addresses"
            )
    error = None
    for family, kind, proto, _name, sockaddr in infos:
        sock = socket.socket(family, kind, proto)
        try:
            if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            error = exc
            sock.close()
    raise error or OSError(f"no address for {host}")

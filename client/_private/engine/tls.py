"""Which TLS certificates this device trusts: the system's store, plus a private CA if asked.

A server behind a reverse proxy with a private certificate authority (a small
organisation's own CA, or Caddy's internal one) is trusted by naming that CA's
certificate in `CHATHAM_CA_FILE` (PEM). The system store (`/etc/ssl/certs` on
Debian) is always trusted too. Certificates are checked in full: the chain, the
expiry and the name in the server's address. A certificate that fails is an
error (`CertificateRefused`); nothing is ever retried over plain HTTP.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from typing import Final

from ... import errors as E

ENV_CA_FILE: Final = "CHATHAM_CA_FILE"


def tls_context(env: Mapping[str, str] | None = None) -> ssl.SSLContext:
    """The TLS settings every connection to a server uses (TLS 1.2 or newer)."""
    env = os.environ if env is None else env
    context = ssl.create_default_context()  # the system store, names checked
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    ca_file = env.get(ENV_CA_FILE, "")
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError, ValueError):
            raise E.UsageError(
                f"cannot read the certificate authority in {ENV_CA_FILE} ({ca_file})",
                hint=f"{ENV_CA_FILE} must name a readable PEM certificate file, "
                "or be unset to trust only the system's store",
            ) from None
    return context


def certificate_problem(error: BaseException) -> str | None:
    """Why the server's certificate was refused, if that is what `error` came from."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = str(cause.verify_message or cause.reason or "not valid").rstrip(".")
            return reason[:1].lower() + reason[1:]
        cause = cause.__cause__ or cause.__context__
    return None


def unreachable(url: str, error: BaseException) -> E.Unreachable:
    """The error for a request to `url` that never got an answer."""
    problem = certificate_problem(error)
    if problem is not None:
        return E.CertificateRefused(
            f"the certificate of {url} is not trusted: {problem}; nothing was sent"
        )
    return E.Unreachable(f"could not reach {url} ({type(error).__name__})")

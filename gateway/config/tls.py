"""TLS for a connection that leaves the box: which CA to trust, and an optional client
certificate. TLS 1.2 or newer; the server's name is always checked against its certificate
unless `check_hostname` is turned off (for a broker reached by an address its certificate
does not name; prefer fixing the certificate).

```yaml
mqtt:
  host: broker.st-lukes.local
  port: 8883
  tls: {ca_file: tls/ca.pem, cert_file: tls/gateway.pem, key_file: tls/gateway.key}
```
Paths are relative to the site file.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, model_validator

__all__ = ["TlsFileError", "TlsSettings"]


class TlsFileError(LookupError):
    """A TLS file that cannot be used: which `setting` names it, and why (`detail`)."""

    def __init__(self, setting: str, detail: str) -> None:
        super().__init__(f"{setting}: {detail}")
        self.setting = setting
        self.detail = detail


class TlsSettings(BaseModel):
    """Trust `ca_file` (the system's CAs when not given); present `cert_file` and `key_file`
    when the server asks for a client certificate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    check_hostname: bool = True

    @model_validator(mode="after")
    def _cert_with_key(self) -> Self:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("a client certificate needs both cert_file and key_file")
        return self

    def context(self, folder: Path) -> ssl.SSLContext:
        """The client context, paths taken relative to `folder` (the site file's).

        Raises `TlsFileError` naming the setting and the file when one cannot be used.
        """
        ca = _file(self.ca_file, folder, "ca_file") if self.ca_file is not None else None
        context = ssl.create_default_context(cafile=ca)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.check_hostname = self.check_hostname
        if self.cert_file is not None and self.key_file is not None:
            cert = _file(self.cert_file, folder, "cert_file")
            key = _file(self.key_file, folder, "key_file")
            try:
                context.load_cert_chain(cert, key)
            except ssl.SSLError as error:
                raise TlsFileError(
                    "cert_file", f"cannot use {cert} with {key}: {_why(error)}"
                ) from None
            except OSError as error:
                raise TlsFileError("cert_file", f"cannot use {cert} with {key}: {error}") from None
        return context


def _why(error: ssl.SSLError) -> str:
    if error.reason == "KEY_VALUES_MISMATCH":
        return "the key is not the certificate's"
    return "not a PEM certificate and its private key"


def _file(path: Path, folder: Path, setting: str) -> str:
    resolved = path if path.is_absolute() else folder / path
    if not resolved.is_file():
        raise TlsFileError(setting, f"{resolved} is not a file")
    return str(resolved)

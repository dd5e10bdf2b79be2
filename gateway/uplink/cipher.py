"""DC-09's encryption: AES in CBC mode with an all-zero IV, over text padded at its front.

SIA DC-09 encrypts everything of a message after its `[` (the data, the extended data and the
timestamp), behind a few random pad characters and a `|`, so that the whole is a multiple of
the 16-byte AES block; the ciphertext travels as hex. The timestamp inside is what keeps a
recorded message from being played again later; the receiver answers in kind, so an
acknowledgement that decrypts to a fresh timestamp is one only the key's holder could make.
"""

from __future__ import annotations

import secrets
import string
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

__all__ = ["BLOCK", "decrypt", "encrypt", "padding"]

BLOCK = 16
ZERO_IV = bytes(BLOCK)
_PAD = string.ascii_letters + string.digits
"""Pad characters: never `|`, `[` or `]`, which mark the fields."""


def _aes_cbc(key: bytes) -> Cipher[modes.CBC]:
    """AES-CBC with the zero IV. The cryptography package is loaded only by a gateway that
    encrypts (6 MB of memory and some 50 ms at start-up, for one that does not)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: PLC0415

    return Cipher(algorithms.AES(key), modes.CBC(ZERO_IV))


def padding(length: int) -> str:
    """Random pad characters that bring text of `length` characters to a whole number of
    blocks: 1 to 16 of them (a full block when it would otherwise be none)."""
    count = BLOCK - length % BLOCK
    return "".join(secrets.choice(_PAD) for _ in range(count))


def encrypt(key: bytes, text: str) -> str:
    """`text` (ASCII, a whole number of blocks) encrypted under `key`, as upper-case hex."""
    encryptor = _aes_cbc(key).encryptor()
    data = text.encode("ascii")
    return (encryptor.update(data) + encryptor.finalize()).hex().upper()


def decrypt(key: bytes, hex_text: str) -> str | None:
    """The text that `hex_text` encrypts under `key`, or None when it is not a ciphertext
    (not hex, not whole blocks) or not ASCII text once decrypted (another key's)."""
    try:
        data = bytes.fromhex(hex_text)
    except ValueError:
        return None
    if not data or len(data) % BLOCK:
        return None
    decryptor = _aes_cbc(key).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    try:
        return plain.decode("ascii")
    except UnicodeDecodeError:
        return None

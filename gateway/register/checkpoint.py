"""Signed checkpoints: the C2SP tlog-checkpoint body (origin, tree size, base64 root)
signed as a C2SP signed note with Ed25519.

    hotline.example.org/replylog
    42
    <base64 root>

    — hotline.example.org/replylog <base64(key id (4 bytes) || signature)>

The key id is the first four bytes of SHA-256(name || 0x0A || 0x01 || public key), as in
Go's golang.org/x/mod/sumdb/note, so the note verifies with that package's tools as well;
the key is named after the origin.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

DASH = "\u2014"  # the em dash that starts a signature line
ED25519 = b"\x01"  # the signed-note algorithm byte of Ed25519


class CheckpointError(ValueError):
    """A checkpoint that does not parse or whose signature fails: the message says which."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(name: str, key: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public_bytes(key)).digest()[:4]


def verifier_key(name: str, key: Ed25519PublicKey) -> str:
    """The public key as a signed-note verifier key: `<name>+<hex key id>+<base64(0x01 || key)>`."""
    return f"{name}+{key_id(name, key).hex()}+{base64.b64encode(ED25519 + public_bytes(key)).decode()}"


def load_key(path: str) -> Ed25519PrivateKey:
    """The Ed25519 private key (PEM); the error names the file and what is wrong with it."""
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from exc
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path} is not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} holds a {type(key).__name__}, not an Ed25519 private key")
    return key


def sign(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> str:
    body = checkpoint.body()
    signature = key.sign(body.encode("utf-8"))
    stamp = base64.b64encode(key_id(checkpoint.origin, key.public_key()) + signature).decode()
    return f"{body}\n{DASH} {checkpoint.origin} {stamp}\n"


def parse(text: str, origin: str, key: Ed25519PublicKey) -> Checkpoint:
    """A signed checkpoint, verified with our public key; raises CheckpointError saying why not."""
    body, sep, signatures = text.replace("\r\n", "\n").partition("\n\n")
    lines = body.split("\n")
    if not sep or len(lines) < 3:
        raise CheckpointError("not a signed checkpoint (origin, size, root, a blank line, signatures)")
    if lines[0] != origin:
        raise CheckpointError(f"checkpoint of origin {lines[0]!r}, not {origin!r}")
    try:
        size, root = int(lines[1]), base64.b64decode(lines[2], validate=True)
    except ValueError as exc:
        raise CheckpointError(f"checkpoint size or root unreadable: {exc}") from None
    if size < 0 or len(root) != 32:
        raise CheckpointError("checkpoint size or root out of range")
    wanted = key_id(origin, key)
    for line in signatures.split("\n"):
        name, _, stamp = line.removeprefix(f"{DASH} ").partition(" ")
        raw = _b64(stamp) if line.startswith(f"{DASH} ") and name == origin else b""
        if raw[:4] == wanted and len(raw) == 68:
            try:
                key.verify(raw[4:], (body + "\n").encode("utf-8"))
            except InvalidSignature:
                raise CheckpointError("checkpoint signature is bad (altered, or signed by another key)") from None
            return Checkpoint(origin, size, root)
    raise CheckpointError("checkpoint carries no signature by our key")


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        return b""


def find(text: str, origin: str) -> str:
    """The checkpoint inside a longer text (a user's mail, quoted or not): from its origin
    line to its first signature line; the text itself when there is none."""
    lines = [line.removeprefix("> ").rstrip("\r") for line in text.split("\n")]
    for start, line in enumerate(lines):
        if line.strip() == origin:
            for end in range(start + 1, len(lines)):
                if lines[end].startswith(f"{DASH} "):
                    return "\n".join(line.strip() for line in lines[start : end + 1]) + "\n"
    return text

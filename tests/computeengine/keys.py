"""Service-account keys as Google issues them, made here: for tests of the credentials paths."""

from __future__ import annotations

import json


def service_account_key(key_id: str) -> tuple[bytes, str]:
    """A service-account key file as Google issues them (its private key made here), and the key's PEM."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "my-proj-123",
        "private_key_id": key_id,
        "private_key": pem,
        "client_email": "cloner@my-proj-123.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",  # never called: the client signs its own JWTs
    }
    return json.dumps(info).encode(), pem

#!/usr/bin/python3
"""mint-token.py - JWTs for the auth tests, with Debian's python3-cryptography.

  mint-token.py KEYFILE ALG CLAIMS_JSON [HEADER_JSON]
      Sign CLAIMS_JSON (compact JWS). ALG: ES256, RS256, EdDSA (KEYFILE a PEM
      private key), HS256 (KEYFILE's bytes are the HMAC secret), none (KEYFILE
      ignored, empty signature). The header is {"typ","alg","kid"} with the
      libtrust kid of the key (when there is one), updated by HEADER_JSON;
      a value of null in HEADER_JSON removes that header field.
  mint-token.py --kid KEYFILE          the libtrust key id of a PEM key/cert
  mint-token.py --decode TOKEN         {"header": ..., "claims": ...}
  mint-token.py --verify KEYFILE TOKEN exit 0 when TOKEN's ES256/RS256/EdDSA
                                       signature verifies with KEYFILE's key
  mint-token.py --x5c CERTFILE...      a JSON array of base64 DER certificates
"""
import base64
import hashlib
import hmac
import json
import sys

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature, encode_dss_signature)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_key(path):
    data = open(path, "rb").read()
    if b"CERTIFICATE" in data:
        return x509.load_pem_x509_certificate(data).public_key()
    if b"PRIVATE KEY" in data:
        return serialization.load_pem_private_key(data, password=None)
    return serialization.load_pem_public_key(data)


def public_of(key):
    return key.public_key() if hasattr(key, "public_key") and not hasattr(key, "verify") else key


def libtrust_kid(key):
    der = public_of(key).public_bytes(serialization.Encoding.DER,
                                      serialization.PublicFormat.SubjectPublicKeyInfo)
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))


def sign(keyfile, alg, claims, header_over):
    header = {"typ": "JWT", "alg": alg}
    key = None
    if alg not in ("none", "HS256"):
        key = load_key(keyfile)
        header["kid"] = libtrust_kid(key)
    for k, v in header_over.items():
        if v is None:
            header.pop(k, None)
        else:
            header[k] = v
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     b64url(json.dumps(claims, separators=(",", ":")).encode()))
    data = signing_input.encode()
    if alg == "none":
        sig = b""
    elif alg == "HS256":
        sig = hmac.new(open(keyfile, "rb").read(), data, hashlib.sha256).digest()
    elif alg == "ES256":
        der = key.sign(data, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        n = (key.curve.key_size + 7) // 8
        sig = r.to_bytes(n, "big") + s.to_bytes(n, "big")
    elif alg == "RS256":
        sig = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    elif alg == "EdDSA":
        sig = key.sign(data)
    else:
        sys.exit("unknown alg " + alg)
    return signing_input + "." + b64url(sig)


def verify(keyfile, token):
    key = public_of(load_key(keyfile))
    h, c, s = token.split(".")
    alg = json.loads(unb64url(h))["alg"]
    data, sig = (h + "." + c).encode(), unb64url(s)
    try:
        if alg == "ES256" and isinstance(key, ec.EllipticCurvePublicKey):
            if len(sig) != 64:
                return False
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                       int.from_bytes(sig[32:], "big"))
            key.verify(der, data, ec.ECDSA(hashes.SHA256()))
        elif alg == "RS256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
        elif alg == "EdDSA" and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(sig, data)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def main(argv):
    if len(argv) >= 2 and argv[1] == "--kid":
        print(libtrust_kid(load_key(argv[2])))
    elif len(argv) >= 2 and argv[1] == "--decode":
        h, c, _ = argv[2].split(".")
        print(json.dumps({"header": json.loads(unb64url(h)), "claims": json.loads(unb64url(c))}))
    elif len(argv) >= 2 and argv[1] == "--verify":
        return 0 if verify(argv[2], argv[3]) else 1
    elif len(argv) >= 2 and argv[1] == "--x5c":
        out = []
        for path in argv[2:]:
            cert = x509.load_pem_x509_certificate(open(path, "rb").read())
            out.append(base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode())
        print(json.dumps(out))
    elif len(argv) in (4, 5):
        header = json.loads(argv[4]) if len(argv) == 5 else {}
        print(sign(argv[1], argv[2], json.loads(argv[3]), header))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

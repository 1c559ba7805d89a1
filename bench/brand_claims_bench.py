"""Time of BrandRegistry.find_claims on 5 KB bodies, and of loading the shipped registry.

    PYTHONPATH=src python bench/brand_claims_bench.py

Prints the best of 7 runs per body (microseconds per call): ASCII English, English with
typographic characters, French, and a body that names seven brands (the slow path).
"""

from __future__ import annotations

import time
import timeit

from mailward.data import brands as brand_data

SIZE = 5000
ENGLISH = (
    "Hello team, please find the quarterly report attached. The meeting moved to Thursday at "
    "10:00 in room 4B; bring your notes on the budget, hiring plan and the office move. "
)
TYPOGRAPHIC = (
    "The \u201cnew\u201d plan \u2014 see the notes \u2026 We\u2019ll meet at 10:00\u00a0am; "
    "caf\u00e9 on the 2nd floor. Questions? Ask Ren\u00e9e or Jos\u00e9. "
)
FRENCH = (
    "Bonjour, votre colis est en attente. Veuillez confirmer votre adresse de livraison et "
    "r\u00e9gler les frais de douane avant le 12 d\u00e9cembre. \u00ab Merci \u00bb \u2014 "
    "l\u2019\u00e9quipe. "
)
BRANDS = (
    " Your PayPal account, DHL Express parcel, Cr\u00e9dit Agricole, Microsoft 365, Apple ID, "
    "Amazon Prime and Netflix. "
)


def body(text: str, size: int = SIZE) -> str:
    return (text * (size // len(text) + 1))[:size]


def main() -> None:
    started = time.perf_counter()
    files = brand_data._shipped_files()
    parsed = time.perf_counter()
    registry = brand_data.build_registry(files)
    built = time.perf_counter()
    print(
        f"load: parse+validate {1000 * (parsed - started):.0f} ms, "
        f"index {1000 * (built - parsed):.0f} ms; {len(registry)} brands, "
        f"{len(registry.esps)} ESPs"
    )
    bodies = {
        "ascii-english": body(ENGLISH),
        "typographic": body(TYPOGRAPHIC),
        "french": body(FRENCH),
        "seven-brands": (body(ENGLISH, 2200) + BRANDS + body(FRENCH, 2800))[:SIZE],
    }
    for name, text in bodies.items():
        best = min(timeit.repeat(lambda t=text: registry.find_claims(t), number=300, repeat=7))
        claims = [c.name for c in registry.find_claims(text)]
        print(f"{name:14} {len(text)} chars {1e6 * best / 300:7.1f} us  {claims}")


if __name__ == "__main__":
    main()

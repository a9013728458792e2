"""A released migration's SQL never changes (salesplan/migrations.py, salesplan/migrations_ledger.py):
a store records the versions it ran, not their text, so an edit reaches only stores made after
it and two stores of one version would differ. Several migrations are built from shared pieces
(83 and 84 from ``rebuilt_versions_sql``, 80 from ``flag_current_sql``, 82 from ``FILL_KEYS``),
which a later change for a restore or an import could edit by mistake: each released migration's
text is held to the digest it was released with. A change of the schema is a new migration."""

from __future__ import annotations

import hashlib

from salesplan.migrations import MIGRATIONS

# sha256 of each released migration's SQL as written in the module (before a backend adapts it)
RELEASED = {
    1: "eb3577b75717facd3c85765f2f96e2f640efe3aaffad14e9a3d5b514b6135eea",
    2: "f0cf1992dbf8b28b1634af4eb7f0677dfac454e7a6e47097840fd8614a2a3b8a",
    3: "952d728c8747be5605bfba8f1a0b0e6411c402c246a93e24c6287ffc96f01169",
    4: "913b6fb6663fcc23d4f958b8aab4b5e9d73b220a9d3e25347925b651782716e2",
    5: "0967ede41eb17a72c2cb14834d25139968d535bb2c3f49aaf2a3bfe5f242965e",
    6: "a5310f861f7f7d5bb36d348b7a937b410a49f7aad201635eb97f961b31201c32",
    20: "5e54fde98d1bb4f3e95ca7a242fc9ad138a53eaa76529e8d9518ebeafa383691",
    30: "4b873f8b6716d45b92237787c6bad152536d4f8f4af888cee7250a91dd554a56",
    40: "f1c4aa32391e0214924c95d6f7cca55ebd4f287f3cd350453c0dae7f2fb63835",
    50: "80009bbc7c4958b3a620d803a3a8be493aa34cf162a66855a93843335677d50e",
    60: "f1838131e0aa75fd1405bc565f2f6f04de81bbcab7f4fe8ed896d44b9009111d",
    70: "53a5275529a7424b37c1eeb696a1ab87eb0bd4183df2af226b5a6a05976e2932",
    80: "bb6414ffdfe44333d1ba581e17bd4848f1bf6003f04fb00b16305384c072362f",
    81: "c20be3c7d425ed90d653a258bf143d021745095f23574817d9398419abcca82e",
    82: "6d60178e0d6a96af750f0db2810dde777d9e694a46512323dab1d4f9fc33535e",
    83: "ef8387569a548017d1478922f8beba815f1932a775c212f83d92e0e88a1b42c9",
    84: "66de4f354051e603fe2caed58c7abc8136802fddf8fbd1b11978b0925d16680b",
}


def test_every_released_migration_keeps_its_text():
    texts = {version: sql for version, _, sql in MIGRATIONS}
    changed = [version for version, digest in RELEASED.items()
               if hashlib.sha256(texts[version].encode()).hexdigest() != digest]
    assert changed == [], f"released migrations whose SQL changed (make a new migration instead): {changed}"


def test_new_migrations_come_after_the_released_ones():
    versions = [version for version, _, _ in MIGRATIONS]
    assert versions == sorted(set(versions))
    assert set(RELEASED) <= set(versions)
    assert all(version > max(RELEASED) for version in set(versions) - set(RELEASED))

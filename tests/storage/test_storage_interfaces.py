"""The Store implements every storage interface, method by method, with the same signatures."""

from __future__ import annotations

import inspect

import pytest

from salesplan.storage import interfaces
from salesplan.store import Store

PROTOCOLS = [
    interfaces.SettingsStorage, interfaces.PeopleStorage, interfaces.LedgerStorage, interfaces.EngineReadStorage,
    interfaces.PlanStorage, interfaces.AuditStorage, interfaces.AccountStorage, interfaces.BackupStorage,
    interfaces.ScopeStorage, interfaces.NotificationStorage, interfaces.DealStorage, interfaces.RatesStorage,
    interfaces.PeopleHistoryStorage,
]


def _methods(protocol: type) -> dict[str, object]:
    return {name: value for name, value in vars(protocol).items() if not name.startswith("_") and callable(value)
            or isinstance(value, staticmethod)}


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p.__name__)
def test_store_has_every_method_of_the_interface_with_its_signature(protocol):
    methods = _methods(protocol)
    assert methods
    for name, declared in methods.items():
        implemented = inspect.getattr_static(Store, name)
        declared_fn = declared.__func__ if isinstance(declared, staticmethod) else declared
        implemented_fn = implemented.__func__ if isinstance(implemented, staticmethod) else implemented
        assert str(inspect.signature(implemented_fn)) == str(inspect.signature(declared_fn)), (protocol.__name__, name)
        assert "Raises" in (inspect.getdoc(declared_fn) or "") or "raise" in (inspect.getdoc(declared_fn) or "").lower(), name


def test_every_public_store_method_belongs_to_an_interface():
    declared = set().union(*(_methods(protocol) for protocol in PROTOCOLS))
    public = {name for name in dir(Store) if not name.startswith("_") and callable(getattr(Store, name))}
    lifecycle = {"open", "close", "cursor", "atomic", "write", "migrate"}
    assert public - lifecycle - declared == set()

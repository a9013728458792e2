"""Loaders shared by the pages: one store per process, cached reads keyed by the data version."""

from __future__ import annotations

import streamlit as st

from salesplan.principal import Principal
from salesplan.store import Store, resolve_db_path


@st.cache_resource
def store() -> Store:
    return Store.open(resolve_db_path())


def viewer() -> Principal:
    # Sign-in is not built yet: everyone views as an administrator.
    return Principal(email="admin@local", role="admin")

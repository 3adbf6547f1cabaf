"""The work of each stage of the card, one package per stage (see ARCHITECTURE.md for the tiers)."""

from __future__ import annotations

from importlib import import_module


def lazy_verbs(package: str, verbs: dict[str, str]):
    """A package's ``__getattr__`` that imports a verb's module on first use (PEP 562), for packages whose
    pure verbs must load without the database their other verbs need."""

    def __getattr__(name: str):
        if name in verbs:
            return getattr(import_module(f"{package}.{verbs[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__

"""
The dictionary that holds several values per key: ``request.GET``,
``request.POST`` and ``request.cookies``.

It is wptserve's ``MultiDict`` (a :class:`dict` of lists, so ``keys()``,
iteration and ``items()`` behave as in wptserve, ``items()`` yielding the
lists) with one deliberate change: every lookup takes the key as str or
bytes.  Keys are stored as bytes; a str key is ISO-8859-1 encoded first, so
``GET.first("content-type")`` and ``GET.first(b"content-type")`` are the same
lookup.  wptserve answers the str form with a KeyError, which turned the
example on its own documentation page into a 500.
"""

from __future__ import annotations

from typing import Any, Dict, Hashable, List, TypeVar

KT = TypeVar("KT")
VT = TypeVar("VT")

#: The "no default given" marker: ``None`` is a legitimate default.
missing: Any = object()


def normaliseKey(key: Any) -> Any:
    """
    The stored form of ``key``: a str that ISO-8859-1 can encode becomes
    those bytes; anything else (bytes, or a str with code points above 255,
    which no stored key can equal) is returned unchanged.

    Runs in whichever thread looks the key up; it touches no shared state.
    """
    if isinstance(key, str):
        try:
            return key.encode("iso-8859-1")
        except UnicodeEncodeError:
            return key
    return key


class MultiDict(Dict[KT, List[VT]]):
    """
    A dict whose values are lists, with wptserve's accessors (``first``,
    ``last``, ``get``, ``get_list``, ``add``).  ``d[key]`` is the first value.

    Built in the handler's thread on first access to the request attribute
    that holds it; not meant to be shared between threads while it is being
    filled.
    """

    def __init__(self) -> None:
        # wptserve's MultiDict takes no arguments either.
        super().__init__()

    def __setitem__(self, name: KT, value: VT) -> None:  # type: ignore[override]
        """Replace every value of ``name`` by ``value``."""
        dict.__setitem__(self, normaliseKey(name), [value])

    def add(self, name: KT, value: VT) -> None:
        """Append ``value`` to the values of ``name``."""
        key = normaliseKey(name)
        values = dict.get(self, key)
        if values is None:
            dict.__setitem__(self, key, [value])
        else:
            values.append(value)

    def __getitem__(self, key: Hashable) -> VT:  # type: ignore[override]
        """The first value of ``key``; KeyError if there is none."""
        return self.first(key)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, normaliseKey(key))

    def __delitem__(self, key: Hashable) -> None:  # type: ignore[override]
        dict.__delitem__(self, normaliseKey(key))

    def first(self, key: Hashable, default: Any = missing) -> Any:
        """
        The first value of ``key``.

        :param default: returned when ``key`` has no value; without it, a
            missing key raises KeyError.
        """
        return self._valueAt(key, 0, default)

    def last(self, key: Hashable, default: Any = missing) -> Any:
        """
        The last value of ``key``.

        :param default: returned when ``key`` has no value; without it, a
            missing key raises KeyError.
        """
        return self._valueAt(key, -1, default)

    def _valueAt(self, key: Hashable, index: int, default: Any) -> Any:
        """Value ``index`` of ``key``, else ``default``, else KeyError."""
        values = dict.get(self, normaliseKey(key))
        if values:
            return values[index]
        if default is not missing:
            return default
        raise KeyError(key)

    def get(self, key: Hashable, default: Any = None) -> Any:  # type: ignore[override]
        """The first value of ``key``, or ``default`` (None) if it has none."""
        return self.first(key, default)

    def get_list(self, key: Hashable) -> List[VT]:
        """
        Every value of ``key`` in the order received; ``[]`` if it has none.
        The list is the stored one, as in wptserve.
        """
        values = dict.get(self, normaliseKey(key))
        return values if values is not None else []

"""A small name -> object registry shared by models, datasets and pruners.

One implementation keeps the error message for unknown names identical everywhere:
it always lists the valid choices.
"""

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from snacs.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps config names to factories (or classes) of one kind."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that records ``obj`` under ``name``; a duplicate name is a bug."""

        def decorate(obj: T) -> T:
            if name in self._entries and self._entries[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            return obj

        return decorate

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, list(self._entries)) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

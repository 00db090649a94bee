"""Records: typed, slotted classes, frozen unless asked otherwise; bhoga's one way to declare one.

`@record` does what `@dataclass(frozen=True, slots=True)` did, without importing `dataclasses` (which loads
`re`, `inspect` and `copy`: ~10 ms of `import bhoga`) and at about a tenth of its cost per class: `dataclasses`
compiles six methods per class when the class is declared; `record` compiles a class's `__init__` (which sets
the slots directly: building a record costs half of what it did) when the first record is built, and its
`__eq__`, `__hash__` and `__replace__` together when one of them is first used; `repr`, pickling and the
immutability are shared functions. Equality, hashing, `repr`, `__match_args__`, pickling and copying behave as
a dataclass's; assigning to a frozen record raises `FrozenInstanceError` (an `AttributeError`, as with
`dataclasses`). Change a frozen record with `replace`.

Fields are the class's annotations in order, except `ClassVar`s; a class attribute of the same name is the
default, `field(default=..., default_factory=..., compare=..., repr=...)` says more. Records do not inherit
fields (none of bhoga's records subclasses another) and use no `super()` in methods (the class is rebuilt with
slots).
"""

from __future__ import annotations

from operator import attrgetter

__all__ = ["FrozenInstanceError", "field", "record", "replace"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, dataclass_transform, overload

    _T = TypeVar("_T")
    _C = TypeVar("_C", bound=type)


class FrozenInstanceError(AttributeError):
    """An assignment to (or deletion of) a field of a frozen record."""


_MISSING: Any = type("_Missing", (), {"__repr__": lambda self: "<missing>"})()


class _Field:
    """What `field()` says about one field."""

    __slots__ = ("compare", "default", "default_factory", "repr")

    def __init__(self, default: object, default_factory: object, compare: bool, repr_: bool) -> None:
        self.default = default
        self.default_factory = default_factory
        self.compare = compare
        self.repr = repr_


def _field(*, default: Any = _MISSING, default_factory: Any = _MISSING, compare: bool = True, repr: bool = True) -> Any:
    """A field's default (or a factory called per record, for a mutable default), whether `==` and `hash` look
    at it, and whether `repr` shows it (not for a secret)."""
    if default is not _MISSING and default_factory is not _MISSING:
        raise ValueError("cannot specify both default and default_factory")
    return _Field(default, default_factory, compare, repr)


# The checker reads the overloads (and `dataclass_transform`), the interpreter the plain functions: `typing`
# stays unimported.
if TYPE_CHECKING:

    @overload
    def field(*, default: _T, compare: bool = True, repr: bool = True) -> _T: ...
    @overload
    def field(*, default_factory: Callable[[], _T], compare: bool = True, repr: bool = True) -> _T: ...
    @overload
    def field(*, compare: bool = True, repr: bool = True) -> Any: ...
    def field(
        *, default: Any = _MISSING, default_factory: Any = _MISSING, compare: bool = True, repr: bool = True
    ) -> Any: ...
else:
    field = _field


def _values(names: tuple[str, ...]) -> Callable[[object], tuple[object, ...]]:
    """A function returning the values of `names` of an object as a tuple (`attrgetter` in C, for speed)."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return lambda obj: ()


def _repr(self: Any) -> str:
    cls = self.__class__
    pairs = zip(cls.__record_fields__, cls.__record_values__(self), strict=True)
    shown = cls.__record_shown__
    return f"{cls.__qualname__}({', '.join(f'{name}={value!r}' for name, value in pairs if name in shown)})"


def _reduce(self: Any) -> tuple[type, tuple[object, ...]]:
    return self.__class__, self.__record_values__(self)


def _frozen_setattr(self: object, name: str, value: object) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: object, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _install(cls: Any, source: str, scope: dict[str, object], methods: tuple[str, ...]) -> Any:
    exec(source, scope)  # noqa: S102
    for method in methods:
        fn: Any = scope[method]
        fn.__qualname__ = f"{cls.__qualname__}.{method}"
        type.__setattr__(cls, method, fn)
    return cls


def _compile_init(cls: Any) -> Any:
    """Install `cls`'s own `__init__`, at its first use rather than at import (most records are never built at
    import). It sets each slot through its descriptor: faster than `object.__setattr__`, which a frozen record's
    own `__setattr__` would make it use."""
    names, _, defaults, factories, _, _ = cls.__record_spec__
    scope: dict[str, object] = {"_MISSING": _MISSING}
    params, body = [], []
    for i, name in enumerate(names):
        scope[f"_set{i}"] = cls.__dict__[name].__set__
        if name in factories:
            scope[f"_factory{i}"] = factories[name]
            params.append(f"{name}=_MISSING")
            body.append(f" _set{i}(self, _factory{i}() if {name} is _MISSING else {name})")
        elif name in defaults:
            scope[f"_default{i}"] = defaults[name]
            params.append(f"{name}=_default{i}")
            body.append(f" _set{i}(self, {name})")
        else:
            params.append(name)
            body.append(f" _set{i}(self, {name})")
    source = f"def __init__(self, {', '.join(params)}):\n{chr(10).join(body) or ' pass'}\n"
    return _install(cls, source, scope, ("__init__",))


def _compile_rest(cls: Any) -> Any:
    """Install `cls`'s own `__eq__`, `__hash__` and `__replace__`, compiled together at the first use of one."""
    names, compared, _, _, frozen, eq = cls.__record_spec__
    keywords = ", *" + "".join(f", {n}=_MISSING" for n in names) if names else ""
    kept = ", ".join(f"self.{n} if {n} is _MISSING else {n}" for n in names)
    mine = "".join(f"self.{n}," for n in compared)
    theirs = "".join(f"other.{n}," for n in compared)
    source = (
        f"def __eq__(self, other):\n"
        f" if other.__class__ is self.__class__:\n  return ({mine}) == ({theirs})\n"
        f" return NotImplemented\n"
        f"def __hash__(self):\n return hash(({mine}))\n"
        f"def __replace__(self{keywords}):\n"
        f" return self.__class__({kept})\n"
    )
    methods = ("__replace__", "__eq__", "__hash__") if frozen else ("__replace__", "__eq__")
    return _install(cls, source, {"_MISSING": _MISSING}, methods if eq else ("__replace__",))


# Stand-ins for the compiled methods until their class's first use of them.
def _first_init(self: Any, *args: object, **kwargs: object) -> None:
    _compile_init(self.__class__).__init__(self, *args, **kwargs)


def _first_eq(self: Any, other: object) -> bool:
    return _compile_rest(self.__class__).__eq__(self, other)  # type: ignore[no-any-return]


def _first_hash(self: Any) -> int:
    return _compile_rest(self.__class__).__hash__(self)  # type: ignore[no-any-return]


def _first_replace(self: Any, **changes: object) -> Any:
    return _compile_rest(self.__class__).__replace__(self, **changes)


class _Signature:
    """`cls.__signature__` until the first use: compiles the class's `__init__` and answers None, so that
    `inspect.signature` goes on to read the real one (the stand-in's is `(*args, **kwargs)`)."""

    def __get__(self, obj: object, cls: Any) -> None:
        if cls.__init__ is _first_init:
            _compile_init(cls)


_SIGNATURE = _Signature()


def _build(cls: type, frozen: bool, eq: bool) -> type:
    ns = dict(cls.__dict__)
    names: list[str] = []
    compared: list[str] = []
    hidden: list[str] = []
    defaults: dict[str, object] = {}
    factories: dict[str, object] = {}
    for name, kind in ns.get("__annotations__", {}).items():
        if str(kind).startswith(("ClassVar", "typing.ClassVar")):
            continue
        value = ns.pop(name, _MISSING)
        if isinstance(value, _Field):
            if value.default_factory is not _MISSING:
                factories[name] = value.default_factory
            elif value.default is not _MISSING:
                defaults[name] = value.default
            if value.compare:
                compared.append(name)
            if not value.repr:
                hidden.append(name)
        else:
            if value is not _MISSING:
                defaults[name] = value
            compared.append(name)
        if names and name not in defaults and name not in factories and names[-1] in (*defaults, *factories):
            raise TypeError(f"{cls.__name__}: field {name!r} without a default follows one with a default")
        names.append(name)
    for base in cls.__mro__[1:-1]:
        if "__record_spec__" in base.__dict__:
            raise TypeError(f"{cls.__name__}: a record cannot inherit from record {base.__name__}")
    fields = tuple(names)
    ns.pop("__dict__", None)
    ns.pop("__weakref__", None)
    ns["__qualname__"] = cls.__qualname__  # kept by the class, not in its __dict__
    ns["__slots__"] = ns["__match_args__"] = ns["__record_fields__"] = fields
    ns["__record_spec__"] = (fields, compared, defaults, factories, frozen, eq)
    ns["__record_values__"] = staticmethod(_values(fields))
    ns["__record_shown__"] = frozenset(fields).difference(hidden)
    ns["__init__"] = _first_init
    ns["__signature__"] = _SIGNATURE
    ns["__replace__"] = _first_replace
    ns["__repr__"] = _repr
    ns["__reduce__"] = _reduce
    if eq:
        ns["__eq__"] = _first_eq
        ns["__hash__"] = _first_hash if frozen else None  # mutable and compared by value: unhashable
    if frozen:
        ns["__setattr__"] = _frozen_setattr
        ns["__delattr__"] = _frozen_delattr
    return type(cls)(cls.__name__, cls.__bases__, ns)


def _record(cls: Any = None, /, *, frozen: bool = True, eq: bool = True) -> Any:
    """Make `cls` a record: `@record` (frozen), or `@record(frozen=False)` / `@record(frozen=False, eq=False)`
    for one that changes in place (compared by identity with `eq=False`)."""
    if cls is None:
        return lambda c: _build(c, frozen, eq)
    return _build(cls, frozen, eq)


if TYPE_CHECKING:

    @overload
    def record(cls: _C, /) -> _C: ...
    @overload
    def record(*, frozen: bool = True, eq: bool = True) -> Callable[[_C], _C]: ...
    @dataclass_transform(frozen_default=True, field_specifiers=(field,))
    def record(cls: Any = None, /, *, frozen: bool = True, eq: bool = True) -> Any: ...
else:
    record = _record


def replace(obj: _T, /, **changes: Any) -> _T:
    """A copy of record `obj` with `changes` to its fields (a `TypeError` names an unknown one)."""
    try:
        method = obj.__replace__  # type: ignore[attr-defined]
    except AttributeError:
        raise TypeError(f"replace() needs a record, not {type(obj).__name__}") from None
    return method(**changes)  # type: ignore[no-any-return]

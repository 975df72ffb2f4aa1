"""The seam to the C++ options structs: read their fields, fill them by name.

The options structs of the C++ core (``_core.UmapOptions``, ``_core.PreprocessOptions``, …)
are bound once, field by field, with the header's comments as docstrings. The estimators take
their defaults from them, fill them by name with :func:`fill` and leave every check to the
struct's C++ ``validate()`` (a bad value raises ``ValueError`` naming the field).
:func:`struct_params` gives an estimator one keyword parameter per field of a struct that its
``__init__`` does not list, so a field added to such a struct (its header, ``validate()``, docs
table) becomes an estimator parameter with no Python edit.
"""
import functools
import inspect
import numbers

__all__ = ["fields", "fill", "to_dict", "struct_params"]


def fields(struct):
    """Names of the fields of a bound options struct (class or instance), in declaration order."""
    cls = struct if isinstance(struct, type) else type(struct)
    return [name for name, value in vars(cls).items() if isinstance(value, property) and not name.startswith("_")]


def fill(struct, values, prefix=""):
    """Set ``struct``'s fields from the mapping ``values`` by name and return ``struct``.

    A value of the wrong type (e.g. a float for an integer field, a negative count) raises
    ValueError naming the field (``prefix`` + name), as C++ ``validate()`` does for bad values.
    """
    for name, value in values.items():
        try:
            setattr(struct, name, value)
        except TypeError:
            raise ValueError(_type_error(struct, prefix + name, name, value)) from None
    return struct


def _type_error(struct, label, name, value):
    kind = type(getattr(struct, name)).__name__
    if kind != "int":
        return f"{label} must be of type {kind}, got {value!r}"
    if isinstance(value, numbers.Integral):  # an unsigned field or out of range
        return f"{label} must be a non-negative integer in range, got {value!r}"
    return f"{label} must be of type int, got {value!r} ({label} must be an integer)"


def to_dict(struct, exclude=()):
    """The fields of a bound struct as a dict (nested structs stay objects)."""
    return {name: getattr(struct, name) for name in fields(struct) if name not in exclude}


def struct_params(struct_type, exclude=()):
    """Class decorator: one keyword-only ``__init__`` parameter, defaulting to the C++ default,
    for each field of ``struct_type`` the estimator's own ``__init__`` does not list (and not in
    ``exclude``). scikit-learn's ``get_params``/``set_params``/``clone`` see them, as they read
    the signature. Use :func:`struct_values` to collect them back."""
    def decorate(cls):
        init = cls.__init__
        signature = inspect.signature(init)
        have = set(signature.parameters)
        default = struct_type()
        extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=getattr(default, name))
                 for name in fields(struct_type) if name not in have and name not in exclude]
        if not extra:
            return cls

        @functools.wraps(init)
        def __init__(self, *args, **kwargs):
            for parameter in extra:
                setattr(self, parameter.name, kwargs.pop(parameter.name, parameter.default))
            init(self, *args, **kwargs)

        parameters = list(signature.parameters.values())
        tail = [p for p in parameters if p.kind == inspect.Parameter.VAR_KEYWORD]
        head = [p for p in parameters if p.kind != inspect.Parameter.VAR_KEYWORD]
        __init__.__signature__ = signature.replace(parameters=head + extra + tail)
        cls.__init__ = __init__
        return cls
    return decorate


def struct_values(estimator, struct_type, exclude=()):
    """``{field: estimator.field}`` for every field of ``struct_type`` the estimator has as a
    parameter (its own or from :func:`struct_params`), less ``exclude``."""
    return {name: getattr(estimator, name) for name in fields(struct_type)
            if name not in exclude and hasattr(estimator, name)}

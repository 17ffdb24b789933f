"""The parameters of report notebooks: what each notebook declares, and checking given values against it.

A report notebook declares its parameters in its ``parameters``-tagged cell (papermill's convention),
each with a default, e.g. ``delta = 1.0  # points added to csat``. Before any kernel starts, the names
given to a run are checked against the notebooks that run (a name no selected notebook declares is an
error, with the nearest valid name), and each value is converted to the parameter's type: its
annotation when it has one, else the type of its default:

============================  ======================================================================
declared as                   accepted values
============================  ======================================================================
``x: float | None = None``    the annotation's types: ``str``, ``int``, ``float``, ``bool`` and
                              ``None``, alone or in a union (``X | None``, ``Optional[X]``,
                              ``Union[X, Y]``); a ``float`` accepts whole numbers (``1`` is 1.0),
                              ``str`` the text as typed on the command line. Any other annotation
                              is ignored (the default decides, as below)
``x = None``                  anything (the notebook decides)
not a literal                 anything (e.g. ``path = Path("x")``: the type cannot be known without running)
``True``/``False``            ``true``/``false`` only (``1`` and the text ``"yes"`` are errors; on the
                              command line YAML's ``yes``/``no`` are truth values)
an integer                    a whole number (``3``, ``3.0``, ``1e3``, ``010`` is 10; ``2.5`` is an error)
a float                       any finite number (``1`` becomes ``1.0``; ``1e-3`` is 0.001)
text                          text; on the command line the value as typed (``-p segment 0123`` is
                              ``"0123"``); ``null`` gives None (a text parameter may be switched off)
a list, tuple, dict           a value of the same kind
============================  ======================================================================

The shipped notebooks annotate their ``None`` defaults as ``Optional[X]``: papermill's
``inspect_notebook`` (``papermill --help-notebook``) does not read ``X | None`` and would drop the
parameter.

A notebook may bound numeric parameters in its metadata, inclusive, ``null`` for no bound::

    "bsc": {"parameter_bounds": {"n_boot": [1, null], "discount_rate_monthly": [0, 1]}}

A value outside its bounds is an error naming the parameter, the notebook, the bound and the value
(``None``, where the type allows it, is not bounded). The bounds must name declared parameters and
hold their defaults.

A name declared with defaults of different types in different notebooks is converted per notebook.

Command-line values are read as YAML without YAML 1.1's surprises: ``0123`` is not the octal
number 83 (a whole number with leading zeros is text, or 123 for a number parameter), ``1:30`` is
not 90, ``2024-01-01`` stays text, and ``1e-3`` is a number (PyYAML reads it as text).
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import json
import math
import numbers
import re
import reprlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from bsc_toolkit.report_types import ReportError, ReportJob

if TYPE_CHECKING:
    import nbformat

__all__ = [
    "CommandLineValue",
    "DeclaredParameter",
    "ParameterError",
    "check_parameter_names",
    "check_scorecards",
    "convert_parameter",
    "declared_parameters",
    "notebook_parameters",
    "read_notebook",
    "set_where_declared",
]


class ParameterError(ReportError):
    """A parameter name no selected notebook declares, a value of the wrong type or outside its bounds."""


class CommandLineValue(str):
    """A parameter value as typed on the command line (``bsc report -p NAME VALUE``).

    It is read as YAML (``0.5`` a number, ``true`` a truth value, ``null`` None, ``[a, b]`` a list)
    unless the notebook's default for the parameter is text: then the text as typed is kept
    (``0123`` stays ``"0123"``, it does not become the number 83), and only ``null``/``~`` give None.
    """

    __slots__ = ()

    @property
    def parsed(self) -> Any:
        """The value read as YAML (the text itself if it is not valid YAML), without YAML 1.1's
        octal (``0123``), base-60 (``1:30``) and date readings, and with ``1e-3`` a number."""
        try:
            return yaml.load(str(self), Loader=_ValueLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError:
            return str(self)


class _ValueLoader(yaml.SafeLoader):
    """YAML's safe loader with the numbers of YAML 1.2 (decimal only) and no implicit dates."""


_ValueLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if not tag.endswith((":int", ":float", ":timestamp"))]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ValueLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)
_ValueLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+)"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def _number_text(text: str) -> int | float | None:
    """A number written as text (``0123``, ``1_000``, ``1e3``), as Python reads it; None if it is not one."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class DeclaredParameter:
    """One parameter of a notebook's ``parameters`` cell.

    Attributes
    ----------
    name : str
        The variable name.
    notebook : Path
        The notebook declaring it.
    source : str or None
        The default as written in the cell (``None`` for an annotation without a value).
    default : Any
        The default's value when it is a Python literal (else None).
    literal : bool
        True when the default is a literal (``1.0``, ``"csat"``, ``None``, ``[1, 2]``), so its type is
        known without running the notebook.
    annotation : str or None
        The annotation as written (``"Optional[float]"``), if any.
    types : tuple of type, optional
        The types the annotation allows (among ``str``, ``int``, ``float``, ``bool`` and
        ``NoneType``); None without an annotation or with one of other types (then the default
        decides).
    bounds : (number or None, number or None), optional
        Inclusive lower and upper bounds from the notebook's ``bsc.parameter_bounds`` metadata
        (None: unbounded on that side).
    """

    name: str
    notebook: Path
    source: str | None
    default: Any = None
    literal: bool = False
    annotation: str | None = None
    types: tuple[type, ...] | None = None
    bounds: tuple[float | None, float | None] | None = None

    @property
    def expected(self) -> str | None:
        """What values the parameter accepts, in words (None: anything)."""
        if self.types is not None:
            return _types_words(self.types)
        if not self.literal or self.default is None:
            return None
        return _type_words(self.default)


class _Node(dict):  # type: ignore[type-arg]
    """A notebook's JSON as attribute access (``nb.cells[0].source``), like nbformat's NotebookNode."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _node(value: Any) -> Any:
    if isinstance(value, dict):
        return _Node({k: ("".join(v) if k == "source" and isinstance(v, list) else _node(v)) for k, v in value.items()})
    if isinstance(value, list):
        return [_node(v) for v in value]
    return value


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    """Read a notebook (as nbformat version 4).

    A version-4 notebook is read as plain JSON (planning a run reads every notebook, and importing
    nbformat's schema validation costs seconds: it dominates a run whose reports are all cached);
    older versions go through :func:`nbformat.read`, which converts them.

    Raises
    ------
    ReportError
        Naming the file, if it cannot be read or is not a notebook.
    """
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        if isinstance(raw, dict) and raw.get("nbformat") == 4 and isinstance(raw.get("cells"), list):
            return _node(raw)
        import nbformat

        return nbformat.read(Path(path), as_version=4)
    except Exception as exc:
        raise ReportError(f"'{path}' is not a readable notebook: {exc}") from exc


def declared_parameters(path: str | Path) -> dict[str, DeclaredParameter]:
    """The parameters a notebook declares in its ``parameters``-tagged cell (parsed with ast, not run).

    Parameters
    ----------
    path : str or Path
        The notebook.

    Returns
    -------
    dict of str to DeclaredParameter
        In the order of the cell (a name assigned twice keeps its last default, and its annotation
        unless the last assignment has its own); empty when the notebook has no parameters cell.
        Bounds come from the notebook's ``bsc.parameter_bounds`` metadata.

    Raises
    ------
    ReportError
        If the notebook cannot be read, its parameters cell is not valid Python, or its
        ``parameter_bounds`` are malformed, name a parameter the cell does not declare or exclude
        its default.

    Notes
    -----
    A run asks for a notebook's parameters several times (planning, checks, hashing, running): the
    result is kept per path and file content (a copy is returned), so the notebook is parsed once.
    """
    path = Path(path)
    try:
        key: tuple[str, str] | None = (str(path), hashlib.sha256(path.read_bytes()).hexdigest())
    except OSError:
        key = None  # read_notebook says what is wrong
    if key in _DECLARED:
        return dict(_DECLARED[key])
    declared = _parse_declared(path)
    if key is not None:
        if len(_DECLARED) >= _DECLARED_MAX:
            _DECLARED.clear()
        _DECLARED[key] = declared
    return dict(declared)


#: :func:`declared_parameters` already parsed, by (path, SHA-256 of the notebook file).
_DECLARED: dict[tuple[str, str], dict[str, DeclaredParameter]] = {}
_DECLARED_MAX = 256


def _parse_declared(path: Path) -> dict[str, DeclaredParameter]:
    """:func:`declared_parameters` without its cache."""
    nb = read_notebook(path)
    cells = [c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    source = cells[0].source if cells else ""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ReportError(f"the parameters cell of '{path}' is not valid Python: {exc}") from exc
    declared: dict[str, DeclaredParameter] = {}
    for node in tree.body:
        annotation: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value, annotation = [node.target], node.value, node.annotation
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                previous = declared.pop(target.id, None)  # keep the cell's order of the last assignment
                parameter = _declared(target.id, path, source, value, annotation)
                if annotation is None and previous is not None and previous.annotation is not None:
                    parameter = replace(parameter, annotation=previous.annotation, types=previous.types)
                declared[target.id] = parameter
    bounds = _parameter_bounds(nb.metadata.get("bsc", {}), path, declared)
    return {name: replace(p, bounds=bounds.get(name)) if name in bounds else p for name, p in declared.items()}


def _declared(
    name: str, path: Path, source: str, value: ast.expr | None, annotation: ast.expr | None = None
) -> DeclaredParameter:
    typing_ = {}
    if annotation is not None:
        typing_ = {
            "annotation": ast.get_source_segment(source, annotation) or ast.unparse(annotation),
            "types": _annotation_types(annotation),
        }
    if value is None:
        return DeclaredParameter(name, path, None, **typing_)
    text = ast.get_source_segment(source, value) or ast.unparse(value)
    try:
        default = ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return DeclaredParameter(name, path, text, **typing_)
    return DeclaredParameter(name, path, text, default, literal=True, **typing_)


_NONE = type(None)
#: The annotation names a parameter's type is read from; others leave the default to decide.
_ANNOTATION_TYPES: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool, "None": _NONE}


def _annotation_types(node: ast.expr) -> tuple[type, ...] | None:
    """The types an annotation allows (``X``, ``X | Y``, ``Optional[X]``, ``Union[X, Y]``, quoted or not).

    None when any part is not one of :data:`_ANNOTATION_TYPES`.
    """
    if isinstance(node, ast.Constant):
        if node.value is None:
            return (_NONE,)
        if isinstance(node.value, str):  # a quoted annotation
            try:
                return _annotation_types(ast.parse(node.value.strip(), mode="eval").body)
            except SyntaxError:
                return None
        return None
    if isinstance(node, ast.Name):
        kind = _ANNOTATION_TYPES.get(node.id)
        return None if kind is None else (kind,)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        parts = [_annotation_types(node.left), _annotation_types(node.right)]
    elif isinstance(node, ast.Subscript):
        outer = node.value
        name = outer.id if isinstance(outer, ast.Name) else None
        if isinstance(outer, ast.Attribute) and isinstance(outer.value, ast.Name) and outer.value.id == "typing":
            name = outer.attr
        members = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if name == "Optional" and len(members) == 1:
            parts = [_annotation_types(members[0]), (_NONE,)]
        elif name == "Union":
            parts = [_annotation_types(member) for member in members]
        else:
            return None
    else:
        return None
    if any(part is None for part in parts):
        return None
    return tuple(dict.fromkeys(kind for part in parts for kind in part))  # type: ignore[union-attr]


def _parameter_bounds(
    meta: Mapping[str, Any], path: Path, declared: Mapping[str, DeclaredParameter]
) -> dict[str, tuple[float | None, float | None]]:
    """The notebook's ``bsc.parameter_bounds``, checked: name -> (low, high), inclusive, None for open."""
    raw = meta.get("parameter_bounds") if isinstance(meta, Mapping) else None
    if raw is None:
        return {}
    where = f"'{path}': bsc.parameter_bounds in the notebook's metadata"
    if not isinstance(raw, Mapping):
        raise ReportError(f"{where} must map parameter names to [low, high], got {_SHOWN.repr(raw)}")
    bounds: dict[str, tuple[float | None, float | None]] = {}
    for name, pair in raw.items():
        if name not in declared:
            close = difflib.get_close_matches(str(name), list(declared), n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ReportError(f"{where} names '{name}', which the parameters cell does not declare{hint}")
        if (
            not isinstance(pair, (list, tuple))
            or len(pair) != 2
            or not all(_is_bound(b) for b in pair)
            or (pair[0] is not None and pair[1] is not None and pair[0] > pair[1])
        ):
            raise ReportError(
                f"{where}: the bounds of '{name}' must be [low, high] with finite numbers or null (no bound) "
                f"and low <= high, got {_SHOWN.repr(pair)}"
            )
        bounds[name] = (pair[0], pair[1])
        parameter = declared[name]
        if parameter.literal and parameter.default is not None and _outside(parameter.default, bounds[name]):
            raise ReportError(f"{where}: the default {name} = {parameter.source} is not {_range_words(bounds[name])}")
    return bounds


def _is_bound(bound: Any) -> bool:
    if bound is None:
        return True
    return isinstance(bound, numbers.Real) and not isinstance(bound, bool) and math.isfinite(bound)


def _outside(value: Any, bounds: tuple[float | None, float | None]) -> bool:
    """True if ``value`` is not a number within ``bounds`` (inclusive)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return True
    low, high = bounds
    return bool((low is not None and value < low) or (high is not None and value > high))


def _range_words(bounds: tuple[float | None, float | None]) -> str:
    low, high = bounds
    if low is not None and high is not None:
        return f"between {low} and {high}"
    if low is not None:
        return f"at least {low}"
    if high is not None:
        return f"at most {high}"
    return "a number"


_KIND_WORDS: dict[type, str] = {
    bool: "true or false",
    int: "a whole number",
    float: "a finite number",
    str: "text",
    _NONE: "null",
}


def _types_words(types: Sequence[type]) -> str:
    """What an annotation allows, in words: ``a finite number or null``."""
    kinds = [kind for kind in (bool, int, float, str, _NONE) if kind in types]
    if int in kinds and float in kinds:  # a float takes whole numbers too
        kinds.remove(int)
    words = [_KIND_WORDS[kind] for kind in kinds]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _type_words(default: Any) -> str:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int):
        return "a whole number"
    if isinstance(default, float):
        return "a finite number"
    if isinstance(default, str):
        return "text (or null)"
    if isinstance(default, (list, tuple)):
        return "a list"
    if isinstance(default, dict):
        return "a mapping"
    return f"a value of type {type(default).__name__}"


def _value_words(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def convert_parameter(value: Any, declared: DeclaredParameter, where: str | None = None) -> Any:
    """Convert ``value`` to the parameter's type and check it against its bounds.

    The type is the annotation's when it has one of the types :mod:`bsc_toolkit.report_params`
    reads, else the declared default's.

    Parameters
    ----------
    value : Any
        The given value; a :class:`CommandLineValue` is read as YAML, or kept as typed for a text
        parameter.
    declared : DeclaredParameter
        The parameter as the notebook declares it.
    where : str, optional
        Where the value comes from, for the error message (e.g. ``"variant 'solutions'"``).

    Returns
    -------
    Any
        The value to inject (never a :class:`CommandLineValue`).

    Raises
    ------
    ParameterError
        Naming the parameter, the notebook, the expected type, the annotation and default and the
        value given; or, for a value outside the notebook's ``parameter_bounds``, the bound.
    """
    types = declared.types if declared.types is not None else _default_types(declared)
    if isinstance(value, CommandLineValue):
        value = _command_line_value(value, types)
    if declared.types is not None:
        converted = _converted_to_types(value, declared.types)
    elif not declared.literal or declared.default is None:
        converted = value
    else:
        converted = _converted(value, declared.default)
    origin = f" ({where})" if where else ""
    if converted is _INVALID:
        annotation = f"declared as {declared.annotation}, " if declared.types is not None else ""
        default = "no default" if declared.source is None else f"the default is {declared.source}"
        raise ParameterError(
            f"parameter '{declared.name}' of {declared.notebook.name}{origin}: expected {declared.expected} "
            f"({annotation}{default}), got {_SHOWN.repr(value)} ({_value_words(value)})"
        )
    if declared.bounds is not None and converted is not None and _outside(converted, declared.bounds):
        raise ParameterError(
            f"parameter '{declared.name}' of {declared.notebook.name}{origin}: must be "
            f"{_range_words(declared.bounds)} (bsc.parameter_bounds in the notebook's metadata), "
            f"got {_SHOWN.repr(converted)}"
        )
    return converted


def _default_types(declared: DeclaredParameter) -> tuple[type, ...]:
    """The types a literal default stands for, as far as reading command-line text goes."""
    if not declared.literal:
        return ()
    default = declared.default
    if isinstance(default, bool):
        return (bool,)
    if isinstance(default, int):
        return (int,)
    if isinstance(default, float):
        return (float,)
    if isinstance(default, str):
        return (str, _NONE)
    return ()


def _command_line_value(value: CommandLineValue, types: Sequence[type]) -> Any:
    """Text from the command line for a parameter of ``types``: as typed for text, else read as YAML."""
    parsed = value.parsed
    if str in types and not any(kind in types for kind in (bool, int, float)):
        return None if parsed is None else str(value)
    if (int in types or float in types) and str not in types and isinstance(parsed, str):
        number = _number_text(parsed)  # 010 for a number parameter is 10
        return parsed if number is None else number
    return parsed


def _converted_to_types(value: Any, types: Sequence[type]) -> Any:
    """``value`` as the first of an annotation's types that takes it (_INVALID if none does)."""
    if value is None:
        return None if _NONE in types else _INVALID
    for kind, example in ((bool, False), (int, 0), (float, 0.0), (str, "")):
        if kind in types:
            converted = _converted(value, example)
            if converted is not _INVALID:
                return converted
    return _INVALID


_INVALID = object()
_SHOWN = reprlib.Repr()
_SHOWN.maxstring = _SHOWN.maxlong = 60


def _converted(value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        return value if isinstance(value, bool) else _INVALID
    if isinstance(default, (int, float)):
        # numbers.Real: numpy's numbers too (as Python numbers: papermill writes others as text)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return _INVALID
        if isinstance(value, numbers.Integral):
            if isinstance(default, int):
                return int(value)
            try:
                return float(value)
            except OverflowError:  # a whole number beyond any float
                return _INVALID
        value = float(value)
        if not math.isfinite(value):
            return _INVALID
        if isinstance(default, int):
            return int(value) if value.is_integer() else _INVALID
        return value
    if isinstance(default, str):
        return value if value is None or isinstance(value, str) else _INVALID
    if isinstance(default, (list, tuple)):
        return type(default)(value) if isinstance(value, (list, tuple)) else _INVALID
    return value if isinstance(value, type(default)) else _INVALID


def check_parameter_names(names: Iterable[str], declared: Mapping[Path, Mapping[str, DeclaredParameter]]) -> None:
    """Every name must be declared by at least one of the notebooks.

    Parameters
    ----------
    names : iterable of str
        The parameter names given.
    declared : mapping
        Notebook -> its declared parameters (:func:`declared_parameters`).

    Raises
    ------
    ParameterError
        Naming each unknown parameter, the nearest declared name and every valid name.
    """
    valid = sorted({name for params in declared.values() for name in params})
    unknown = [name for name in names if name not in valid]
    if not unknown:
        return
    notebooks = ", ".join(p.name for p in declared) or "none"
    lines = []
    for name in unknown:
        close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        lines.append(f"unknown parameter '{name}': no selected notebook declares it{hint}")
    listing = ", ".join(valid) if valid else "(the selected notebooks declare no parameters)"
    raise ParameterError("\n".join(lines) + f"\nparameters of the selected notebooks ({notebooks}): {listing}")


def notebook_parameters(
    given: Mapping[str, Any],
    declared: Mapping[str, DeclaredParameter],
    where: str | None = None,
    strict: bool = False,
) -> dict[str, Any]:
    """The given parameters this notebook declares, converted to the types of its defaults.

    Parameters
    ----------
    given : mapping
        Parameter name -> value.
    declared : mapping
        The notebook's parameters (:func:`declared_parameters`).
    where : str, optional
        Where the values come from, for error messages.
    strict : bool
        Raise for a name the notebook does not declare (else it is left out).

    Returns
    -------
    dict

    Raises
    ------
    ParameterError
    """
    out: dict[str, Any] = {}
    for name, value in given.items():
        if name not in declared:
            if strict:
                notebook = next(iter(declared.values())).notebook.name if declared else "the notebook"
                origin = f" ({where})" if where else ""
                close = difflib.get_close_matches(name, list(declared), n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise ParameterError(
                    f"unknown parameter '{name}'{origin}: {notebook} does not declare it{hint}; "
                    f"its parameters: {', '.join(declared) or 'none'}"
                )
            continue
        out[name] = convert_parameter(value, declared[name], where)
    return out


def set_where_declared(jobs: Sequence[ReportJob], name: str, value: Any) -> tuple[list[ReportJob], list[ReportJob]]:
    """Give ``name=value`` to the jobs whose notebook declares ``name`` (e.g. ``mask_ids=True``).

    Returns
    -------
    (list of ReportJob, list of ReportJob)
        All jobs (updated where the notebook declares the parameter), and the jobs whose notebook
        does not declare it.

    Raises
    ------
    ParameterError
        If ``value`` does not fit a notebook's default.
    """
    out, without = [], []
    for job in jobs:
        declared = declared_parameters(job.notebook)
        if name in declared:
            converted = convert_parameter(value, declared[name])
            out.append(replace(job, parameters={**job.parameters, name: converted}))
        else:
            out.append(job)
            without.append(job)
    return out, without


def check_scorecards(jobs: Sequence[ReportJob]) -> None:
    """Load the scorecard each job will use, so an invalid one stops the run before any kernel starts.

    A job uses a scorecard when its notebook declares ``scorecard_path``: the given path, else the
    notebook's default (``None``: the packaged default scorecard). A relative path is read from the
    notebook's folder, where its kernel runs. A default that is not a literal is not checked.

    Raises
    ------
    ReportError
        Naming the report, the scorecard file and every problem
        (:func:`bsc_toolkit.scorecard.load_scorecard`'s message: field paths, non-finite targets).
    """
    from bsc_toolkit.scorecard.spec import ScorecardError, load_scorecard

    checked: set[Path | None] = set()
    for job in jobs:
        declared = declared_parameters(job.notebook).get("scorecard_path")
        if declared is None:
            continue
        if "scorecard_path" in job.parameters:
            value = job.parameters["scorecard_path"]
        elif declared.literal:
            value = declared.default
        else:
            continue
        if value is not None and not isinstance(value, (str, Path)):
            raise ReportError(f"report '{job.name}': scorecard_path must be a file path, got {value!r}")
        path = None if value is None else Path(value)
        if path is not None and not path.is_absolute():
            path = job.notebook.parent / path
        if path in checked:
            continue
        which = "the packaged default scorecard" if path is None else f"scorecard '{path}'"
        try:
            load_scorecard(path)
        except (ScorecardError, OSError) as exc:
            raise ReportError(f"report '{job.name}': {which} cannot be used: {exc}") from exc
        checked.add(path)

"""Balanced Scorecard definition: perspectives, objectives, measures, targets.

A scorecard is written in YAML and validated with pydantic models::

    name: Customer scorecard
    perspectives:
      - perspective: customer            # financial | customer | internal_process | learning_growth
        objectives:
          - id: satisfied_customers
            name: Satisfied customers
            model_node: customer satisfaction   # optional: node name in the link models
            drives: [loyal_customers]           # cause-and-effect links (ids of other objectives)
            measures:
              - name: Mean CSAT
                kpi: csat_mean                  # a column of bsc_toolkit.metrics.kpi_summary ...
                # column: my_custom_kpi         # ... or any column of the user's KPI table
                target: 7.5
                scale: [1, 10]                  # optional: the rating scale the target is written on
                direction: higher               # higher | lower is better
                thresholds: {amber: 0.0, red: 0.05, relative: true}
                unit: points (1-10)
                format: ".2f"
                owner: Head of Customer Care
                initiatives: [Call-back programme]

Status rules: the *shortfall* is how far the actual falls on the bad side of the
target (``target - actual`` when higher is better, ``actual - target`` when lower
is better; divided by ``|target|`` when ``relative``). Status is green while the
shortfall is at most ``amber``, amber while it is at most ``red``, red beyond.

A rating measure may declare ``scale: [low, high]``, the scale its target is written on; the
evaluation then refuses (status "no data", with a note) to compare it with data rated on another
scale. Targets must be finite numbers. ``kpi: csat_top2_box`` is a deprecated alias of
``csat_top_box`` (the share in the data's declared top box).
"""

from __future__ import annotations

import difflib
import math
import re
import warnings
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bsc_toolkit.metrics import KPI_COLUMNS

__all__ = [
    "KNOWN_KPIS",
    "KPI_ALIASES",
    "PERSPECTIVES",
    "PERSPECTIVE_TITLES",
    "ScorecardError",
    "Thresholds",
    "Measure",
    "Objective",
    "Perspective",
    "Scorecard",
    "load_scorecard",
    "scorecard_from_dict",
    "default_scorecard_path",
]

#: KPI names a measure may bind with ``kpi:`` -- the columns of
#: :func:`bsc_toolkit.metrics.kpi_summary` (one row per period).
KNOWN_KPIS: tuple[str, ...] = KPI_COLUMNS

#: Deprecated KPI names still accepted in scorecard files, and the name they stand for.
KPI_ALIASES: dict[str, str] = {"csat_top2_box": "csat_top_box"}

#: The four perspectives, from the top of the strategy map (financial) to the bottom.
PERSPECTIVES: tuple[str, ...] = ("financial", "customer", "internal_process", "learning_growth")

#: Display titles of the perspectives.
PERSPECTIVE_TITLES: dict[str, str] = {
    "financial": "Financial",
    "customer": "Customer",
    "internal_process": "Internal process",
    "learning_growth": "Learning & growth",
}

_PERSPECTIVE_ALIASES = {
    "financial": "financial",
    "finance": "financial",
    "customer": "customer",
    "customers": "customer",
    "internal": "internal_process",
    "internal_process": "internal_process",
    "internal_business_process": "internal_process",
    "process": "internal_process",
    "learning": "learning_growth",
    "learning_growth": "learning_growth",
    "learning_and_growth": "learning_growth",
}

_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


class ScorecardError(ValueError):
    """A scorecard definition is invalid; the message names the file and field paths."""


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Thresholds(_Base):
    """Tolerated shortfalls before a measure turns amber and red.

    Attributes
    ----------
    amber : float
        Largest shortfall that is still green (default 0: any shortfall is amber).
    red : float
        Largest shortfall that is still amber.
    relative : bool
        If true the shortfall is measured as a fraction of ``|target|``
        (``red: 0.05`` = 5 % below target); otherwise in the measure's unit.
    """

    amber: float = Field(default=0.0, ge=0)
    red: float = Field(default=0.05, ge=0)
    relative: bool = True

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.red < self.amber:
            raise ValueError(f"red ({self.red}) must be >= amber ({self.amber})")
        return self


class Measure(_Base):
    """One measure of an objective, bound to a KPI (or a custom column)."""

    name: str
    id: str | None = None
    kpi: str | None = None
    column: str | None = None
    target: float = Field(allow_inf_nan=False)
    scale: tuple[float, float] | None = Field(
        default=None, description="The rating scale [low, high] the target is written on (rating measures)."
    )
    direction: Literal["higher", "lower"] = "higher"
    thresholds: Thresholds = Field(default_factory=Thresholds)
    unit: str = ""
    format: str = ".3g"
    owner: str | None = None
    initiatives: list[str] = Field(default_factory=list)
    description: str = ""

    @field_validator("kpi")
    @classmethod
    def _known_kpi(cls, value: str | None) -> str | None:
        if value in KPI_ALIASES:
            new = KPI_ALIASES[value]
            warnings.warn(
                f"KPI {value!r} is deprecated and will be removed in 0.3.0: write `kpi: {new}` "
                "(the share in the top box of the data's declared csat scale)",
                FutureWarning,
                stacklevel=2,
            )
            return new
        if value is not None and value not in KNOWN_KPIS:
            close = difflib.get_close_matches(value, KNOWN_KPIS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"unknown KPI {value!r}{hint}; valid KPIs: {', '.join(KNOWN_KPIS)}. "
                "Use `column:` for a custom column of your KPI table"
            )
        return value

    @field_validator("scale")
    @classmethod
    def _valid_scale(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None:
            low, high = value
            if not (math.isfinite(low) and math.isfinite(high)) or not high > low:
                raise ValueError(f"scale must be [low, high] with finite low < high, got [{low:g}, {high:g}]")
        return value

    @field_validator("format")
    @classmethod
    def _valid_format(cls, value: str) -> str:
        try:
            format(1.5, value)
        except ValueError as exc:
            raise ValueError(f"invalid format spec {value!r}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Measure:
        if (self.kpi is None) == (self.column is None):
            raise ValueError("give exactly one of `kpi` (a known KPI name) or `column` (a custom column)")
        if self.id is not None and not _ID.match(self.id):
            raise ValueError(f"measure id {self.id!r} must be an identifier (letters, digits, _ or -)")
        if self.target == 0 and self.thresholds.relative:
            raise ValueError("relative thresholds need a non-zero target; set `relative: false` in `thresholds`")
        return self

    @property
    def source(self) -> str:
        """The column of the KPI table this measure reads."""
        return self.kpi if self.kpi is not None else str(self.column)

    @property
    def key(self) -> str:
        """The measure's id (defaults to its KPI or column name)."""
        return self.id or self.source

    @property
    def rating(self) -> str | None:
        """The rating column the measure summarises (``csat``, ``nps``, a driver), or None.

        ``csat_mean`` and ``csat_top_box`` -> ``csat``; ``nps`` -> ``nps``; ``<name>_mean`` -> ``<name>``.
        """
        source = self.source
        if source in ("csat_mean", "csat_top_box"):
            return "csat"
        if source == "nps":
            return "nps"
        if source.endswith("_mean") and len(source) > len("_mean"):
            return source.removesuffix("_mean")
        return None

    @property
    def scale_label(self) -> str | None:
        """``"1-10"`` for ``scale: [1, 10]``; None without a declared scale."""
        return None if self.scale is None else f"{self.scale[0]:g}-{self.scale[1]:g}"


class Objective(_Base):
    """A strategic objective with its measures and cause-and-effect links."""

    id: str
    name: str
    description: str = ""
    owner: str | None = None
    model_node: str | None = Field(
        default=None,
        description="Name of the matching node in the link models (e.g. 'customer satisfaction').",
    )
    drives: list[str] = Field(default_factory=list, validation_alias="causes")
    measures: list[Measure] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _drives_alias(cls, data: Any) -> Any:
        # accept both `drives:` and its synonym `causes:` (this objective causes those)
        if isinstance(data, dict) and "drives" in data:
            data = dict(data)
            if "causes" in data:
                raise ValueError("give either `drives` or its synonym `causes`, not both")
            data["causes"] = data.pop("drives")
        return data

    @field_validator("id")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"objective id {value!r} must be an identifier (letters, digits, _ or -)")
        return value

    @model_validator(mode="after")
    def _unique_measures(self) -> Objective:
        keys = [m.key for m in self.measures]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"duplicate measure id(s) {dupes}: give the measures distinct `id`s")
        return self


class Perspective(_Base):
    """One of the four Balanced Scorecard perspectives and its objectives."""

    perspective: Literal["financial", "customer", "internal_process", "learning_growth"]
    title: str | None = None
    objectives: list[Objective] = Field(default_factory=list)

    @field_validator("perspective", mode="before")
    @classmethod
    def _normalise(cls, value: Any) -> Any:
        if isinstance(value, str):
            key = re.sub(r"[^a-z]+", "_", value.lower().replace("&", "and")).strip("_")
            if key in _PERSPECTIVE_ALIASES:
                return _PERSPECTIVE_ALIASES[key]
            raise ValueError(f"unknown perspective {value!r}; valid: {', '.join(PERSPECTIVES)}")
        return value

    @property
    def display_title(self) -> str:
        """Title shown in tables and the strategy map."""
        return self.title or PERSPECTIVE_TITLES[self.perspective]


class Scorecard(_Base):
    """A Balanced Scorecard: perspectives -> objectives -> measures."""

    name: str = "Scorecard"
    description: str = ""
    perspectives: list[Perspective]

    @model_validator(mode="after")
    def _cross_references(self) -> Scorecard:
        problems: list[str] = []
        seen_persp: dict[str, int] = {}
        for i, p in enumerate(self.perspectives):
            if p.perspective in seen_persp:
                problems.append(
                    f"perspectives[{i}].perspective: {p.perspective!r} already defined at perspectives[{seen_persp[p.perspective]}]"
                )
            seen_persp.setdefault(p.perspective, i)
        where: dict[str, str] = {}
        for i, p in enumerate(self.perspectives):
            for j, o in enumerate(p.objectives):
                path = f"perspectives[{i}].objectives[{j}]"
                if o.id in where:
                    problems.append(f"{path}.id: duplicate objective id {o.id!r} (first at {where[o.id]})")
                where.setdefault(o.id, path)
        known = sorted(where)
        for i, p in enumerate(self.perspectives):
            for j, o in enumerate(p.objectives):
                for k, target in enumerate(o.drives):
                    path = f"perspectives[{i}].objectives[{j}].drives[{k}]"
                    if target == o.id:
                        problems.append(f"{path}: objective {o.id!r} links to itself")
                    elif target not in where:
                        close = difflib.get_close_matches(target, known, n=1)
                        hint = f" (did you mean {close[0]!r}?)" if close else ""
                        problems.append(f"{path}: unknown objective id {target!r}{hint}; known ids: {', '.join(known)}")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # ----------------------------------------------------------------- helpers
    def iter_objectives(self) -> Iterator[tuple[Perspective, Objective]]:
        """Yield ``(perspective, objective)`` in file order."""
        for p in self.perspectives:
            for o in p.objectives:
                yield p, o

    def iter_measures(self) -> Iterator[tuple[Perspective, Objective, Measure]]:
        """Yield ``(perspective, objective, measure)`` in file order."""
        for p, o in self.iter_objectives():
            for m in o.measures:
                yield p, o, m

    def objective(self, objective_id: str) -> Objective:
        """The objective with this id (KeyError if absent)."""
        for _, o in self.iter_objectives():
            if o.id == objective_id:
                return o
        raise KeyError(objective_id)

    def links(self) -> pd.DataFrame:
        """Cause-and-effect links as a DataFrame with columns ``source, target``."""
        rows = [(o.id, t) for _, o in self.iter_objectives() for t in o.drives]
        return pd.DataFrame(rows, columns=["source", "target"])

    def measures_table(self) -> pd.DataFrame:
        """One row per measure: perspective, objective, measure, source column, target, ..."""
        rows = [
            {
                "perspective": p.perspective,
                "objective_id": o.id,
                "objective": o.name,
                "measure_id": m.key,
                "measure": m.name,
                "source": m.source,
                "target": m.target,
                "scale": m.scale_label,
                "direction": m.direction,
                "unit": m.unit,
                "owner": m.owner or o.owner,
            }
            for p, o, m in self.iter_measures()
        ]
        return pd.DataFrame(rows)


# --------------------------------------------------------------------- loading
def _loc_to_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _format_errors(exc: ValidationError) -> list[str]:
    lines: list[str] = []
    for err in exc.errors():
        # pydantic reports the *input* key of aliased fields; keep the canonical name
        loc = tuple("drives" if part == "causes" else part for part in err["loc"])
        # drop union/tagged discriminators pydantic puts into locations
        loc = tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-")))
        msg = str(err["msg"])
        if err["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")
        path = _loc_to_path(loc)
        if not path:
            lines.extend(msg.splitlines())
        else:
            lines.append(f"{path}: {msg}")
    return lines


def scorecard_from_dict(data: Any, source: str = "<dict>") -> Scorecard:
    """Validate a plain-data scorecard definition.

    Parameters
    ----------
    data : dict
        Parsed YAML/JSON content.
    source : str
        Name of the origin, used in error messages.

    Returns
    -------
    Scorecard

    Raises
    ------
    ScorecardError
        Listing every problem as ``yaml.path[i].field: message``.
    """
    if not isinstance(data, dict):
        raise ScorecardError(
            f"{source}: a scorecard must be a mapping with a `perspectives` list, got {type(data).__name__}"
        )
    try:
        return Scorecard.model_validate(data)
    except ValidationError as exc:
        lines = _format_errors(exc)
        raise ScorecardError(f"invalid scorecard {source}:\n" + "\n".join(f"  - {line}" for line in lines)) from None


def default_scorecard_path() -> Path:
    """Path of the packaged default customer scorecard (``default_customer_scorecard.yaml``)."""
    return Path(str(resources.files("bsc_toolkit.scorecard").joinpath("default_customer_scorecard.yaml")))


def load_scorecard(path: str | Path | None = None) -> Scorecard:
    """Read and validate a scorecard YAML file.

    Parameters
    ----------
    path : str or Path, optional
        The YAML file; ``None`` loads the packaged default customer scorecard.

    Returns
    -------
    Scorecard

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ScorecardError
        If the YAML cannot be parsed or does not describe a valid scorecard;
        the message names the file and the path of each bad field, e.g.
        ``perspectives[1].objectives[0].measures[2].target: Field required``.
    """
    file = default_scorecard_path() if path is None else Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"scorecard file not found: {file}")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ScorecardError(f"{file}: not valid YAML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ScorecardError(
            f"{file}: it is not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8"
        ) from None
    return scorecard_from_dict(data, source=str(file))

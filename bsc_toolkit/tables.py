"""Formatted tables for reports: the one module every notebook uses to show a table.

``table(df, ...)`` returns a :class:`Table` that renders as a formatted HTML table and, when given a
``key``, carries its raw data for the report's CSV/JSON outputs (mimetype :data:`TABLE_MIMETYPE`):

- each column's *kind* is inferred from its name and values (or given with ``kinds=``): counts with
  thousands separators ("1,365"), shares in 0..1 as percentages ("94.2%"), amounts in the data set's
  currency (named in the label), p-values ("0.003", "<0.001"), estimates with the digits their
  standard error supports (two significant digits of the SE: 0.123456 with SE 0.0123 is "0.123");
- interval pairs (``<col>_ci_lower``/``<col>_ci_upper``, ``ci_lower``/``ci_upper`` beside ``estimate``
  or ``coef``...) are merged into ``7.261 [7.181, 7.341]`` with the same digits (the SE read from the
  interval's width when there is no SE column);
- missing values show as "no data" (never 0 or NaN), lists comma-joined ("none" when empty), booleans
  as yes/no, periods and dates as text;
- labels are readable (``n_customers_start`` -> "customers at start", ``csat_top_box`` -> "CSAT
  top-box share"), a positional index is dropped, a named index is shown as the first column(s);
- every cell, label and the caption are HTML-escaped (segment names and driver labels are user text).

:func:`with_diagnostics` shows a table (or a figure) with the fitted models' diagnostics beside it, in
words, severity as a word ("Warning:"), never by colour alone.
"""

from __future__ import annotations

import base64
import io
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from bsc_toolkit.formatting import escape_html, group_diagnostics

__all__ = [
    "KINDS",
    "TABLE_CSS",
    "TABLE_MIMETYPE",
    "Z95",
    "Table",
    "column_label",
    "diagnostics_html",
    "estimates_frame",
    "format_value",
    "infer_kind",
    "significant",
    "table",
    "with_diagnostics",
]

#: Mimetype of the raw data a keyed table carries in the executed notebook; ``bsc report`` writes it
#: beside the HTML as ``<key>.csv`` / JSON. HTML exporters ignore it.
TABLE_MIMETYPE = "application/vnd.bsc.table+json"

#: The kinds a column can be formatted as (``kinds=`` values).
KINDS = (
    "count", "percent", "points", "money", "score", "estimate", "se", "p_value", "number", "text", "identifier"
)  # fmt: skip

NO_DATA = "no data"

#: Two-sided 95% standard-normal critical value (``models._base.z_critical(0.05)``): an interval's
#: half-width over it is the standard error behind the interval.
Z95 = 1.959963984540054

#: Inline style of every table (numbers right aligned in tabular figures, zebra rows, system fonts only).
TABLE_CSS = (
    ".bsc-table{border-collapse:collapse;margin:0.5em 0 1em 0;font-size:0.92em;"
    "font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif}"
    ".bsc-table caption{caption-side:top;text-align:left;font-weight:600;padding:0 0 0.35em 0}"
    ".bsc-table th,.bsc-table td{padding:0.25em 0.7em;border-bottom:1px solid #ddd;vertical-align:top}"
    ".bsc-table thead th{border-bottom:2px solid #555;text-align:left;font-weight:600}"
    ".bsc-table .num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    ".bsc-table thead th.num{text-align:right}"
    ".bsc-table tbody tr:nth-child(even){background:#f5f6f8}"
    ".bsc-table td.idx{font-weight:600}"
    ".bsc-table td.nodata{color:#666;font-style:italic}"
    ".bsc-table-more{font-size:0.85em;color:#444;margin:-0.6em 0 1em 0}"
    ".bsc-table-wrap{max-width:100%;overflow-x:auto}"
    # more specific than JupyterLab's `:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td` (right-aligns all cells)
    ".bsc-table-wrap table.bsc-table td,.bsc-table-wrap table.bsc-table th{text-align:left}"
    ".bsc-table-wrap table.bsc-table td.num,.bsc-table-wrap table.bsc-table th.num{text-align:right}"
)

# readable labels of known package columns
_KNOWN_LABELS: dict[str, str] = {
    "n_customers_start": "customers at start",
    "n_customers_end": "customers at end",
    "n_customers": "customers",
    "n_responses": "responses",
    "n_obs": "observations",
    "n": "n",
    "acquired": "new customers",
    "churned": "customers lost",
    "csat_mean": "CSAT mean",
    "csat_top_box": "CSAT top-box share",
    "nps": "NPS",
    "nps_se": "NPS SE",
    "p_value": "p-value",
    "pvalue": "p-value",
    "p": "p-value",
    "se": "SE",
    "std_err": "SE",
    "std_error": "SE",
    "bse": "SE",
    "coef": "coefficient",
    "ci_lower": "CI lower",
    "ci_upper": "CI upper",
    "p_alive": "P(alive)",
    "churn_rate": "churn rate",
    "retention_rate": "retention rate",
}
_ACRONYMS = {"csat", "nps", "clv", "ci", "rfm", "id", "derl", "se", "aic", "bic", "roc", "auc", "kpi", "kpis", "r2"}

_P_NAMES = {"p", "p_value", "pvalue", "p_val", "p>|z|", "p>|t|", "pr(>|z|)", "pr(>|t|)"}
_SE_NAMES = {"se", "std_err", "std_error", "stderr", "bse", "standard_error"}
_ESTIMATE_NAMES = {
    "estimate", "coef", "coefficient", "effect", "value", "mean", "mean_rating", "est", "beta", "importance",
    "elasticity", "odds_ratio", "hazard_ratio",
}  # fmt: skip
_COUNT_NAMES = {"n", "customers", "responses", "churned", "acquired", "count", "orders", "frequency", "events"}
_SHARE_TOKENS = ("rate", "share", "top_box", "probability", "p_alive", "retention", "proportion", "prob")
# pairs of suffixes that make an interval
_PAIR_SUFFIXES = (
    ("_ci_lower", "_ci_upper"),
    ("_ci_low", "_ci_high"),
    ("_lower", "_upper"),
    ("_low", "_high"),
)
_GENERIC_PAIRS = (("ci_lower", "ci_upper"), ("ci_low", "ci_high"), ("lower", "upper"), ("[0.025", "0.975]"))


# ------------------------------------------------------------------ the Table object
class Table:
    """A formatted table: ``_repr_html_`` for reports, ``data`` for the raw values."""

    def __init__(
        self,
        data: pd.DataFrame,
        html: str,
        key: str | None = None,
        caption: str | None = None,
    ) -> None:
        self.data = data
        self.html = html
        self.key = key
        self.caption = caption

    def _repr_html_(self) -> str:
        return self.html

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/html": self.html, "text/plain": self.data.to_string()}
        if self.key:
            bundle[TABLE_MIMETYPE] = {
                "key": self.key,
                "caption": self.caption,
                "table": _json_ready(self.data).to_json(
                    orient="table", index=False, date_format="iso", default_handler=str
                ),
            }
        return bundle

    def __repr__(self) -> str:
        head = f"Table(key={self.key!r}, caption={self.caption!r})"
        return head + "\n" + self.data.to_string()


def _json_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """The raw data in a form ``to_json(orient="table")`` round-trips: text column names, unique, tidy."""
    out = frame.reset_index(drop=True)
    out.columns = _unique([str(c) for c in out.columns])
    for col in out.columns:
        if isinstance(out[col].dtype, pd.PeriodDtype):
            out[col] = out[col].astype(str).where(out[col].notna(), None)
    return out


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out


# ------------------------------------------------------------------ labels
def column_label(column: Any, currency: str | None = None) -> str:
    """Readable label of a column name: ``"n_customers_start"`` -> ``"customers at start"``.

    Known package columns have fixed labels; amount columns (``*_usd``) name the currency
    ("revenue per customer (GBP)"; without a currency the ``_usd`` is dropped, never shown as USD); other snake_case names become words with known acronyms (CSAT, NPS, CLV, CI,
    RFM, ID, DERL) in capitals. Plain text: escape it for HTML.
    """
    if isinstance(column, tuple):
        return " ".join(column_label(c, currency) for c in column if str(c) != "")
    name = str(column)
    if name in _KNOWN_LABELS:
        return _KNOWN_LABELS[name]
    if name.endswith("_usd"):
        words = _words(name.removesuffix("_usd"))
        return f"{words} ({currency})" if currency else words
    return _words(name)


def _words(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_ ]+", name) or not ("_" in name or name.islower()):
        return name  # free text (user labels, "P>|z|"): as given
    parts = [p for p in re.split(r"[_ ]+", name) if p]
    words = [p.upper() if p.lower() in _ACRONYMS else p for p in parts]
    if words and words[0] == "n" and len(words) > 1:
        words = [*words[1:]]  # n_orders -> "orders"
    return " ".join(words)


# ------------------------------------------------------------------ kinds
def _numeric(values: pd.Series) -> pd.Series | None:
    """The column as floats, or None when it is not a numeric column."""
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        if (
            values.dtype == object
            and len(values.dropna())
            and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values.dropna())
        ):
            return values.astype(float)
        return None
    return values.astype(float)


#: Column names whose numbers are labels, not quantities: no thousands separator, whole floats as integers.
_IDENTIFIER_NAMES = {"id", "year", "rank", "customer", "code", "zip", "zip_code", "postcode"}


def _is_identifier(low: str) -> bool:
    return low in _IDENTIFIER_NAMES or low.endswith(("_id", "_code", "_year")) or low.startswith("id_")


def infer_kind(name: Any, values: pd.Series) -> str:
    """The kind of a column (see :data:`KINDS`) from its name and values.

    Parameters
    ----------
    name : str
        Column name (package conventions: ``n_*``, ``*_count``, ``*_rate``, ``*_share``, ``*_usd``,
        ``p_value``, ``se``...).
    values : Series
        Its values: shares must lie in 0..1, counts must be whole numbers.

    Returns
    -------
    str
    """
    low = str(name).lower()
    if _is_identifier(low):
        return "identifier"
    x = _numeric(values)
    if x is None:
        return "text"
    finite = x[np.isfinite(x)]
    whole = bool(len(finite) == 0 or np.all(np.mod(finite, 1) == 0))
    if low in _P_NAMES or low.endswith(("_p_value", "_pvalue")):
        return "p_value"
    if low in _SE_NAMES or low.endswith(("_se", "_std_err", "_stderr")):
        return "se"
    if low.endswith("_usd"):
        return "money"
    if low == "nps" or low.startswith("nps_") and not low.endswith("_share"):
        return "points"
    in_unit = bool(len(finite) and finite.min() >= 0 and finite.max() <= 1)
    if any(t in low for t in _SHARE_TOKENS) and (in_unit or len(finite) == 0):
        return "percent"
    counted = low in _COUNT_NAMES or low.startswith("n_") or low.endswith(("_count", "_customers", "_responses"))
    if whole and (counted or pd.api.types.is_integer_dtype(values)):
        return "count"
    if low.endswith("_mean") or low in {"mean_rating", "score"}:
        return "score"
    if low in _ESTIMATE_NAMES:
        return "estimate"
    return "number"


# ------------------------------------------------------------------ formatting of one value
def _missing(value: Any) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        return bool(pd.isna(value)) if np.ndim(value) == 0 else False
    except (TypeError, ValueError):
        return False


def _se_decimals(se: float | None, cap: int = 6) -> int | None:
    """Decimals that show two significant digits of ``se`` (None when the SE is unknown)."""
    if se is None or not math.isfinite(se) or se <= 0:
        return None
    return int(min(max(1 - math.floor(math.log10(se)), 0), cap))


def _sig_decimals(value: float, digits: int = 3) -> int:
    if value == 0 or not math.isfinite(value):
        return 0
    return int(min(max(digits - 1 - math.floor(math.log10(abs(value))), 0), 6))


def _num(value: float, decimals: int) -> str:
    text = f"{value:,.{decimals}f}"
    if re.fullmatch(r"-0(\.0*)?", text):
        text = text[1:]  # no "-0.00"
    return text


def significant(value: Any, digits: int = 3) -> str:
    """``value`` rounded to ``digits`` significant digits, in plain notation with thousands separators.

    ``12345.6`` with 3 digits is "12,300" (never "1.23e+04"), ``0.0012345`` is "0.00123"; a missing
    value is "no data", an infinite one "∞".

    Parameters
    ----------
    value : float
    digits : int
        Significant digits (at least 1).

    Returns
    -------
    str
    """
    if _missing(value):
        return NO_DATA
    x = float(value)
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    digits = max(int(digits), 1)
    if x != 0:
        x = round(x, digits - 1 - math.floor(math.log10(abs(x))))  # 12345.6 -> 12300.0
    return _num(x, _sig_decimals(x, digits))


def format_value(value: Any, kind: str = "number", *, se: float | None = None, decimals: int | None = None) -> str:
    """One value as text for a report (see :func:`table` for the rules of each kind).

    Parameters
    ----------
    value
        The value (number, text, list, bool, Period, Timestamp, missing).
    kind : str
        One of :data:`KINDS`.
    se : float, optional
        Its standard error: the digits show two significant digits of it.
    decimals : int, optional
        Force the number of decimals.

    Returns
    -------
    str
        Plain text (not escaped); "no data" for a missing value.
    """
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        items = [format_value(v, "text") for v in value]
        return ", ".join(items) if items else "none"
    if _missing(value):
        return NO_DATA
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, pd.Period):
        return str(value)
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        ts = pd.Timestamp(value)
        return f"{ts:%Y-%m-%d}" if ts == ts.normalize() else f"{ts:%Y-%m-%d %H:%M}"
    if isinstance(value, pd.Timedelta):
        return str(value)
    if kind == "identifier" and isinstance(value, (numbers.Real, np.number)) and float(value) == int(value):
        return str(int(value))  # an id or a year: "14646", "2010", never "14,646.0"
    if kind in ("text", "identifier") or not isinstance(value, (numbers.Real, np.number)):
        return str(value)
    x = float(value)
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    places = decimals if decimals is not None else _se_decimals(se)
    if decimals is None and kind in ("money", "number", "estimate", "points", "score") and se is not None:
        if math.isfinite(se) and se >= 10:  # two significant digits of the SE above the units too:
            rounded = round(x, 1 - math.floor(math.log10(se)))  # 2,021,948 with an SE of 470,000 -> 2,020,000
            # a non-zero value (an interval's bound) never shows as 0: two significant digits of its own
            x = rounded if rounded != 0 or x == 0 else round(x, 1 - math.floor(math.log10(abs(x))))
    if kind == "count":
        whole = x == round(x) or abs(x) >= 100  # an expected count of 17,758.7 reads "17,759"
        return _num(x, 0) if whole else _num(x, places if places is not None else 1)
    if kind == "percent":  # one decimal ("94.2%"); shares under 0.1% keep two significant digits
        d = decimals if decimals is not None else (1 if abs(x) >= 0.001 or x == 0 else _sig_decimals(100 * x, 2))
        return f"{_num(100 * x, min(d, 3))}%"
    if kind == "p_value":
        return "<0.001" if x < 0.001 else f"{x:.3f}"
    if kind == "se":
        return _num(x, places if places is not None else _se_decimals(abs(x)) or 0)
    if kind == "money":
        d = places if places is not None else (0 if abs(x) >= 1000 else 2)
        return _num(x, min(d, 2))
    if kind == "points":
        return _num(x, places if places is not None else 1)
    if kind == "score":
        return _num(x, places if places is not None else 2)
    if places is not None:
        return _num(x, places)
    if abs(x) >= 1000:
        return _num(x, 0)
    return _num(x, _sig_decimals(x, 3))


# ------------------------------------------------------------------ the table
def _pairs(columns: Sequence[str], numeric: set[str] | None = None) -> dict[str, tuple[str, str]]:
    """``{base: (lower, upper)}`` for the interval pairs among ``columns``.

    A bare pair (``ci_lower``/``ci_upper``...) attaches to the first estimate-named column that is
    numeric (``numeric``: the numeric columns; None: all are), never to a text column such as the
    ``effect`` names of a summary's index.
    """
    present = set(columns)
    pairs: dict[str, tuple[str, str]] = {}
    used: set[str] = set()
    for col in columns:
        for lo_suffix, hi_suffix in _PAIR_SUFFIXES:
            lo, hi = f"{col}{lo_suffix}", f"{col}{hi_suffix}"
            if lo in present and hi in present and lo not in used:
                pairs[col] = (lo, hi)
                used.update((lo, hi))
                break
    for lo, hi in _GENERIC_PAIRS:
        if lo in present and hi in present and lo not in used:
            base = next(
                (
                    c
                    for c in columns
                    if str(c).lower() in _ESTIMATE_NAMES and c not in pairs and (numeric is None or c in numeric)
                ),
                None,
            )
            if base is not None:
                pairs[base] = (lo, hi)
                used.update((lo, hi))
    return pairs


def _se_column(col: str, columns: Sequence[str]) -> str | None:
    for candidate in (f"{col}_se", f"{col}_std_err", f"{col}_stderr"):
        if candidate in columns:
            return candidate
    if str(col).lower() in _ESTIMATE_NAMES:
        return next((c for c in columns if str(c).lower() in _SE_NAMES), None)
    return None


def _positional(index: pd.Index) -> bool:
    """An unnamed integer index (0..n-1, or what is left of it after filtering or ``tail``): row numbers."""
    if isinstance(index, pd.MultiIndex) or any(n is not None for n in index.names):
        return False
    return isinstance(index, pd.RangeIndex) or pd.api.types.is_integer_dtype(index)


def _flat(column: Any) -> str:
    if isinstance(column, tuple):
        return "_".join(str(c) for c in column if str(c) != "")
    return str(column)


def table(
    df: pd.DataFrame | pd.Series,
    *,
    currency: str | None = None,
    kinds: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    key: str | None = None,
    caption: str | None = None,
    index: bool | None = None,
    intervals: bool = True,
    hide: Sequence[str] = (),
    max_rows: int = 60,
) -> Table:
    """Format ``df`` for a report.

    Parameters
    ----------
    df : DataFrame or Series
        Tidy data with the package's column names. A positional (0..n-1) index is dropped; a named
        or meaningful index becomes the first column(s). MultiIndex columns are flattened.
    currency : str, optional
        The data set's currency: amount columns (ending ``_usd``, or of kind ``money``) show it in
        their label.
    kinds : mapping, optional
        ``{column: kind}`` overriding the kind inferred from the column's name and values: ``count``,
        ``percent`` (a share in 0..1), ``points`` (percentage or NPS points), ``money``, ``score``,
        ``estimate`` (digits from its ``se`` column), ``se``, ``p_value``, ``number``, ``text``.
    labels : mapping, optional
        ``{column: label}`` overriding the readable label.
    key : str, optional
        Name of the table in the report's CSV/JSON outputs (``kpis``, ``estimates``...); tables
        without a key are not written out.
    caption : str, optional
        Caption above the table (plain text, escaped).
    index : bool, optional
        Force showing (True) or hiding (False) the index; default: shown unless it is row numbers (an
        unnamed integer index, e.g. left by filtering or ``tail``).
    intervals : bool
        Merge ``<col>_ci_lower``/``<col>_ci_upper`` (and similar) pairs into ``<col>`` as
        ``value [low, high]``.
    hide : sequence of str
        Columns to leave out of the HTML (they stay in the raw data).
    max_rows : int
        Rows shown in the HTML; the rest are counted in a note (all stay in the raw data).

    Returns
    -------
    Table
        Its ``data`` is the raw, tidy frame (a meaningful index as columns, a positional one
        dropped, MultiIndex columns flattened with ``_``).
    """
    frame = df.to_frame(name=df.name if df.name is not None else "value") if isinstance(df, pd.Series) else df
    frame = frame.copy()
    label_map: dict[str, str] = {}
    if isinstance(frame.columns, pd.MultiIndex):
        flat = [_flat(c) for c in frame.columns]
        label_map.update({f: column_label(c, currency) for f, c in zip(flat, frame.columns)})
        frame.columns = flat
    show_index = not _positional(frame.index) if index is None else index
    index_cols: list[str] = []
    if show_index:
        names = [n if n is not None else ("index" if frame.index.nlevels == 1 else f"level_{i}")
                 for i, n in enumerate(frame.index.names)]  # fmt: skip
        names = [str(n) for n in names]
        frame.index = frame.index.set_names(names)
        index_cols = [n for n in names if n not in frame.columns]
        frame = frame.reset_index(level=index_cols) if index_cols else frame
        for n in names:
            if n == "index" and frame.index.nlevels == 1 and frame.index.name is None:
                label_map.setdefault(n, "")
    frame = frame.reset_index(drop=True)
    frame.columns = _unique([str(c) for c in frame.columns])
    raw = frame
    kinds = dict(kinds or {})
    labels = dict(labels or {})
    columns = list(frame.columns)
    pairs = _pairs(columns, {c for c in columns if _numeric(frame[c]) is not None}) if intervals else {}
    merged = {c for pair in pairs.values() for c in pair}
    shown = [c for c in columns if c not in merged and c not in set(hide)]
    col_kind = {c: kinds.get(c) or infer_kind(c, frame[c]) for c in columns}
    for c in columns:  # a bound takes its base's kind (no percent on a bound that dips below 0)
        for base, (lo, hi) in pairs.items():
            if c in (lo, hi):
                col_kind[c] = col_kind[base] if base not in kinds else kinds[base]
    for base in pairs:
        if col_kind[base] == "number":
            col_kind[base] = "estimate"

    col_decimals: dict[str, int | None] = {}
    for c in columns:  # one number of decimals per column where no SE says otherwise
        x = _numeric(frame[c]) if col_kind[c] in ("money", "number") else None
        finite = np.abs(x[np.isfinite(x)]) if x is not None else np.array([])
        if not len(finite):
            col_decimals[c] = None
        elif col_kind[c] == "money":
            col_decimals[c] = 0 if finite.max() >= 1000 else 2
        else:
            col_decimals[c] = 0 if finite.max() >= 1000 else _sig_decimals(float(np.median(finite)) or 1.0, 3)
    n_total = len(frame)
    body = frame.iloc[:max_rows] if max_rows is not None and n_total > max_rows else frame
    header_cells = []
    numeric_cols = set()
    for c in shown:
        kind = col_kind[c]
        is_num = kind not in ("text", "identifier")
        if is_num:
            numeric_cols.add(c)
        if c in labels:
            text = labels[c]
        elif c in label_map:
            text = label_map[c]
        else:
            text = column_label(c, currency if (kind == "money" or str(c).endswith("_usd")) else None)
            if kind == "money" and currency and not str(c).endswith("_usd"):
                text = f"{text} ({currency})"
        if c in pairs:
            text = f"{text} [CI]" if text else "[CI]"
        cls = ' class="num"' if is_num else ""
        header_cells.append(f'<th scope="col"{cls}>{escape_html(text)}</th>')
    rows_html = []
    for _, row in body.iterrows():
        cells = []
        for c in shown:
            kind = col_kind[c]
            value = row[c]
            se = None
            se_col = _se_column(c, columns) if kind in ("estimate", "number", "score", "points", "money") else None
            if se_col is not None and not _missing(row[se_col]):
                se = float(row[se_col])
            lo = hi = None
            if c in pairs:
                lo, hi = row[pairs[c][0]], row[pairs[c][1]]
                if se is None and not (_missing(lo) or _missing(hi)):
                    try:
                        se = (float(hi) - float(lo)) / (2 * Z95)
                    except (TypeError, ValueError):
                        se = None
                if kind in ("percent", "count"):
                    se = None if kind == "count" else se
            fixed = col_decimals.get(c) if se is None else None
            if fixed is not None and kind == "number":
                # the column's decimals, but never fewer than two significant digits of this row's value
                # (a 0.446 below a 1,200 must not show as "0")
                own = [v for v in (value, lo, hi) if isinstance(v, (numbers.Real, np.number)) and not _missing(v)]
                fixed = max([fixed, *(_sig_decimals(float(v), 2) for v in own if abs(float(v)) < 1000)])
            text = format_value(value, kind, se=se, decimals=fixed)
            if c in pairs and text != NO_DATA and not (_missing(lo) or _missing(hi)):
                text += f" [{format_value(lo, kind, se=se, decimals=fixed)}, {format_value(hi, kind, se=se, decimals=fixed)}]"
            classes = []
            if c in numeric_cols:
                classes.append("num")
            if c in index_cols:
                classes.append("idx")
            if text == NO_DATA:
                classes.append("nodata")
            cls = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{cls}>{escape_html(text)}</td>")
        rows_html.append("<tr>" + "".join(cells) + "</tr>")
    if not rows_html:
        rows_html.append(f'<tr><td class="nodata" colspan="{max(len(shown), 1)}">{NO_DATA}</td></tr>')
    cap = f"<caption>{escape_html(caption)}</caption>" if caption else ""
    more = ""
    if n_total > len(body):
        where = "all in the CSV" if key else "not shown"
        more = f'<p class="bsc-table-more">... {n_total - len(body):,} more rows ({where})</p>'
    html = (
        f'<div class="bsc-table-wrap"><style>{TABLE_CSS}</style><table class="bsc-table">{cap}'
        f"<thead><tr>{''.join(header_cells)}</tr></thead><tbody>{''.join(rows_html)}</tbody></table>{more}</div>"
    )
    return Table(raw, html, key=key, caption=caption)


def estimates_frame(
    summaries: Any,
    label: str = "parameter",
    extra: Sequence[str] = (),
) -> pd.DataFrame:
    """A model summary (or several) as a tidy estimates table for :func:`table`.

    Parameters
    ----------
    summaries : DataFrame, fitted model or mapping
        A summary (``coef, se, ci_lower, ci_upper[, p_value, ...]``, index the parameter names), a
        fitted model with a ``summary``, or ``{model name: summary or model}`` (adds a ``model``
        column, in the mapping's order).
    label : str
        Name of the column holding the summary's index (the parameter names, as text).
    extra : sequence of str
        Further summary columns to keep after the standard ones (those a summary lacks are NaN).

    Returns
    -------
    DataFrame
        ``[model,] <label>, estimate, se, estimate_ci_lower, estimate_ci_upper[, p_value], *extra``
        with a positional index; ``p_value`` only when some summary has one (NaN where a parameter
        has none). :func:`table` shows ``estimate [low, high]`` with the digits the SE supports.
    """
    named = isinstance(summaries, Mapping)
    items = list(summaries.items()) if named else [(None, summaries)]
    frames = []
    with_p = False
    for model, summary in items:
        s = summary if isinstance(summary, pd.DataFrame) else summary.summary
        out = pd.DataFrame({label: [str(i) for i in s.index]})
        if named:
            out.insert(0, "model", model)
        for source, target in (("coef", "estimate"), ("se", "se"), ("ci_lower", "estimate_ci_lower"),
                               ("ci_upper", "estimate_ci_upper"), ("p_value", "p_value")):  # fmt: skip
            values = s[source].to_numpy(dtype=float) if source in s.columns else np.full(len(s), np.nan)
            out[target] = values
        with_p = with_p or ("p_value" in s.columns and bool(s["p_value"].notna().any()))
        for col in extra:
            out[col] = s[col].to_numpy() if col in s.columns else np.nan
        frames.append(out)
    columns = [*(["model"] if named else []), label, "estimate", "se", "estimate_ci_lower", "estimate_ci_upper"]
    columns += [*(["p_value"] if with_p else []), *extra]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


# ------------------------------------------------------------------ diagnostics beside a table
_SEVERITY_WORDS = {"error": "Error", "warning": "Warning", "info": "Note"}
_SEVERITY_MARK = {"error": "✖", "warning": "⚠", "info": "ℹ"}
_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def diagnostics_html(*models: Any, title: str | None = None, empty: str = "No fitting problems found.") -> str:
    """The fitted models' diagnostics as an HTML box, in words, severity as a word.

    Parameters
    ----------
    *models
        Fitted models (``diagnostics_`` lists of :class:`bsc_toolkit.models._base.Diagnostic`, a
        CLV fitter's ``fit_status_``), Diagnostic lists, or dicts ``{label: model}`` (labels name
        the model a diagnostic concerns).
    title : str, optional
        Heading of the box (default "Model diagnostics").
    empty : str
        Text when there is nothing to say.

    Returns
    -------
    str
        ``<div class="bsc-diagnostics">`` with one list item per distinct diagnostic, errors first.
    """
    grouped = group_diagnostics(*models, status=True)
    items = []
    for severity, message, names in sorted(grouped, key=lambda g: _SEVERITY_ORDER.get(g[0], 3)):
        word = _SEVERITY_WORDS.get(severity, severity.capitalize())
        mark = _SEVERITY_MARK.get(severity, "•")
        prefix = escape_html(", ".join(names)) + ": " if names else ""
        items.append(
            f'<li class="bsc-diag-{escape_html(severity)}" style="margin:0.2em 0">'
            f'<span aria-hidden="true">{mark}</span> <strong>{escape_html(word)}:</strong> '
            f"{prefix}{escape_html(message)}</li>"
        )
    heading = escape_html(title or "Model diagnostics")
    style = (
        "border:1px solid #bbb;border-left:4px solid #777;padding:0.4em 0.8em;margin:0.3em 0 1em 0;"
        "font-size:0.9em;max-width:60em;background:#fafafa;"
        "font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif"
    )
    if not items:
        body = f'<p style="margin:0.2em 0"><span aria-hidden="true">✓</span> {escape_html(empty)}</p>'
    else:
        body = f'<ul style="margin:0.2em 0;padding-left:1.2em">{"".join(items)}</ul>'
    return f'<div class="bsc-diagnostics" style="{style}"><div style="font-weight:600">{heading}</div>{body}</div>'


class _Html:
    """Minimal rich-display object (``_repr_html_``) that also prints readably outside IPython."""

    def __init__(self, html: str, text: str = "") -> None:
        self.html = html
        self.text = text

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text or self.html


def _figure_html(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", dpi=100)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{encoded}" alt="figure" style="max-width:100%;height:auto">'


def with_diagnostics(content: Any, *models: Any, title: str | None = None) -> Any:
    """Show ``content`` with the fitted models' diagnostics beside (under) it, in words.

    Parameters
    ----------
    content
        A :class:`Table` (or anything with ``_repr_html_``), a DataFrame (formatted with
        :func:`table`), a matplotlib Figure (embedded as a PNG, then closed) or an HTML string that
        is already safe.
    *models
        Fitted models, Diagnostic lists, or dicts ``{label: model}`` (see :func:`diagnostics_html`).
    title : str, optional
        Heading of the diagnostics box.

    Returns
    -------
    object
        With ``_repr_html_`` (and, for a keyed Table, its mimebundle with the raw data).
    """
    if isinstance(content, (pd.DataFrame, pd.Series)):
        content = table(content)
    if hasattr(content, "savefig"):
        import matplotlib.pyplot as plt

        inner = _figure_html(content)
        plt.close(content)
    elif hasattr(content, "_repr_html_"):
        inner = content._repr_html_() or ""
    else:
        inner = str(content)
    box = diagnostics_html(*models, title=title)
    html = f'<div class="bsc-with-diagnostics">{inner}{box}</div>'
    text_lines = [f"{s.capitalize()}: {m}" for s, m, _ in group_diagnostics(*models, status=True)]
    text = "\n".join(text_lines) or "No fitting problems found."
    if isinstance(content, Table):
        return Table(content.data, html, key=content.key, caption=content.caption)
    return _Html(html, text)

"""Text that reaches a report: escaping of user-supplied strings.

Every string a user controls (a notebook parameter such as ``title``, a scorecard's names, a
data set's path or segment labels) must be escaped before it is put into Markdown or HTML
output, or a value like ``<script>...</script>`` runs in the browser of everyone the report is
mailed to (stored script injection).

- :func:`escape_html` for text placed in HTML (``display(HTML(...))``, hand-built tables).
- :func:`escape_markdown` for text placed in Markdown (``display(Markdown(...))``): the result
  renders as exactly the original characters, with no HTML, links or emphasis.
- :func:`markdown_code` for a value shown in code font inside Markdown (a path, a file name):
  backslash escapes do not work inside Markdown backticks, so it uses an inline ``<code>`` element.
"""

from __future__ import annotations

import html
import string
from typing import Any

__all__ = [
    "escape_html",
    "escape_markdown",
    "markdown_code",
    "diagnostics_markdown",
    "data_notes_markdown",
    "group_diagnostics",
    "money_label",
    "money_names",
]

# CommonMark lets a backslash escape any ASCII punctuation character, and the escaped character
# is then literal text (``\<`` renders as ``&lt;``). Escaping all of them is the complete escape.
_MARKDOWN_ESCAPES = str.maketrans({c: "\\" + c for c in string.punctuation})


def escape_html(value: object) -> str:
    """Escape ``value`` (any object, via ``str``) for use as HTML text or attribute value.

    Parameters
    ----------
    value
        The text, or an object whose ``str()`` is the text (a path, a Period, None...).

    Returns
    -------
    str
        ``&``, ``<``, ``>``, ``"`` and ``'`` replaced by character references.
    """
    return html.escape(str(value), quote=True)


def escape_markdown(value: object) -> str:
    """Escape ``value`` for use as literal text inside Markdown.

    Every ASCII punctuation character gets a backslash, which CommonMark (and the renderers of
    JupyterLab and nbconvert) read as "this character, literally". Line breaks become spaces so
    the value cannot start a new block (a heading, a list, an HTML block).

    Parameters
    ----------
    value
        The text, or an object whose ``str()`` is the text.

    Returns
    -------
    str
        Text that renders as the original characters.

    Examples
    --------
    >>> escape_markdown("<script>alert(1)</script>")
    '\\\\<script\\\\>alert\\\\(1\\\\)\\\\<\\\\/script\\\\>'
    """
    text = " ".join(str(value).splitlines())
    return text.translate(_MARKDOWN_ESCAPES)


def markdown_code(value: object) -> str:
    """Show ``value`` in code font inside Markdown, escaped.

    Use it instead of backticks around user-supplied text: inside a Markdown code span a backslash
    is literal, so an escaped value would show its backslashes.

    Parameters
    ----------
    value
        The text, or an object whose ``str()`` is the text.

    Returns
    -------
    str
        ``<code>...</code>`` with the escaped text inside.
    """
    return f"<code>{escape_markdown(value)}</code>"


def diagnostics_markdown(*models: object, empty: str = "") -> str:
    """The diagnostics of fitted models as a Markdown list, in words, for a report.

    Parameters
    ----------
    *models
        Fitted models (anything with a ``diagnostics_`` list of
        :class:`bsc_toolkit.models._base.Diagnostic`), Diagnostic lists themselves, or a dict
        ``{label: model}`` whose labels prefix their models' messages (when several models are shown
        together, the reader must know which one a diagnostic concerns).
    empty : str
        Text returned when there is nothing to say (default: the empty string).

    Returns
    -------
    str
        One bullet per distinct diagnostic, severity first (``**Warning:** ...``), escaped; a
        diagnostic several labelled models share is listed once with all their labels.
    """
    lines = []
    for severity, message, labels in group_diagnostics(*models):
        prefix = ", ".join(escape_markdown(label) for label in labels) + ": " if labels else ""
        lines.append(f"- **{severity.capitalize()}:** {prefix}{escape_markdown(message)}")
    return "\n".join(lines) if lines else empty


def _problems(model: Any, status: bool) -> list[tuple[str, str]]:
    """``(severity, message)`` of one model: its ``diagnostics_`` (or a list of them) and, with
    ``status``, a CLV fitter's ``fit_status_`` when no diagnostic already says it."""
    items = list(model) if isinstance(model, (list, tuple)) else list(getattr(model, "diagnostics_", None) or [])
    out = [(str(getattr(d, "severity", "warning")), str(getattr(d, "message", d))) for d in items]
    fit = getattr(model, "fit_status_", None) if status else None
    if fit is not None:
        converged, usable = getattr(fit, "converged", True), getattr(fit, "usable", True)
        message = str(getattr(fit, "message", "") or "")
        name = str(getattr(fit, "model", "") or "")
        said = any(m and (m in message or message in m) for _, m in out) if message else False
        if not usable and not said:
            out.append(("error", message or f"{name}: the fit is not usable"))
        elif (not converged or getattr(fit, "boundary", None)) and not said:
            out.append(("warning", message or f"{name}: did not converge or ended at a boundary"))
    return out


def group_diagnostics(*models: Any, status: bool = False) -> list[tuple[str, str, list[str]]]:
    """The distinct diagnostics of fitted models: ``(severity, message, labels)`` in order of appearance.

    The one grouping of :func:`diagnostics_markdown` and :func:`bsc_toolkit.tables.diagnostics_html`.

    Parameters
    ----------
    *models
        Fitted models (a ``diagnostics_`` list), Diagnostic lists, or dicts ``{label: model}``.
    status : bool
        Also say a CLV fitter's ``fit_status_`` (not usable, not converged, at a boundary) when no
        diagnostic already says it.

    Returns
    -------
    list of (str, str, list of str)
        One entry per distinct ``(severity, message)``; ``labels`` names the labelled models that
        report it (a diagnostic several models share is listed once, with all their labels).
    """
    labelled: list[tuple[str | None, Any]] = []
    for model in models:
        labelled.extend(model.items() if isinstance(model, dict) else [(None, model)])
    grouped: dict[tuple[str, str], list[str]] = {}
    for label, model in labelled:
        for severity, message in _problems(model, status):
            labels = grouped.setdefault((severity, message), [])
            if label and str(label) not in labels:
                labels.append(str(label))
    return [(severity, message, labels) for (severity, message), labels in grouped.items()]


def data_notes_markdown(data: Any) -> str:
    """A short Markdown account of a loaded data set: name, tables, scales, currency and load notes.

    Parameters
    ----------
    data : CustomerData
        The loaded data set (its name, file names and notes are user text and are escaped).

    Returns
    -------
    str
        Markdown: one line of what the data hold, then the warnings of the plausibility checks
        (dates far after the rest, orders after churn...) and the loading notes (rows left out,
        derived tables, dates set to the snapshot day...), each as a list.
    """
    parts = [f"{len(data.customers):,} customers"]
    if data.has("surveys"):
        parts.append(f"{len(data.surveys):,} survey responses")
    if data.has("transactions"):
        parts.append(f"{len(data.transactions):,} transactions")
    scales = ", ".join(f"{escape_markdown(name)} {scale.label}" for name, scale in data.ratings.items())
    line = f"Data set **{escape_markdown(data.name)}**: " + ", ".join(parts)
    if data.is_snapshot:
        line += f"; a snapshot on {data.description.snapshot_date:%Y-%m-%d}"
    line += f". Amounts in {escape_markdown(data.currency)}."
    if scales:
        line += f" Rating scales: {scales} (kept as they are, not rescaled)."
    warnings = "".join(f"\n- {escape_markdown(w)}" for w in getattr(data, "warnings", ()))
    notes = "".join(f"\n- {escape_markdown(n)}" for n in data.notes)
    return (
        line
        + (f"\n\nWarnings from checking the data:{warnings}" if warnings else "")
        + (f"\n\nNotes from loading the data:{notes}" if notes else "")
    )


def money_label(column: str, currency: str) -> str:
    """Display label of an amount column: ``"revenue_per_customer_usd"`` -> ``"revenue per customer (GBP)"``.

    The package's amount columns end in ``_usd`` for historic reasons; the amounts are in the data
    set's currency. Other columns are returned unchanged.

    Parameters
    ----------
    column : str
        A column name.
    currency : str
        The data set's currency (e.g. ``data.currency``).

    Returns
    -------
    str
    """
    if not column.endswith("_usd"):
        return column
    return f"{column.removesuffix('_usd').replace('_', ' ')} ({currency})"


def money_names(columns: Any, currency: str) -> dict[str, str]:
    """``{column: label}`` for the amount columns among ``columns``, for ``DataFrame.rename(columns=...)``.

    Parameters
    ----------
    columns : iterable
        Column names (non-text names are ignored).
    currency : str
        The data set's currency.

    Returns
    -------
    dict
        One entry per column ending in ``_usd`` (see :func:`money_label`).
    """
    return {c: money_label(c, currency) for c in columns if isinstance(c, str) and c.endswith("_usd")}

"""Which column of a raw file is which toolkit column, for ``bsc init``.

The column-name synonyms of each table (:data:`SYNONYMS`, :func:`guess_columns`) and detectors
that look at one column's sampled values: whether it holds ratings and on which scale, dates (and
whether they are written day first), unique ids. :func:`match_table` puts them together into a
table's column mapping, :func:`driver_columns` finds the other rating columns of a survey.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

__all__ = [
    "SYNONYMS",
    "ambiguous_dates",
    "day_order",
    "driver_columns",
    "guess_columns",
    "match_table",
    "rating_scale",
    "unique_ids",
]

_ID = (
    "customerid",
    "customerno",
    "customernumber",
    "customer",
    "custid",
    "custno",
    "clientid",
    "clientno",
    "client",
    "accountid",
    "accountno",
    "accountnumber",
    "account",
    "memberid",
    "userid",
    "subscriberid",
)

#: Toolkit column -> normalised source names that usually mean it (first match wins).
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "customers": {
        "customer_id": (*_ID, "id"),
        "acquired_at": (
            "acquiredat",
            "acquisitiondate",
            "signupdate",
            "signup",
            "signedupat",
            "registrationdate",
            "registeredat",
            "joindate",
            "joinedat",
            "startdate",
            "activationdate",
            "createdat",
            "customersince",
        ),
        "churned_at": (
            "churnedat",
            "churndate",
            "enddate",
            "canceldate",
            "cancellationdate",
            "cancelledat",
            "canceledat",
            "closedat",
            "closedate",
            "terminationdate",
            "terminatedat",
            "exitdate",
        ),
        "churned": ("churned", "churn", "exited", "attrition", "ischurned", "churnflag", "churnlabel", "left"),
        "tenure": ("tenure", "tenuremonths", "monthsactive", "tenureyears", "years", "months"),
        "segment": ("segment", "customersegment", "plan", "tier", "cardtype", "customertype", "contract"),
        "region": ("region", "geography", "state", "country"),
        "channel": ("channel", "acquisitionchannel", "source"),
    },
    "surveys": {
        "customer_id": (*_ID, "respondentid", "respondent", "id"),
        "surveyed_at": (
            "surveyedat",
            "surveydate",
            "responsedate",
            "respondedat",
            "interviewdate",
            "completedat",
            "submittedat",
            "submissiondate",
            "date",
        ),
        "csat": (
            "csat",
            "satisfaction",
            "satisfactionscore",
            "overallsatisfaction",
            "overallsat",
            "customersatisfaction",
            "csatscore",
            "sat",
        ),
        "nps": ("nps", "recommend", "likelihoodtorecommend", "ltr", "wouldrecommend", "npsscore"),
    },
    "transactions": {
        "customer_id": (*_ID, "id"),
        "ordered_at": (
            "orderedat",
            "orderdate",
            "invoicedate",
            "transactiondate",
            "purchasedate",
            "billingdate",
            "billdate",
            "paymentdate",
            "chargedate",
            "date",
        ),
        "revenue": (
            "revenue",
            "amount",
            "sales",
            "ordervalue",
            "total",
            "totalamount",
            "netamount",
            "grossamount",
            "invoiceamount",
            "billingamount",
            "amountbilled",
            "paymentamount",
            "payment",
            "charge",
            "spend",
            "monetary",
            "value",
        ),
        "cost": ("cost", "cogs", "costusd"),
        "order_id": (
            "orderid",
            "orderno",
            "ordernumber",
            "invoiceno",
            "invoiceid",
            "invoicenumber",
            "invoice",
            "transactionid",
            "billid",
            "paymentid",
            "receiptid",
        ),
    },
}

#: Words in a column name that suggest a rating (for driver ratings in a file that is not only a survey).
_RATING_WORDS = (
    "rating",
    "score",
    "satisf",
    "quality",
    "value",
    "image",
    "expect",
    "service",
    "price",
    "cost",
    "speed",
    "friendl",
    "staff",
    "ease",
    "easy",
    "support",
    "trust",
    "recommend",
    "loyal",
    "reliab",
    "respons",
    "courte",
    "clean",
    "wait",
    "delivery",
    "experience",
    "effort",
    "agree",
)

#: Words in a column name that rule out a rating (counts, ages, codes...).
_NOT_RATING = (
    "age",
    "id",
    "year",
    "month",
    "week",
    "day",
    "count",
    "num",
    "number",
    "qty",
    "quantity",
    "income",
    "salary",
    "balance",
    "zip",
    "code",
    "tenure",
    "duration",
    "minutes",
    "seconds",
    "products",
    "children",
    "dependents",
    "senior",
    "has",
    "is",
)


def guess_columns(columns: list[str], table: str) -> dict[str, str]:
    """Toolkit column -> source column, for the names in ``columns`` that look like ``table``'s.

    Parameters
    ----------
    columns : list of str
        A file's column names.
    table : str
        ``customers``, ``surveys`` or ``transactions``.

    Returns
    -------
    dict
        Toolkit column -> file column, by the first synonym of :data:`SYNONYMS` found (names
        compared in lower case without spaces or punctuation); a file column is used once.
    """
    by_norm: dict[str, str] = {}
    for c in columns:
        by_norm.setdefault(_norm(c), c)
    found: dict[str, str] = {}
    used: set[str] = set()
    for target, names in SYNONYMS[table].items():
        for name in names:
            source = by_norm.get(name)
            if source is not None and source not in used:
                found[target] = source
                used.add(source)
                break
    return found


def match_table(table: str, sample: pd.DataFrame, decimal: str, used: set[str], comments: list[str]) -> dict | None:
    """The column mapping of ``table`` in a file's sample, or None when the file cannot be that table.

    Parameters
    ----------
    table : str
        ``customers``, ``surveys`` or ``transactions``.
    sample : pandas.DataFrame
        The first rows of the file (or sheet).
    decimal : str
        The file's decimal mark (``.`` or ``,``).
    used : set of str
        File columns already mapped for another table of the same file (not taken for a date).
    comments : list of str
        Appended to: what was guessed that the user should check (e.g. a "recommend" column not
        on the 0-10 scale, not read as nps).

    Returns
    -------
    dict or None
        Toolkit column -> file column (or ``{"product": [quantity, price]}`` for a revenue
        computed from two columns); None when the sample lacks what the table needs (a customer
        id, and dates with amounts, a csat or nps rating, or another customer column).
    """
    cols = list(sample.columns)
    mapping: dict = guess_columns(cols, table)
    if table == "transactions" and "revenue" not in mapping:
        qty = next((c for c in cols if _norm(c) in ("quantity", "qty", "units")), None)
        price = next((c for c in cols if _norm(c) in ("unitprice", "price")), None)
        if qty and price:
            mapping["revenue"] = {"product": [qty, price]}
        else:  # a name that holds an amount word: dollar_value, sales_amount, order_total
            taken = set(mapping.values())
            mapping["revenue"] = next(
                (
                    c
                    for c in cols
                    if c not in taken
                    and any(w in _words(c) for w in ("amount", "revenue", "sales", "value", "total", "spend"))
                    and _numbers(sample[c], decimal).notna().mean() >= 0.9
                ),
                None,
            )
            if mapping["revenue"] is None:
                del mapping["revenue"]
    if table == "surveys" and "nps" in mapping:
        scale = rating_scale(sample[mapping["nps"]], decimal)
        if scale is None or scale[1] != 10:
            comments.append(
                f"{mapping['nps']} is not on the 0-10 scale of the Net Promoter Score (observed {scale[0]}-"
                f"{scale[1]}): read as a driver rating instead"
                if scale
                else f"{mapping['nps']} does not hold 0-10 answers: not read as nps"
            )
            del mapping["nps"]
    date = {"transactions": "ordered_at", "surveys": "surveyed_at"}.get(table)
    if "customer_id" in mapping and date and date not in mapping:
        has_values = "revenue" in mapping if table == "transactions" else bool({"csat", "nps"} & set(mapping))
        found = _date_column(sample, set(map(str, mapping.values())) | used) if has_values else None
        if found is not None:
            mapping[date] = found
    if "customer_id" not in mapping:
        return None
    if table == "transactions" and not {"ordered_at", "revenue"} <= set(mapping):
        return None
    if table == "surveys" and not ({"csat", "nps"} & set(mapping)):
        return None
    if table == "customers" and not (set(mapping) - {"customer_id"}):
        return None
    return mapping


def driver_columns(
    sample: pd.DataFrame, used: set[str], survey_only: bool, decimal: str, comments: list[str]
) -> list[tuple[str, str, list[int]]]:
    """(driver name, file column, scale) for the other rating columns of a survey.

    Parameters
    ----------
    sample : pandas.DataFrame
        The first rows of the survey's file (or sheet).
    used : set of str
        File columns already mapped (not drivers).
    survey_only : bool
        The file feeds only the surveys table: any rating column is a driver; otherwise only
        columns whose names suggest a rating (quality, service, score...).
    decimal : str
        The file's decimal mark (``.`` or ``,``).
    comments : list of str
        Appended to: the drivers found, for the user to check.

    Returns
    -------
    list of (str, str, list of int)
        Driver name (the column name as lower-case words joined by ``_``), file column and the
        observed scale ``[low, high]``.
    """
    found = []
    names: set[str] = {"csat", "nps", "customer_id", "surveyed_at"}
    for col in sample.columns:
        if col in used:
            continue
        words = _words(col)
        if any(w in _NOT_RATING for w in words):
            continue
        rating_word = any(r in _norm(col) for r in _RATING_WORDS)
        if not (survey_only or rating_word) or not _is_rating(sample[col], decimal):
            continue
        name = _identifier(col)
        while name in names:
            name += "_2"
        names.add(name)
        found.append((name, col, rating_scale(sample[col], decimal)))
    if found:
        comments.append(
            "driver ratings: "
            + ", ".join(f"{n} <- {c} ({s[0]}-{s[1]})" for n, c, s in found)
            + "; remove any that is not a rating of a driver of satisfaction"
        )
    return found


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _words(name: str) -> list[str]:
    """Lower-case words of a column name (``PerceivedQuality`` -> perceived, quality)."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(name))
    return [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]


def _identifier(name: str) -> str:
    """A column name as a driver name: lower-case words joined by ``_``."""
    text = "_".join(_words(name)) or "rating"
    return f"r_{text}" if text[0].isdigit() else text


def _numbers(values: pd.Series, decimal: str = ".") -> pd.Series:
    if values.dtype != object and not isinstance(values.dtype, pd.StringDtype):
        return pd.to_numeric(values, errors="coerce")
    text = values.astype("string").str.strip()
    if decimal == ",":
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    return pd.to_numeric(text, errors="coerce")


def rating_scale(values: pd.Series, decimal: str = ".") -> list[int] | None:
    """The rating scale the observed values fit: 1-5, 1-7, 1-10 or 0-10, 0-100.

    Parameters
    ----------
    values : pandas.Series
        A column's sampled values (numbers, or numbers as text).
    decimal : str
        The decimal mark of numbers written as text (``.`` or ``,``).

    Returns
    -------
    list of int or None
        ``[low, high]``: the smallest of 5, 7, 10 and 100 that holds the largest value, from 0 when
        a value is below 1 (always on 0-100); None when there are no numbers or one is negative.
    """
    numbers = _numbers(values, decimal).dropna()
    if numbers.empty or numbers.min() < 0:
        return None
    lo, hi = numbers.min(), numbers.max()
    for top in (5, 7, 10, 100):
        if hi <= top:
            return [0 if (lo < 1 or top == 100) else 1, top]
    return None


def _is_rating(values: pd.Series, decimal: str) -> bool:
    """Whole numbers on a small scale (at least three distinct answers, nothing else in the column)."""
    present = values.dropna()
    if present.dtype == object:
        present = present[present.astype(str).str.strip() != ""]
    if len(present) == 0 or pd.api.types.is_bool_dtype(present.dtype):
        return False
    numbers = _numbers(present, decimal)
    if numbers.isna().any():
        return False
    return bool((numbers == np.floor(numbers)).all()) and numbers.nunique() >= 3 and rating_scale(numbers) is not None


def _looks_dated(values: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return True
    text = values.dropna().astype(str).str.strip()
    text = text[text != ""]
    if text.empty or text.str.fullmatch(r"[+-]?\d+([.,]\d+)?").mean() > 0.5:
        return False
    parsed = pd.to_datetime(text, errors="coerce", format="mixed", dayfirst=True)
    return bool(parsed.notna().mean() >= 0.9)


def _date_column(sample: pd.DataFrame, used: set[str]) -> str | None:
    """A column whose values are dates (names with date/time first), for a table whose date was not named."""
    candidates = [c for c in sample.columns if c not in used]
    named = [c for c in candidates if re.search(r"date|time|day|_at$|datum", str(c), re.IGNORECASE)]
    for col in named + [c for c in candidates if c not in named]:
        if _looks_dated(sample[col]):
            return col
    return None


def day_order(values: pd.Series) -> bool | None:
    """Whether a date column is written day first.

    Parameters
    ----------
    values : pandas.Series
        A column's sampled values.

    Returns
    -------
    bool or None
        True (day first: a first part above 12), False (month first: a second part above 12) or
        None (ISO, real dates, or undecided).
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype) or values.dtype != object:
        return None
    parts = values.dropna().astype(str).str.extract(r"^\s*(\d{1,2})[./-](\d{1,2})[./-]\d{2,4}")
    parts = parts.dropna().astype(int)
    if parts.empty:
        return None
    if (parts[0] > 12).any():
        return True
    if (parts[1] > 12).any():
        return False
    return None


def ambiguous_dates(values: pd.Series) -> bool:
    """Whether a column holds dates such as 03/04/2024, which could be day-first or month-first.

    Parameters
    ----------
    values : pandas.Series
        A column's sampled values.

    Returns
    -------
    bool
        True when some text value starts with day and month as numbers (either order).
    """
    return values.dtype == object and bool(
        values.dropna().astype(str).str.match(r"^\s*\d{1,2}[./-]\d{1,2}[./-]\d{2,4}").any()
    )


def unique_ids(sample: pd.DataFrame, column: str) -> bool:
    """Whether ``column`` of a sample holds ids, each once (a customers table lists each customer once).

    Parameters
    ----------
    sample : pandas.DataFrame
        The first rows of a file.
    column : str
        The id column.

    Returns
    -------
    bool
        True when some id is present and none repeats.
    """
    ids = sample[column].dropna()
    return len(ids) > 0 and ids.is_unique

"""The data a report works on: every customer, or a documented sample for the models plus full-data tables.

A report notebook opens its data with :func:`load_report_data`:

- with the ``pandas`` engine, or a data set of at most ``max_customers`` customers (every shipped
  and example data set), the report gets exactly what it always had:
  ``load_dataset(data_dir, mask_ids=mask_ids).up_to_date_limit()``, and every table and model uses
  every customer;
- otherwise the data set is opened on the engine (DuckDB in this process, or Spark) without
  loading it into pandas (:func:`bsc_toolkit.engine.sources.open_tables`). The models are fitted
  on a random sample of ``max_customers`` customers (:func:`bsc_toolkit.engine.sample.sample_customers`:
  reproducible, the same customers on every engine), loaded and validated like any data set; the
  data-sized tables are computed on every customer in the engine: the KPI table per period and
  group (:func:`kpi_table`), the period KPI figures of the headline (:func:`kpi_headline`), the
  customer profitability table and the whale curve (:func:`profitability`, :func:`refunds_markdown`),
  and for the KPI report the survey answers per rating (:func:`answers`, :func:`driver_table`), the
  customers table (:func:`customers_table`), the revenue per period (:func:`market_transactions`)
  and the data's date span (:func:`partial_periods_markdown`).

:class:`ReportData` carries both and says what was sampled: :meth:`ReportData.notice_markdown`
at the top of a report, :meth:`ReportData.model_note` beside each figure fitted on the sample, and
:meth:`ReportData.scale_total` for totals over customers (a sum over the sample stands for
``N/n`` times as many customers).

Why 50,000 customers by default (:data:`DEFAULT_MAX_CUSTOMERS`): on this kind of machine (2 cores)
the five analysis reports took 289 s one after the other on 100,000 simulated customers, all loaded
(12, 14, 136, 78 and 49 s: the retention report's panel models and what-if, the chain's bootstraps
and the CLV fits grow with the customers). With the models on a 50,000 sample and the data-sized
tables in DuckDB, the five reports on 1,000,000 customers used 189 CPU-seconds in all and at most
2.65 GiB (``bsc report --jobs 2``: 319 s on a 2-core machine shared with other jobs, so about 100 s
on an idle one); a 100,000 sample would add an estimated 120 CPU-seconds. 50,000 customers estimate a
satisfaction effect to within sqrt(20) = 4.5 times the interval 1M customers would give, far
tighter than the confounding the reports warn about.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from bsc_toolkit.data.io import CustomerData

if TYPE_CHECKING:
    from bsc_toolkit.engine.backends import EngineTables
    from bsc_toolkit.engine.sample import Sampling
    from bsc_toolkit.headline import Headline, KpiHeadline

__all__ = [
    "DEFAULT_MAX_CUSTOMERS",
    "FULL_DATA",
    "ReportData",
    "answers",
    "customers_table",
    "driver_table",
    "kpi_headline",
    "kpi_table",
    "load_report_data",
    "market_transactions",
    "partial_periods_markdown",
    "profitability",
    "refunds_markdown",
]

#: Customers a report's models use at most; larger data sets are sampled (see the module's docstring).
DEFAULT_MAX_CUSTOMERS = 50_000
#: Seed of the customer sample.
SAMPLE_SEED = 2024
#: What the reports compute on every customer when they sample, for :meth:`ReportData.sentence`.
FULL_DATA = "the KPI tables, the headline's period KPIs and the whale curve use every customer"


@dataclass(frozen=True)
class ReportData:
    """What a report works on.

    Attributes
    ----------
    data : CustomerData
        The customers the models use: every customer, or the sample (validated as any data set,
        ``source`` and description of the original).
    sampling : Sampling or None
        How the sample was drawn (None: every customer).
    tables : EngineTables or None
        The whole data set on the engine, when the report samples (None: ``data`` is everything).
    engine : str
        ``"pandas"`` when ``data`` is the whole data set, else the engine of ``tables``.
    """

    data: CustomerData
    sampling: Sampling | None = None
    tables: EngineTables | None = field(default=None, repr=False)
    engine: str = "pandas"
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def sampled(self) -> bool:
        """True when the models use a sample of the customers."""
        return self.sampling is not None and self.sampling.is_sample

    @property
    def n_customers(self) -> int:
        """Customers in the whole data set."""
        return self.sampling.n_total if self.sampling is not None else len(self.data.customers)

    @property
    def factor(self) -> float:
        """What a total over the model's customers is multiplied by to stand for every customer (1: no sample)."""
        return self.sampling.factor if self.sampled else 1.0

    def sentence(self, full_data: str = FULL_DATA) -> str:
        """:meth:`Sampling.sentence`, or "" when every customer is used."""
        return self.sampling.sentence(full_data) if self.sampled else ""

    def notice_markdown(self, full_data: str = FULL_DATA) -> str:
        """The sample, in bold, for the top of a report (Markdown; "" when every customer is used)."""
        if not self.sampled:
            return ""
        from bsc_toolkit.formatting import escape_markdown

        s = self.sampling
        return (
            f"**{escape_markdown(self.sentence(full_data))}** The sample is drawn at random "
            f"({escape_markdown(s.engine)} engine) from the {s.n_total:,} customers and loaded as a data set of "
            "its own; figures fitted on it say so, and totals over customers are scaled to the whole base "
            f"(x {s.factor:,.4g}) where they are shown."
        )

    def data_notes_markdown(self) -> str:
        """:func:`bsc_toolkit.formatting.data_notes_markdown` of the data, saying on a sample how many customers there are in all."""
        from bsc_toolkit.formatting import data_notes_markdown, escape_markdown

        text = data_notes_markdown(self.data)
        if not self.sampled:
            return text
        head = f"Data set **{escape_markdown(self.data.name)}**: {len(self.data.customers):,} customers"
        return text.replace(
            head,
            f"Data set **{escape_markdown(self.data.name)}**: {self.sampling.n_total:,} customers; in memory, a random "
            f"sample of {len(self.data.customers):,} customers",
            1,
        )

    def engine_markdown(self) -> str:
        """For a report without models: that every figure uses every customer, read in the engine ("" on pandas)."""
        if not self.sampled:
            return ""
        from bsc_toolkit.formatting import escape_markdown

        return (
            f"**Every table and figure of this report uses all {self.sampling.n_total:,} customers**: the data set "
            f"is larger than the {self.sampling.n_sampled:,} customers a report loads into memory, so its tables were "
            f"read and summarised in the {escape_markdown(self.engine)} engine."
        )

    def sample_markdown(self, what: str = "The estimates in this section are") -> str:
        """Beside a model section: "*The estimates in this section are fitted on a random sample of n of N customers.*" ("" when not sampled)."""
        if not self.sampled:
            return ""
        from bsc_toolkit.formatting import escape_markdown

        return f"*{escape_markdown(what)} {escape_markdown(self.sampling.note())} (see the top of the report).*"

    def model_note(self, note: str | None = None) -> str | None:
        """A model figure's note with "fitted on a random sample of n of N customers" added (unchanged when not sampled)."""
        if not self.sampled:
            return note
        return "; ".join(p for p in ((note or "").rstrip(". "), self.sampling.note()) if p)

    def scale_total(self, total: float | None) -> float | None:
        """A total over the model's customers, for every customer: ``x N/n`` on a sample, as it is otherwise."""
        if total is None or not self.sampled:
            return total
        return self.sampling.scale_total(total)

    def scaled_note(self, note: str | None = None) -> str | None:
        """A total's note with "scaled to every customer" added (unchanged when not sampled)."""
        if not self.sampled:
            return note
        return "; ".join(p for p in ((note or "").rstrip(". "), self.sampling.scaled_note()) if p)

    def in_sample(self, noun: str = "customers") -> str:
        """The words after a count of the model's data: "customers in the sample" on a sample, else "customers"."""
        return f" {noun} in the sample" if self.sampled else f" {noun}"

    def mark_sampled(self, hl: Headline, *keys: str, scaled: Sequence[str] = ()) -> Headline:
        """Say beside the headline figures fitted on the sample that they are (keys or key prefixes), and refresh.

        Parameters
        ----------
        hl : Headline
        *keys : str
            Keys (or their beginnings, e.g. ``"churn_ratio"``) of the figures from the sample's models.
        scaled : sequence of str
            Those of them that are totals over customers scaled to the whole base (:meth:`scale_total`).

        Returns
        -------
        Headline
            ``hl``, unchanged when the report does not sample.
        """
        if not self.sampled:
            return hl
        said = self.sampling.note()
        for i, figure in enumerate(hl.figures):
            key = figure.key or ""
            if figure.value is None or not any(key.startswith(k) for k in keys) or said in (figure.note or ""):
                continue  # a figure without a value says why, not where it would come from
            note = self.model_note(figure.note)
            if any(key.startswith(k) for k in scaled):
                with_interval = figure.ci is not None and all(v is not None for v in figure.ci)
                note = "; ".join(p for p in ((note or "").rstrip(". "), self.sampling.scaled_note(with_interval)) if p)
            hl.figures[i] = replace(figure, note=note)
        hl.refresh()
        return hl

    def kpi_headline(
        self, freq: str | None = None, period: str | pd.Period | None = None, *, kpis: pd.DataFrame | None = None
    ) -> KpiHeadline:
        """:func:`kpi_headline` of this report's data (every customer)."""
        return kpi_headline(self, freq, period, kpis=kpis)


def load_report_data(
    data_dir: str | Path | None = None,
    *,
    mask_ids: bool | None = None,
    engine: str = "duckdb",
    max_customers: int | None = DEFAULT_MAX_CUSTOMERS,
    seed: int = SAMPLE_SEED,
) -> ReportData:
    """The data of a report: every customer, or a sample for the models with the full data on the engine.

    Parameters
    ----------
    data_dir : str or Path, optional
        As :func:`bsc_toolkit.data.io.load_dataset` (None: the default synthetic data set).
    mask_ids : bool, optional
        As :func:`~bsc_toolkit.data.io.load_dataset`; the sample is loaded with it (pseudonyms), and
        what the engine returns to the report carries no customer ids.
    engine : {"duckdb", "spark", "pandas"}
        Where the data set is read when it is larger than ``max_customers``; ``"pandas"`` loads it
        whole as always (no sample).
    max_customers : int or None
        Largest number of customers the models use (:data:`DEFAULT_MAX_CUSTOMERS`); None: never sample.
    seed : int
        Seed of the sample.

    Returns
    -------
    ReportData

    Raises
    ------
    FileNotFoundError, DataValidationError, DescriptionError
        As :func:`~bsc_toolkit.data.io.load_dataset`.
    EngineError
        When the engine cannot run (unknown engine, Spark without Java).
    """
    from bsc_toolkit.engine.backends import ENGINES, EngineError

    if engine not in ENGINES:
        raise EngineError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    if max_customers is not None and int(max_customers) < 1:
        raise ValueError(f"max_customers must be 1 or more (or None: never sample), not {max_customers}")
    if engine == "pandas" or max_customers is None or _surely_within(data_dir, int(max_customers)):
        return ReportData(_load_whole(data_dir, mask_ids))
    tables = _open_tables(data_dir, engine)
    if tables is None:  # a data set the engines do not read (Excel): pandas, as always
        return ReportData(_load_whole(data_dir, mask_ids))
    n_total = _count_customers(tables)
    if n_total <= int(max_customers):
        return ReportData(_load_whole(data_dir, mask_ids))
    from bsc_toolkit.engine.sample import sample_customers

    sampling = sample_customers(tables, int(max_customers), seed, mask_ids=mask_ids, n_total=n_total)
    data = sampling.data.up_to_date_limit()
    data = replace(
        data, warnings=tuple(f"In the sample of {sampling.n_sampled:,} customers: {w}" for w in data.warnings)
    )
    return ReportData(data, sampling=replace(sampling, data=None), tables=tables, engine=engine)


def may_sample(data_dir: str | Path | None, engine: str, max_customers: int | None) -> bool:
    """Whether :func:`load_report_data` may sample: False when it certainly loads the whole data set.

    False on the pandas engine, without a limit, and when the table files alone show at most
    ``max_customers`` customers (or are Excel); True otherwise (the engine then counts them).
    """
    return not (engine == "pandas" or max_customers is None or _surely_within(data_dir, int(max_customers)))


def _load_whole(data_dir: str | Path | None, mask_ids: bool | None) -> CustomerData:
    """Today's report data: the whole data set in pandas, far dates left out."""
    from bsc_toolkit.data import io as data_io  # looked up at call time (tests stand in for load_dataset)

    return data_io.load_dataset(data_dir, mask_ids=mask_ids).up_to_date_limit()


#: Largest text file whose lines are counted to bound its customers without opening an engine.
_COUNTED_BYTES = 64 * 2**20


def _surely_within(data_dir: str | Path | None, max_customers: int) -> bool:
    """True when the table files certainly hold at most ``max_customers`` customers (or are Excel, read by pandas).

    An upper bound from the files alone, without an engine: the rows of the customers table (of the
    surveys and transactions together when there is none): a Parquet file's row count, a text
    file's line count (files up to 64 MB). Globs, databases and larger text files: False (the
    engine counts them).
    """
    from bsc_toolkit.data.io import locate_dataset

    try:
        files = locate_dataset(data_dir).files
    except (OSError, ValueError):  # no data set, or an invalid one: loading it says what is wrong, as always
        return True
    names = ["customers"] if "customers" in files else [t for t in ("surveys", "transactions") if t in files]
    bound = 0
    for name in names:
        file = files[name]
        if not isinstance(file, Path) or any(ch in str(file) for ch in "*?[") or not file.is_file():
            return False
        suffix = file.suffix.lower()
        if suffix in (".xlsx", ".xlsm", ".xls"):
            return True  # Excel runs on pandas
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            bound += pq.ParquetFile(file).metadata.num_rows
        elif file.stat().st_size <= _COUNTED_BYTES:
            with file.open("rb") as handle:
                # rows after the header line: at most the number of line ends
                bound += sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(2**20), b""))
        else:
            return False
    return bound <= max_customers


def _open_tables(data_dir: str | Path | None, engine: str) -> EngineTables | None:
    """The data set on the engine, ids as they are (the engine returns no ids to the report; the sample
    is masked when it is loaded); None when the engines do not read its files (Excel)."""
    from bsc_toolkit.engine.backends import EngineError
    from bsc_toolkit.engine.sources import EXCEL_MESSAGE, open_tables

    try:
        return open_tables(data_dir, engine, mask_ids=False)
    except EngineError as exc:
        if EXCEL_MESSAGE in str(exc):
            return None
        raise


def _count_customers(tables: EngineTables) -> int:
    from bsc_toolkit.engine.sources import count_customers

    return int(count_customers(tables))


# ------------------------------------------------------------------ full-data tables
def kpi_table(
    rd: ReportData,
    *,
    freq: str | None = None,
    by: str | Sequence[str] | None = None,
    drivers: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The KPI table per period (and group) of every customer: :func:`bsc_toolkit.metrics.kpi_summary`.

    On the pandas path it is computed from ``rd.data``; when the report samples, in the engine on
    the whole data set (:func:`bsc_toolkit.engine.kpis.kpi_summary`, the same table). Ratings,
    drivers and the snapshot date are the data set's.

    Parameters
    ----------
    rd : ReportData
    freq : str, optional
        Period frequency (default: the data set's).
    by : str or list of str, optional
        Group columns of the customers table.
    drivers : sequence of str, optional
        Driver columns (default: the data set's drivers; ``[]`` for none).

    Returns
    -------
    pandas.DataFrame
    """
    data = rd.data
    freq = freq or data.freq
    drivers = list(data.drivers if drivers is None else drivers)
    snapshot = data.description.snapshot_date if data.is_snapshot else None
    key = ("kpis", freq, tuple([by] if isinstance(by, str) else by or ()), tuple(drivers))
    if key in rd._cache:
        return rd._cache[key].copy()
    if rd.tables is None:
        from bsc_toolkit import metrics

        out = metrics.kpi_summary(
            data.customers,
            data.surveys,
            data.transactions,
            freq=freq,
            by=by,
            ratings=data.ratings,
            drivers=drivers,
            snapshot=snapshot,
        )
    else:
        from bsc_toolkit.engine.kpis import kpi_summary

        out = kpi_summary(rd.tables, freq=freq, by=by, ratings=data.ratings, drivers=drivers, snapshot=snapshot)
    rd._cache[key] = out
    return out.copy()


def profitability(rd: ReportData, by: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Revenue, cost and profit per customer of every customer, and the whale curve.

    Returns
    -------
    (DataFrame, DataFrame)
        :func:`bsc_toolkit.metrics.customer_profitability` (one row per customer, by ``by``) and
        the whale curve. On the pandas path the curve is :func:`bsc_toolkit.metrics.whale_curve` of
        it. When the report samples, both come from the engine on every customer: the table
        without its ``customer_id`` column (what leaves the engine carries no id), the curve at
        1,000 evenly spaced ranks plus the first, last and peak ones
        (:func:`bsc_toolkit.engine.whale.whale_curve`), without customer ids.
    """
    if rd.tables is None:
        from bsc_toolkit import metrics

        prof = metrics.customer_profitability(rd.data.transactions, rd.data.customers, by=by)
        return prof, metrics.whale_curve(prof)
    from bsc_toolkit.engine import whale as ew

    prof = ew.customer_profitability(rd.tables, by=by, with_customers=rd.tables.customers is not None)
    prof = prof.drop(columns="customer_id")
    curve = ew.whale_curve(rd.tables, points=1000, with_customers=rd.tables.customers is not None)
    return prof, curve.assign(customer_id=None)


def refunds_markdown(rd: ReportData, prof: pd.DataFrame) -> str:
    """:func:`bsc_toolkit.report_kpis.refunds_markdown` of every customer's transactions."""
    from bsc_toolkit import report_kpis as rk

    if rd.tables is None:
        return rk.refunds_markdown(rd.data.transactions, prof, rd.data.currency)
    from bsc_toolkit.engine.report_inputs import refund_lines

    counted = refund_lines(rd.tables)
    if counted is None:
        return ""
    return rk.refunds_markdown(None, prof, rd.data.currency, refunds=counted)


def answers(rd: ReportData, column: str, by: str | None = None) -> pd.DataFrame:
    """The survey answers of every customer for ``column`` (with the customers' ``by`` column attached).

    On the pandas path the surveys table itself (``by`` merged from the customers table, as the KPI
    report has always done). When the report samples: one row per answer of ``column``, dated on
    its day, rebuilt from the engine's counts per day and value (:func:`bsc_toolkit.engine.report_inputs.answer_counts`):
    no customer id, every answer.
    """
    data = rd.data
    if rd.tables is None:
        surveys = data.surveys
        if by:
            surveys = surveys.drop(columns=[by], errors="ignore").merge(
                data.customers[["customer_id", by]], on="customer_id", how="left"
            )
        return surveys
    from bsc_toolkit.engine.report_inputs import answer_counts, expand_counts

    return expand_counts(answer_counts(rd.tables, column, by=by))  # not kept: one row per answer


def driver_table(rd: ReportData, freq: str) -> pd.DataFrame:
    """:func:`bsc_toolkit.report_kpis.driver_means` of every customer's answers (the data set's drivers)."""
    from bsc_toolkit import report_kpis as rk

    data = rd.data
    options = {"labels": data.driver_labels, "ratings": data.ratings}
    if rd.tables is None:
        return rk.driver_means(data.surveys, data.drivers, freq, **options)
    parts = [rk.driver_means(answers(rd, d), [d], freq, **options) for d in data.drivers]
    parts = [p for p in parts if len(p)]
    if not parts:
        return rk.driver_means(data.surveys.iloc[:0], data.drivers, freq, **options)
    return pd.concat(parts, ignore_index=True)


def customers_table(rd: ReportData) -> pd.DataFrame:
    """Every customer's row of the customers table (for retention and acquisition by segment or channel)."""
    if rd.tables is None:
        return rd.data.customers
    if "customers" not in rd._cache:
        from bsc_toolkit.engine.report_inputs import customer_table

        rd._cache["customers"] = customer_table(rd.tables, list(rd.data.customers.columns))
    return rd._cache["customers"]


def market_transactions(rd: ReportData, freq: str) -> pd.DataFrame:
    """What :func:`bsc_toolkit.metrics.market_share` reads: the transactions, or every customer's revenue per period.

    When the report samples, one row per period of the KPI table (:func:`kpi_table`) dated on the
    period's first day with the period's revenue (unknown where the KPI table's is): the same
    revenue per period as the transactions give.
    """
    if rd.tables is None:
        return rd.data.transactions
    kpis = kpi_table(rd, freq=freq, drivers=[])
    return pd.DataFrame(
        {"ordered_at": kpis["period"].dt.start_time, "revenue_usd": kpis["revenue_usd"].astype(float)}
    ).dropna(subset=["ordered_at"])


def partial_periods_markdown(rd: ReportData, periods: Sequence[pd.Period | None], freq: str) -> str:
    """:func:`bsc_toolkit.report_kpis.partial_periods_markdown` on the dates of every customer."""
    from bsc_toolkit import report_kpis as rk

    data = rd.data
    if rd.tables is None:
        return rk.partial_periods_markdown(data.surveys, data.transactions, periods, freq)
    return rk.partial_periods_markdown(data.surveys, data.transactions, periods, freq, span=_span(rd))


def _span(rd: ReportData) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    if "span" not in rd._cache:
        from bsc_toolkit.engine.report_inputs import data_span

        rd._cache["span"] = data_span(rd.tables)
    return rd._cache["span"]


def kpi_headline(
    rd: ReportData,
    freq: str | None = None,
    period: str | pd.Period | None = None,
    *,
    kpis: pd.DataFrame | None = None,
) -> KpiHeadline:
    """The standard KPI headline figures (:func:`bsc_toolkit.headline.kpi_figures`) of every customer.

    On the pandas path ``kpi_figures(rd.data, ...)``. When the report samples, the same function
    on the whole data set's KPI table (:func:`kpi_table`) and on tables reduced in the engine to
    what the figures read (:mod:`bsc_toolkit.engine.report_inputs`): the customers' acquisition and
    churn dates, the csat and nps answers of the headline and previous periods (counted per day and
    value, expanded back to answers without ids), each customer's revenue in those two periods, and
    the data's first and last dates. The figures are those of every customer, with their intervals.

    Parameters
    ----------
    rd : ReportData
    freq : str, optional
    period : str or Period, optional
        As :func:`~bsc_toolkit.headline.kpi_figures`.
    kpis : DataFrame, optional
        :func:`kpi_table` at ``freq`` without ``by``, when the report has it.

    Returns
    -------
    KpiHeadline
    """
    from bsc_toolkit.headline import kpi_figures

    data = rd.data
    freq = freq or data.freq
    if rd.tables is None:
        return kpi_figures(data, freq=freq, period=period, kpis=kpis)
    key = ("headline", freq, str(period))
    if key in rd._cache:
        return rd._cache[key]
    from bsc_toolkit import report_kpis as rk
    from bsc_toolkit.engine import report_inputs as ri

    kpis = kpis if kpis is not None else kpi_table(rd, freq=freq, drivers=[])
    span = _span(rd)
    snapshot = data.description.snapshot_date if data.is_snapshot else None
    chosen, prev, _, _ = rk.headline_periods(kpis, period, span=span, snapshot=snapshot is not None)
    periods = [p for p in (chosen, prev) if p is not None]
    survey_columns = rd.tables.surveys.columns if rd.tables.surveys is not None else []
    ratings = [c for c in ("csat", "nps") if c in survey_columns]
    answers = []
    for column in ratings:
        counts = ri.answer_counts(rd.tables, column)
        if len(counts) and periods:
            counts = counts.loc[counts["surveyed_at"].dt.to_period(freq).isin(periods)]
        if len(counts):
            answers.append(ri.expand_counts(counts))
    surveys = (
        pd.concat(answers, ignore_index=True)
        if answers
        else pd.DataFrame({"surveyed_at": pd.Series(dtype="datetime64[ns]")})
    )
    for column in ratings:
        if column not in surveys.columns:
            surveys[column] = pd.Series(dtype=float)
    customers = (
        ri.customer_dates(rd.tables, rd._cache.get("customers"))
        if rd.tables.customers is not None
        else data.customers.iloc[:0]
    )
    transactions = ri.period_revenue(rd.tables, freq, periods)
    view = replace(data, customers=customers, surveys=surveys, transactions=transactions)
    out = kpi_figures(view, freq=freq, period=period, kpis=kpis, span=span)
    rd._cache[key] = out
    return out

"""Warehouse scale: the toolkit's data-sized aggregations as Ibis expressions on DuckDB or Spark.

- :mod:`~bsc_toolkit.engine.backends`: the engines (:func:`connect`) and :class:`EngineTables`;
- :mod:`~bsc_toolkit.engine.sources`: a data set description opened on an engine (:func:`open_tables`);
- :mod:`~bsc_toolkit.engine.kpis`, :mod:`~bsc_toolkit.engine.panel`, :mod:`~bsc_toolkit.engine.rfm`,
  :mod:`~bsc_toolkit.engine.whale`: the KPI table, the customer-period panel, the RFM summary and the
  whale curve, equal to their pandas versions;
- :mod:`~bsc_toolkit.engine.sample`: a reproducible sample of customers for the models.

Importing this package does not import Ibis; the modules do.
"""

from bsc_toolkit.engine.backends import ENGINES, EngineError, EngineTables, connect, spark_session, tables_from_frames

__all__ = [
    "ENGINES",
    "EngineError",
    "EngineTables",
    "connect",
    "count_customers",
    "open_tables",
    "spark_session",
    "tables_from_frames",
]


def __getattr__(name: str):  # lazily: sources imports the data pipeline
    if name in ("open_tables", "count_customers"):
        from bsc_toolkit.engine import sources

        return getattr(sources, name)
    raise AttributeError(name)

"""Display helpers shared by every report: amounts labelled with the data set's currency."""

from __future__ import annotations

import pandas as pd

from bsc_toolkit.formatting import money_label, money_names


def test_amount_columns_are_labelled_with_the_currency() -> None:
    assert money_label("revenue_usd", "EUR") == "revenue (EUR)"
    assert money_label("revenue_per_customer_usd", "GBP") == "revenue per customer (GBP)"
    assert money_label("retained_customers", "EUR") == "retained_customers"  # not an amount: unchanged
    frame = pd.DataFrame({"revenue_usd": [1.0], "market_size_usd": [2.0], "market_share": [0.5], 0: [1]})
    out = frame.rename(columns=money_names(frame.columns, "EUR"))
    assert list(out.columns) == ["revenue (EUR)", "market size (EUR)", "market_share", 0]
    assert money_names(["clv_usd", "p_alive", "expected_avg_value_usd"], "GBP") == {
        "clv_usd": "clv (GBP)",
        "expected_avg_value_usd": "expected avg value (GBP)",
    }


def test_diagnostics_are_grouped_once_for_markdown_and_html() -> None:
    from types import SimpleNamespace

    from bsc_toolkit.formatting import diagnostics_markdown, group_diagnostics
    from bsc_toolkit.models._base import Diagnostic
    from bsc_toolkit.tables import diagnostics_html

    shared = Diagnostic("boundary", "r ran away", "warning")
    a = SimpleNamespace(diagnostics_=[shared, Diagnostic("dropped_rows", "3 rows left out", "info")])
    b = SimpleNamespace(diagnostics_=[shared], fit_status_=SimpleNamespace(usable=False, message="", model="BG/NBD"))
    assert group_diagnostics({"A": a, "B": b}) == [
        ("warning", "r ran away", ["A", "B"]),
        ("info", "3 rows left out", ["A"]),
    ]
    # with the fit status: an unusable fit no diagnostic mentions is said as an error
    assert group_diagnostics({"B": b}, status=True)[-1] == ("error", "BG/NBD: the fit is not usable", ["B"])
    md = diagnostics_markdown({"A": a, "B": b})
    assert md.splitlines() == ["- **Warning:** A, B: r ran away", "- **Info:** A: 3 rows left out"]
    html = diagnostics_html({"A": a, "B": b})
    assert html.count("r ran away") == 1 and "A, B: r ran away" in html
    assert html.index("Error:") < html.index("Warning:") < html.index("Note:")  # errors first

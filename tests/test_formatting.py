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

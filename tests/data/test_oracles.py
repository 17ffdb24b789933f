"""Truth oracles: the simulator's true chain effects match what the simulator produces."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bsc_toolkit.data.oracles import simulated_chain_effects
from bsc_toolkit.data.simulate import Truth, simulate
from bsc_toolkit.models.chain import customer_chain_table

UNCONFOUNDED = replace(Truth(), trait_satisfaction_corr=0.0)


@pytest.mark.slow
def test_truth_helper_matches_the_simulator():
    truth = simulated_chain_effects(UNCONFOUNDED, n_customers=30000)
    # mean follow-up retention and revenue of the cohort, expected vs simulated (another seed, 30k customers)
    s = simulate(30000, seed=99, truth=UNCONFOUNDED)
    tab = customer_chain_table(s.customers, s.surveys, s.transactions)
    assert tab["periods_retained"].mean() == pytest.approx(truth["mean_mediator"], rel=0.01)
    assert tab["revenue_usd"].mean() == pytest.approx(truth["mean_outcome"], rel=0.04)
    assert truth["total"] == pytest.approx(truth["direct"] + truth["indirect"], rel=0.01)
    assert truth["indirect"] > 0 and truth["direct"] > 0


def test_bad_outcome():
    with pytest.raises(ValueError, match="outcome must be"):
        simulated_chain_effects(outcome="profit")

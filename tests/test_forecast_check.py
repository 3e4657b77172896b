"""Where a pending division name's amounts likely belong (``forecasting.expectations.likely_homes``)."""

from __future__ import annotations

from gmp_assets.forecasting.expectations import Gap, likely_homes

ENVELOPE = Gap("07", "Thermal and Moisture Protection", 475_163_400, 0, 74.38)  # 74% complete, nothing booked
METALS = Gap("05", "Metals", 539_589_100, 0, 30.0)
UNBUDGETED = Gap("09", "Finishes", 0, 7_303_200, None)  # cost booked without a budget


def test_booked_cost_goes_with_the_trade_whose_progress_expects_about_as_much():
    # 07 expects 0.7438 x $4.75M = $3.53M to date, 05 expects $1.62M: $4.14M booked is 07's
    assert likely_homes(None, 413_665_900, [METALS, ENVELOPE, UNBUDGETED]) == [
        "07 Thermal and Moisture Protection (74% complete, $3,534,265 expected to date, nothing booked)"]
    assert likely_homes(None, 150_000_000, [METALS, ENVELOPE]) == [
        "05 Metals (30% complete, $1,618,767 expected to date, nothing booked)"]
    assert likely_homes(None, 900_000_000, [METALS, ENVELOPE]) == []  # beyond a factor 2 of either


def test_a_budget_goes_with_the_trades_booking_cost_without_one():
    assert likely_homes(355_094_500, None, [ENVELOPE, UNBUDGETED]) == ["09 Finishes ($73,032 booked without a budget)"]
    assert likely_homes(355_094_500, None, [ENVELOPE]) == [] and likely_homes(None, None, [UNBUDGETED]) == []

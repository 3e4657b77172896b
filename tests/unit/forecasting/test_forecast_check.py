"""Where a pending division name's amounts likely belong (``forecasting.expectations.likely_homes``)."""

from __future__ import annotations

from gmp_assets.forecasting.expectations import Gap, likely_homes

ENVELOPE = Gap("07", "Thermal and Moisture Protection", 475_163_400, 0, 74.38)  # 74% complete, nothing booked
METALS = Gap("05", "Metals", 539_589_100, 0, 30.0)
UNBUDGETED = Gap("09", "Finishes", 0, 7_303_200, None)  # cost booked without a budget


def test_booked_cost_goes_with_the_trade_whose_progress_expects_about_as_much():
    # 07 expects 0.7438 x $4.75M = $3.53M to date, 05 expects $1.62M: $4.14M booked is 07's
    assert likely_homes(None, 413_665_900, [METALS, ENVELOPE, UNBUDGETED]) == [
        "07 Thermal and Moisture Protection (74% complete, $3,534,265 expected to date, nothing booked)"
    ]
    assert likely_homes(None, 150_000_000, [METALS, ENVELOPE]) == [
        "05 Metals (30% complete, $1,618,767 expected to date, nothing booked)"
    ]
    assert likely_homes(None, 900_000_000, [METALS, ENVELOPE]) == []  # beyond a factor 2 of either


def test_a_budget_goes_with_the_trade_booking_about_as_much_without_one():
    assert likely_homes(355_094_500, None, [ENVELOPE, UNBUDGETED]) == ["09 Finishes ($73,032 booked without a budget)"]
    assert likely_homes(355_094_500, None, [ENVELOPE]) == [] and likely_homes(None, None, [UNBUDGETED]) == []
    # a finished project: 'Metels' ($16.18M of budget) and 'Sheet Metal' ($12.03M), while 05 booked
    # $17.57M and 23 $12.24M without a budget; each budget goes with the cost closest to it
    metals = Gap("05", "Metals", 0, 1_756_691_485, 100.0)
    hvac = Gap("23", "HVAC", 0, 1_223_819_921, 100.0)
    assert likely_homes(1_618_134_200, None, [metals, hvac]) == [
        "05 Metals ($17,566,915 booked without a budget, 100% complete)"
    ]
    assert likely_homes(1_202_812_400, None, [metals, hvac]) == [
        "23 HVAC ($12,238,199 booked without a budget, 100% complete)"
    ]
    # an active one: 23 is 10% complete with $1.2M booked, so it implies a $12M budget
    early = Gap("23", "HVAC", 0, 120_000_000, 10.0)
    assert likely_homes(1_202_812_400, None, [early, UNBUDGETED]) == [
        "23 HVAC ($1,200,000 booked without a budget, 10% complete)"
    ]
    # no trade within a factor 2: only those whose progress is unknown stay possible
    assert likely_homes(10_000_000_000, None, [metals, hvac, UNBUDGETED]) == [
        "09 Finishes ($73,032 booked without a budget)"
    ]
    assert likely_homes(10_000_000_000, None, [metals, hvac]) == []

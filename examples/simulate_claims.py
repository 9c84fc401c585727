"""Simulated claim counts over policy years: writes examples/data/claims.csv (seeded: the same file every time).

Each of 2,000 policies was observed for `years` (0.1 to 3) and had a Poisson number of `claims` with rate
(claims per year) exp(−2 + 0.02·(age − 45) + 0.5·[region = south] − 0.3·[car = new] + 0.4·[young driver]); `noise`
has no effect. `cost` is the total cost of the claims (0 without a claim): a Gamma-sized amount per claim, so
the cost per policy is compound Poisson–Gamma (Tweedie) data. Used by the README's "Counts and costs".

    .venv/bin/python examples/simulate_claims.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent / "data" / "claims.csv"


def main() -> None:
    rng = np.random.default_rng(2026)
    n = 2_000
    age = rng.integers(18, 80, n)
    frame = pd.DataFrame(
        {
            "age": age,
            "region": rng.choice(["north", "south", "east", "west"], n),
            "car": rng.choice(["new", "used"], n, p=[0.3, 0.7]),
            "noise": rng.normal(size=n).round(3),
            "years": rng.uniform(0.1, 3.0, n).round(3),
        }
    )
    rate = np.exp(
        -2 + 0.02 * (age - 45) + 0.5 * (frame["region"] == "south") - 0.3 * (frame["car"] == "new") + 0.4 * (age < 25)
    )
    frame["claims"] = rng.poisson(rate * frame["years"])
    frame["cost"] = [round(float(rng.gamma(2.0, 600.0, size=k).sum()), 2) for k in frame["claims"]]
    frame.to_csv(OUT, index=False)
    print(f"wrote {OUT} ({n} policies, {int(frame['claims'].sum())} claims)")


if __name__ == "__main__":
    main()

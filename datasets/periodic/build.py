"""Write a small sample of the periodic set next to this file (sample.csv, < 100 KB)."""

from pathlib import Path

from latentode.datasets import periodic


def main() -> None:
    out = Path(__file__).with_name("sample.csv")
    df = periodic(n_series=10, n_points=50, t_max=5.0, irregular=True, seed=0)
    df.to_csv(out, index=False, float_format="%.6g")
    print(f"wrote {out} ({len(df)} rows, {out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()

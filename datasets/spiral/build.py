"""Write a small sample of the spiral set next to this file (sample.csv, < 100 KB)."""

from pathlib import Path

from latentode.datasets import spiral


def main() -> None:
    out = Path(__file__).with_name("sample.csv")
    df = spiral(n_series=10, n_points=50, seed=0)
    df.to_csv(out, index=False, float_format="%.6g")
    print(f"wrote {out} ({len(df)} rows, {out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()

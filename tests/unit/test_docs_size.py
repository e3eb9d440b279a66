"""The README and docs/ stay under 15,000 words together (issue 19).

At 26,000 words the docs explained several facts on three pages each and had no tutorial; the
limit keeps each fact said once and linked. Words are counted as `wc -w` counts them.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 15_000


def words(paths: list[Path]) -> int:
    """Whitespace-separated words, as `wc -w` counts them."""
    return sum(len(path.read_bytes().split()) for path in paths)


def test_words_are_counted_as_wc_counts_them(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# A title\n\n`code` and\ttabs,  spaces\n")
    assert words([page]) == 7


def test_the_readme_and_docs_stay_under_the_limit() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    count = words(pages)
    assert count < LIMIT, f"README.md and docs/*.md hold {count:,} words; the limit is {LIMIT:,}"

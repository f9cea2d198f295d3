"""``python -m unicodec.evaluation [--model ...]`` writes a model's report;
``python -m unicodec.evaluation compare ...`` puts reports side by side."""

import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["compare"]:
        from unicodec.evaluation.compare import main as compare

        compare(argv[1:])
        return 0
    from unicodec.evaluation.report import main as report

    report(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())

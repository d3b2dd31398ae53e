"""Entry point of the frozen bundle: the same `neuroreview` command as the pip-installed one."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # batch QC uses worker processes
    from app.cli import main

    sys.exit(main())

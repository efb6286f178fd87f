"""`python -m editserve` is the `editserve` command."""

from editserve.cli import main

if __name__ == "__main__":
    main()

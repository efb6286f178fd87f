"""`python -m editserve` is the `editserve` command."""

from editserve.commands.main import main

if __name__ == "__main__":
    main()

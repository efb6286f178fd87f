"""`python -m editserve.worker`: one worker process (started by `editserve serve`)."""

from editserve.cli import main

if __name__ == "__main__":
    main(["worker", *__import__("sys").argv[1:]])

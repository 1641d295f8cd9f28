"""Allow ``python -m dk_sentinel``."""

from dk_sentinel.cli.main import run

if __name__ == "__main__":
    run()

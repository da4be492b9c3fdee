"""``python -m kiss.simulator [--port 8080 ...]``: the same as ``kiss simulator serve``."""

from kiss.cli.simulator import serve

if __name__ == "__main__":
    serve(prog_name="python -m kiss.simulator")

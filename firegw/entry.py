"""The `firegw` command's entry point: the cyclic garbage collector off while it starts.

Importing the gateway and building a site's objects make hundreds of thousands of objects
that live as long as the process (at 10x the reference site, 160,000 the collector tracks),
and the collector would walk them again and again while they are made: measured at 10x, a
fifth of a second of the imports and half of the time spent building the rules. The command
turns it back on: `firegw.main` at once for every command but `run`, whose gateway does so once
it has started, after one collection and with what start-up built frozen out of the
collector's sight (`gateway.runtime.gateway`).
"""

import gc


def main() -> int:
    gc.disable()
    from firegw.main import main as firegw  # noqa: PLC0415  # imported without collections

    return firegw()

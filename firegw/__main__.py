"""`python -m firegw`: the same as the `firegw` command."""

from firegw.entry import main

raise SystemExit(main())

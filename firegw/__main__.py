"""`python -m firegw`: the same as the `firegw` command."""

from firegw.main import main

raise SystemExit(main())

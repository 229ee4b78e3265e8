"""`python -m partnerdb`: the same as the `partnerdb` console script."""

from partnerdb.cli import main

raise SystemExit(main())

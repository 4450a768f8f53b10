from tensiond.cli import main

raise SystemExit(main())

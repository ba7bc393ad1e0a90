from toolkit.doctor.probes import main

raise SystemExit(main())

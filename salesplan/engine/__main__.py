"""``python -m salesplan.engine --bench``: time the engine on synthetic inputs."""

from salesplan.engine.synthetic import main

raise SystemExit(main())

"""Ukrainian translations of the Russian queries of ``analyst.py`` (written for this bench)."""

UK_OF_RU: dict[str, str] = {}

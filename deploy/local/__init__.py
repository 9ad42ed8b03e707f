"""The local runner (`make up`): Kafka, PostgreSQL, the mail sink, the three services and the
gateway as processes of this machine, without Docker. `python -m deploy.local --help` lists its
commands; README.md, "The two commands", says what it does."""

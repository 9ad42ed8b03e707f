"""Fixtures for every test folder: real infrastructure, fresh databases, running services."""

# containers first: with TEST_INFRA=containers it starts Kafka and PostgreSQL at configure time.
pytest_plugins = ["tests.support.containers", "tests.support.fixtures"]

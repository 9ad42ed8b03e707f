"""Fixtures for every test folder: real infrastructure, fresh databases, running services."""

pytest_plugins = ["tests.support.fixtures"]

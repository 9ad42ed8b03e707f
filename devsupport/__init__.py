"""What the tests, the benchmarks and the local runner share: where the local infrastructure is,
fresh databases on it, free ports, and the services run as OS processes. Nothing here is a test
fixture (those stay in tests/support) and nothing is shipped in a service image."""

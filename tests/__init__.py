"""Test package (lets helpers be imported as ``tests.llm_server``)."""
